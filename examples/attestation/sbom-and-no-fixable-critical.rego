# bulwark verify-attestation --policy: passes when `deny` is empty.
#
# Requires (1) at least one verified SBOM attestation (CycloneDX or SPDX) and
# (2) that no verified vulnerability attestation (bulwark scan --attest, predicate
# type https://cosign.sigstore.dev/attestation/vuln/v1, the bulwark JSON report in
# predicate.scanner.result) lists a CRITICAL vulnerability that has a fixed version.
package bulwark.attestation

import rego.v1

sbom_types := {"https://cyclonedx.org/bom", "https://spdx.dev/Document"}

vuln_type := "https://cosign.sigstore.dev/attestation/vuln/v1"

deny contains "no verified SBOM attestation" if {
	not has_sbom
}

has_sbom if {
	some a in input.attestations
	a.predicateType in sbom_types
}

deny contains msg if {
	some a in input.attestations
	a.predicateType == vuln_type
	some v in a.predicate.scanner.result.vulnerabilities
	v.severity == "CRITICAL"
	count(v.fixed_versions) > 0
	msg := sprintf("%s in %s %s is CRITICAL and fixed in %s", [v.id, v.package, v.installed_version, concat(", ", v.fixed_versions)])
}
