# shellcheck shell=bash
# A throwaway Postgres cluster on loopback for tests and benchmarks. Source this file, then:
#
#   trap pg_cluster_stop EXIT
#   pg_cluster_start        # exports TEST_DATABASE_URL=postgres://postgres@127.0.0.1:<port>/postgres
#
# Needs the Postgres server binaries (Debian package `postgresql`; installed via apt when missing and run as root).
# The cluster lives in a fresh temp directory with fsync off; pg_cluster_stop kills it and deletes the directory.

PG_CLUSTER_DIR=""
PG_CLUSTER_BIN=""

# Runs a Postgres tool as the cluster owner: initdb refuses to run as root.
_pg_cluster_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# Sets PG_CLUSTER_BIN to the newest server bin directory, installing postgresql when missing and root.
_pg_cluster_find_bin() {
  local initdb
  initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  if [ ! -x "$initdb" ] && [ "$(id -u)" -ne 0 ] && command -v initdb >/dev/null 2>&1; then
    initdb=$(command -v initdb)
  fi
  if [ ! -x "$initdb" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "pg-cluster: Postgres server binaries not found; install the 'postgresql' package (e.g. sudo apt-get install postgresql) or run as root" >&2
      return 1
    fi
    echo "pg-cluster: installing postgresql via apt-get" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }; then
      echo "pg-cluster: apt-get install postgresql failed" >&2
      return 1
    fi
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [ -x "$initdb" ] || { echo "pg-cluster: initdb still missing after installing postgresql" >&2; return 1; }
  fi
  PG_CLUSTER_BIN=$(dirname "$initdb")
}

_pg_cluster_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_cluster_start() {
  local dir port attempt
  _pg_cluster_find_bin || return 1
  dir=$(mktemp -d "${TMPDIR:-/tmp}/goop-pg.XXXXXX") || return 1
  PG_CLUSTER_DIR=$dir
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir" || return 1
  fi
  _pg_cluster_as_owner "$PG_CLUSTER_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
    echo "pg-cluster: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    return 1
  }
  # The free port can be taken between probing and binding: retry with a new one.
  for attempt in 1 2 3; do
    port=$(_pg_cluster_free_port) || return 1
    if _pg_cluster_as_owner "$PG_CLUSTER_BIN/pg_ctl" -w -D "$dir/data" -l "$dir/log" \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null; then
      export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
      echo "pg-cluster: $("$PG_CLUSTER_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) /PostgreSQL /') on 127.0.0.1:$port ($dir)"
      return 0
    fi
    echo "pg-cluster: start on port $port failed (attempt $attempt)" >&2
  done
  tail -n 20 "$dir/log" >&2 2>/dev/null
  return 1
}

# Safe to call twice, and after a failed or partial start.
pg_cluster_stop() {
  local dir=${PG_CLUSTER_DIR:-}
  [ -n "$dir" ] || return 0
  PG_CLUSTER_DIR=""
  if [ -f "$dir/data/postmaster.pid" ]; then
    _pg_cluster_as_owner "$PG_CLUSTER_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  return 0
}
