#!/usr/bin/env bash
# Admission webhook load test: 100 concurrent HTTPS clients on loopback send the API
# server's sequence for Deployment rollouts (Deployment -> ReplicaSet -> Pod, each
# through /mutate then /validate) to `bulwark admit serve`, with digest pinning,
# signature verification (cosign key, a real docker-registry on loopback with TLS and
# auth), PSS baseline enforced + restricted audit, and a required label. The cache is
# warmed by one cold Deployment first (its latency is printed). Everything is set up by
# crates/bulwark-admit/examples/admission_load.rs. Also prints the resident memory of
# 10,000 cached verdicts (examples/cache_memory.rs).
#
# Usage: bench/admission.sh [CLIENTS=100] [ROUNDS=100]
#   PROFILE=release (default) or dev: which build to measure.
#   BENCH_SERVER=1: the webhook runs with --server against a `bulwark server` (SQLite,
#   TLS, loopback) started for the run: decisions, placements and verifications are
#   reported to it while measuring (it shares the cores; its CPU is printed).
# Needs: Debian's docker-registry (/usr/bin/docker-registry).
# Last line: admission: C clients, p50 X ms, p99 Y ms, max Z ms, R req/s, errors E
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-100}
ROUNDS=${2:-100}
PROFILE=${PROFILE:-release}
if [ ! -x /usr/bin/docker-registry ]; then
  echo "bench/admission.sh: needs /usr/bin/docker-registry (apt-get install docker-registry)" >&2
  exit 2
fi
export CARGO_PROFILE_DEV_DEBUG=0
if [ "$PROFILE" = release ]; then flag=--release; dir=release; else flag=; dir=debug; fi
cargo build -q $flag -p bulwark-cli >&2
cargo build -q $flag -p bulwark-admit --example admission_load --example cache_memory >&2
# Memory of 10,000 cached verdicts (the webhook's signature cache), measured alone.
"target/$dir/examples/cache_memory" 10000
ulimit -n 4096 2>/dev/null || true
BULWARK_BIN="target/$dir/bulwark" exec "target/$dir/examples/admission_load" "$CLIENTS" "$ROUNDS"
