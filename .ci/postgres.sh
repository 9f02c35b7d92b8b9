#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests of servicetask serve (issue 13):
#   .ci/postgres.sh start DIR PORT   initdb into DIR, start on 127.0.0.1:PORT, print the URL
#   .ci/postgres.sh stop DIR         stop it
# Installs Debian's postgresql-15 when its binaries are missing. Runs the server as the
# `postgres` user (initdb refuses root).
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=$1 dir=$2
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    port=$3
    if [ ! -x "$bin/initdb" ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null) >&2
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    ;;
esac
