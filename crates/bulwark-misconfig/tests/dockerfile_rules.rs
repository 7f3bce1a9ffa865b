//! One failing and one passing Dockerfile per rule, asserting the id and line; plus
//! suppression and selection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic: that is its failure

use bulwark_misconfig::dockerfile::{scan_dockerfile_with, DockerfileOptions, LabelType};
use bulwark_misconfig::{scan_dockerfile, CheckSelection};

fn ids_at(src: &str, opts: &DockerfileOptions) -> Vec<(String, u32)> {
    match scan_dockerfile_with("Dockerfile", src.as_bytes(), &CheckSelection::all(), opts) {
        // Inline-suppressed findings are kept but marked; these tests look at the rest.
        Ok(f) => f
            .into_iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| (f.check_id, f.start_line.unwrap_or(0)))
            .collect(),
        Err(e) => panic!("{e}\n{src}"),
    }
}

/// `(id, failing Dockerfile, line of the finding, passing Dockerfile)`.
const CASES: &[(&str, &str, u32, &str)] = &[
    ("BW-DF-0001", "FROM a:1\nWORKDIR app\n", 2, "FROM a:1\nWORKDIR /app\n"),
    ("BW-DF-0002", "FROM a:1\nUSER 1\nUSER root\n", 3, "FROM a:1\nUSER root\nUSER 1000\n"),
    ("BW-DF-0003", "FROM a:1\nRUN true\n", 1, "FROM a:1 AS b\nUSER 1\nFROM b\n"),
    ("BW-DF-0004", "FROM a:1\nRUN cd /x && make\n", 2, "FROM a:1\nWORKDIR /x\nRUN make\n"),
    ("BW-DF-0005", "FROM a:1\nRUN sudo make install\n", 2, "FROM a:1\nRUN make install\n"),
    ("BW-DF-0006", "FROM debian\n", 1, "FROM debian:12\n"),
    ("BW-DF-0007", "FROM debian:latest\n", 1, "FROM debian@sha256:abc\n"),
    ("BW-DF-0008", "FROM a:1\nRUN apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n", 2,
        "FROM a:1\nRUN apt-get install -y --no-install-recommends curl=8.0 && rm -rf /var/lib/apt/lists/*\n"),
    ("BW-DF-0009", "FROM a:1\nRUN apt-get update && apt-get install -y x=1\n", 2,
        "FROM a:1\nRUN --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y x=1\n"),
    ("BW-DF-0010", "FROM a:1\nRUN pip install --no-cache-dir flask\n", 2, "FROM a:1\nRUN pip install --no-cache-dir flask==3.0 -r req.txt\n"),
    ("BW-DF-0011", "FROM a:1\nRUN apt-get install x=1\n", 2, "FROM a:1\nRUN apt-get -qq install x=1\n"),
    ("BW-DF-0012", "FROM a:1\nRUN apt-get install -y x=1\n", 2, "FROM a:1\nRUN apt-get install -y -o APT::Install-Recommends=false x=1\n"),
    ("BW-DF-0013", "FROM a:1\nRUN npm install express\n", 2, "FROM a:1\nRUN npm install express@4.18.2 @types/node@20 && npm install\n"),
    ("BW-DF-0014", "FROM a:1\nRUN apk add --no-cache curl\n", 2, "FROM a:1\nRUN apk add --no-cache --virtual .deps curl=8.5.0-r0\n"),
    ("BW-DF-0015", "FROM a:1\nRUN apk add curl=1\n", 2, "FROM a:1\nRUN apk add --no-cache curl=1\n"),
    ("BW-DF-0016", "FROM a:1\nADD app.py /app/\n", 2, "FROM a:1\nADD rootfs.tar.gz /\n"),
    ("BW-DF-0017", "FROM a:1\nCOPY a b /dest\n", 2, "FROM a:1\nCOPY a b /dest/\n"),
    ("BW-DF-0018", "FROM a:1\nCOPY --from=builder /x /x\n", 2, "FROM a:1 AS builder\nFROM b:1\nCOPY --from=builder /x /x\nCOPY --from=0 /y /y\nCOPY --from=nginx:1 /z /z\n"),
    ("BW-DF-0019", "FROM a:1 AS me\nCOPY --from=me /x /x\n", 2, "FROM a:1 AS me\nFROM b:1\nCOPY --from=me /x /x\n"),
    ("BW-DF-0020", "FROM a:1 AS x\nFROM b:1 AS X\n", 2, "FROM a:1 AS x\nFROM b:1 AS y\n"),
    ("BW-DF-0021", "FROM a:1\nCMD node server.js\n", 2, "FROM a:1\nCMD [\"node\", \"server.js\"]\n"),
    ("BW-DF-0023", "FROM a:1\nRUN apt install -y x\n", 2, "FROM a:1\nRUN apt-get install -y x=1\n"),
    ("BW-DF-0024", "FROM a:1\nRUN gem install rails\n", 2, "FROM a:1\nRUN gem install rails:7.1 && gem install puma -v 6\n"),
    ("BW-DF-0025", "FROM --platform=linux/amd64 a:1\n", 1, "FROM --platform=$BUILDPLATFORM a:1\n"),
    ("BW-DF-0026", "FROM a:1\nRUN yum install httpd-2.4 && yum clean all\n", 2, "FROM a:1\nRUN yum install -y httpd-2.4 && yum clean all\n"),
    ("BW-DF-0027", "FROM a:1\nRUN yum install -y httpd-2.4\n", 2, "FROM a:1\nRUN yum install -y httpd-2.4 && rm -rf /var/cache/yum\n"),
    ("BW-DF-0028", "FROM a:1\nRUN yum install -y httpd && yum clean all\n", 2, "FROM a:1\nRUN yum install -y httpd-2.4.6 && yum clean all\n"),
    ("BW-DF-0029", "FROM a:1\nRUN zypper install x=1 && zypper clean\n", 2, "FROM a:1\nRUN zypper -n install x=1 && zypper clean\n"),
    ("BW-DF-0030", "FROM a:1\nRUN zypper dist-upgrade -y\n", 2, "FROM a:1\nRUN zypper refresh && zypper install -y x=1 && zypper clean\n"),
    ("BW-DF-0031", "FROM a:1\nRUN zypper install -y x=1\n", 2, "FROM a:1\nRUN zypper install -y x=1 && zypper cc\n"),
    ("BW-DF-0032", "FROM a:1\nRUN zypper install -y x && zypper clean\n", 2, "FROM a:1\nRUN zypper install -y 'x>=1' && zypper clean\n"),
    ("BW-DF-0033", "FROM a:1\nRUN dnf install x-1 && dnf clean all\n", 2, "FROM a:1\nRUN dnf install --assumeyes x-1 && dnf clean all\n"),
    ("BW-DF-0034", "FROM a:1\nRUN microdnf install x-1\n", 2, "FROM a:1\nRUN microdnf install x-1 && microdnf clean all\n"),
    ("BW-DF-0035", "FROM a:1\nRUN dnf install -y x && dnf clean all\n", 2, "FROM a:1\nRUN dnf install -y x-1.2 && dnf clean all\n"),
    ("BW-DF-0036", "FROM a:1\nRUN pip3 install x==1\n", 2, "FROM a:1\nENV PIP_NO_CACHE_DIR=1\nRUN python3 -m pip install x==1\n"),
    ("BW-DF-0037", "FROM a:1\nONBUILD FROM b:1\n", 2, "FROM a:1\nONBUILD RUN echo\n"),
    ("BW-DF-0038", "FROM a:1\nENV A=1 B=$A\n", 2, "FROM a:1\nENV A=1\nENV B=$A PATH=/x:$PATH\n"),
    ("BW-DF-0039", "FROM a:1\nCOPY x app/\n", 2, "FROM a:1 AS b\nWORKDIR /srv\nFROM b\nCOPY x app/\n"),
    ("BW-DF-0040", "FROM a:1\nRUN useradd -u 123456 app\n", 2, "FROM a:1\nRUN useradd -l -u 123456 app && useradd -u 1000 b\n"),
    ("BW-DF-0041", "FROM a:1\nRUN wget https://x/y\n", 2, "FROM a:1\nRUN wget -q https://x/y && wget --progress=dot:giga https://x/z\n"),
    ("BW-DF-0042", "FROM a:1\nLABEL Maintainer=me\n", 2, "FROM a:1\nLABEL org.opencontainers.image.authors=me\n"),
    ("BW-DF-0052", "FROM a:1\nUSER 1\n", 1, "FROM a:1 AS b\nHEALTHCHECK CMD true\nFROM b\n"),
    ("BW-DF-0053", "FROM a:1\nRUN a\n# note\nRUN b\n", 4, "FROM a:1\nRUN a\nRUN --mount=type=cache,target=/c b\n"),
    ("BW-DF-0054", "FROM a:1\nRUN yarn install\n", 2, "FROM a:1\nRUN yarn install && yarn cache clean\n"),
    ("BW-DF-0055", "LABEL a=b\nFROM a:1\n", 1, "ARG V=1\nFROM a:$V\n"),
    ("BW-DF-0056", "FROM a:1\nRUN go install example.com/tool\n", 2, "FROM a:1\nRUN go install example.com/tool@v1.2.3\n"),
    ("BW-DF-0057", "FROM a:1\nMAINTAINER me\n", 2, "FROM a:1\nLABEL org.opencontainers.image.authors=me\n"),
    ("BW-DF-0058", "FROM a:1\nRUN wget -q x\nRUN curl -O y\n", 3, "FROM a:1\nRUN curl -O x && curl -O y\n"),
    ("BW-DF-0059", "FROM a:1\nCMD [\"a\"]\nCMD [\"b\"]\n", 3, "FROM a:1\nCMD [\"a\"]\nFROM b:1\nCMD [\"b\"]\n"),
    ("BW-DF-0060", "FROM a:1\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n", 3, "FROM a:1\nENTRYPOINT [\"a\"]\n"),
    ("BW-DF-0061", "FROM a:1\nRUN ln -sf /bin/bash /bin/sh\n", 2, "FROM a:1\nSHELL [\"/bin/bash\", \"-c\"]\n"),
    ("BW-DF-0062", "FROM a:1\nRUN curl -fsSL x | tar xz\n", 2, "FROM a:1\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsSL x | tar xz\n"),
    ("BW-DF-0063", "FROM a:1\nEXPOSE 80 70000\n", 2, "FROM a:1\nEXPOSE 80/tcp 8000-8010 ${PORT}\n"),
    ("BW-DF-0064", "FROM a:1\nHEALTHCHECK CMD a\nHEALTHCHECK CMD b\n", 3, "FROM a:1\nHEALTHCHECK CMD a\n"),
    ("BW-DF-0065", "FROM a:1\nENV DB_PASSWORD=hunter22\n", 2, "FROM a:1\nENV NODE_GPG_KEYS=abc PASSWORD_FILE=/run/secrets/pw\n"),
    ("BW-DF-0066", "FROM a:1\nEXPOSE 22/tcp\n", 2, "FROM a:1\nEXPOSE 2222\n"),
    ("BW-DF-0067", "FROM a:1\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsSL https://get.x | sh -s --\n", 3, "FROM a:1\nRUN curl -fsSLo i.sh https://get.x && sha256sum -c s && sh i.sh\n"),
    ("BW-DF-0068", "FROM a:1\nADD https://x/y.tar.gz /y/\n", 2, "FROM a:1\nADD --checksum=sha256:00 https://x/y.tar.gz /y/\n"),
    ("BW-DF-0069", "FROM a:1\nRUN chmod -R 777 /app\n", 2, "FROM a:1\nRUN chmod 755 /app && chmod u+w /x\n"),
    ("BW-DF-0070", "FROM a:1\nRUN apt-get update && apt-get dist-upgrade -y\n", 2, "FROM a:1\nRUN apt-get update && apt-get install -y x=1\n"),
    ("BW-DF-0071", "FROM a:1\nRUN apt-get update\n", 2, "FROM a:1\nRUN apt-get update && apt-get install -y x=1\n"),
    ("BW-DF-0072", "FROM a:1\nWORKDIR /usr/bin\n", 2, "FROM a:1\nWORKDIR /usr/src/app\n"),
    ("BW-DF-0073", "FROM a:1\nRUN service nginx start\n", 2, "FROM a:1\nRUN nginx -t\n"),
    ("BW-DF-0074", "FROM a:1\nCOPY app.tar.gz /tmp/\nRUN tar -xzf /tmp/app.tar.gz\n", 3, "FROM a:1\nADD app.tar.gz /opt/\n"),
    ("BW-DF-0075", "FROM a:1 AS scratch\n", 1, "FROM a:1 AS build\n"),
    ("BW-DF-0076", "FROM --platform=$TARGETPLATFORM a:1\n", 1, "FROM a:1\n"),
    ("BW-DF-0077", "FROM a:1\nUSER app\n", 2, "FROM a:1\nUSER 1000:1000\n"),
    ("BW-DF-0078", "FROM a:1 AS b\nFROM scratch\nCOPY --from=b / /\n", 3, "FROM a:1 AS b\nFROM scratch\nCOPY --from=b /app /app\n"),
    ("BW-DF-0079", "FROM a:1\nRUN curl -k https://x\n", 2, "FROM a:1\nRUN curl -fsS https://x\n"),
    ("BW-DF-0080", "FROM a:1\nCOPY id_rsa /root/.ssh/\n", 2, "FROM a:1\nCOPY app.py /app/\n"),
];

#[test]
fn every_rule_fails_and_passes() {
    let opts = DockerfileOptions::default();
    let mut tested = std::collections::BTreeSet::new();
    for (id, fail, line, pass) in CASES {
        let got = ids_at(fail, &opts);
        assert!(
            got.iter().any(|(i, l)| i == id && l == line),
            "{id} expected on line {line} in\n{fail}\ngot {got:?}"
        );
        let got = ids_at(pass, &opts);
        assert!(
            !got.iter().any(|(i, _)| i == id),
            "{id} should not fire on\n{pass}\ngot {got:?}"
        );
        tested.insert(*id);
    }
    // The configurable rules are tested below; everything else must be in CASES.
    for c in bulwark_misconfig::dockerfile::rules::CHECKS {
        let configurable = matches!(
            c.id,
            "BW-DF-0022"
                | "BW-DF-0043"
                | "BW-DF-0044"
                | "BW-DF-0045"
                | "BW-DF-0046"
                | "BW-DF-0047"
                | "BW-DF-0048"
                | "BW-DF-0049"
                | "BW-DF-0050"
                | "BW-DF-0051"
        );
        assert!(
            configurable || tested.contains(c.id),
            "{} has no test case",
            c.id
        );
    }
}

#[test]
fn trusted_registries() {
    let opts = DockerfileOptions {
        trusted_registries: vec!["registry.example.com".into(), "docker.io".into()],
        ..Default::default()
    };
    let got = ids_at(
        "FROM quay.io/x/y:1\nFROM registry.example.com/a:1\nFROM alpine:3\n",
        &opts,
    );
    let hits: Vec<u32> = got
        .iter()
        .filter(|(i, _)| i == "BW-DF-0022")
        .map(|(_, l)| *l)
        .collect();
    assert_eq!(hits, [1]);
    assert!(
        !ids_at("FROM quay.io/x/y:1\n", &DockerfileOptions::default())
            .iter()
            .any(|(i, _)| i == "BW-DF-0022")
    );
}

#[test]
fn label_schema() {
    let opts = DockerfileOptions {
        label_schema: vec![
            ("url".into(), LabelType::Url),
            ("created".into(), LabelType::Rfc3339),
            ("license".into(), LabelType::Spdx),
            ("rev".into(), LabelType::GitHash),
            ("version".into(), LabelType::SemVer),
            ("email".into(), LabelType::Email),
            ("owner".into(), LabelType::Text),
            ("team".into(), LabelType::Text),
        ],
        strict_labels: true,
        ..Default::default()
    };
    let bad = "FROM a:1\nLABEL url=nope created=yesterday license=\"(MIT\" rev=xyz version=1.2 email=me owner=\"\" extra=1\n";
    let got: Vec<String> = ids_at(bad, &opts)
        .into_iter()
        .filter(|(_, l)| *l <= 2)
        .map(|(i, _)| i)
        .collect();
    for id in [
        "BW-DF-0043",
        "BW-DF-0044",
        "BW-DF-0045",
        "BW-DF-0046",
        "BW-DF-0047",
        "BW-DF-0049",
        "BW-DF-0050",
        "BW-DF-0051",
    ] {
        assert!(got.iter().any(|g| g == id), "{id} missing from {got:?}");
    }
    let good = "FROM a:1\nLABEL url=https://x.org created=2024-01-31T12:00:00Z license=\"MIT OR Apache-2.0\" rev=0123abc version=1.2.3-rc.1 email=a@b.org owner=me team=t\n";
    let got: Vec<String> = ids_at(good, &opts).into_iter().map(|(i, _)| i).collect();
    for id in [
        "BW-DF-0043",
        "BW-DF-0044",
        "BW-DF-0045",
        "BW-DF-0046",
        "BW-DF-0047",
        "BW-DF-0048",
        "BW-DF-0049",
        "BW-DF-0050",
        "BW-DF-0051",
    ] {
        assert!(!got.iter().any(|g| g == id), "{id} in {got:?}");
    }
    let spdx_bad = "FROM a:1\nLABEL url=https://x created=2024-01-31T12:00:00Z license=\"MIT, GPL\" rev=0123abc version=1.2.3 email=a@b.org owner=me team=t\n";
    assert!(ids_at(spdx_bad, &opts)
        .iter()
        .any(|(i, _)| i == "BW-DF-0048"));
}

#[test]
fn inline_and_global_suppression() {
    let src = "FROM a:1\n# hadolint ignore=DL3008,DL3015\nRUN apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n# bulwark:ignore=BW-DF-0004\nRUN cd /x\nRUN cd /y\n";
    let got = ids_at(src, &DockerfileOptions::default());
    assert!(
        !got.iter()
            .any(|(i, _)| i == "BW-DF-0008" || i == "BW-DF-0012"),
        "{got:?}"
    );
    let cds: Vec<u32> = got
        .iter()
        .filter(|(i, _)| i == "BW-DF-0004")
        .map(|(_, l)| *l)
        .collect();
    assert_eq!(cds, [6]);
    let global = "# hadolint global ignore=DL3059\nFROM a:1\nRUN a\nRUN b\n";
    assert!(!ids_at(global, &DockerfileOptions::default())
        .iter()
        .any(|(i, _)| i == "BW-DF-0053"));
    // The suppressed ones are kept, marked with where the suppression was written.
    let all = scan_dockerfile_with(
        "Dockerfile",
        src.as_bytes(),
        &CheckSelection::all(),
        &DockerfileOptions::default(),
    )
    .unwrap_or_default();
    let marked: Vec<(&str, &str)> = all
        .iter()
        .filter_map(|f| Some((f.check_id.as_str(), f.suppressed.as_deref()?)))
        .collect();
    assert!(
        marked.iter().any(|(id, why)| *id == "BW-DF-0008"
            && why.starts_with("inline: DL3008")
            && why.contains("line 3")),
        "{marked:?}"
    );
    assert!(
        marked
            .iter()
            .any(|(id, why)| *id == "BW-DF-0004" && why.starts_with("inline: BW-DF-0004")),
        "{marked:?}"
    );
    // A pragma separated by a blank line does not apply.
    let far = "FROM a:1\n# hadolint ignore=DL3003\n\nRUN cd /x\n";
    assert!(ids_at(far, &DockerfileOptions::default())
        .iter()
        .any(|(i, _)| i == "BW-DF-0004"));
}

#[test]
fn selection_by_set_and_alias() {
    let src = b"FROM debian:latest\nMAINTAINER me\nRUN cd /x\n";
    let only = |s: &str| -> Vec<String> {
        let sel = CheckSelection::parse(s).unwrap_or_else(|e| panic!("{e}"));
        scan_dockerfile("Dockerfile", src, &sel)
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.check_id)
            .collect()
    };
    assert_eq!(only("DL3007"), ["BW-DF-0007"]);
    assert_eq!(only("DS-0022"), ["BW-DF-0057"]);
    let cis = only("cis-docker");
    assert!(cis.contains(&"BW-DF-0007".to_string()) && !cis.contains(&"BW-DF-0004".to_string()));
    assert!(only("compose").is_empty());
}

#[test]
fn heredoc_run_is_analysed_and_lines_span_it() {
    let src = "FROM a:1\nRUN <<EOF\nset -e\napt-get install -y curl\nEOF\nUSER 1\n";
    let f =
        scan_dockerfile("Dockerfile", src.as_bytes(), &CheckSelection::all()).unwrap_or_default();
    let pin = f.iter().find(|f| f.check_id == "BW-DF-0008");
    assert_eq!(
        pin.map(|f| (f.start_line, f.end_line)),
        Some((Some(2), Some(5)))
    );
}

// --- RUN parsed as shell (issue 11, item 5) ----------------------------------------

fn run_ids(src: &str) -> Vec<String> {
    ids_at(src, &DockerfileOptions::default())
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// gcloud's ruby `Dockerfile.template`: `apt-get update`/`apt-get install` inside
/// `( ... )` subshells inside an `if`. Hadolint reports DL3008 (unpinned) and DL3009
/// (lists not deleted); bulwark used to miss both.
#[test]
fn apt_in_subshell_in_if_reaches_the_rules() {
    let src = "FROM a:1\nRUN if test -n \"$REQUESTED_RUBY_VERSION\" -a \\\n        ! -x /rbenv/versions/$REQUESTED_RUBY_VERSION/bin/ruby; then \\\n      (apt-get update -y \\\n        && apt-get install -y -q gcp-ruby-$REQUESTED_RUBY_VERSION) \\\n      || (cd /rbenv/plugins/ruby-build \\\n        && git pull \\\n        && rbenv install -s $REQUESTED_RUBY_VERSION) \\\n      && rbenv global $REQUESTED_RUBY_VERSION \\\n      && gem install -q --no-rdoc --no-ri bundler --version $BUNDLER_VERSION \\\n      && apt-get clean \\\n      && rm -f /var/lib/apt/lists/*_*; \\\n    fi\n";
    let ids = run_ids(src);
    // Reached now: unpinned install (DL3008), no --no-install-recommends (DL3015), `cd`
    // in the other subshell (DL3003).
    for id in ["BW-DF-0008", "BW-DF-0012", "BW-DF-0004"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing: {ids:?}");
    }
    // `rm -f /var/lib/apt/lists/*_*` removes every list file (they all contain `_`), so
    // bulwark counts the lists as cleaned where Hadolint wants `rm -rf .../lists/*`
    // (docs/side-by-side.md); without the rm, DL3009 fires.
    assert!(!ids.iter().any(|i| i == "BW-DF-0009"), "{ids:?}");
    let no_rm = src.replace("\\\n      && rm -f /var/lib/apt/lists/*_*", "");
    assert_ne!(no_rm, src);
    assert!(run_ids(&no_rm).iter().any(|i| i == "BW-DF-0009"));
}

/// One construct per case, each hiding an unpinned `apt-get install` (BW-DF-0008).
#[test]
fn compound_commands_reach_the_rules() {
    let bodies = [
        ("subshell", "(apt-get install -y --no-install-recommends curl)"),
        ("brace group", "{ apt-get install -y --no-install-recommends curl; }"),
        ("if/else", "if true; then echo; else apt-get install -y --no-install-recommends curl; fi"),
        ("case", "case \"$X\" in a) echo ;; *) apt-get install -y --no-install-recommends curl ;; esac"),
        ("for", "for p in 1; do apt-get install -y --no-install-recommends curl; done"),
        ("while", "while false; do :; done; until true; do apt-get install -y --no-install-recommends curl; done"),
        ("function", "inst() { apt-get install -y --no-install-recommends curl; }; inst"),
        ("or chain", "false || apt-get install -y --no-install-recommends curl"),
        ("sh -c", "sh -c 'apt-get install -y --no-install-recommends curl'"),
    ];
    for (what, body) in bodies {
        let src = format!("FROM a:1\nRUN {body} && rm -rf /var/lib/apt/lists/*\n");
        let ids = run_ids(&src);
        assert!(
            ids.iter().any(|i| i == "BW-DF-0008"),
            "{what}: {ids:?}\n{src}"
        );
        // The pinned version passes.
        let pinned = src.replace("curl", "curl=8.0");
        let ids = run_ids(&pinned);
        assert!(
            !ids.iter().any(|i| i == "BW-DF-0008"),
            "{what} pinned: {ids:?}"
        );
    }
}

/// A Dockerfile heredoc RUN is a script; a here-document fed to `cat` is data, not
/// commands (the old tokenizer read it as commands).
#[test]
fn heredocs_are_script_or_data() {
    let src = "FROM a:1\nRUN <<EOF\nset -e\napt-get install -y --no-install-recommends curl\nrm -rf /var/lib/apt/lists/*\nEOF\n";
    assert!(run_ids(src).iter().any(|i| i == "BW-DF-0008"));
    // A shell here-document fed to a shell, inside a heredoc RUN: its body runs.
    let src = "FROM a:1\nRUN <<EOF\nbash <<'INNER'\napt-get install -y --no-install-recommends curl\nINNER\nrm -rf /var/lib/apt/lists/*\nEOF\n";
    assert!(
        run_ids(src).iter().any(|i| i == "BW-DF-0008"),
        "{:?}",
        run_ids(src)
    );
    let src = "FROM a:1\nRUN cat > /etc/motd <<'TXT'\nsudo apt-get install whatever\nTXT\n";
    let ids = run_ids(src);
    assert!(
        !ids.iter().any(|i| i == "BW-DF-0005" || i == "BW-DF-0008"),
        "{ids:?}"
    );
}

/// Checks a RUN fully or says it did not: a script the parser refuses still goes
/// through the rules (fallback tokenizer) with a warning, and one over 1 MiB is checked
/// on its first MiB with a warning; never silently.
#[test]
fn unparseable_and_oversized_runs_warn() {
    let sel = CheckSelection::all();
    let src =
        "FROM a:1\nRUN apt-get install -y --no-install-recommends curl && echo \"unterminated\n";
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", src.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(checked.findings.iter().any(|f| f.check_id == "BW-DF-0008"));
    assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
    assert_eq!(checked.warnings[0].line, 2);
    assert!(
        checked.warnings[0].message.contains("fallback"),
        "{}",
        checked.warnings[0]
    );

    let filler = "echo x && ".repeat(110_000);
    let src = format!("FROM a:1\nRUN {filler}apt-get install -y curl\n");
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", src.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
    assert!(
        checked.warnings[0].message.contains("only its first"),
        "{}",
        checked.warnings[0]
    );

    // Deep nesting goes to the fallback instead of the recursive parser.
    let deep = format!(
        "FROM a:1\nRUN {}apt-get install -y curl{}\n",
        "(".repeat(500),
        ")".repeat(500)
    );
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", deep.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(checked.findings.iter().any(|f| f.check_id == "BW-DF-0008"));
    assert_eq!(checked.warnings.len(), 1);

    // Nesting a depth counter would miss (keywords glued to operators, `coproc`, `!`
    // in `[[ ]]`) and nested `case`, on which the parser backtracks exponentially:
    // each goes to the fallback with a warning, quickly and without a stack overflow.
    let glued = format!("{}true{}", "a&&if a;then ".repeat(300), ";fi".repeat(300));
    let coproc = format!("{}true", "coproc ".repeat(300));
    let bangs = format!("[[ {}x ]]", "! ".repeat(300));
    let cases = format!("{}true{}", "case a in x) ".repeat(35), "; esac".repeat(35));
    for script in [glued, coproc, bangs, cases] {
        let src = format!("FROM a:1\nRUN apt-get install -y curl && {script}\n");
        let start = std::time::Instant::now();
        let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", src.as_bytes(), &sel)
        {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{script}"
        );
        assert!(checked.findings.iter().any(|f| f.check_id == "BW-DF-0008"));
        assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
        assert!(checked.warnings[0].message.contains("fallback"));
    }
    // Just under the limits, the parser itself runs (on its own large stack).
    let nested = format!(
        "{}apt-get install -y curl{}",
        "if true; then ".repeat(200),
        "; fi".repeat(200)
    );
    let src = format!("FROM a:1\nRUN {nested}\n");
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", src.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(checked.findings.iter().any(|f| f.check_id == "BW-DF-0008"));
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);

    // A `sh -c` script that does not parse falls back with a warning, never silently.
    let src = "FROM a:1\nRUN sh -c 'apt-get install -y curl && echo \"unterminated'\n";
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", src.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(checked.findings.iter().any(|f| f.check_id == "BW-DF-0008"));
    assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
    assert!(
        checked.warnings[0].message.contains("hands to a shell"),
        "{}",
        checked.warnings[0]
    );

    // Nested subshells, which brush reads as `(( arithmetic ))`, still reach the rules.
    let src = "FROM a:1\nRUN ( ( apt-get install -y curl ) )\n";
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", src.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(checked.findings.iter().any(|f| f.check_id == "BW-DF-0008"));

    // A well-formed RUN gives no warning.
    let ok = "FROM a:1\nRUN if [ -f x ]; then (cd /x && make); fi\n";
    let checked = match bulwark_misconfig::check_dockerfile("Dockerfile", ok.as_bytes(), &sel) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
}
