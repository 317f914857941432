#!/usr/bin/env bash
# CPU time per thread of one process over a window, from the kernel's own accounting (/proc/PID/task/*/stat), so it
# counts native code (OpenSSL, SQLite, the kernel's fsync) and never counts a thread that is only parked. Used for
# docs/perf-hub-cpu.md: a dotnet-trace sample profile put the finalizer thread at ~23 % of the hub's CPU; this showed 0.1 %.
#
#   scripts/thread-cpu.sh PID [SECONDS]          # e.g. the hub child of `--only apart`: pgrep -f -- '--child hub'
#
# Prints ticks (1/100 s) per thread, user and system, largest first, and the process total over the same window.
set -euo pipefail
pid=$1
secs=${2:-10}
snap() {
    for t in /proc/"$pid"/task/*; do
        # The thread name (comm) may hold spaces (".NET TP Worker"): the fields are counted after its closing parenthesis.
        printf '%s|%s|%s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12, $13}')"
    done | sort
}
total() { sed 's/.*) //' /proc/"$pid"/stat | awk '{print $12 + $13}'; }
a=$(mktemp); b=$(mktemp); trap 'rm -f "$a" "$b"' EXIT
snap > "$a"; t0=$(total)
sleep "$secs"
snap > "$b"; t1=$(total)
echo "process $pid: $((t1 - t0)) ticks in ${secs} s (threads that came and went inside the window are in this total only)"
join -t'|' -j1 "$a" "$b" | awk -F'|' '{split($3, x, " "); split($5, y, " "); u = y[1] - x[1]; s = y[2] - x[2];
    if (u + s > 0) printf "%6d  user %6d  sys %6d  %s\n", u + s, u, s, $2}' | sort -rn
