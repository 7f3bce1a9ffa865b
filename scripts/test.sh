#!/usr/bin/env bash
# The whole test suite: the README's second set-up command and what .ci/run runs.
# Installs what the tests need, builds the real test images, then fmt, clippy and
# every test (unit, fixture, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
# Nothing here reads a terminal; a stray stdin must not reach any tool.
exec </dev/null
# Cargo caches rustc probe results, failures included, in target/.rustc_info.json.
# A target directory carried over from another run can hold a poisoned entry (CI
# once failed on exactly that), so never trust it: probing costs milliseconds.
export CARGO_CACHE_RUSTC_INFO=0
rm -f target/.rustc_info.json
scripts/setup-test-env.sh
scripts/setup-version-oracles.sh
scripts/build-test-images.sh
export BULWARK_TEST_IMAGES=${BULWARK_TEST_IMAGES:-$(pwd)/target/test-images}
export BULWARK_TEST_PYTHON=${BULWARK_TEST_PYTHON:-/opt/bench-venv/bin/python}
export BULWARK_TRIVY=${BULWARK_TRIVY:-/opt/bench-venv/bin/trivy}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast --cargo-profile dev
