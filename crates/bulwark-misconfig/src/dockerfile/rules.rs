//! Dockerfile rules `BW-DF-NNNN`. Each carries the Hadolint id (`DL3xxx`/`DL4xxx`) and
//! the Trivy ids (`DS-00xx`, `DS0xx`, `AVD-DS-00xx`) it corresponds to as aliases, the
//! CIS Docker Benchmark v1.6.0 section 4/5 item and the NIST SP 800-190 section.
//!
//! Where Hadolint and Trivy disagree on the semantics of "the same" control, the rule
//! says which reading it follows; the notable ones are "root user" (split in two:
//! explicit last `USER root` vs no `USER` at all) and secrets (name list plus value
//! check).

use std::collections::HashSet;

use bulwark_core::{Misconfiguration, Severity};

use super::parser::{key_values, split_words, Dockerfile, Instruction};
use super::shell::{is_dash_c, is_shell, parse_script, Command, Script};
use super::{DockerfileOptions, LabelType};
use crate::check::{CheckMeta, CheckSelection};
use crate::k8s::workload::{literal_secret_value, secret_like_name};

macro_rules! df {
    ($name:ident, $id:literal, $title:literal, $sev:ident, [$($a:literal),*], [$($r:literal),*],
     $sets:expr, $desc:literal, $fix:literal) => {
        #[doc = $title]
        pub const $name: CheckMeta = CheckMeta {
            id: $id,
            title: $title,
            severity: Severity::$sev,
            description: $desc,
            remediation: $fix,
            references: &[$($r),*],
            aliases: &[$($a),*],
            sets: $sets,
        };
    };
}

const DF: &[&str] = &["dockerfile"];
const CIS: &[&str] = &["dockerfile", "cis-docker"];

df!(
    WORKDIR_RELATIVE,
    "BW-DF-0001",
    "Relative WORKDIR",
    Medium,
    ["DL3000", "DS-0009", "DS009", "AVD-DS-0009"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A relative WORKDIR depends on the previous WORKDIR and is easy to get wrong.",
    "Use an absolute path in WORKDIR."
);
df!(
    LAST_USER_ROOT,
    "BW-DF-0002",
    "Last USER is root",
    High,
    ["DL3002", "DS-0002", "DS002", "AVD-DS-0002"],
    ["CIS Docker 4.1", "NIST SP 800-190 4.1.2"],
    CIS,
    "The final stage switches to root as its last USER, so the container runs as root.",
    "Switch to a non-root user with USER after the steps that need root."
);
df!(NO_USER, "BW-DF-0003", "No USER: image runs as root", Medium, ["DS-0002", "DS002", "AVD-DS-0002", "CKV_DOCKER_3"], ["CIS Docker 4.1", "NIST SP 800-190 4.1.2"], CIS,
    "Without a USER instruction in the final stage (or a stage it builds on) the container runs as root unless the runtime overrides it.", "Create an unprivileged user and add USER <uid> at the end.");
df!(
    RUN_CD,
    "BW-DF-0004",
    "RUN cd instead of WORKDIR",
    Low,
    ["DL3003", "DS-0013", "DS013", "AVD-DS-0013"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Changing directory with cd inside RUN is hard to follow; WORKDIR states it once.",
    "Use WORKDIR to change directory."
);
df!(SUDO, "BW-DF-0005", "sudo in RUN", High, ["DL3004", "DS-0010", "DS010", "AVD-DS-0010"], ["NIST SP 800-190 4.1.2"], DF,
    "RUN already runs as the current USER; sudo adds a setuid binary and unpredictable TTY/environment behaviour.", "Drop sudo; switch USER or use gosu/su-exec at runtime.");
df!(
    UNTAGGED,
    "BW-DF-0006",
    "Base image without tag",
    Medium,
    ["DL3006", "DS-0001", "DS001", "AVD-DS-0001", "CKV_DOCKER_7"],
    ["CIS Docker 4.2", "CIS Docker 5.28", "NIST SP 800-190 4.1.5"],
    CIS,
    "FROM without a tag or digest means latest, which changes under you.",
    "Pin the base image to a tag, better a digest."
);
df!(
    LATEST,
    "BW-DF-0007",
    "Base image uses :latest",
    Medium,
    ["DL3007", "DS-0001", "DS001", "AVD-DS-0001"],
    ["CIS Docker 4.2", "CIS Docker 5.28", "NIST SP 800-190 4.1.5"],
    CIS,
    "The latest tag moves; builds are not reproducible and may pull an unreviewed image.",
    "Pin a specific release tag or digest."
);
df!(
    APT_PIN,
    "BW-DF-0008",
    "apt-get install without version pins",
    Low,
    ["DL3008"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned packages make builds non-reproducible.",
    "Pin versions: apt-get install pkg=version."
);
df!(
    APT_LISTS,
    "BW-DF-0009",
    "apt lists not removed",
    Low,
    ["DL3009"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "apt-get install leaves /var/lib/apt/lists in the layer, growing the image.",
    "Add && rm -rf /var/lib/apt/lists/* in the same RUN, or use a cache mount."
);
df!(
    PIP_PIN,
    "BW-DF-0010",
    "pip install without version pins",
    Low,
    ["DL3013"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned Python packages make builds non-reproducible.",
    "Pin versions (pkg==1.2.3) or install from a pinned requirements file."
);
df!(
    APT_YES,
    "BW-DF-0011",
    "apt-get install without -y",
    Medium,
    ["DL3014", "DS-0021", "DS021", "AVD-DS-0021", "CKV_DOCKER_9"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Without -y apt-get waits for confirmation and the build fails or hangs.",
    "Use apt-get install -y."
);
df!(
    APT_RECOMMENDS,
    "BW-DF-0012",
    "apt-get install without --no-install-recommends",
    Low,
    ["DL3015", "DS-0029", "DS029", "AVD-DS-0029"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Recommended packages add size and attack surface that the image does not need.",
    "Use apt-get install --no-install-recommends."
);
df!(
    NPM_PIN,
    "BW-DF-0013",
    "npm install without version pins",
    Low,
    ["DL3016"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "npm install <pkg> without @version installs whatever is newest.",
    "Use npm install <pkg>@<version> or npm ci with a lockfile."
);
df!(
    APK_PIN,
    "BW-DF-0014",
    "apk add without version pins",
    Low,
    ["DL3018"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned apk packages make builds non-reproducible.",
    "Use apk add <pkg>=<version>."
);
df!(
    APK_CACHE,
    "BW-DF-0015",
    "apk add without --no-cache",
    Low,
    ["DL3019", "DS-0025", "DS025", "AVD-DS-0025"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "apk add without --no-cache keeps the package index in the layer.",
    "Use apk add --no-cache."
);
df!(
    ADD_FOR_FILES,
    "BW-DF-0016",
    "ADD used for local files",
    Low,
    ["DL3020", "DS-0005", "DS005", "AVD-DS-0005", "CKV_DOCKER_4"],
    ["CIS Docker 4.9", "NIST SP 800-190 4.1.2"],
    CIS,
    "ADD has implicit archive extraction and URL download; for plain files COPY says what happens.",
    "Use COPY for files and directories."
);
df!(COPY_DEST_SLASH, "BW-DF-0017", "COPY with several sources to a non-directory", High, ["DL3021", "DS-0011", "DS011", "AVD-DS-0011"], ["NIST SP 800-190 4.1.2"], DF,
    "With more than one source the destination must be a directory ending in /; the build fails otherwise.", "End the destination with /.");
df!(
    COPY_FROM_UNKNOWN,
    "BW-DF-0018",
    "COPY --from an undefined stage",
    Medium,
    ["DL3022"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "COPY --from names no earlier stage, so Docker pulls an image of that name instead.",
    "Reference an earlier FROM ... AS name, or use a fully qualified image."
);
df!(
    COPY_FROM_SELF,
    "BW-DF-0019",
    "COPY --from its own stage",
    Critical,
    ["DL3023", "DS-0006", "DS006", "AVD-DS-0006"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A stage cannot copy from itself.",
    "Reference a different stage."
);
df!(
    DUP_STAGE,
    "BW-DF-0020",
    "Duplicate stage name",
    Critical,
    ["DL3024", "DS-0012", "DS012", "AVD-DS-0012"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Stage names must be unique; a duplicate makes --from ambiguous.",
    "Rename one of the stages."
);
df!(
    JSON_CMD,
    "BW-DF-0021",
    "CMD/ENTRYPOINT in shell form",
    Low,
    ["DL3025"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Shell form runs under /bin/sh -c, so the process does not receive signals (no graceful stop).",
    "Use the JSON exec form: CMD [\"prog\", \"arg\"]."
);
df!(
    UNTRUSTED_REGISTRY,
    "BW-DF-0022",
    "Base image from a registry not allowed",
    High,
    ["DL3026"],
    ["CIS Docker 4.2", "NIST SP 800-190 4.1.5"],
    CIS,
    "The base image comes from a registry outside the configured allow-list.",
    "Use images from the trusted registries."
);
df!(
    APT_NOT_APT_GET,
    "BW-DF-0023",
    "apt used instead of apt-get",
    Low,
    ["DL3027"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "apt's command-line interface is not stable for scripts.",
    "Use apt-get or apt-cache."
);
df!(
    GEM_PIN,
    "BW-DF-0024",
    "gem install without version pins",
    Low,
    ["DL3028"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned gems make builds non-reproducible.",
    "Use gem install <gem>:<version> or -v."
);
df!(
    FROM_PLATFORM,
    "BW-DF-0025",
    "FROM --platform with a fixed value",
    Low,
    ["DL3029"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A hard-coded --platform breaks multi-platform builds.",
    "Drop --platform or use $BUILDPLATFORM/$TARGETPLATFORM."
);
df!(
    YUM_YES,
    "BW-DF-0026",
    "yum install without -y",
    Medium,
    ["DL3030"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Without -y yum waits for confirmation.",
    "Use yum install -y."
);
df!(
    YUM_CLEAN,
    "BW-DF-0027",
    "yum clean all missing",
    Low,
    ["DL3032", "DS-0015", "DS015", "AVD-DS-0015"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "yum caches stay in the layer.",
    "Add && yum clean all in the same RUN."
);
df!(
    YUM_PIN,
    "BW-DF-0028",
    "yum install without version pins",
    Low,
    ["DL3033"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned packages make builds non-reproducible.",
    "Use yum install -y <pkg>-<version>."
);
df!(
    ZYPPER_YES,
    "BW-DF-0029",
    "zypper without non-interactive switch",
    Medium,
    ["DL3034"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "zypper waits for confirmation without -n/-y.",
    "Use zypper install -y (or zypper -n)."
);
df!(
    ZYPPER_DIST_UPGRADE,
    "BW-DF-0030",
    "zypper dist-upgrade",
    Medium,
    ["DL3035"],
    ["CIS Docker 4.7", "NIST SP 800-190 4.1.2"],
    CIS,
    "dist-upgrade may move the image to a new distribution release.",
    "Use a newer base image instead."
);
df!(
    ZYPPER_CLEAN,
    "BW-DF-0031",
    "zypper clean missing",
    Low,
    ["DL3036", "DS-0020", "DS020", "AVD-DS-0020"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "zypper caches stay in the layer.",
    "Add && zypper clean in the same RUN."
);
df!(
    ZYPPER_PIN,
    "BW-DF-0032",
    "zypper install without version pins",
    Low,
    ["DL3037"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned packages make builds non-reproducible.",
    "Use zypper install -y <pkg>=<version>."
);
df!(
    DNF_YES,
    "BW-DF-0033",
    "dnf install without -y",
    Medium,
    ["DL3038"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Without -y dnf waits for confirmation.",
    "Use dnf install -y."
);
df!(
    DNF_CLEAN,
    "BW-DF-0034",
    "dnf/microdnf clean all missing",
    Low,
    [
        "DL3040",
        "DS-0019",
        "DS019",
        "AVD-DS-0019",
        "DS-0027",
        "DS027",
        "AVD-DS-0027"
    ],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "dnf caches stay in the layer.",
    "Add && dnf clean all (microdnf clean all) in the same RUN."
);
df!(
    DNF_PIN,
    "BW-DF-0035",
    "dnf install without version pins",
    Low,
    ["DL3041"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Unpinned packages make builds non-reproducible.",
    "Use dnf install -y <pkg>-<version>."
);
df!(
    PIP_CACHE,
    "BW-DF-0036",
    "pip install without --no-cache-dir",
    Low,
    ["DL3042"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "pip keeps downloaded wheels in ~/.cache/pip inside the layer.",
    "Use pip install --no-cache-dir, or set PIP_NO_CACHE_DIR=1."
);
df!(
    ONBUILD_BAD,
    "BW-DF-0037",
    "ONBUILD triggers FROM, MAINTAINER or ONBUILD",
    High,
    ["DL3043"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "These instructions are not allowed as ONBUILD triggers.",
    "Remove the trigger."
);
df!(ENV_SELF_REF, "BW-DF-0038", "ENV refers to a variable set in the same ENV", High, ["DL3044"], ["NIST SP 800-190 4.1.2"], DF,
    "Variables set in an ENV are not visible to later pairs of the same ENV; the reference expands to the old (often empty) value.", "Split into two ENV instructions.");
df!(
    COPY_RELATIVE,
    "BW-DF-0039",
    "COPY to a relative path without WORKDIR",
    Low,
    ["DL3045"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A relative destination depends on the base image's WORKDIR.",
    "Set WORKDIR first or use an absolute destination."
);
df!(
    USERADD_L,
    "BW-DF-0040",
    "useradd with a high UID without -l",
    Low,
    ["DL3046"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "useradd writes a huge sparse /var/log/lastlog for high UIDs unless -l is given.",
    "Add -l (--no-log-init)."
);
df!(
    WGET_PROGRESS,
    "BW-DF-0041",
    "wget without --progress",
    Low,
    ["DL3047"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "wget's default progress output bloats build logs.",
    "Use wget --progress=dot:giga, or -q."
);
df!(LABEL_KEY, "BW-DF-0042", "Invalid label key", Low, ["DL3048"], ["NIST SP 800-190 4.1.2"], DF,
    "Label keys should be lower-case alphanumerics with . and -, and not in Docker's reserved namespaces.", "Rename the label (reverse-DNS, e.g. org.opencontainers.image.source).");
df!(
    LABEL_MISSING,
    "BW-DF-0043",
    "Required label missing",
    Low,
    ["DL3049"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label required by the configured label schema is missing.",
    "Add the label."
);
df!(
    LABEL_SUPERFLUOUS,
    "BW-DF-0044",
    "Label not in schema",
    Low,
    ["DL3050"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Strict labels: a label not in the configured schema.",
    "Remove the label or add it to the schema."
);
df!(
    LABEL_EMPTY,
    "BW-DF-0045",
    "Label is empty",
    Low,
    ["DL3051"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A schema label is set to an empty value.",
    "Give it a value."
);
df!(
    LABEL_URL,
    "BW-DF-0046",
    "Label is not a URL",
    Low,
    ["DL3052"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label typed url in the schema does not hold an absolute URL.",
    "Use scheme://host/... ."
);
df!(
    LABEL_TIME,
    "BW-DF-0047",
    "Label is not RFC 3339 time",
    Low,
    ["DL3053"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label typed rfc3339 in the schema does not hold an RFC 3339 date-time.",
    "Use e.g. 2024-01-31T12:00:00Z."
);
df!(
    LABEL_SPDX,
    "BW-DF-0048",
    "Label is not an SPDX license",
    Low,
    ["DL3054"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label typed spdx in the schema does not look like an SPDX license expression.",
    "Use an SPDX identifier such as Apache-2.0."
);
df!(
    LABEL_GIT,
    "BW-DF-0049",
    "Label is not a git hash",
    Low,
    ["DL3055"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label typed hash in the schema does not hold a git commit hash.",
    "Use the 7-40 hex digit commit id."
);
df!(
    LABEL_SEMVER,
    "BW-DF-0050",
    "Label is not semantic versioning",
    Low,
    ["DL3056"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label typed semver in the schema does not hold a semantic version.",
    "Use MAJOR.MINOR.PATCH."
);
df!(
    LABEL_EMAIL,
    "BW-DF-0051",
    "Label is not an e-mail address",
    Low,
    ["DL3058"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A label typed email in the schema does not hold an e-mail address.",
    "Use name@example.org."
);
df!(
    NO_HEALTHCHECK,
    "BW-DF-0052",
    "No HEALTHCHECK",
    Low,
    ["DL3057", "DS-0026", "DS026", "AVD-DS-0026", "CKV_DOCKER_2"],
    ["CIS Docker 4.6", "CIS Docker 5.27", "NIST SP 800-190 4.1.2"],
    CIS,
    "Without HEALTHCHECK the engine cannot tell a hung container from a healthy one.",
    "Add HEALTHCHECK CMD ... (or HEALTHCHECK NONE to state it is deliberate)."
);
df!(
    CONSECUTIVE_RUN,
    "BW-DF-0053",
    "Consecutive RUN instructions",
    Low,
    ["DL3059"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Each RUN adds a layer; consecutive ones with the same options can usually be merged.",
    "Merge them with &&."
);
df!(
    YARN_CACHE,
    "BW-DF-0054",
    "yarn cache clean missing",
    Low,
    ["DL3060"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "yarn install leaves its cache in the layer.",
    "Add && yarn cache clean in the same RUN, or use a cache mount."
);
df!(
    FROM_FIRST,
    "BW-DF-0055",
    "Instruction before FROM",
    High,
    ["DL3061"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Only ARG (and comments/directives) may precede the first FROM.",
    "Move the instruction after FROM."
);
df!(
    GO_PIN,
    "BW-DF-0056",
    "go install without version",
    Low,
    ["DL3062"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "go install pkg without @version (or with @latest) installs whatever is newest.",
    "Use go install pkg@vX.Y.Z."
);
df!(
    MAINTAINER,
    "BW-DF-0057",
    "MAINTAINER is deprecated",
    Low,
    ["DL4000", "DS-0022", "DS022", "AVD-DS-0022", "CKV_DOCKER_6"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "MAINTAINER is deprecated since Docker 1.13.",
    "Use LABEL org.opencontainers.image.authors=... ."
);
df!(
    WGET_AND_CURL,
    "BW-DF-0058",
    "Both wget and curl used",
    Low,
    ["DL4001", "DS-0014", "DS014", "AVD-DS-0014"],
    ["CIS Docker 4.3", "NIST SP 800-190 4.1.2"],
    CIS,
    "Installing and using two download tools adds size for no gain.",
    "Use one of them."
);
df!(
    MULTIPLE_CMD,
    "BW-DF-0059",
    "Multiple CMD in a stage",
    Medium,
    ["DL4003", "DS-0016", "DS016", "AVD-DS-0016"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Only the last CMD of a stage takes effect.",
    "Keep one CMD."
);
df!(
    MULTIPLE_ENTRYPOINT,
    "BW-DF-0060",
    "Multiple ENTRYPOINT in a stage",
    High,
    ["DL4004", "DS-0007", "DS007", "AVD-DS-0007"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Only the last ENTRYPOINT of a stage takes effect.",
    "Keep one ENTRYPOINT."
);
df!(SHELL_LINK, "BW-DF-0061", "/bin/sh replaced instead of using SHELL", Medium, ["DL4005"], ["NIST SP 800-190 4.1.2"], DF,
    "Re-linking /bin/sh changes the shell for everything in the image; SHELL changes it for the build only.", "Use SHELL [\"/bin/bash\", \"-c\"].");
df!(
    PIPEFAIL,
    "BW-DF-0062",
    "Pipe without pipefail",
    Low,
    ["DL4006"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "With /bin/sh a failing command before | is ignored; the build goes on with broken output.",
    "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] before the RUN, or set -o pipefail in it."
);
df!(
    PORT_RANGE,
    "BW-DF-0063",
    "EXPOSE port out of range",
    Critical,
    ["DL3011", "DS-0008", "DS008", "AVD-DS-0008"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Ports must be 0-65535.",
    "Fix the port number."
);
df!(
    MULTIPLE_HEALTHCHECK,
    "BW-DF-0064",
    "Multiple HEALTHCHECK in a stage",
    Medium,
    ["DL3012", "DS-0023", "DS023", "AVD-DS-0023"],
    ["CIS Docker 4.6", "NIST SP 800-190 4.1.2"],
    CIS,
    "Only the last HEALTHCHECK of a stage takes effect.",
    "Keep one HEALTHCHECK."
);
df!(SECRET_ARG_ENV, "BW-DF-0065", "Secret in ARG or ENV", Critical, ["DL3064", "DS-0031", "DS031", "AVD-DS-0031"], ["CIS Docker 4.10", "NIST SP 800-190 4.1.4"], CIS,
    "ARG and ENV values are stored in the image config and history, readable by anyone who can pull the image.", "Use RUN --mount=type=secret or runtime secrets.");
df!(
    PORT_22,
    "BW-DF-0066",
    "Port 22 exposed",
    Medium,
    ["DS-0004", "DS004", "AVD-DS-0004", "CKV_DOCKER_1"],
    ["CIS Docker 5.7", "NIST SP 800-190 4.1.2"],
    CIS,
    "Exposing SSH suggests an sshd in the container, which widens the attack surface.",
    "Remove EXPOSE 22; use docker exec / kubectl exec."
);
df!(
    CURL_PIPE_SHELL,
    "BW-DF-0067",
    "Download piped into a shell",
    High,
    [],
    [
        "CIS Docker 4.11",
        "CIS Docker 4.12",
        "NIST SP 800-190 4.1.5"
    ],
    CIS,
    "curl|sh runs whatever the server returns, unverified.",
    "Download to a file, verify its checksum or signature, then run it."
);
df!(
    ADD_REMOTE,
    "BW-DF-0068",
    "ADD from a remote URL without checksum",
    Medium,
    [],
    ["CIS Docker 4.9", "CIS Docker 4.12", "NIST SP 800-190 4.1.5"],
    CIS,
    "ADD <url> fetches content that can change, unverified.",
    "Use ADD --checksum=sha256:..., or download and verify in RUN."
);
df!(
    CHMOD_WORLD,
    "BW-DF-0069",
    "World-writable permissions",
    Medium,
    [],
    ["CIS Docker 4.8", "NIST SP 800-190 4.1.2"],
    CIS,
    "chmod 777 (or o+w) lets any user in the container modify the files.",
    "Grant only the permissions needed."
);
df!(DIST_UPGRADE, "BW-DF-0070", "Package manager upgrade in Dockerfile", Low, ["DL3005", "DS-0024", "DS024", "AVD-DS-0024"], ["CIS Docker 4.7", "NIST SP 800-190 4.1.2"], CIS,
    "apt-get upgrade/dist-upgrade makes the build non-reproducible and may cross releases; patched base images are the fix.", "Use a newer, patched base image.");
df!(
    UPDATE_ALONE,
    "BW-DF-0071",
    "Package index update alone",
    Medium,
    ["DS-0017", "DS017", "AVD-DS-0017", "CKV_DOCKER_5"],
    ["CIS Docker 4.7", "NIST SP 800-190 4.1.2"],
    CIS,
    "An update in its own RUN is cached as a layer, so later installs use a stale index.",
    "Run update and install in the same RUN."
);
df!(
    WORKDIR_SYSTEM,
    "BW-DF-0072",
    "WORKDIR on a system directory",
    High,
    ["DS-0030", "DS030", "AVD-DS-0030", "CKV_DOCKER_10"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Working in /, /etc, /bin, ... invites overwriting system files.",
    "Use a dedicated directory such as /app."
);
df!(NOT_IN_CONTAINER, "BW-DF-0073", "Command that makes no sense in a container", Low, ["DL3001"], ["CIS Docker 5.7", "NIST SP 800-190 4.1.2"], CIS,
    "ssh, vim, service, shutdown, ps, top, kill, mount, ifconfig ... in RUN point at treating the container like a VM.", "Remove the command.");
df!(
    COPY_ARCHIVE,
    "BW-DF-0074",
    "COPY then extract an archive",
    Low,
    ["DL3010"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "Copying an archive and extracting it in a later RUN keeps the archive in a layer.",
    "Use ADD <archive> <dir> which extracts it in one layer."
);
df!(
    STAGE_RESERVED,
    "BW-DF-0075",
    "Stage named with a reserved word",
    Medium,
    ["DL3063"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "A stage named scratch shadows the reserved empty image.",
    "Rename the stage."
);
df!(
    PLATFORM_REDUNDANT,
    "BW-DF-0076",
    "FROM --platform=$TARGETPLATFORM is redundant",
    Low,
    ["DL3065"],
    ["NIST SP 800-190 4.1.2"],
    DF,
    "$TARGETPLATFORM is already the default platform.",
    "Drop the flag."
);
df!(USER_NAME, "BW-DF-0077", "USER by name, not numeric id", Low, ["DL3066"], ["CIS Docker 4.1", "NIST SP 800-190 4.1.2"], CIS,
    "A user name cannot be checked for non-root by Kubernetes runAsNonRoot and may not resolve on the host.", "Use USER <uid>:<gid>.");
df!(COPY_WHOLE_FS, "BW-DF-0078", "COPY of a whole filesystem from another stage", Medium, ["DL3067"], ["NIST SP 800-190 4.1.2"], DF,
    "COPY --from=x / / copies everything, including what the build stage was meant to leave behind.", "Copy only the needed paths.");
df!(TLS_DISABLED, "BW-DF-0079", "Package or download verification disabled", High, ["CKV2_DOCKER_2", "CKV2_DOCKER_3", "CKV2_DOCKER_4", "CKV2_DOCKER_5", "CKV2_DOCKER_6", "CKV2_DOCKER_7", "CKV2_DOCKER_8", "CKV2_DOCKER_9", "CKV2_DOCKER_10", "CKV2_DOCKER_11", "CKV2_DOCKER_12", "CKV2_DOCKER_13", "CKV2_DOCKER_14", "CKV2_DOCKER_15", "CKV2_DOCKER_16"], ["CIS Docker 4.11", "CIS Docker 4.12", "NIST SP 800-190 4.1.5"], CIS,
    "curl -k, wget --no-check-certificate, --allow-untrusted, --nogpgcheck, --trusted-host or NODE_TLS_REJECT_UNAUTHORIZED=0 accept tampered downloads.", "Keep TLS and signature verification on.");
df!(SECRET_FILE_COPY, "BW-DF-0080", "Credential file copied into the image", High, ["DS-0031", "DS031", "AVD-DS-0031"], ["CIS Docker 4.10", "NIST SP 800-190 4.1.4"], CIS,
    "Private keys, .env files and registry credentials copied into a layer stay in the image even if deleted later.", "Use RUN --mount=type=secret, and .dockerignore.");

/// Every Dockerfile check.
pub const CHECKS: &[CheckMeta] = &[
    WORKDIR_RELATIVE,
    LAST_USER_ROOT,
    NO_USER,
    RUN_CD,
    SUDO,
    UNTAGGED,
    LATEST,
    APT_PIN,
    APT_LISTS,
    PIP_PIN,
    APT_YES,
    APT_RECOMMENDS,
    NPM_PIN,
    APK_PIN,
    APK_CACHE,
    ADD_FOR_FILES,
    COPY_DEST_SLASH,
    COPY_FROM_UNKNOWN,
    COPY_FROM_SELF,
    DUP_STAGE,
    JSON_CMD,
    UNTRUSTED_REGISTRY,
    APT_NOT_APT_GET,
    GEM_PIN,
    FROM_PLATFORM,
    YUM_YES,
    YUM_CLEAN,
    YUM_PIN,
    ZYPPER_YES,
    ZYPPER_DIST_UPGRADE,
    ZYPPER_CLEAN,
    ZYPPER_PIN,
    DNF_YES,
    DNF_CLEAN,
    DNF_PIN,
    PIP_CACHE,
    ONBUILD_BAD,
    ENV_SELF_REF,
    COPY_RELATIVE,
    USERADD_L,
    WGET_PROGRESS,
    LABEL_KEY,
    LABEL_MISSING,
    LABEL_SUPERFLUOUS,
    LABEL_EMPTY,
    LABEL_URL,
    LABEL_TIME,
    LABEL_SPDX,
    LABEL_GIT,
    LABEL_SEMVER,
    LABEL_EMAIL,
    NO_HEALTHCHECK,
    CONSECUTIVE_RUN,
    YARN_CACHE,
    FROM_FIRST,
    GO_PIN,
    MAINTAINER,
    WGET_AND_CURL,
    MULTIPLE_CMD,
    MULTIPLE_ENTRYPOINT,
    SHELL_LINK,
    PIPEFAIL,
    PORT_RANGE,
    MULTIPLE_HEALTHCHECK,
    SECRET_ARG_ENV,
    PORT_22,
    CURL_PIPE_SHELL,
    ADD_REMOTE,
    CHMOD_WORLD,
    DIST_UPGRADE,
    UPDATE_ALONE,
    WORKDIR_SYSTEM,
    NOT_IN_CONTAINER,
    COPY_ARCHIVE,
    STAGE_RESERVED,
    PLATFORM_REDUNDANT,
    USER_NAME,
    COPY_WHOLE_FS,
    TLS_DISABLED,
    SECRET_FILE_COPY,
];

struct Ctx<'a> {
    df: &'a Dockerfile,
    path: &'a str,
    sel: &'a CheckSelection,
    out: Vec<Misconfiguration>,
    /// RUN scripts that could not be analysed in full.
    warnings: Vec<crate::CheckWarning>,
}

impl Ctx<'_> {
    fn resource(&self, stage: Option<usize>) -> Option<String> {
        let s = self.df.stages.get(stage?)?;
        Some(match &s.name {
            Some(n) => format!("stage {n}"),
            None => format!("stage {}", s.index),
        })
    }

    fn emit(&mut self, c: &CheckMeta, inst: &Instruction, msg: String) {
        if !self.sel.enabled(c) {
            return;
        }
        let mut f = c.finding(
            self.path,
            Some(inst.start_line),
            self.resource(inst.stage),
            msg,
        );
        f.end_line = Some(inst.end_line);
        self.out.push(f);
    }
}

/// Runs every enabled rule.
pub fn run(
    df: &Dockerfile,
    path: &str,
    sel: &CheckSelection,
    opts: &DockerfileOptions,
) -> (Vec<Misconfiguration>, Vec<crate::CheckWarning>) {
    let mut cx = Ctx {
        df,
        path,
        sel,
        out: Vec::new(),
        warnings: Vec::new(),
    };
    structure(&mut cx, opts);
    // Each RUN is parsed once, for its own rules and for the sequence rules.
    let scripts: Vec<Option<Script>> = df
        .instructions
        .iter()
        .map(|i| (i.keyword == "RUN").then(|| run_commands(i)))
        .collect();
    for (inst, script) in df.instructions.iter().zip(&scripts) {
        instruction(&mut cx, inst, inst, script.as_ref());
        if let Some(inner) = &inst.onbuild {
            let mut inner = (**inner).clone();
            inner.stage = inst.stage;
            instruction(&mut cx, &inner, inst, None);
        }
    }
    run_sequences(&mut cx, &scripts);
    labels(&mut cx, opts);
    (cx.out, cx.warnings)
}

fn is_stage_ref(df: &Dockerfile, name: &str, before: usize) -> bool {
    let lower = name.to_ascii_lowercase();
    df.stages
        .iter()
        .take(before)
        .any(|s| s.name.as_deref() == Some(lower.as_str()))
        || name.parse::<usize>().is_ok_and(|n| n < before)
}

/// Registry host of an image reference (`docker.io` for Docker Hub short names).
fn registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// `(tag, digest)` of an image reference.
fn tag_digest(image: &str) -> (Option<&str>, bool) {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    (last.split_once(':').map(|(_, t)| t), digest)
}

/// Structure-level rules: stages, FROM, USER, HEALTHCHECK, duplicates per stage.
fn structure(cx: &mut Ctx<'_>, opts: &DockerfileOptions) {
    let df = cx.df;
    // FROM first.
    if let Some(first) = df
        .instructions
        .iter()
        .find(|i| i.stage.is_none() && i.keyword != "ARG" && i.keyword != "FROM")
    {
        cx.emit(
            &FROM_FIRST,
            first,
            format!("{} before the first FROM", first.keyword),
        );
    }
    let mut names: HashSet<String> = HashSet::new();
    for s in &df.stages {
        let Some(inst) = df.instructions.get(s.from_instruction) else {
            continue;
        };
        if let Some(n) = &s.name {
            if !names.insert(n.clone()) {
                cx.emit(
                    &DUP_STAGE,
                    inst,
                    format!("stage name {n:?} is already used"),
                );
            }
            if n == "scratch" {
                cx.emit(&STAGE_RESERVED, inst, format!("stage named {n:?}"));
            }
        }
        let base = s.base.as_str();
        let lower = base.to_ascii_lowercase();
        let is_stage = is_stage_ref(df, base, s.index);
        if !is_stage && lower != "scratch" && !base.is_empty() {
            let (tag, digest) = tag_digest(base);
            match tag {
                None if !digest => cx.emit(
                    &UNTAGGED,
                    inst,
                    format!("FROM {base} has no tag or digest (means :latest)"),
                ),
                Some("latest") if !digest => {
                    cx.emit(&LATEST, inst, format!("FROM {base} uses the latest tag"))
                }
                _ => {}
            }
            if !opts.trusted_registries.is_empty() {
                let reg = registry(base);
                let ok = opts.trusted_registries.iter().any(|t| {
                    t.eq_ignore_ascii_case(reg)
                        || (t == "docker.io" && reg == "index.docker.io")
                        || t.strip_prefix("*.").is_some_and(|suf| reg.ends_with(suf))
                });
                if !ok {
                    cx.emit(
                        &UNTRUSTED_REGISTRY,
                        inst,
                        format!("FROM {base}: registry {reg} is not in the allow-list"),
                    );
                }
            }
        }
        if let Some(p) = &s.platform {
            let compact = p.replace(['{', '}'], "");
            if compact == "$TARGETPLATFORM" {
                cx.emit(
                    &PLATFORM_REDUNDANT,
                    inst,
                    "--platform=$TARGETPLATFORM is the default".to_string(),
                );
            } else if !p.contains('$') {
                cx.emit(&FROM_PLATFORM, inst, format!("FROM --platform={p}"));
            }
        }
    }

    // Per-stage duplicates.
    for s in &df.stages {
        for (kw, check) in [
            ("CMD", &MULTIPLE_CMD),
            ("ENTRYPOINT", &MULTIPLE_ENTRYPOINT),
            ("HEALTHCHECK", &MULTIPLE_HEALTHCHECK),
        ] {
            let of: Vec<&Instruction> = df
                .instructions
                .iter()
                .filter(|i| i.stage == Some(s.index) && i.keyword == kw)
                .collect();
            for extra in of.iter().skip(1) {
                cx.emit(
                    check,
                    extra,
                    format!(
                        "{kw} repeated in the stage (first on line {})",
                        of.first().map(|f| f.start_line).unwrap_or(0)
                    ),
                );
            }
        }
    }

    // Final stage: USER and HEALTHCHECK, following the chain of stages it builds on.
    let Some(last) = df.stages.last() else { return };
    let Some(last_from) = df.instructions.get(last.from_instruction) else {
        return;
    };
    let mut chain = vec![last.index];
    let mut cur = last;
    while let Some(parent) = df
        .stages
        .iter()
        .take(cur.index)
        .find(|p| p.name.as_deref() == Some(cur.base.to_ascii_lowercase().as_str()))
    {
        if chain.contains(&parent.index) || chain.len() > df.stages.len() {
            break;
        }
        chain.push(parent.index);
        cur = parent;
    }
    let in_chain = |i: &&Instruction| i.stage.is_some_and(|s| chain.contains(&s));
    let last_user = df
        .instructions
        .iter()
        .filter(in_chain)
        .filter(|i| i.keyword == "USER")
        .max_by_key(|i| {
            (
                chain.len() - chain.iter().position(|&c| Some(c) == i.stage).unwrap_or(0),
                i.start_line,
            )
        });
    match last_user {
        Some(u) => {
            let name = u.words.first().map(String::as_str).unwrap_or("");
            let user = name.split(':').next().unwrap_or("");
            if user == "root" || user == "0" {
                cx.emit(&LAST_USER_ROOT, u, format!("last USER is {name}"));
            }
        }
        None => {
            let windows = cur.base.to_ascii_lowercase().contains("windows")
                || cur.base.to_ascii_lowercase().contains("nanoserver")
                || cur.base.to_ascii_lowercase().contains("servercore");
            if cur.base != "scratch" && !windows {
                cx.emit(
                    &NO_USER,
                    last_from,
                    "the final stage sets no USER, so the container runs as root".to_string(),
                );
            } else if cur.base == "scratch" {
                cx.emit(
                    &NO_USER,
                    last_from,
                    "the final stage (FROM scratch) sets no USER: the process runs as uid 0"
                        .to_string(),
                );
            }
        }
    }
    let has_hc = df
        .instructions
        .iter()
        .filter(in_chain)
        .any(|i| i.keyword == "HEALTHCHECK");
    if !has_hc {
        cx.emit(
            &NO_HEALTHCHECK,
            last_from,
            "the final stage has no HEALTHCHECK".to_string(),
        );
    }
}

const ARCHIVE_EXT: &[&str] = &[
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".tar.zst",
    ".tzst",
    ".gz",
    ".bz2",
    ".xz",
    ".zst",
    ".lz",
    ".lzma",
    ".tar.lzma",
];

fn is_archive(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    ARCHIVE_EXT.iter().any(|e| l.ends_with(e))
}

fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://") || l.starts_with("git@")
}

/// Source and destination words of COPY/ADD (heredoc markers removed).
fn copy_args(inst: &Instruction) -> (Vec<&str>, Option<&str>) {
    let words: Vec<&str> = inst
        .words
        .iter()
        .map(String::as_str)
        .filter(|w| !w.starts_with("<<"))
        .collect();
    match words.split_last() {
        Some((dest, srcs)) => (srcs.to_vec(), Some(*dest)),
        None => (Vec::new(), None),
    }
}

const SECRET_FILES: &[&str] = &[
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".env",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".netrc",
    "credentials",
    ".htpasswd",
    "credentials.json",
    "secrets.json",
    "config.json",
];

/// Rules on one instruction. `at` is where findings are reported (the ONBUILD line for
/// triggers).
/// Runs the rules of one instruction; `script` is the RUN's parsed script when the caller
/// has it (else it is parsed here).
fn instruction(cx: &mut Ctx<'_>, inst: &Instruction, at: &Instruction, script: Option<&Script>) {
    let df = cx.df;
    let first = inst.words.first().map(String::as_str).unwrap_or("");
    match inst.keyword.as_str() {
        "WORKDIR" => {
            let w = first;
            let windows = w.get(1..3) == Some(":\\") || w.get(1..3) == Some(":/");
            if !w.starts_with('/') && !w.starts_with('$') && !windows && !w.is_empty() {
                cx.emit(&WORKDIR_RELATIVE, at, format!("WORKDIR {w} is relative"));
            }
            const SYS: &[&str] = &[
                "/",
                "/bin",
                "/boot",
                "/dev",
                "/etc",
                "/lib",
                "/lib64",
                "/proc",
                "/root",
                "/sbin",
                "/sys",
                "/usr",
                "/usr/bin",
                "/usr/sbin",
                "/usr/lib",
                "/var",
                "/run",
            ];
            let norm = if w.len() > 1 {
                w.trim_end_matches('/')
            } else {
                w
            };
            if SYS.contains(&norm) {
                cx.emit(
                    &WORKDIR_SYSTEM,
                    at,
                    format!("WORKDIR {w} is a system directory"),
                );
            }
        }
        "MAINTAINER" => cx.emit(&MAINTAINER, at, "MAINTAINER is deprecated".to_string()),
        "ONBUILD" => {
            if let Some(inner) = &inst.onbuild {
                if matches!(inner.keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                    cx.emit(&ONBUILD_BAD, at, format!("ONBUILD {}", inner.keyword));
                }
            }
        }
        "CMD" | "ENTRYPOINT" if inst.exec.is_none() && !inst.rest.is_empty() => {
            cx.emit(
                &JSON_CMD,
                at,
                format!("{} in shell form: {}", inst.keyword, truncate(&inst.rest)),
            );
        }
        "USER" => {
            let u = first.split(':').next().unwrap_or("");
            if !u.is_empty() && !u.contains('$') && u.parse::<u32>().is_err() {
                cx.emit(&USER_NAME, at, format!("USER {first} is not numeric"));
            }
        }
        "EXPOSE" => {
            for p in &inst.words {
                let port = p.split('/').next().unwrap_or("");
                for part in port.split('-') {
                    if part.contains('$') || part.is_empty() {
                        continue;
                    }
                    match part.parse::<u64>() {
                        Ok(n) if n > 65535 => {
                            cx.emit(&PORT_RANGE, at, format!("EXPOSE {p}: port out of range"))
                        }
                        Err(_) => cx.emit(&PORT_RANGE, at, format!("EXPOSE {p}: not a port")),
                        _ => {}
                    }
                }
                let range_has_22 = match port.split_once('-') {
                    Some((a, b)) => {
                        matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= 22 && 22 <= b)
                    }
                    None => port == "22",
                };
                if range_has_22 {
                    cx.emit(&PORT_22, at, format!("EXPOSE {p}"));
                }
            }
        }
        "ENV" | "ARG" => {
            let pairs = key_values(inst);
            for (k, v) in &pairs {
                let name_hit = secret_like_name(k) && !benign_secret_name(k);
                let value_hit = v.as_deref().is_some_and(|v| {
                    literal_secret_value(v) && !v.contains('$') && looks_like_key_material(v)
                });
                if name_hit
                    && (inst.keyword == "ARG" || v.as_deref().is_some_and(literal_secret_value))
                {
                    cx.emit(
                        &SECRET_ARG_ENV,
                        at,
                        format!("{} {k} looks like a secret", inst.keyword),
                    );
                } else if value_hit {
                    cx.emit(
                        &SECRET_ARG_ENV,
                        at,
                        format!(
                            "{} {k} has a value that looks like a credential",
                            inst.keyword
                        ),
                    );
                }
                if inst.keyword == "ENV" {
                    let ku = k.to_ascii_uppercase();
                    let vv = v.as_deref().unwrap_or("").trim();
                    if (ku == "NODE_TLS_REJECT_UNAUTHORIZED" && vv == "0")
                        || (ku == "GIT_SSL_NO_VERIFY"
                            && !vv.is_empty()
                            && vv != "0"
                            && vv != "false")
                        || (ku == "PIP_TRUSTED_HOST" && !vv.is_empty())
                        || (ku == "PYTHONHTTPSVERIFY" && vv == "0")
                    {
                        cx.emit(&TLS_DISABLED, at, format!("ENV {k}={vv}"));
                    }
                }
            }
            if inst.keyword == "ENV" {
                env_self_ref(cx, inst, at);
            }
        }
        "COPY" | "ADD" => copy_add(cx, inst, at),
        "RUN" => {
            let parsed;
            let script = match script {
                Some(s) => s,
                None => {
                    parsed = run_commands(inst);
                    &parsed
                }
            };
            if let Some(w) = &script.warning {
                cx.warnings.push(crate::CheckWarning {
                    line: at.start_line,
                    message: w.clone(),
                });
            }
            run_rules(cx, inst, at, &script.commands);
        }
        _ => {}
    }
    let _ = df;
}

fn truncate(s: &str) -> String {
    let one = s.lines().next().unwrap_or("");
    if one.chars().count() > 80 {
        let t: String = one.chars().take(77).collect();
        format!("{t}...")
    } else {
        one.to_string()
    }
}

/// Variable names that carry a secret-ish word but name public material (Trivy flags
/// `*_GPG_KEY`, which are public key fingerprints: we do not).
fn benign_secret_name(k: &str) -> bool {
    let u = k.to_ascii_uppercase();
    [
        "GPG_KEY",
        "PGP_KEY",
        "PUBLIC_KEY",
        "KEY_ID",
        "KEYID",
        "_FILE",
        "_PATH",
        "_URL",
        "TOKEN_URL",
    ]
    .iter()
    .any(|s| u.contains(s))
}

/// Well-known credential formats (AWS key ids, GitHub/GitLab/Slack tokens, private keys).
fn looks_like_key_material(v: &str) -> bool {
    let v = v.trim();
    (v.starts_with("AKIA") && v.len() == 20 && v.chars().all(|c| c.is_ascii_alphanumeric()))
        || [
            "ghp_",
            "gho_",
            "ghs_",
            "github_pat_",
            "glpat-",
            "xoxb-",
            "xoxp-",
            "sk_live_",
            "npm_",
        ]
        .iter()
        .any(|p| v.starts_with(p) && v.len() >= 20)
        || v.contains("-----BEGIN") && v.contains("PRIVATE KEY")
}

fn env_self_ref(cx: &mut Ctx<'_>, inst: &Instruction, at: &Instruction) {
    let df = cx.df;
    // Keys defined before this ENV in the stage (or as ARG): referencing them is fine.
    let before: HashSet<String> = df
        .instructions
        .iter()
        .filter(|i| i.stage == inst.stage && i.start_line < inst.start_line)
        .filter(|i| i.keyword == "ENV" || i.keyword == "ARG")
        .flat_map(key_values)
        .map(|(k, _)| k)
        .collect();
    let raw = Instruction {
        keyword: "ENV".to_string(),
        words: split_words(&inst.rest, df.escape),
        ..Default::default()
    };
    let mut defined: Vec<String> = Vec::new();
    for (k, v) in key_values(&raw) {
        let v = v.unwrap_or_default();
        for d in &defined {
            if before.contains(d) {
                continue;
            }
            let refs = v.contains(&format!("${{{d}}}"))
                || v.contains(&format!("${{{d}:"))
                || v.match_indices(&format!("${d}")).any(|(p, m)| {
                    !v[p + m.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if refs {
                cx.emit(
                    &ENV_SELF_REF,
                    at,
                    format!("{k} refers to {d}, set in the same ENV"),
                );
            }
        }
        defined.push(k);
    }
}

fn copy_add(cx: &mut Ctx<'_>, inst: &Instruction, at: &Instruction) {
    let df = cx.df;
    let (srcs, dest) = copy_args(inst);
    let Some(dest) = dest else { return };
    if srcs.len() >= 2 && !dest.ends_with('/') && !dest.ends_with('\\') && !dest.contains('$') {
        cx.emit(
            &COPY_DEST_SLASH,
            at,
            format!(
                "{} with {} sources to {dest}, which does not end in /",
                inst.keyword,
                srcs.len()
            ),
        );
    }
    let stage_idx = inst.stage.unwrap_or(0);
    if let Some(from) = inst.flag("from") {
        let own = df
            .stages
            .get(stage_idx)
            .and_then(|s| s.name.as_deref())
            .is_some_and(|n| n.eq_ignore_ascii_case(from));
        if own {
            cx.emit(
                &COPY_FROM_SELF,
                at,
                format!("--from={from} is the current stage"),
            );
        } else if !is_stage_ref(df, from, stage_idx)
            && !from.contains([':', '/', '$', '@'])
            && from.parse::<usize>().is_err()
        {
            cx.emit(
                &COPY_FROM_UNKNOWN,
                at,
                format!("--from={from} is not an earlier stage"),
            );
        } else if let Ok(n) = from.parse::<usize>() {
            if n >= stage_idx {
                cx.emit(
                    &COPY_FROM_UNKNOWN,
                    at,
                    format!("--from={n} is not an earlier stage"),
                );
            }
        }
        if srcs.iter().any(|s| *s == "/" || *s == "/." || *s == "/*")
            && (dest == "/" || dest == "/.")
        {
            cx.emit(
                &COPY_WHOLE_FS,
                at,
                format!("copies the whole filesystem of {from}"),
            );
        }
    }
    // Relative destination without WORKDIR in this stage or its parents.
    let relative = !dest.starts_with('/')
        && !dest.starts_with('$')
        && dest.get(1..2) != Some(":")
        && !dest.starts_with('\\');
    if relative && inst.heredocs.is_empty() {
        let mut chain = vec![stage_idx];
        let mut cur = df.stages.get(stage_idx);
        while let Some(s) = cur {
            let parent = df
                .stages
                .iter()
                .take(s.index)
                .find(|p| p.name.as_deref() == Some(s.base.to_ascii_lowercase().as_str()));
            match parent {
                Some(p) if !chain.contains(&p.index) => {
                    chain.push(p.index);
                    cur = Some(p);
                }
                _ => break,
            }
        }
        let has_workdir = df.instructions.iter().any(|i| {
            i.keyword == "WORKDIR"
                && i.stage.is_some_and(|s| chain.contains(&s))
                && (i.stage != Some(stage_idx) || i.start_line < inst.start_line)
        });
        if !has_workdir {
            cx.emit(
                &COPY_RELATIVE,
                at,
                format!("{} to relative {dest} without WORKDIR", inst.keyword),
            );
        }
    }
    for s in &srcs {
        let base = s
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(s)
            .to_ascii_lowercase();
        let secret = SECRET_FILES.contains(&base.as_str()) && base != "config.json"
            || base.ends_with(".pem") && base.contains("key")
            || base.ends_with(".key")
            || base == ".docker/config.json"
            || s.ends_with(".docker/config.json")
            || s.ends_with(".aws/credentials");
        if secret && inst.flag("from").is_none() {
            cx.emit(&SECRET_FILE_COPY, at, format!("{} {s}", inst.keyword));
        }
    }
    if inst.keyword == "ADD" {
        let remote: Vec<&&str> = srcs.iter().filter(|s| is_url(s)).collect();
        if !remote.is_empty() && inst.flag("checksum").is_none() {
            for r in &remote {
                let git = r.ends_with(".git") || r.starts_with("git@") || r.contains(".git#");
                if !git || !r.contains('#') {
                    cx.emit(&ADD_REMOTE, at, format!("ADD {r} without --checksum"));
                }
            }
        }
        if inst.heredocs.is_empty()
            && !srcs.is_empty()
            && srcs.iter().all(|s| !is_url(s) && !is_archive(s))
        {
            cx.emit(
                &ADD_FOR_FILES,
                at,
                format!("ADD {} for local files", srcs.join(" ")),
            );
        }
    }
}

/// Commands of a RUN (shell form parsed as shell; exec form as one command, or the
/// script of `sh -c` / `bash -c`), with a warning when the script could not be
/// analysed in full.
fn run_commands(inst: &Instruction) -> Script {
    if let Some(script) = inst.shell_script() {
        return parse_script(&script);
    }
    let exec = inst.exec.clone().unwrap_or_default();
    let shell = exec
        .first()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .is_some_and(is_shell);
    if shell {
        if let Some(pos) = exec.iter().position(|a| is_dash_c(a)) {
            if let Some(script) = exec.get(pos + 1) {
                return parse_script(script);
            }
        }
    }
    Script {
        commands: vec![Command {
            words: exec,
            ..Command::default()
        }],
        warning: None,
    }
}

fn cache_mount_for(inst: &Instruction, needle: &str) -> bool {
    inst.flags
        .iter()
        .any(|f| f.name == "mount" && f.value.contains("type=cache") && f.value.contains(needle))
}

const APT_VALUE_OPTS: &[&str] = &[
    "-o",
    "-c",
    "-t",
    "--option",
    "--config-file",
    "--target-release",
];
const PIP_VALUE_OPTS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "-f",
    "--find-links",
    "--trusted-host",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--progress-bar",
    "--src",
    "-e",
    "--editable",
    "--upgrade-strategy",
    "--cache-dir",
    "--log",
    "--proxy",
    "--timeout",
    "--retries",
    "--only-binary",
    "--no-binary",
    "--config-settings",
    "-C",
];
const APK_VALUE_OPTS: &[&str] = &[
    "-t",
    "--virtual",
    "-X",
    "--repository",
    "-p",
    "--root",
    "--arch",
    "--cache-dir",
    "--keys-dir",
    "--repositories-file",
];
const YUM_VALUE_OPTS: &[&str] = &[
    "--enablerepo",
    "--disablerepo",
    "--setopt",
    "--installroot",
    "--releasever",
    "-c",
    "--config",
    "--exclude",
    "-x",
    "--repo",
    "--repofrompath",
    "--nodocs-x",
];
const ZYPPER_VALUE_OPTS: &[&str] = &["-t", "--type", "-r", "--repo", "--from", "--root", "-R"];
const NPM_VALUE_OPTS: &[&str] = &[
    "--prefix",
    "--registry",
    "--cache",
    "-w",
    "--workspace",
    "--omit",
    "--include",
    "--loglevel",
];
const GEM_VALUE_OPTS: &[&str] = &[
    "-v",
    "--version",
    "-i",
    "--install-dir",
    "-n",
    "--bindir",
    "--source",
    "-s",
    "-P",
    "--trust-policy",
    "--platform",
];

fn is_pip(c: &Command) -> Option<Vec<&str>> {
    let name = c.name();
    let args: Vec<&str> = c.args().iter().map(String::as_str).collect();
    if name.starts_with("pip")
        && name
            .trim_start_matches("pip")
            .chars()
            .all(|ch| ch.is_ascii_digit() || ch == '.')
    {
        return Some(args);
    }
    if name.starts_with("python") {
        if let Some(p) = args.iter().position(|a| *a == "-m") {
            if args.get(p + 1).is_some_and(|m| m.starts_with("pip")) {
                return Some(args.get(p + 2..).unwrap_or(&[]).to_vec());
            }
        }
    }
    if name == "uv" && args.first() == Some(&"pip") {
        return None;
    }
    None
}

fn operands_of<'a>(args: &[&'a str], with_value: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') {
            if with_value.contains(a) {
                skip = true;
            }
            continue;
        }
        out.push(*a);
    }
    out
}

fn run_rules(cx: &mut Ctx<'_>, inst: &Instruction, at: &Instruction, cmds: &[Command]) {
    let script_text: String = cmds
        .iter()
        .map(|c| c.words.join(" "))
        .collect::<Vec<_>>()
        .join(" ; ");
    let env_no_pip_cache = cx.df.instructions.iter().any(|i| {
        i.stage == inst.stage
            && i.start_line < inst.start_line
            && (i.keyword == "ENV" || i.keyword == "ARG")
            && key_values(i).iter().any(|(k, v)| {
                k == "PIP_NO_CACHE_DIR"
                    && v.as_deref()
                        .is_some_and(|v| !matches!(v, "0" | "false" | "off" | "no"))
            })
    });
    let mut apt_install = false;
    let mut apt_lists_clean = false;
    let mut yum_install = false;
    let mut yum_clean = false;
    let mut dnf_install = false;
    let mut dnf_clean = false;
    let mut zypper_install = false;
    let mut zypper_clean = false;
    let mut yarn_install = false;
    let mut yarn_clean = false;
    let mut update = false;
    let mut install_any = false;
    for (idx, c) in cmds.iter().enumerate() {
        let name = c.name();
        let args: Vec<&str> = c.args().iter().map(String::as_str).collect();
        if c.uses_sudo() || name == "sudo" {
            cx.emit(&SUDO, at, "RUN uses sudo".to_string());
        }
        match name {
            "cd" => cx.emit(&RUN_CD, at, format!("cd {}", args.join(" "))),
            "ssh" | "vim" | "shutdown" | "service" | "ps" | "free" | "top" | "kill" | "mount"
            | "ifconfig" | "nano" => cx.emit(&NOT_IN_CONTAINER, at, format!("{name} in RUN")),
            "apt" => {
                cx.emit(&APT_NOT_APT_GET, at, format!("apt {}", args.join(" ")));
            }
            _ => {}
        }
        // apt-get (and apt, which the same flags govern).
        if name == "apt-get" || name == "apt" {
            let sub = c.subcommand(APT_VALUE_OPTS);
            match sub {
                Some("install") => {
                    apt_install = true;
                    install_any = true;
                    let ops = c.operands(APT_VALUE_OPTS);
                    let unpinned: Vec<&str> = ops
                        .iter()
                        .skip(1)
                        .filter(|p| {
                            // A word that is all variable (`$PKGS`) may expand to pinned
                            // packages; `gcp-ruby-$V` is a name with no `=version`.
                            !p.contains('=')
                                && !p.ends_with(".deb")
                                && !p.contains('/')
                                && !p.starts_with('$')
                        })
                        .copied()
                        .collect();
                    if !unpinned.is_empty() {
                        cx.emit(
                            &APT_PIN,
                            at,
                            format!("apt-get install {} without =version", unpinned.join(" ")),
                        );
                    }
                    let yes = c.has_flag(&['y'], &["yes", "assume-yes"])
                        || args.iter().any(|a| *a == "-qq" || *a == "-q=2")
                        || args.iter().filter(|a| **a == "-q").count() >= 2;
                    if !yes {
                        cx.emit(&APT_YES, at, "apt-get install without -y".to_string());
                    }
                    let norec = args.contains(&"--no-install-recommends")
                        || args.windows(2).any(|w| {
                            w.first().is_some_and(|o| *o == "-o")
                                && w.get(1).is_some_and(|v| {
                                    v.to_ascii_lowercase()
                                        .starts_with("apt::install-recommends=")
                                        && (v.ends_with("false") || v.ends_with('0'))
                                })
                        })
                        || args.iter().any(|a| {
                            a.to_ascii_lowercase()
                                .starts_with("-oapt::install-recommends=")
                        });
                    if !norec {
                        cx.emit(
                            &APT_RECOMMENDS,
                            at,
                            "apt-get install without --no-install-recommends".to_string(),
                        );
                    }
                }
                Some("update") => update = true,
                Some("upgrade" | "dist-upgrade" | "full-upgrade") => {
                    cx.emit(&DIST_UPGRADE, at, format!("{name} {}", sub.unwrap_or("")))
                }
                _ => {}
            }
            if args
                .iter()
                .any(|a| *a == "--allow-unauthenticated" || *a == "--force-yes")
                || args.iter().any(|a| {
                    a.contains("AllowUnauthenticated=true") || a.contains("Verify-Peer=false")
                })
            {
                cx.emit(
                    &TLS_DISABLED,
                    at,
                    format!("{name} with verification disabled"),
                );
            }
        }
        if name == "rm" && args.iter().any(|a| a.starts_with("/var/lib/apt/lists")) {
            apt_lists_clean = true;
        }
        if name == "rm" && args.iter().any(|a| a.starts_with("/var/cache/yum")) {
            yum_clean = true;
        }
        if name == "rm"
            && args
                .iter()
                .any(|a| a.starts_with("/var/cache/dnf") || a.starts_with("/var/cache/yum"))
        {
            dnf_clean = true;
        }
        if name == "rm"
            && args
                .iter()
                .any(|a| a.contains("yarn") && a.contains("cache"))
        {
            yarn_clean = true;
        }
        // apk
        if name == "apk" {
            match c.subcommand(APK_VALUE_OPTS) {
                Some("add") => {
                    install_any = true;
                    let ops = c.operands(APK_VALUE_OPTS);
                    let unpinned: Vec<&str> = ops
                        .iter()
                        .skip(1)
                        .filter(|p| !p.contains(['=', '~', '>', '<', '$']) && !p.ends_with(".apk"))
                        .copied()
                        .collect();
                    if !unpinned.is_empty() {
                        cx.emit(
                            &APK_PIN,
                            at,
                            format!("apk add {} without =version", unpinned.join(" ")),
                        );
                    }
                    if !c.has_flag(&[], &["no-cache"]) && !cache_mount_for(inst, "/var/cache/apk") {
                        cx.emit(&APK_CACHE, at, "apk add without --no-cache".to_string());
                    }
                }
                Some("update") => update = true,
                Some("upgrade") => cx.emit(&DIST_UPGRADE, at, "apk upgrade".to_string()),
                _ => {}
            }
            if c.has_flag(&[], &["allow-untrusted"]) {
                cx.emit(&TLS_DISABLED, at, "apk --allow-untrusted".to_string());
            }
        }
        // yum / dnf / microdnf
        if matches!(name, "yum" | "dnf" | "microdnf") {
            let sub = c.subcommand(YUM_VALUE_OPTS);
            let installing = matches!(
                sub,
                Some("install" | "groupinstall" | "localinstall" | "reinstall")
            );
            if installing {
                install_any = true;
                let yes = c.has_flag(&['y'], &["assumeyes"])
                    || name == "microdnf" && c.has_flag(&['y'], &["assumeyes"]);
                let yes_needed = name != "microdnf";
                if !yes && yes_needed {
                    let check = if name == "yum" { &YUM_YES } else { &DNF_YES };
                    cx.emit(
                        check,
                        at,
                        format!("{name} {} without -y", sub.unwrap_or("")),
                    );
                }
                if sub == Some("install") {
                    let ops = c.operands(YUM_VALUE_OPTS);
                    let unpinned: Vec<&str> = ops
                        .iter()
                        .skip(1)
                        .filter(|p| !rpm_pinned(p))
                        .copied()
                        .collect();
                    if !unpinned.is_empty() {
                        let check = if name == "yum" { &YUM_PIN } else { &DNF_PIN };
                        cx.emit(
                            check,
                            at,
                            format!("{name} install {} without -version", unpinned.join(" ")),
                        );
                    }
                }
                if name == "yum" {
                    yum_install = true;
                } else {
                    dnf_install = true;
                }
            }
            if sub == Some("clean") && c.operands(YUM_VALUE_OPTS).get(1) == Some(&"all") {
                if name == "yum" {
                    yum_clean = true;
                } else {
                    dnf_clean = true;
                }
            }
            if matches!(sub, Some("update" | "upgrade" | "distro-sync"))
                && c.operands(YUM_VALUE_OPTS).len() == 1
            {
                cx.emit(&DIST_UPGRADE, at, format!("{name} {}", sub.unwrap_or("")));
            }
            if c.has_flag(&[], &["nogpgcheck"]) {
                cx.emit(&TLS_DISABLED, at, format!("{name} --nogpgcheck"));
            }
        }
        if name == "rpm" && c.has_flag(&[], &["nosignature", "nodigest"]) {
            cx.emit(
                &TLS_DISABLED,
                at,
                "rpm without signature/digest check".to_string(),
            );
        }
        // zypper
        if name == "zypper" {
            let sub = c.subcommand(ZYPPER_VALUE_OPTS);
            match sub {
                Some("install" | "in" | "remove" | "rm" | "source-install" | "si" | "patch") => {
                    if !c.has_flag(&['n', 'y'], &["non-interactive", "no-confirm"]) {
                        cx.emit(
                            &ZYPPER_YES,
                            at,
                            format!("zypper {} without -y/-n", sub.unwrap_or("")),
                        );
                    }
                    if matches!(sub, Some("install" | "in")) {
                        zypper_install = true;
                        install_any = true;
                        let ops = c.operands(ZYPPER_VALUE_OPTS);
                        let unpinned: Vec<&str> = ops
                            .iter()
                            .skip(1)
                            .filter(|p| !p.contains(['=', '>', '<', '$']) && !p.ends_with(".rpm"))
                            .copied()
                            .collect();
                        if !unpinned.is_empty() {
                            cx.emit(
                                &ZYPPER_PIN,
                                at,
                                format!("zypper install {} without =version", unpinned.join(" ")),
                            );
                        }
                    }
                }
                Some("dist-upgrade" | "dup") => {
                    cx.emit(&ZYPPER_DIST_UPGRADE, at, "zypper dist-upgrade".to_string())
                }
                Some("clean" | "cc") => zypper_clean = true,
                Some("refresh" | "ref") => update = true,
                _ => {}
            }
        }
        // pip
        if let Some(pargs) = is_pip(c) {
            let ops = operands_of(&pargs, PIP_VALUE_OPTS);
            if ops.first() == Some(&"install") {
                install_any = true;
                let constrained = pargs
                    .iter()
                    .any(|a| matches!(*a, "-c" | "--constraint") || a.starts_with("--constraint="));
                let unpinned: Vec<&str> = ops
                    .iter()
                    .skip(1)
                    .filter(|p| {
                        !p.contains(['=', '>', '<', '@', '~', '$', '/'])
                            && !p.starts_with('.')
                            && !p.ends_with(".whl")
                            && !is_archive(p)
                            && !p.ends_with(".zip")
                    })
                    .copied()
                    .collect();
                if !unpinned.is_empty() && !constrained {
                    cx.emit(
                        &PIP_PIN,
                        at,
                        format!("pip install {} without ==version", unpinned.join(" ")),
                    );
                }
                let no_cache = pargs.contains(&"--no-cache-dir")
                    || env_no_pip_cache
                    || cache_mount_for(inst, "pip");
                if !no_cache {
                    cx.emit(
                        &PIP_CACHE,
                        at,
                        "pip install without --no-cache-dir".to_string(),
                    );
                }
                if pargs
                    .iter()
                    .any(|a| *a == "--trusted-host" || a.starts_with("--trusted-host="))
                {
                    cx.emit(&TLS_DISABLED, at, "pip --trusted-host".to_string());
                }
            }
        }
        // npm
        if name == "npm" {
            let ops = c.operands(NPM_VALUE_OPTS);
            if matches!(ops.first(), Some(&("install" | "i" | "add"))) {
                let unpinned: Vec<&str> = ops
                    .iter()
                    .skip(1)
                    .filter(|p| {
                        let body = p.strip_prefix('@').unwrap_or(p);
                        !body.contains('@')
                            && !p.contains(['/', '$', ':'])
                            && !p.starts_with('.')
                            && !is_archive(p)
                            || (p.starts_with('@')
                                && !body.contains('@')
                                && !p.contains(['$', ':']))
                    })
                    .copied()
                    .collect();
                if !unpinned.is_empty() {
                    cx.emit(
                        &NPM_PIN,
                        at,
                        format!("npm install {} without @version", unpinned.join(" ")),
                    );
                }
            }
            if ops.first() == Some(&"config") && script_text.contains("strict-ssl false") {
                cx.emit(&TLS_DISABLED, at, "npm strict-ssl false".to_string());
            }
        }
        if name == "yarn" {
            let ops = c.operands(&[]);
            if ops.is_empty() || ops.first() == Some(&"install") {
                yarn_install = true;
            }
            if ops.first() == Some(&"cache") && ops.get(1) == Some(&"clean") {
                yarn_clean = true;
            }
        }
        if name == "gem" && c.subcommand(GEM_VALUE_OPTS) == Some("install") {
            let pinned_flag = c.has_flag(&['v'], &["version"]);
            let unpinned: Vec<&str> = c
                .operands(GEM_VALUE_OPTS)
                .iter()
                .skip(1)
                .filter(|p| !p.contains([':', '$']) && !p.ends_with(".gem"))
                .copied()
                .collect();
            if !unpinned.is_empty() && !pinned_flag {
                cx.emit(
                    &GEM_PIN,
                    at,
                    format!("gem install {} without :version", unpinned.join(" ")),
                );
            }
        }
        if name == "go" && c.subcommand(&[]) == Some("install") {
            let unpinned: Vec<&str> = c
                .operands(&[])
                .iter()
                .skip(1)
                .filter(|p| !p.starts_with('.') && (!p.contains('@') || p.ends_with("@latest")))
                .copied()
                .collect();
            if !unpinned.is_empty() {
                cx.emit(&GO_PIN, at, format!("go install {}", unpinned.join(" ")));
            }
        }
        if name == "useradd" {
            let mut uid = None;
            for w in args.windows(2) {
                if let [flag, val] = w {
                    if *flag == "-u" || *flag == "--uid" {
                        uid = Some(*val);
                    }
                }
            }
            if let Some(u) = args.iter().find_map(|a| a.strip_prefix("--uid=")) {
                uid = Some(u);
            }
            let long = uid.is_some_and(|u| u.len() > 5 && u.chars().all(|c| c.is_ascii_digit()));
            if long && !c.has_flag(&['l'], &["no-log-init"]) {
                cx.emit(
                    &USERADD_L,
                    at,
                    format!("useradd -u {} without -l", uid.unwrap_or("")),
                );
            }
        }
        if name == "wget" {
            let quiet = c.has_flag(
                &['q', 'o', 'a'],
                &[
                    "quiet",
                    "no-verbose",
                    "output-file",
                    "append-output",
                    "progress",
                ],
            ) || args.contains(&"-nv");
            if !quiet {
                cx.emit(&WGET_PROGRESS, at, "wget without --progress".to_string());
            }
            if c.has_flag(&[], &["no-check-certificate"]) {
                cx.emit(&TLS_DISABLED, at, "wget --no-check-certificate".to_string());
            }
        }
        if name == "curl" && c.has_flag(&['k'], &["insecure"]) {
            cx.emit(&TLS_DISABLED, at, "curl --insecure".to_string());
        }
        if name == "git"
            && args
                .iter()
                .any(|a| a.to_ascii_lowercase().contains("sslverify=false"))
        {
            cx.emit(&TLS_DISABLED, at, "git http.sslVerify=false".to_string());
        }
        if name == "ln" {
            let ops = c.operands(&[]);
            if ops.last() == Some(&"/bin/sh") && ops.len() >= 2 {
                cx.emit(
                    &SHELL_LINK,
                    at,
                    format!("ln {} replaces /bin/sh", args.join(" ")),
                );
            }
        }
        if name == "chmod" {
            let world = c.operands(&[]).first().is_some_and(|m| {
                let digits = m.trim_start_matches('0');
                let numeric = !m.is_empty() && m.chars().all(|c| c.is_ascii_digit());
                (numeric
                    && digits
                        .chars()
                        .last()
                        .is_some_and(|d| matches!(d, '2' | '3' | '6' | '7')))
                    || m.split(',').any(|p| {
                        (p.starts_with('o') || p.starts_with('a') || p.starts_with("ugo"))
                            && p.contains('+')
                            && p.split('+').nth(1).is_some_and(|r| r.contains('w'))
                    })
            });
            if world {
                cx.emit(&CHMOD_WORLD, at, format!("chmod {}", args.join(" ")));
            }
        }
        // Download piped into an interpreter.
        if matches!(name, "curl" | "wget") && c.piped_out {
            let shell_next = cmds
                .iter()
                .skip(idx + 1)
                .take_while(|n| n.pipeline == c.pipeline)
                .any(|n| {
                    matches!(
                        n.name(),
                        "sh" | "bash"
                            | "zsh"
                            | "ash"
                            | "dash"
                            | "ksh"
                            | "python"
                            | "python3"
                            | "perl"
                            | "ruby"
                            | "node"
                    )
                });
            if shell_next {
                cx.emit(
                    &CURL_PIPE_SHELL,
                    at,
                    format!("{name} output piped into a shell"),
                );
            }
        }
        if c.name() == "tar" {
            // handled in run_sequences (needs earlier COPY).
        }
    }
    if apt_install
        && !apt_lists_clean
        && !cache_mount_for(inst, "/var/lib/apt")
        && !build_only_stage(cx.df, inst.stage)
    {
        cx.emit(
            &APT_LISTS,
            at,
            "apt-get install without rm -rf /var/lib/apt/lists/*".to_string(),
        );
    }
    if yum_install && !yum_clean && !cache_mount_for(inst, "/var/cache/yum") {
        cx.emit(
            &YUM_CLEAN,
            at,
            "yum install without yum clean all".to_string(),
        );
    }
    if dnf_install && !dnf_clean && !cache_mount_for(inst, "/var/cache/dnf") {
        cx.emit(
            &DNF_CLEAN,
            at,
            "dnf install without dnf clean all".to_string(),
        );
    }
    if zypper_install && !zypper_clean && !cache_mount_for(inst, "zypp") {
        cx.emit(
            &ZYPPER_CLEAN,
            at,
            "zypper install without zypper clean".to_string(),
        );
    }
    if yarn_install && !yarn_clean && !cache_mount_for(inst, "yarn") {
        cx.emit(
            &YARN_CACHE,
            at,
            "yarn install without yarn cache clean".to_string(),
        );
    }
    if update && !install_any {
        cx.emit(
            &UPDATE_ALONE,
            at,
            "package index update without install in the same RUN".to_string(),
        );
    }
}

/// True for a stage that is only a source for `COPY --from` (its caches never ship).
fn build_only_stage(df: &Dockerfile, stage: Option<usize>) -> bool {
    let Some(idx) = stage else { return false };
    if idx + 1 == df.stages.len() {
        return false;
    }
    let Some(s) = df.stages.get(idx) else {
        return false;
    };
    let named_base = df.stages.iter().any(|o| {
        o.index > idx
            && (s.name.as_deref() == Some(o.base.to_ascii_lowercase().as_str())
                || o.base == idx.to_string())
    });
    !named_base
}

fn rpm_pinned(p: &str) -> bool {
    p.ends_with(".rpm")
        || p.contains(['/', '$', '='])
        || p.starts_with('@')
        || p.char_indices().any(|(i, c)| {
            c == '-'
                && p[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|d| d.is_ascii_digit())
        })
}

/// Rules that look across instructions: consecutive RUN, pipefail, wget+curl, COPY of
/// an archive extracted later.
/// Rules over sequences of instructions; `scripts[i]` is instruction `i`'s parsed RUN.
fn run_sequences(cx: &mut Ctx<'_>, scripts: &[Option<Script>]) {
    let df = cx.df;
    let mut prev: Option<&Instruction> = None;
    let mut pipefail_shell = false;
    let mut non_posix_shell = false;
    let mut seen_wget: Option<u32> = None;
    let mut seen_curl: Option<u32> = None;
    let mut wget_curl_reported = false;
    let mut copied_archives: Vec<(Option<usize>, String)> = Vec::new();
    for (inst, script) in df.instructions.iter().zip(scripts) {
        if inst.keyword == "FROM" {
            pipefail_shell = false;
            non_posix_shell = false;
            prev = None;
            continue;
        }
        if inst.keyword == "SHELL" {
            let words = inst.exec.clone().unwrap_or_default();
            pipefail_shell = words.windows(2).any(|w| {
                w.first().is_some_and(|o| o == "-o") && w.get(1).is_some_and(|v| v == "pipefail")
            }) || words.iter().any(|w| w.contains("pipefail"));
            non_posix_shell = words.first().is_some_and(|s| {
                let l = s.to_ascii_lowercase();
                l.contains("pwsh") || l.contains("powershell") || l.contains("cmd")
            });
        }
        if inst.keyword == "RUN" {
            if let Some(p) = prev {
                if p.keyword == "RUN" && p.flags == inst.flags && p.stage == inst.stage {
                    cx.emit(
                        &CONSECUTIVE_RUN,
                        inst,
                        format!("RUN follows the RUN on line {}", p.start_line),
                    );
                }
            }
            // The warning, if any, was reported when the RUN's own rules ran.
            let cmds: &[Command] = script.as_ref().map_or(&[], |s| &s.commands);
            if inst.exec.is_none() && !pipefail_shell && !non_posix_shell {
                let has_pipe = cmds.iter().any(|c| c.piped_out && !c.inner);
                let sets_pipefail = cmds.iter().any(|c| {
                    c.name() == "set"
                        && c.args().windows(2).any(|w| {
                            w.first()
                                .is_some_and(|o| o.starts_with('-') && o.contains('o'))
                                && w.get(1).is_some_and(|v| v == "pipefail")
                        })
                        || c.name() == "set" && c.args().iter().any(|a| a == "-euxo" || a == "-eo")
                });
                if has_pipe && !sets_pipefail {
                    cx.emit(
                        &PIPEFAIL,
                        inst,
                        "RUN with a pipe and no pipefail".to_string(),
                    );
                }
            }
            for c in cmds {
                match c.name() {
                    "wget" if seen_wget.is_none() => seen_wget = Some(inst.start_line),
                    "curl" if seen_curl.is_none() => seen_curl = Some(inst.start_line),
                    "tar" => {
                        let extracting = c.args().first().is_some_and(|a| {
                            (a.starts_with('-') && !a.starts_with("--") && a.contains('x'))
                                || (!a.starts_with('-') && a.contains('x'))
                                || a == "--extract"
                        });
                        if extracting {
                            for (st, file) in &copied_archives {
                                if *st == inst.stage
                                    && c.args().iter().any(|a| a.ends_with(file.as_str()))
                                {
                                    cx.emit(
                                        &COPY_ARCHIVE,
                                        inst,
                                        format!("{file} copied then extracted"),
                                    );
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let (Some(_), Some(_), false) = (seen_wget, seen_curl, wget_curl_reported) {
                wget_curl_reported = true;
                cx.emit(
                    &WGET_AND_CURL,
                    inst,
                    "both wget and curl are used".to_string(),
                );
            }
        }
        if inst.keyword == "COPY" && inst.flag("from").is_none() {
            let (srcs, _) = copy_args(inst);
            for s in srcs {
                if is_archive(s) {
                    let base = s.rsplit('/').next().unwrap_or(s).to_string();
                    copied_archives.push((inst.stage, base));
                }
            }
        }
        prev = Some(inst);
    }
}

fn labels(cx: &mut Ctx<'_>, opts: &DockerfileOptions) {
    let df = cx.df;
    let mut all: Vec<(String, String, &Instruction)> = Vec::new();
    for inst in df.instructions.iter().filter(|i| i.keyword == "LABEL") {
        for (k, v) in key_values(inst) {
            let valid = valid_label_key(&k);
            if !valid {
                cx.emit(&LABEL_KEY, inst, format!("label key {k:?}"));
            }
            all.push((k, v.unwrap_or_default(), inst));
        }
    }
    if opts.label_schema.is_empty() {
        return;
    }
    let Some(last) = df.stages.last() else { return };
    let Some(last_from) = df.instructions.get(last.from_instruction) else {
        return;
    };
    for (name, ty) in &opts.label_schema {
        let Some((_, v, inst)) = all.iter().rev().find(|(k, _, _)| k == name) else {
            cx.emit(
                &LABEL_MISSING,
                last_from,
                format!("label {name} is missing"),
            );
            continue;
        };
        if v.trim().is_empty() {
            cx.emit(&LABEL_EMPTY, inst, format!("label {name} is empty"));
            continue;
        }
        let (ok, check) = match ty {
            LabelType::Text => (true, &LABEL_EMPTY),
            LabelType::Url => (valid_url(v), &LABEL_URL),
            LabelType::Rfc3339 => (valid_rfc3339(v), &LABEL_TIME),
            LabelType::Spdx => (valid_spdx(v), &LABEL_SPDX),
            LabelType::GitHash => (
                (7..=40).contains(&v.len()) && v.chars().all(|c| c.is_ascii_hexdigit()),
                &LABEL_GIT,
            ),
            LabelType::SemVer => (valid_semver(v), &LABEL_SEMVER),
            LabelType::Email => (valid_email(v), &LABEL_EMAIL),
        };
        if !ok {
            cx.emit(check, inst, format!("label {name}={v:?}"));
        }
    }
    if opts.strict_labels {
        for (k, _, inst) in &all {
            if !opts.label_schema.iter().any(|(n, _)| n == k) {
                cx.emit(
                    &LABEL_SUPERFLUOUS,
                    inst,
                    format!("label {k} is not in the schema"),
                );
            }
        }
    }
}

fn valid_label_key(k: &str) -> bool {
    let reserved = ["com.docker.", "io.docker.", "org.dockerproject."]
        .iter()
        .any(|r| k.starts_with(r));
    let chars_ok = k
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends_ok = k.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && k.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    !reserved && chars_ok && ends_ok && !k.contains("..") && !k.contains("--")
}

fn valid_url(v: &str) -> bool {
    match v.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
                && !rest.is_empty()
                && !rest.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn valid_rfc3339(v: &str) -> bool {
    let b = v.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let date = (0..4).all(digit)
        && b.get(4) == Some(&b'-')
        && digit(5)
        && digit(6)
        && b.get(7) == Some(&b'-')
        && digit(8)
        && digit(9);
    let t = matches!(b.get(10), Some(b'T' | b't' | b' '));
    let time = digit(11)
        && digit(12)
        && b.get(13) == Some(&b':')
        && digit(14)
        && digit(15)
        && b.get(16) == Some(&b':')
        && digit(17)
        && digit(18);
    let tz = v.get(19..).is_some_and(|rest| {
        let rest = match rest.strip_prefix('.') {
            Some(f) => f.trim_start_matches(|c: char| c.is_ascii_digit()),
            None => rest,
        };
        rest.eq_ignore_ascii_case("z")
            || (rest.len() == 6
                && (rest.starts_with('+') || rest.starts_with('-'))
                && rest.get(3..4) == Some(":"))
    });
    date && t && time && tz
}

fn valid_spdx(v: &str) -> bool {
    // A syntactic check of license expressions: identifiers of letters, digits, `.`,
    // `-`, `+`, joined by AND/OR/WITH and parentheses (the SPDX list itself is not
    // bundled).
    let mut any = false;
    for tok in v.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        if tok.is_empty() || matches!(tok, "AND" | "OR" | "WITH") {
            continue;
        }
        any = true;
        if !tok
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':'))
            || !tok.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        {
            return false;
        }
    }
    any
}

fn valid_semver(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

fn valid_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}
