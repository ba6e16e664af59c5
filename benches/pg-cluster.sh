#!/usr/bin/env bash
# A PostgreSQL primary with streaming replicas on 127.0.0.1, for `concord bench store`:
#   benches/pg-cluster.sh start DIR [REPLICAS] [PORT]   # primary on PORT (default 54400),
#                                                       # replicas on PORT+1...
#   benches/pg-cluster.sh stop DIR
# Uses the server scripts/install-postgres.sh unpacks; as root, it runs as `postgres`,
# which must be able to reach the checkout (a root-only parent folder hides it).
# Prints the primary's and each replica's URL (database `postgres`).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$("$here/scripts/install-postgres.sh" | tail -1)"
cmd=${1:?start or stop}
dir=${2:?data folder}
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
start)
    replicas=${3:-1}
    port=${4:-54400}
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/primary" -U concord -A trust >/dev/null
    cat >>"$dir/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 8
hot_standby = on
shared_buffers = 1GB
maintenance_work_mem = 1GB
EOF
    as_pg "$bin/pg_ctl" -D "$dir/primary" -o "-p $port" -l "$dir/primary.log" -w start >/dev/null
    echo "postgres://concord@127.0.0.1:$port/postgres"
    for ((r = 1; r <= replicas; r++)); do
        as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U concord -D "$dir/replica$r" -R -X stream
        as_pg "$bin/pg_ctl" -D "$dir/replica$r" -o "-p $((port + r))" -l "$dir/replica$r.log" -w start >/dev/null
        echo "postgres://concord@127.0.0.1:$((port + r))/postgres"
    done
    ;;
stop)
    for d in "$dir"/replica* "$dir"/primary; do
        [[ -d $d ]] && as_pg "$bin/pg_ctl" -D "$d" -m fast stop >/dev/null || true
    done
    ;;
*)
    echo "usage: $0 start DIR [REPLICAS] [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
