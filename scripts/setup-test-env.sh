#!/usr/bin/env bash
# Creates the Python venv the bulwark-report schema tests use to run the official
# CycloneDX and SPDX validators. Idempotent: only creates/installs what is missing.
# Override the location with BULWARK_TEST_VENV (the tests read BULWARK_TEST_PYTHON,
# default /opt/bench-venv/bin/python).
set -euo pipefail

VENV="${BULWARK_TEST_VENV:-/opt/bench-venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating venv at $VENV"
    "$PY" -m venv "$VENV"
fi

if "$VENV/bin/python" -c 'import jsonschema, cyclonedx.validation.json, spdx_tools.spdx.validation' 2>/dev/null; then
    echo "test environment ready: $VENV"
    exit 0
fi

echo "installing validators into $VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# cyclonedx-python-lib's [json-validation] extra pulls in jsonschema with format checks.
"$VENV/bin/python" -m pip install --quiet jsonschema 'cyclonedx-python-lib[json-validation]' spdx-tools
"$VENV/bin/python" -c 'import jsonschema, cyclonedx.validation.json, spdx_tools.spdx.validation'
echo "test environment ready: $VENV"
