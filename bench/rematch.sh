#!/bin/sh
# Re-match benchmark: N stored SBOMs (default 10,000, about 5M package rows with names
# from the test fixtures and a long tail), a K-record OSV delta (default 1,000), and the
# time to record every event of the re-match (crates/bulwark-server/examples/rematch_bench.rs).
# Usage: bench/rematch.sh [--backend sqlite|postgres] [IMAGES] [DELTA]
#
# postgres: with BENCH_DATABASE=postgres://USER@HOST/DB (an empty database) it runs there;
# without, it starts a throwaway PostgreSQL itself (initdb into a directory of its own,
# Unix socket only, fsync on, as the `postgres` user when run as root) and stops it on
# exit. The fleet is stored into database `stored`, which is then ANALYZEd (what
# autovacuum does on a running server) and copied (CREATE DATABASE … TEMPLATE) into
# `bench` for the timed re-match.
# BENCH_WORK=DIR keeps the work files in DIR (SQLite: stored.db, the stored fleet;
# PostgreSQL: DIR/pg, the cluster); BENCH_REUSE=1 then re-times the re-match on the fleet
# a previous run stored there instead of storing it again (same IMAGES). BENCH_BIN=PATH
# runs a prebuilt example instead of building it.
# Ends with: rematch: N SBOMs, M package rows, K-record delta -> E events in T s, peak P MiB
set -eu
cd "$(dirname "$0")/.."
backend=sqlite
if [ "${1:-}" = "--backend" ]; then backend="$2"; shift 2; fi
images="${1:-10000}"
delta="${2:-1000}"
fixtures="${BULWARK_FIXTURES:-/work/shared/fixtures}"
if [ ! -d "$fixtures" ]; then echo "rematch.sh: fixtures not found at $fixtures (set BULWARK_FIXTURES)" >&2; exit 2; fi
keep=0
if [ -n "${BENCH_WORK:-}" ]; then keep=1; fi
work="${BENCH_WORK:-$(mktemp -d)}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
pg_dir=""
pg_started=0
cleanup() {
  if [ "$pg_started" = 1 ]; then
    pg_run "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pg_run() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_q() { # psql_q DB SQL
  "$pg_bin/psql" -h "$pg_dir" -U bulwark -d "$1" -v ON_ERROR_STOP=1 -X -q -A -t -c "$2"
}
case "$backend" in
  sqlite) unset BENCH_DATABASE ;;
  postgres)
    if [ -z "${BENCH_DATABASE:-}" ]; then
      pg_bin="${BULWARK_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
      if [ ! -x "$pg_bin/initdb" ]; then
        echo "rematch.sh: PostgreSQL not found (no /usr/lib/postgresql/*/bin/initdb; set BULWARK_PG_BIN)" >&2; exit 2
      fi
      pg_dir="$work/pg"
      if [ -n "${BENCH_REUSE:-}" ] && [ ! -f "$pg_dir/stored-$images" ]; then
        echo "rematch.sh: BENCH_REUSE: no fleet of $images SBOMs stored in $pg_dir; storing one" >&2
      fi
      if [ -z "${BENCH_REUSE:-}" ] || [ ! -f "$pg_dir/stored-$images" ]; then
        rm -rf "$pg_dir"
        mkdir -p "$pg_dir"
        if [ "$(id -u)" = 0 ]; then
          chown postgres:postgres "$pg_dir"
          # The postgres user must reach the directory.
          d="$work"; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
        fi
        pg_run "$pg_bin/initdb" -D "$pg_dir/data" -U bulwark --auth=trust --encoding=UTF8 --locale=C >/dev/null
      fi
      pg_run "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -l "$pg_dir/postgres.log" \
        -o "-k '$pg_dir' -c listen_addresses='' -c fsync=on -c synchronous_commit=on" start >/dev/null
      pg_started=1
      if [ ! -f "$pg_dir/stored-$images" ]; then
        psql_q postgres "CREATE DATABASE stored"
      fi
    fi ;;
  *) echo "rematch.sh: --backend sqlite|postgres" >&2; exit 2 ;;
esac
names="$work/names.tsv"
python3 - "$fixtures" > "$names" <<'PY'
# ecosystem<TAB>name for every package name the fixtures know: dpkg status files, npm
# lock files, Cargo.lock, go.sum, dist-info METADATA, and the OSV records' packages.
import json, os, re, sys
osv = {"npm": "npm", "crates.io": "cargo", "Go": "golang", "Maven": "maven", "PyPI": "pypi",
       "RubyGems": "gem", "NuGet": "nuget", "Packagist": "composer", "Debian": "deb"}
out = set()
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        try:
            if os.path.getsize(p) > 20_000_000:
                continue
            t = open(p, errors="ignore").read()
        except OSError:
            continue
        for m in re.finditer(r'"node_modules/((?:@[^/"]+/)?[^/"]+)"', t):
            out.add(("npm", m.group(1)))
        if f == "Cargo.lock":
            out.update(("cargo", m.group(1)) for m in re.finditer(r'name = "([^"]+)"', t))
        if f == "status" or "status" in root:
            out.update(("deb", m.group(1)) for m in re.finditer(r"^(?:Package|Source): (\S+)", t, re.M))
        if f in ("METADATA", "PKG-INFO"):
            out.update(("pypi", m.group(1)) for m in re.finditer(r"^Name: (\S+)", t, re.M))
        if f == "go.sum":
            out.update(("golang", m.group(1)) for m in re.finditer(r"^(\S+) v", t, re.M))
        if f.endswith(".json") and "/osv/" in p:
            try:
                d = json.loads(t)
            except ValueError:
                continue
            for a in (d.get("affected") or []) if isinstance(d, dict) else []:
                pk = a.get("package") or {}
                e = osv.get((pk.get("ecosystem") or "").split(":")[0])
                if e and pk.get("name"):
                    out.add((e, pk["name"]))
for e, n in sorted(out):
    if "\t" not in n and "\n" not in n:
        print(f"{e}\t{n}")
PY
echo "rematch.sh: $(wc -l < "$names") package names from $fixtures; work dir $work" >&2
if [ -n "${BENCH_BIN:-}" ]; then
  bench="$BENCH_BIN" # a prebuilt example (comparing builds on one stored fleet)
else
  cargo build --quiet --release -p bulwark-server --example rematch_bench
  bench="${CARGO_TARGET_DIR:-target}/release/examples/rematch_bench"
fi
if [ -n "$pg_dir" ]; then
  url() { echo "postgres://bulwark@/$1?host=$pg_dir"; }
  if [ ! -f "$pg_dir/stored-$images" ]; then
    BENCH_DATABASE="$(url stored)" BENCH_STORE_ONLY=1 "$bench" "$names" "$work" "$images" "$delta"
    psql_q stored "VACUUM ANALYZE"
    touch "$pg_dir/stored-$images"
  fi
  psql_q postgres "DROP DATABASE IF EXISTS bench"
  psql_q postgres "CREATE DATABASE bench TEMPLATE stored"
  psql_q postgres "CHECKPOINT"
  BENCH_DATABASE="$(url bench)" BENCH_REUSE=1 "$bench" "$names" "$work" "$images" "$delta"
else
  "$bench" "$names" "$work" "$images" "$delta"
fi
