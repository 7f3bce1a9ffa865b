#!/usr/bin/env bash
# Installs the native version-comparison implementations that bulwark-version's
# differential tests compare against. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
/usr/bin/python3 -c 'import apt_pkg' 2>/dev/null || need_apt+=(python3-apt)
/usr/bin/python3 -c 'import rpm' 2>/dev/null || need_apt+=(python3-rpm)
command -v ruby >/dev/null || need_apt+=(ruby)
command -v php >/dev/null || need_apt+=(php-cli)
[ -f /usr/share/php/Composer/Semver/Comparator.php ] || need_apt+=(php-composer-semver)
command -v javac >/dev/null || need_apt+=(default-jdk-headless)
ls /usr/share/maven/lib/maven-artifact*.jar >/dev/null 2>&1 || need_apt+=(maven)
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}"
fi

# node-semver, installed into the build directory so nothing global changes.
oracle_dir=target/version-oracles
if [ ! -f "$oracle_dir/node_modules/semver/package.json" ]; then
    mkdir -p "$oracle_dir"
    npm install --prefix "$oracle_dir" --no-save --no-audit --no-fund semver@7
fi

# PEP 440 reference: `packaging` in the benchmark venv (or any python with it).
"${BULWARK_TEST_PYTHON:-/opt/bench-venv/bin/python}" -c 'import packaging.version' \
    || "${BULWARK_TEST_PYTHON:-/opt/bench-venv/bin/python}" -m pip install packaging
