//! Evaluation: one [`Request`] against a [`Policy`], in the mutating phase (digest
//! pinning → RFC 6902 patch) or the validating phase (every other rule), or both in
//! the order the API server runs them ([`admit`]: mutate, apply the patch, validate
//! the result) — what `bulwark policy test` does offline.
//!
//! Deny by default: an object whose pod cannot be found, a kind that carries no pod,
//! a container whose image cannot be parsed, and a dependency that cannot answer (with
//! the rule's default `onError: deny`) all deny. DELETE and CONNECT are allowed (no pod
//! starts).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::time::Instant;

use bulwark_misconfig::yaml::Node;
use serde::Serialize;
use serde_json::{json, Value};

use crate::deps::{DepError, Dependencies, ImageRef};
use crate::glob::any;
use crate::input::{at, pod_of, Container, Pod, Request};
use crate::schema::{Exempt, Mode, OnError, Policy, Rule, RuleKind, Selector};

/// Which webhook is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Mutating webhook: pinning rules only.
    Mutate,
    /// Validating webhook: every rule but pinning.
    Validate,
}

/// How one rule ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    /// Nothing wrong.
    Pass,
    /// What is wrong.
    Violations {
        /// One line each.
        violations: Vec<String>,
    },
    /// A dependency could not answer; `onError` decided.
    Error {
        /// What failed.
        error: String,
        /// Which way it went.
        on_error: OnError,
    },
}

/// One rule's result.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    /// Rule name.
    pub rule: String,
    /// Its mode.
    pub mode: Mode,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The verdict on one request.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Decision {
    /// Admitted.
    pub allowed: bool,
    /// Why not (enforce-mode violations), one line each: `rule: what`.
    pub reasons: Vec<String>,
    /// Audit-mode violations and fail-open errors.
    pub warnings: Vec<String>,
    /// RFC 6902 operations (mutation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patch: Vec<Value>,
    /// Set when an exemption let the request through unchecked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<String>,
    /// Every rule that applied.
    pub rules: Vec<RuleResult>,
}

impl Decision {
    fn allow() -> Decision {
        Decision {
            allowed: true,
            ..Default::default()
        }
    }

    fn deny(reason: String) -> Decision {
        Decision {
            allowed: false,
            reasons: vec![reason],
            ..Default::default()
        }
    }

    fn push(&mut self, r: RuleResult) {
        match (&r.outcome, r.mode) {
            (Outcome::Pass, _) => {}
            (Outcome::Violations { violations }, Mode::Enforce) => {
                for v in violations {
                    self.reasons.push(format!("{}: {v}", r.rule));
                }
            }
            (Outcome::Violations { violations }, Mode::Audit) => {
                for v in violations {
                    self.warnings.push(format!("{} (audit): {v}", r.rule));
                }
            }
            (Outcome::Error { error, on_error }, mode) => {
                if *on_error == OnError::Deny && mode == Mode::Enforce {
                    self.reasons
                        .push(format!("{}: cannot check ({error}); onError: deny", r.rule));
                } else {
                    self.warnings
                        .push(format!("{}: not checked ({error})", r.rule));
                }
            }
        }
        self.rules.push(r);
    }
}

fn exempted(e: &Exempt, req: &Request) -> Option<String> {
    if any(&e.namespaces, &req.namespace) {
        return Some(format!("namespace {}", req.namespace));
    }
    if !req.user.username.is_empty() && any(&e.usernames, &req.user.username) {
        return Some(format!("user {}", req.user.username));
    }
    if let Some(g) = req.user.groups.iter().find(|g| any(&e.groups, g)) {
        return Some(format!("group {g}"));
    }
    if let Some(sa) = req.user.service_account() {
        if any(&e.service_accounts, &sa) {
            return Some(format!("service account {sa}"));
        }
    }
    None
}

/// Whether `rule` applies to the request, and to which of the pod's containers (`all`).
fn selected<'c, 'a>(
    s: &Selector,
    req: &Request,
    pod: &Pod<'a>,
    all: &'c [Container<'a>],
) -> Option<Cow<'c, [Container<'a>]>> {
    if !s.namespaces.is_empty() && !any(&s.namespaces, &req.namespace) {
        return None;
    }
    if !s.kinds.is_empty() && !s.kinds.contains(&req.kind) {
        return None;
    }
    if !s.usernames.is_empty() && !any(&s.usernames, &req.user.username) {
        return None;
    }
    if !s.groups.is_empty() && !req.user.groups.iter().any(|g| any(&s.groups, g)) {
        return None;
    }
    for (k, g) in &s.labels {
        if !pod.label(k).is_some_and(|v| g.matches(v)) {
            return None;
        }
    }
    if s.images.is_empty() {
        return Some(Cow::Borrowed(all));
    }
    let chosen: Vec<Container<'a>> = all
        .iter()
        .filter(|c| {
            c.image()
                .and_then(|i| ImageRef::parse(i).ok())
                .is_some_and(|r| any(&s.images, &r.name()))
        })
        .cloned()
        .collect();
    (!chosen.is_empty()).then_some(Cow::Owned(chosen))
}

/// The pod's metadata and spec as the misconfiguration checks' tree, built at most
/// once per evaluation (two Pod Security rules — enforce one level, audit another —
/// share it).
type PssTree = OnceCell<(Option<Node>, Node)>;

/// Evaluates `req` for `phase`.
pub fn evaluate(policy: &Policy, deps: &dyn Dependencies, req: &Request, phase: Phase) -> Decision {
    if matches!(req.operation.as_str(), "DELETE" | "CONNECT") {
        return Decision::allow();
    }
    if let Some(why) = exempted(&policy.exemptions, req) {
        let mut d = Decision::allow();
        d.exempt = Some(why);
        return d;
    }
    let pod = match pod_of(&req.kind, &req.object) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Decision::deny(format!(
                "bulwark does not admit kind {:?}: it checks pods and pod-owning workloads only (check the webhook's rules)",
                req.kind
            ))
        }
        Err(e) => return Decision::deny(e),
    };
    let mut d = Decision::allow();
    let all = pod.containers();
    let tree = PssTree::new();
    for rule in &policy.rules {
        if rule.kind.is_mutation() != (phase == Phase::Mutate) {
            continue;
        }
        if exempted(&rule.exclude, req).is_some() {
            continue;
        }
        let Some(containers) = selected(&rule.select, req, &pod, &all) else {
            continue;
        };
        let outcome = run_rule(
            policy,
            deps,
            rule,
            req,
            (&pod, &tree),
            &containers,
            &mut d.patch,
        );
        d.push(RuleResult {
            rule: rule.name.clone(),
            mode: rule.mode,
            outcome,
        });
    }
    d.allowed = d.reasons.is_empty();
    if !d.allowed {
        d.patch.clear();
    }
    d
}

/// Decides `req` from what the dependencies hold in memory, without a worker thread:
/// `Some(decision)` — exactly what [`evaluate`] would answer — when no rule needed the
/// network, `None` when one did (a tag, signature or scan not cached) or when the policy
/// has a Rego rule (its cost is the policy author's, so it runs where the webhook's
/// deadline applies). On `None`, call [`evaluate`] where blocking is allowed.
pub fn evaluate_warm(
    policy: &Policy,
    deps: &dyn Dependencies,
    req: &Request,
    phase: Phase,
) -> Option<Decision> {
    if policy
        .rules
        .iter()
        .any(|r| matches!(r.kind, RuleKind::Rego { .. }))
    {
        return None;
    }
    let cached = crate::deps::CachedOnly::new(deps);
    let d = evaluate(policy, &cached, req, phase);
    (!cached.missed()).then_some(d)
}

/// Mutates, applies the patch, then validates the patched object — the API server's
/// order. The returned decision carries the patch and the warnings of both phases.
pub fn admit(policy: &Policy, deps: &dyn Dependencies, req: &Request) -> (Decision, Value) {
    let mut m = evaluate(policy, deps, req, Phase::Mutate);
    if !m.allowed {
        // The API server would stop here; the report also lists what validation finds
        // in the unpatched object, so one run shows every reason.
        let v = evaluate(policy, deps, req, Phase::Validate);
        m.reasons.extend(v.reasons);
        m.warnings.extend(v.warnings);
        m.rules.extend(v.rules);
        return (m, req.object.clone());
    }
    let mut patched = req.object.clone();
    if !m.patch.is_empty() {
        let applied = serde_json::from_value::<json_patch::Patch>(Value::Array(m.patch.clone()))
            .map_err(|e| e.to_string())
            .and_then(|p| json_patch::patch(&mut patched, &p).map_err(|e| e.to_string()));
        if let Err(e) = applied {
            return (
                Decision::deny(format!("the mutation patch does not apply: {e}")),
                req.object.clone(),
            );
        }
    }
    let mut after = req.clone();
    after.object = patched.clone();
    let mut v = evaluate(policy, deps, &after, Phase::Validate);
    let mut warnings = m.warnings;
    warnings.append(&mut v.warnings);
    v.warnings = warnings;
    let mut rules = m.rules;
    rules.append(&mut v.rules);
    v.rules = rules;
    if v.allowed {
        v.patch = m.patch;
    }
    if v.exempt.is_none() {
        v.exempt = m.exempt;
    }
    (v, patched)
}

fn dep_outcome(rule: &Rule, e: &DepError) -> Outcome {
    Outcome::Error {
        error: e.to_string(),
        on_error: rule.on_error,
    }
}

fn violations(v: Vec<String>) -> Outcome {
    if v.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Violations { violations: v }
    }
}

fn who(c: &Container<'_>) -> String {
    format!("{} {:?}", c.list.trim_end_matches('s'), c.name())
}

/// The images of `containers`, parsed, each once; unparsable ones as violations.
fn images<'a>(
    containers: &'a [Container<'a>],
    bad: &mut Vec<String>,
) -> Vec<(ImageRef, &'a Container<'a>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for c in containers {
        match c.image() {
            None => bad.push(format!("{} has no image", who(c))),
            Some(i) => match ImageRef::parse(i) {
                Err(e) => bad.push(format!("{}: {e}", who(c))),
                Ok(r) => {
                    if seen.insert(i.to_string()) {
                        out.push((r, c));
                    }
                }
            },
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn run_rule(
    policy: &Policy,
    deps: &dyn Dependencies,
    rule: &Rule,
    req: &Request,
    (pod, tree): (&Pod<'_>, &PssTree),
    containers: &[Container<'_>],
    patch: &mut Vec<Value>,
) -> Outcome {
    let st = &policy.settings;
    match &rule.kind {
        RuleKind::AllowedRegistries(globs) => {
            let mut v = Vec::new();
            for (r, c) in images(containers, &mut v) {
                if !any(globs, &r.name()) {
                    v.push(format!(
                        "{} image {} is not from an allowed registry ({})",
                        who(c),
                        r.original,
                        globs
                            .iter()
                            .map(|g| g.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            violations(v)
        }
        RuleKind::PinDigests => {
            let mut v = Vec::new();
            let mut ops = Vec::new();
            for c in containers {
                let Some(i) = c.image() else {
                    v.push(format!("{} has no image", who(c)));
                    continue;
                };
                let r = match ImageRef::parse(i) {
                    Ok(r) => r,
                    Err(e) => {
                        v.push(format!("{}: {e}", who(c)));
                        continue;
                    }
                };
                if r.digest().is_some() {
                    continue;
                }
                match deps.resolve(&r, st.resolve_timeout) {
                    Err(e) => return dep_outcome(rule, &e),
                    Ok(digest) => {
                        let pinned = format!("{i}@{digest}");
                        if rule.mode == Mode::Audit {
                            v.push(format!(
                                "{} image {i} is not pinned (would be {pinned})",
                                who(c)
                            ));
                        } else {
                            ops.push(
                                json!({"op": "replace", "path": c.image_ptr(), "value": pinned}),
                            );
                        }
                    }
                }
            }
            if v.is_empty() {
                for op in ops {
                    if !patch.contains(&op) {
                        patch.push(op);
                    }
                }
            }
            violations(v)
        }
        RuleKind::RequireLabels(labels) => violations(
            labels
                .iter()
                .filter(|l| pod.label(l).is_none())
                .map(|l| format!("pod label {l:?} is required"))
                .collect(),
        ),
        RuleKind::RequireResources { requests, limits } => {
            let mut v = Vec::new();
            // Ephemeral containers may not set resources at all.
            for c in containers
                .iter()
                .filter(|c| c.list != "ephemeralContainers")
            {
                for (kind, names) in [("requests", requests), ("limits", limits)] {
                    for n in names {
                        let set = at(c.node, &["resources", kind, n.as_str()])
                            .is_some_and(|x| !x.is_null());
                        if !set {
                            v.push(format!("{} must set resources.{kind}.{n}", who(c)));
                        }
                    }
                }
            }
            violations(v)
        }
        RuleKind::PodSecurity { level, version } => {
            let (meta, spec) =
                tree.get_or_init(|| (pod.meta.map(Node::from_json), Node::from_json(pod.spec)));
            let found = bulwark_misconfig::check_pod_security(
                "admission",
                &req.display(),
                meta.as_ref(),
                spec,
                *level,
                *version,
            );
            violations(
                found
                    .into_iter()
                    .map(|f| {
                        format!(
                            "{} ({} {version}): {}",
                            f.check_id,
                            level_name(*level),
                            f.message
                        )
                    })
                    .collect(),
            )
        }
        RuleKind::VerifyImages(entries) => {
            let mut v = Vec::new();
            for (r, c) in images(containers, &mut v) {
                let name = r.name();
                let wanted: Vec<_> = entries.iter().filter(|e| any(&e.images, &name)).collect();
                if wanted.is_empty() {
                    continue;
                }
                let digest = match deps.resolve(&r, st.resolve_timeout) {
                    Ok(d) => d,
                    Err(e) => return dep_outcome(rule, &e),
                };
                for e in wanted {
                    match deps.verify(&r, &digest, e, st.signature_timeout) {
                        Err(err) => return dep_outcome(rule, &err),
                        Ok(Ok(())) => {}
                        Ok(Err(why)) => v.push(format!("{} image {}: {why}", who(c), r.original)),
                    }
                }
            }
            violations(v)
        }
        RuleKind::Vulnerabilities {
            no_critical_with_fix,
            no_kev,
            max_epss,
        } => {
            let mut v = Vec::new();
            for (r, c) in images(containers, &mut v) {
                let digest = match deps.resolve(&r, st.resolve_timeout) {
                    Ok(d) => d,
                    Err(e) => return dep_outcome(rule, &e),
                };
                let needs = crate::deps::VulnNeeds {
                    kev: *no_kev,
                    epss: max_epss.is_some(),
                };
                let found = match deps.vulnerabilities(&r, &digest, st.vulnerability_timeout, needs)
                {
                    Ok(f) => f,
                    Err(e) => return dep_outcome(rule, &e),
                };
                for f in found.iter() {
                    let mut why = Vec::new();
                    if *no_critical_with_fix
                        && f.severity == bulwark_core::Severity::Critical
                        && !f.fixed_versions.is_empty()
                    {
                        why.push(format!(
                            "CRITICAL with a fix ({})",
                            f.fixed_versions.join(", ")
                        ));
                    }
                    if *no_kev && f.kev {
                        why.push("in CISA KEV".to_string());
                    }
                    if let (Some(max), Some((p, _))) = (max_epss, f.epss) {
                        if p > *max {
                            why.push(format!("EPSS {p:.3} > {max}"));
                        }
                    }
                    if !why.is_empty() {
                        v.push(format!(
                            "{} image {}: {} in {} {}: {}",
                            who(c),
                            r.original,
                            f.id,
                            f.package,
                            f.installed_version,
                            why.join(", ")
                        ));
                    }
                }
            }
            violations(v)
        }
        RuleKind::Rego { path, source } => rego(rule, path, source, req, pod),
    }
}

fn level_name(l: bulwark_misconfig::PssLevel) -> &'static str {
    match l {
        bulwark_misconfig::PssLevel::Privileged => "privileged",
        bulwark_misconfig::PssLevel::Baseline => "baseline",
        bulwark_misconfig::PssLevel::Restricted => "restricted",
    }
}

fn rego(rule: &Rule, path: &str, source: &str, req: &Request, pod: &Pod<'_>) -> Outcome {
    let input = json!({
        "request": {
            "uid": req.uid,
            "operation": req.operation,
            "kind": req.kind,
            "subResource": req.sub_resource,
            "namespace": req.namespace,
            "name": req.name,
            "userInfo": {"username": req.user.username, "groups": req.user.groups},
            "dryRun": req.dry_run,
        },
        "object": req.object,
        "pod": {"metadata": pod.meta, "spec": pod.spec},
    })
    .to_string();
    let started = Instant::now();
    let r = bulwark_misconfig::rego::load_policy(
        path,
        source,
        bulwark_misconfig::rego::EVAL_TIME_LIMIT,
    )
    .and_then(|(mut engine, package)| {
        bulwark_misconfig::rego::deny_results(&mut engine, path, format!("{package}.deny"), &input)
    });
    tracing::debug!(rule = %rule.name, ms = started.elapsed().as_millis() as u64, "rego evaluated");
    match r {
        Err(e) => Outcome::Error {
            error: e.to_string(),
            on_error: rule.on_error,
        },
        Ok(results) => violations(
            results
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => s,
                    Value::Object(ref o) => o
                        .get("msg")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                    other => other.to_string(),
                })
                .collect(),
        ),
    }
}
