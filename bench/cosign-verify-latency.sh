#!/bin/sh
# Latency of `bulwark verify` on a loopback registry, cold and warm (through
# bulwark_sign::cache::VerificationCache), as p50/p90/p99. Needs Debian's
# docker-registry (scripts/setup-test-env.sh). Not run in CI.
#
#   bench/cosign-verify-latency.sh [ITERATIONS]     (default 300)
set -eu
cd "$(dirname "$0")/.."
# Release build, as the webhook ships (shares target/release with bench's other scripts).
exec cargo run -q --release -p bulwark-cosign --example registry_verify_latency -- "${1:-300}"
