#!/usr/bin/env bash
# The whole test suite: the README's second set-up command and what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast
