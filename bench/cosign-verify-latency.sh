#!/bin/sh
# Latency of `bulwark verify` on a loopback registry, cold and warm (through
# bulwark_sign::cache::VerificationCache), as p50/p90/p99. Needs Debian's
# docker-registry (scripts/setup-test-env.sh). Not run in CI.
#
#   bench/cosign-verify-latency.sh [ITERATIONS]     (default 300)
set -eu
cd "$(dirname "$0")/.."
export CARGO_PROFILE_DEV_DEBUG=0
# Workspace crates at the opt-level dependencies already get in dev builds (no
# full release + LTO rebuild needed); figures are then comparable to a release build.
export CARGO_PROFILE_DEV_OPT_LEVEL=2
exec cargo run -q -p bulwark-cosign --example registry_verify_latency -- "${1:-300}"
