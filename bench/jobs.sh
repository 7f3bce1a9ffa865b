#!/bin/sh
# Server-side scan jobs, end to end on loopback: a real `docker-registry` holding the
# base and app test images, `bulwark server --insecure-http` on a fresh SQLite store with
# one in-process worker. Times (from the jobs' own created_at/updated_at, ms) of:
#   1. the base image, cold (nothing in the layer-result cache);
#   2. the app image right after (its base layer comes from the store's cache);
#   3. the app image on a second, fresh store whose worker already holds the pulled
#      blobs (same cache directory): every layer analysed, nothing pulled twice;
#   4. the app image on a third fresh store with a fresh cache directory (cold).
# Usage: bench/jobs.sh [BULWARK_BINARY]   (default target/release/bulwark)
# Needs /usr/bin/docker-registry and the test images (BULWARK_TEST_IMAGES).
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-target/release/bulwark}
IMAGES=${BULWARK_TEST_IMAGES:-target/test-images}
W=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

RP=$(port)
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$W/reg" "$RP" > "$W/reg.yml"
/usr/bin/docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 & PIDS="$PIDS $!"
until curl -fs "http://127.0.0.1:$RP/v2/" >/dev/null; do sleep 0.1; done
BULWARK_CACHE_DIR="$W/push" "$BIN" push "docker-archive:$IMAGES/base.docker.tar" "127.0.0.1:$RP/bench/base:1" --insecure >/dev/null
BULWARK_CACHE_DIR="$W/push" "$BIN" push "docker-archive:$IMAGES/app.docker.tar" "127.0.0.1:$RP/bench/app:1" --insecure >/dev/null

# run_jobs NAME CACHE IMAGE... : a fresh server (store NAME, the worker's blob cache
# CACHE); each image one job, waited for in turn.
run_jobs() {
  name=$1; cache=$2; shift 2
  db="sqlite:$W/$name.db"
  tok=$("$BIN" server token create --database "$db" --role admin 2>/dev/null)
  SP=$(port)
  "$BIN" server --database "$db" --insecure-http --listen "127.0.0.1:$SP" --db "$W/vulndb" \
    --workers 1 --cache-dir "$W/cache-$cache" --registry-insecure --job-poll-ms 50 \
    2>"$W/$name.log" & pid=$!; PIDS="$PIDS $pid"
  until curl -fs "http://127.0.0.1:$SP/readyz" >/dev/null; do sleep 0.1; done
  for img in "$@"; do
    id=$(curl -fs -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      -d "{\"kind\":\"scan\",\"image\":\"127.0.0.1:$RP/bench/$img:1\"}" "http://127.0.0.1:$SP/v1/jobs" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    while :; do
      j=$(curl -fs -H "Authorization: Bearer $tok" "http://127.0.0.1:$SP/v1/jobs/$id")
      st=$(printf '%s' "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
      [ "$st" = done ] || [ "$st" = failed ] && break
      sleep 0.05
    done
    printf '%s' "$j" | python3 -c '
import json, sys, datetime
j = json.load(sys.stdin)
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
ms = (t(j["updated_at"]) - t(j["created_at"])).total_seconds() * 1000
r = j.get("result") or {}
print("%-6s %-5s %-5s %8.0f ms  layers %s cached %s packages %s" % (sys.argv[1], sys.argv[2], j["state"], ms, r.get("layers"), r.get("layers_cached"), r.get("packages")))
' "$name" "$img"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
echo "store  image state     time  (job created -> done, incl. pull)"
run_jobs warm a base app
run_jobs blobs a app
run_jobs cold b app
