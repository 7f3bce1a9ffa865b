#!/usr/bin/env python3
"""Validates an SBOM file with the official validators.

Usage: validate.py cyclonedx|spdx FILE

cyclonedx: the CycloneDX 1.6 JSON schema (strict variant, with the SPDX licence-id and
JSF schemas it references) as shipped by cyclonedx-python-lib.
spdx: spdx-tools' parser and full SPDX 2.3 document validation (what `pyspdxtools -i`
runs).

Exit status 0 when valid; 1 with the problems on stderr when not; 2 on usage errors.
"""
import sys


def validate_cyclonedx(path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    with open(path, encoding="utf-8") as f:
        data = f.read()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data)
    if error is None:
        return []
    return [str(error)]


def validate_spdx(path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import (
        validate_full_spdx_document,
    )

    try:
        document = parse_file(path)
    except Exception as e:  # the parser raises SPDXParsingError with all messages
        return [f"parse error: {e}"]
    messages = validate_full_spdx_document(document)
    return [f"{m.validation_message} (context: {m.context})" for m in messages]


def main(argv):
    if len(argv) != 3 or argv[1] not in ("cyclonedx", "spdx"):
        print(__doc__, file=sys.stderr)
        return 2
    fmt, path = argv[1], argv[2]
    problems = validate_cyclonedx(path) if fmt == "cyclonedx" else validate_spdx(path)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
