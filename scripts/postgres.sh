#!/usr/bin/env bash
# A local PostgreSQL for trying Hutong's production store: Debian's packages, one cluster in a folder of your own,
# listening on loopback only. Usage: bash scripts/postgres.sh [start|stop|status]   (default: start)
# Prints the connection string to give the hub. For development and trials; production runs a managed or tuned server.
set -euo pipefail

action="${1:-start}"
data="${HUTONG_PG_HOME:-$HOME/.local/share/hutong/postgres}"
port="${HUTONG_PG_PORT:-5432}"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed: sudo apt-get install postgresql (or run this script as root)" >&2
    exit 1
  fi
  echo "installing postgresql from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
  start)
    if [ ! -f "$data/cluster/PG_VERSION" ]; then
      mkdir -p "$data"
      if [ "$(id -u)" -eq 0 ]; then chown postgres "$data"; chmod 700 "$data"; fi
      # Password authentication even on loopback; the password is kept next to the cluster (readable by you only).
      pw="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
      pwfile="$(mktemp)"; printf '%s\n' "$pw" > "$pwfile"; chmod 644 "$pwfile"
      as_owner "$bin/initdb" -D "$data/cluster" -U hutong --pwfile="$pwfile" -A scram-sha-256 >/dev/null
      rm -f "$pwfile"
      printf '%s\n' "$pw" > "$data/password"; chmod 600 "$data/password"
    fi
    if ! as_owner "$bin/pg_ctl" -D "$data/cluster" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$data/cluster" -l "$data/cluster/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data/cluster" start >/dev/null
      PGPASSWORD="$(cat "$data/password")" "$bin/psql" -h 127.0.0.1 -p "$port" -U hutong -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'hutong'" | grep -q 1 \
        || PGPASSWORD="$(cat "$data/password")" "$bin/createdb" -h 127.0.0.1 -p "$port" -U hutong hutong
    fi
    cs="Host=127.0.0.1;Port=$port;Username=hutong;Password=$(cat "$data/password");Database=hutong"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $data/cluster"
    echo "Run the hub on it:"
    echo "  Store__Provider=Postgres Store__ConnectionString='$cs' dotnet run --project src/Hutong.Demo -- --demo"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$data/cluster" -m fast stop
    ;;
  status)
    as_owner "$bin/pg_ctl" -D "$data/cluster" status
    ;;
  *)
    echo "usage: bash scripts/postgres.sh [start|stop|status]" >&2
    exit 2
    ;;
esac
