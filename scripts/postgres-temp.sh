#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests and benchmarks, in a folder of its own.
#   postgres-temp.sh start DIR PORT   prints the database's postgres:// address
#   postgres-temp.sh stop DIR
#   postgres-temp.sh kill DIR         stops it at once (immediate shutdown)
# As root it runs the server as the postgres user (initdb refuses root). fsync stays on:
# an ack must mean the answer is on disk, here as in production.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cmd=${1:?start, stop or kill}
dir=${2:?folder}
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -d "$dir/db" ]; then
      as_owner "$bin/initdb" -D "$dir/db" -U pollcast --auth=trust -E UTF8 >"$dir/initdb.log"
      fresh=1
    fi
    as_owner "$bin/pg_ctl" -D "$dir/db" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" \
      start >/dev/null
    if [ "${fresh:-0}" = 1 ]; then as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U pollcast pollcast; fi
    echo "postgres://pollcast@127.0.0.1:$port/pollcast"
    ;;
  stop) as_owner "$bin/pg_ctl" -D "$dir/db" -m fast -w stop >/dev/null ;;
  kill) as_owner "$bin/pg_ctl" -D "$dir/db" -m immediate -w stop >/dev/null ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2; exit 2 ;;
esac
