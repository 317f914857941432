#!/usr/bin/env bash
# Installs and starts what the tests need: PostgreSQL (a throwaway cluster on loopback), Debian Chromium,
# and the small npm package the browser test uses to decode QR codes. Source it; it exports HUTONG_TEST_PG.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# CJK glyphs for the checkout screenshots (without them Chinese text renders as boxes).
fc-list :lang=zh 2>/dev/null | grep -q . || need_apt+=(fonts-noto-cjk)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${need_apt[*]} — install them (apt-get install ${need_apt[*]}) or run as root" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
export HUTONG_CHROMIUM="${HUTONG_CHROMIUM:-$(command -v chromium)}"

if [ ! -d "$here/tests/e2e/node_modules/jsqr" ] || [ ! -d "$here/tests/e2e/node_modules/wechatpay-axios-plugin" ]; then
  (cd "$here/tests/e2e" && npm ci --no-audit --no-fund --silent)
fi

if [ -z "${HUTONG_TEST_PG:-}" ]; then
  pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  pgdir="$(mktemp -d /tmp/hutong-pg.XXXXXX)"
  pgport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pgdir"; fi
  run_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust --no-sync >/dev/null
  run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$pgport -c unix_socket_directories=$pgdir -c max_connections=300" start >/dev/null
  export HUTONG_TEST_PG="Host=127.0.0.1;Port=$pgport;Username=postgres;Database=postgres;Maximum Pool Size=40"
  export HUTONG_PG_STOP="$pgbin/pg_ctl -D $pgdir/data -m immediate stop"
  export HUTONG_PG_DIR="$pgdir"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pgport" >&2
fi
