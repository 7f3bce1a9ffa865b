#!/usr/bin/env bash
# Seeds and runs every cargo-fuzz target for N seconds each (default 30), one after the
# other, and prints a summary (execs, new crashes). Not part of CI: it needs nightly Rust
# and cargo-fuzz (`cargo install cargo-fuzz`).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]    (no targets = all of `cargo fuzz list`)
# Crash/hang/OOM inputs land in fuzz/artifacts/<target>/, logs in fuzz/logs/<target>.log.
# Every finished run appends one line to fuzz/logs/record.tsv (UTC time, commit, target,
# seconds, execs, coverage, result), so a campaign that spans several sittings keeps its
# figures. Without a nightly toolchain, set FUZZ_TOOLCHAIN=stable: it builds on stable
# with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-30}"
shift || true
cd "$root/fuzz"
tc="${FUZZ_TOOLCHAIN:-nightly}"
if [ "$tc" = stable ]; then export RUSTC_BOOTSTRAP=1; fi
# seed.sh's warnings (a missing tool, a fixture dir not found) go to stderr, shown.
./seed.sh || echo "warning: seeding failed, running with empty corpora" >&2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo "+$tc" fuzz list)
cargo "+$tc" fuzz build || exit 1
mkdir -p logs
failed=0
printf '%-18s %8s %12s %s\n' target seconds execs result
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # `cargo fuzz run` rebuilds from the working tree, so the record names that state.
  commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
  cargo "+$tc" fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=1024 -timeout=5 \
    -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$')
  if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see fuzz/logs/$t.log)"; failed=1; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$commit" "$t" "$secs" \
    "${execs:-?}" "${cov:-?}" "$result" >>logs/record.tsv
  printf '%-18s %8s %12s %s\n' "$t" "$secs" "${execs:-?}" "$result"
done
exit $failed
