#!/usr/bin/env bash
# The whole test suite: the README's second set-up command and what .ci/run runs.
# Installs what the tests need, builds the real test images, then fmt, clippy and
# every test (unit, fixture, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
scripts/setup-version-oracles.sh
scripts/build-test-images.sh
export BULWARK_TEST_IMAGES=${BULWARK_TEST_IMAGES:-$(pwd)/target/test-images}
export BULWARK_TEST_PYTHON=${BULWARK_TEST_PYTHON:-/opt/bench-venv/bin/python}
export BULWARK_TRIVY=${BULWARK_TRIVY:-/opt/bench-venv/bin/trivy}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast --cargo-profile dev
