#!/usr/bin/env bash
# The whole test suite: the README's second set-up command and what .ci/run runs.
# Installs what the tests need, builds the real test images, then fmt, clippy and
# every test (unit, fixture, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
# /dev/null must be the null device. Earlier bulwark builds wrote `-o /dev/null` by
# renaming a temp file over it, leaving a regular file there: writes then pile up in it
# and every tool that reads "nothing" from it (rustc probes via Stdio::null) reads them
# back. CI failed on exactly that. Put the device back if it is not one.
if [ ! -c /dev/null ]; then
    echo "test.sh: /dev/null is not a character device; recreating it" >&2
    rm -f /dev/null
    if ! mknod -m 666 /dev/null c 1 3; then
        echo "test.sh: cannot mknod here; leaving an empty /dev/null file instead" >&2
        : >/dev/null
    fi
fi
# Nothing here reads a terminal; a stray stdin must not reach any tool.
exec </dev/null
# Cargo caches rustc probe results, failures included, in target/.rustc_info.json; a
# probe poisoned by a broken /dev/null stays cached, so never trust it: probing costs
# milliseconds.
export CARGO_CACHE_RUSTC_INFO=0
rm -f target/.rustc_info.json
scripts/setup-test-env.sh
scripts/setup-version-oracles.sh
scripts/build-test-images.sh
# The full suite never passes by skipping: a missing fixture, image or tool is a
# failure here (bulwark-fixtures' policy), while a plain `cargo test` skips it.
export BULWARK_REQUIRE_ALL=1
export BULWARK_TEST_IMAGES=${BULWARK_TEST_IMAGES:-$(pwd)/target/test-images}
export BULWARK_TEST_PYTHON=${BULWARK_TEST_PYTHON:-/opt/bench-venv/bin/python}
export BULWARK_TRIVY=${BULWARK_TRIVY:-/opt/bench-venv/bin/trivy}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast --cargo-profile dev
# The server's integration suite again on PostgreSQL (each test process starts its own
# throwaway cluster; about a minute on 2 cores). The SQLite run is the one above.
BULWARK_TEST_BACKEND=postgres cargo nextest run --no-fail-fast --cargo-profile dev -p bulwark-server
# The bounded-memory scale test (1,000,000 files and a 4 GiB file, peak RSS under
# 128 MiB) means something only with optimisations on, so it is `#[ignore]`d in the
# dev run above and runs here in release mode: about 3 minutes on 2 cores, most of it
# the release build of bulwark-image.
cargo nextest run --cargo-profile release -p bulwark-image --test scale --run-ignored ignored-only
