#!/usr/bin/env bash
# Runs every test: domain, connectors, integration on SQLite and PostgreSQL, and the Chromium browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
started_here=""
[ -n "${HUTONG_TEST_PG:-}" ] || started_here=1
source scripts/test-deps.sh
# Stop PostgreSQL only if this script started it (the caller may share one, as .ci/run does).
# Its data directory (40–55 MB) goes with it, and so do the test results.
stop_pg() {
  if [ -n "$started_here" ] && [ -n "${HUTONG_PG_STOP:-}" ]; then
    runuser -u postgres -- $HUTONG_PG_STOP >/dev/null 2>&1 || $HUTONG_PG_STOP >/dev/null 2>&1 || true
    case "${HUTONG_PG_DIR:-}" in /tmp/hutong-pg.*) rm -rf "$HUTONG_PG_DIR" ;; esac
  fi
  if [ -n "${results:-}" ]; then rm -rf "$results"; fi
}
trap stop_pg EXIT

dotnet build Hutong.slnx -c Release -nologo -clp:ErrorsOnly
results="$(mktemp -d)"
status=0
dotnet test Hutong.slnx -c Release --no-build --logger "trx" --results-directory "$results" -nologo "$@" || status=$?

# One plain summary line over all test assemblies.
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}ResultSummary/{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}Counters")
    passed += int(c.get("passed")); failed += int(c.get("failed")); skipped += int(c.get("notExecuted"))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
for f in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(f).getroot().iter("{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}UnitTestResult"):
        if r.get("outcome") == "Failed":
            print("  failed:", r.get("testName"))
PY
exit $status
