#!/bin/sh
# Re-match benchmark: N stored SBOMs (default 10,000, about 5M package rows with names
# from the test fixtures and a long tail), a K-record OSV delta (default 1,000), and the
# time to record every event of the re-match (crates/bulwark-server/examples/rematch_bench.rs).
# Usage: bench/rematch.sh [--backend sqlite|postgres] [IMAGES] [DELTA]
# (postgres: BENCH_DATABASE=postgres://USER@HOST/DB names an empty database)
# Ends with: rematch: N SBOMs, M package rows, K-record delta -> E events in T s, peak P MiB
set -eu
cd "$(dirname "$0")/.."
backend=sqlite
if [ "${1:-}" = "--backend" ]; then backend="$2"; shift 2; fi
case "$backend" in
  sqlite) unset BENCH_DATABASE ;;
  postgres)
    if [ -z "${BENCH_DATABASE:-}" ]; then
      echo "rematch.sh: --backend postgres needs BENCH_DATABASE=postgres://… (an empty database)" >&2; exit 2
    fi ;;
  *) echo "rematch.sh: --backend sqlite|postgres" >&2; exit 2 ;;
esac
fixtures="${BULWARK_FIXTURES:-/work/shared/fixtures}"
if [ ! -d "$fixtures" ]; then echo "rematch.sh: fixtures not found at $fixtures (set BULWARK_FIXTURES)" >&2; exit 2; fi
work="${BENCH_WORK:-$(mktemp -d)}"
mkdir -p "$work"
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
cargo build --quiet --release -p bulwark-server --example rematch_bench
exec target/release/examples/rematch_bench "$names" "$work" "${1:-10000}" "${2:-1000}"
