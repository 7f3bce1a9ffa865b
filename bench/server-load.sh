#!/bin/sh
# Load test of `bulwark server` on loopback: 100 concurrent HTTPS clients reading image
# findings, then 8 concurrent uploaders (see crates/bulwark-server/examples/server_load.rs).
# Usage: bench/server-load.sh [CLIENTS] [SECONDS]
# Ends with: server load: C clients, p50 X ms, p99 Y ms, errors E, uploads U/s
set -eu
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p bulwark-server --example server_load -- "${1:-100}" "${2:-10}"
