//! What a policy is evaluated on: a [`Request`] (from an AdmissionReview v1 request or
//! from a manifest read offline) and the pod inside its object. Every pod-owning kind
//! is handled — Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
//! ReplicationController — plus the `pods/ephemeralcontainers` subresource that
//! `kubectl debug` writes (a Pod object; or the `EphemeralContainers` object older API
//! servers sent). [`pod_of`] says where the pod lives as JSON pointers, so mutation
//! patches address the right fields.

use serde_json::Value;

/// Kinds whose objects carry a pod.
pub const POD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// The requesting user (`request.userInfo`).
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    /// User name (`system:serviceaccount:NS:NAME` for service accounts).
    pub username: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// `NS/NAME` when the user is a service account.
    pub fn service_account(&self) -> Option<String> {
        let rest = self.username.strip_prefix("system:serviceaccount:")?;
        let (ns, name) = rest.split_once(':')?;
        Some(format!("{ns}/{name}"))
    }
}

/// One object to decide on.
#[derive(Debug, Clone)]
pub struct Request {
    /// Admission request uid (empty offline).
    pub uid: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub operation: String,
    /// The object's kind (`request.kind.kind`).
    pub kind: String,
    /// `request.subResource` (`ephemeralcontainers`), empty when none.
    pub sub_resource: String,
    /// Namespace (`request.namespace`, else the object's, else `default`).
    pub namespace: String,
    /// Object name (`generateName` prefix when unnamed).
    pub name: String,
    /// Who asks.
    pub user: UserInfo,
    /// The object.
    pub object: Value,
    /// `request.dryRun`.
    pub dry_run: bool,
}

/// Why an AdmissionReview could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not an AdmissionReview v1 with a request.
    #[error("malformed AdmissionReview: {0}")]
    Malformed(String),
}

/// The member at `path` (object keys), without [`Value::pointer`]'s allocation of every
/// unescaped token.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn st(v: &Value, path: &[&str]) -> String {
    at(v, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// How an AdmissionReview body read ([`Request::read_review_bytes`]).
#[derive(Debug)]
// Made once per review and taken apart at once: boxing the request would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
pub enum ReviewRead {
    /// The body is not JSON: answer 400.
    NotJson(serde_json::Error),
    /// No `request.uid` to answer to: answer 400.
    NoUid,
    /// A review with a uid: the request, or why it cannot be decided (a denial).
    Read {
        /// `request.uid`, echoed in the response.
        uid: String,
        /// The request, or why the review is malformed.
        request: Result<Request, InputError>,
    },
}

/// The fields of a review the webhook reads, as the API server sends them; anything
/// else in the review (`oldObject`, `options`, `resource`, ...) is skipped by the
/// parser without building a tree. A field of an unexpected type (or a duplicate key)
/// fails this shape, and the review is then read the general way, as a [`Value`], so
/// that odd input gets exactly the general reading's answer.
mod wire {
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    pub struct Review {
        #[serde(rename = "apiVersion", default)]
        pub api_version: String,
        #[serde(default)]
        pub kind: String,
        pub request: Option<Req>,
    }

    #[derive(Deserialize)]
    pub struct Req {
        #[serde(default)]
        pub uid: String,
        pub kind: Option<Gvk>,
        #[serde(default)]
        pub operation: String,
        #[serde(default)]
        pub namespace: String,
        #[serde(default)]
        pub name: String,
        #[serde(rename = "subResource", default)]
        pub sub_resource: String,
        #[serde(rename = "userInfo")]
        pub user_info: Option<User>,
        #[serde(default)]
        pub object: Value,
        #[serde(rename = "dryRun")]
        pub dry_run: Option<bool>,
    }

    #[derive(Deserialize)]
    pub struct Gvk {
        #[serde(default)]
        pub kind: String,
    }

    #[derive(Deserialize)]
    pub struct User {
        #[serde(default)]
        pub username: String,
        #[serde(default)]
        pub groups: Vec<String>,
    }
}

/// What [`Request::checked`] needs of a review, however it was read.
struct Fields {
    api_version: String,
    kind: String,
    has_request: bool,
    uid: String,
    req_kind: String,
    operation: String,
    namespace: String,
    name: String,
    sub_resource: String,
    username: String,
    groups: Vec<String>,
    object: Value,
    dry_run: bool,
}

impl Request {
    /// Reads `request` of an AdmissionReview v1 (the whole review as JSON). The uid is
    /// required (the response must echo it); so are `kind.kind` and `operation`.
    pub fn from_review(review: &Value) -> Result<Request, InputError> {
        let object = at(review, &["request", "object"])
            .cloned()
            .unwrap_or(Value::Null);
        Self::read_review(review, object)
    }

    /// [`Request::from_review`] taking the review by value, so that the object (most of
    /// the review) is moved, not copied.
    pub fn from_review_owned(mut review: Value) -> Result<Request, InputError> {
        let object = review
            .get_mut("request")
            .and_then(|r| r.get_mut("object"))
            .map(Value::take)
            .unwrap_or(Value::Null);
        Self::read_review(&review, object)
    }

    /// The webhook's path: reads an AdmissionReview body straight into the fields it
    /// needs (the object as a [`Value`], everything else typed or skipped), the same
    /// answers as [`Request::from_review_owned`] on the parsed body.
    pub fn read_review_bytes(body: &[u8]) -> ReviewRead {
        let Ok(w) = serde_json::from_slice::<wire::Review>(body) else {
            return Self::read_review_value(body);
        };
        let Some(r) = w.request else {
            return ReviewRead::NoUid;
        };
        if r.uid.is_empty() {
            return ReviewRead::NoUid;
        }
        let (username, groups) = r
            .user_info
            .map(|u| (u.username, u.groups))
            .unwrap_or_default();
        let uid = r.uid.clone();
        let request = Self::checked(Fields {
            api_version: w.api_version,
            kind: w.kind,
            has_request: true,
            uid: r.uid,
            req_kind: r.kind.map(|k| k.kind).unwrap_or_default(),
            operation: r.operation,
            namespace: r.namespace,
            name: r.name,
            sub_resource: r.sub_resource,
            username,
            groups,
            object: r.object,
            dry_run: r.dry_run.unwrap_or(false),
        });
        ReviewRead::Read { uid, request }
    }

    /// The general reading of a body the typed shape refused.
    fn read_review_value(body: &[u8]) -> ReviewRead {
        let v: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return ReviewRead::NotJson(e),
        };
        let Some(uid) = at(&v, &["request", "uid"])
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
        else {
            return ReviewRead::NoUid;
        };
        ReviewRead::Read {
            uid,
            request: Self::from_review_owned(v),
        }
    }

    fn read_review(review: &Value, object: Value) -> Result<Request, InputError> {
        if !review.is_object() {
            return Err(InputError::Malformed("not a JSON object".into()));
        }
        let req = review.get("request").filter(|r| r.is_object());
        let r = req.unwrap_or(&Value::Null);
        Self::checked(Fields {
            api_version: st(review, &["apiVersion"]),
            kind: st(review, &["kind"]),
            has_request: req.is_some(),
            uid: st(r, &["uid"]),
            req_kind: st(r, &["kind", "kind"]),
            operation: st(r, &["operation"]),
            namespace: st(r, &["namespace"]),
            name: st(r, &["name"]),
            sub_resource: st(r, &["subResource"]),
            username: st(r, &["userInfo", "username"]),
            groups: at(r, &["userInfo", "groups"])
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            object,
            dry_run: r.get("dryRun").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    fn checked(f: Fields) -> Result<Request, InputError> {
        let bad = |m: &str| InputError::Malformed(m.to_string());
        if f.api_version != "admission.k8s.io/v1" {
            return Err(InputError::Malformed(format!(
                "apiVersion {:?} is not admission.k8s.io/v1",
                f.api_version
            )));
        }
        if f.kind != "AdmissionReview" {
            return Err(bad("kind is not AdmissionReview"));
        }
        if !f.has_request {
            return Err(bad("no request"));
        }
        if f.uid.is_empty() {
            return Err(bad("request.uid is missing"));
        }
        if f.req_kind.is_empty() {
            return Err(bad("request.kind.kind is missing"));
        }
        if f.operation.is_empty() {
            return Err(bad("request.operation is missing"));
        }
        let namespace = Some(f.namespace)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| st(&f.object, &["metadata", "namespace"]));
        let name = Some(f.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| object_name(&f.object));
        Ok(Request {
            uid: f.uid,
            operation: f.operation,
            kind: f.req_kind,
            sub_resource: f.sub_resource,
            namespace: if namespace.is_empty() {
                "default".into()
            } else {
                namespace
            },
            name,
            user: UserInfo {
                username: f.username,
                groups: f.groups,
            },
            object: f.object,
            dry_run: f.dry_run,
        })
    }

    /// A request for a manifest read offline: a CREATE by an anonymous user, in the
    /// object's namespace or `default_ns`.
    pub fn from_object(object: Value, default_ns: &str) -> Request {
        let ns = st(&object, &["metadata", "namespace"]);
        Request {
            uid: String::new(),
            operation: "CREATE".into(),
            kind: st(&object, &["kind"]),
            sub_resource: String::new(),
            namespace: if ns.is_empty() {
                default_ns.to_string()
            } else {
                ns
            },
            name: object_name(&object),
            user: UserInfo::default(),
            object,
            dry_run: false,
        }
    }

    /// `Kind/name` (with the subresource), for messages.
    pub fn display(&self) -> String {
        if self.sub_resource.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{} ({})", self.kind, self.name, self.sub_resource)
        }
    }
}

fn object_name(o: &Value) -> String {
    let n = st(o, &["metadata", "name"]);
    if n.is_empty() {
        let g = st(o, &["metadata", "generateName"]);
        if g.is_empty() {
            "<unnamed>".into()
        } else {
            g
        }
    } else {
        n
    }
}

/// Where an object keeps its pod: JSON pointers (for patches and messages) and the
/// same as key paths (for reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodLocation {
    /// The pod (template) metadata, as a JSON pointer.
    pub meta: &'static str,
    /// The pod spec, as a JSON pointer (empty: the object itself).
    pub spec: &'static str,
    meta_path: &'static [&'static str],
    spec_path: &'static [&'static str],
}

/// The pod location of `kind`, `None` for kinds that carry no pod.
pub fn pod_location(kind: &str) -> Option<PodLocation> {
    const TEMPLATE_META: &[&str] = &["spec", "template", "metadata"];
    const TEMPLATE_SPEC: &[&str] = &["spec", "template", "spec"];
    let (meta, spec, meta_path, spec_path): (_, _, &[&str], &[&str]) = match kind {
        "Pod" => ("/metadata", "/spec", &["metadata"], &["spec"]),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => (
            "/spec/template/metadata",
            "/spec/template/spec",
            TEMPLATE_META,
            TEMPLATE_SPEC,
        ),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/metadata",
            "/spec/jobTemplate/spec/template/spec",
            &["spec", "jobTemplate", "spec", "template", "metadata"],
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
        // Older API servers sent this object for pods/ephemeralcontainers.
        "EphemeralContainers" => ("/metadata", "", &["metadata"], &[]),
        _ => return None,
    };
    Some(PodLocation {
        meta,
        spec,
        meta_path,
        spec_path,
    })
}

/// One container of the pod.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// `initContainers`, `containers` or `ephemeralContainers`.
    pub list: &'static str,
    /// Its index in the list.
    pub index: usize,
    /// The container object.
    pub node: &'a Value,
    /// Where the pod spec is (for [`Container::image_ptr`]).
    spec_ptr: &'static str,
}

impl Container<'_> {
    /// Its name.
    pub fn name(&self) -> &str {
        self.node
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
    }

    /// Its image, when set.
    pub fn image(&self) -> Option<&str> {
        self.node.get("image").and_then(Value::as_str)
    }

    /// JSON pointer of its `image` field in the object.
    pub fn image_ptr(&self) -> String {
        format!("{}/{}/{}/image", self.spec_ptr, self.list, self.index)
    }
}

/// The pod of an object.
#[derive(Debug, Clone)]
pub struct Pod<'a> {
    /// Where it is.
    pub at: PodLocation,
    /// Metadata (labels, annotations).
    pub meta: Option<&'a Value>,
    /// Spec.
    pub spec: &'a Value,
}

impl<'a> Pod<'a> {
    /// Every container: init, regular and ephemeral, in that order.
    pub fn containers(&self) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(items) = self.spec.get(list).and_then(Value::as_array) else {
                continue;
            };
            for (index, node) in items.iter().enumerate() {
                out.push(Container {
                    list,
                    index,
                    node,
                    spec_ptr: self.at.spec,
                });
            }
        }
        out
    }

    /// A pod label.
    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.meta?.get("labels")?.get(key)?.as_str()
    }
}

/// The pod of `object` of `kind`: `Ok(None)` for kinds without a pod, an error when a
/// pod-owning object has no pod spec where the kind puts it (never a silent pass).
pub fn pod_of<'a>(kind: &str, object: &'a Value) -> Result<Option<Pod<'a>>, String> {
    let Some(loc) = pod_location(kind) else {
        return Ok(None);
    };
    let Some(spec) = at(object, loc.spec_path).filter(|s| s.is_object()) else {
        return Err(format!("{kind} has no pod spec at {}", loc.spec));
    };
    let meta = at(object, loc.meta_path).filter(|m| m.is_object());
    Ok(Some(Pod {
        at: loc,
        meta,
        spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_pod_kind_finds_its_containers() {
        let pod = json!({"metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let tpl = json!({"spec": {"template": pod.clone()}});
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": pod.clone()}}}});
        for (kind, obj, ptr) in [
            ("Pod", &pod, "/spec/containers/0/image"),
            ("Deployment", &tpl, "/spec/template/spec/containers/0/image"),
            (
                "StatefulSet",
                &tpl,
                "/spec/template/spec/containers/0/image",
            ),
            ("DaemonSet", &tpl, "/spec/template/spec/containers/0/image"),
            ("ReplicaSet", &tpl, "/spec/template/spec/containers/0/image"),
            ("Job", &tpl, "/spec/template/spec/containers/0/image"),
            (
                "CronJob",
                &cron,
                "/spec/jobTemplate/spec/template/spec/containers/0/image",
            ),
        ] {
            let p = pod_of(kind, obj).unwrap().unwrap();
            let cs = p.containers();
            assert_eq!(cs.len(), 1, "{kind}");
            assert_eq!(cs[0].image_ptr(), ptr, "{kind}");
            assert_eq!(obj.pointer(ptr).and_then(Value::as_str), Some("nginx"));
            assert_eq!(p.label("app"), Some("x"), "{kind}");
        }
        assert!(pod_of("Service", &pod).unwrap().is_none());
        assert!(pod_of("Deployment", &pod).is_err());
    }

    /// The webhook's typed reading answers exactly as the general one, on reviews as
    /// the API server sends them and on odd ones (types, duplicates, missing parts).
    #[test]
    fn typed_review_reading_answers_as_the_general_one() {
        let pod = json!({"metadata": {"name": "p", "namespace": "from-obj", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let good = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "shop", "operation": "CREATE",
                "userInfo": {"username": "alice", "groups": ["system:authenticated", "dev"]},
                "object": pod, "oldObject": null, "dryRun": true,
                "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}});
        let with = |ptr: &str, v: Value| {
            let mut r = good.clone();
            *r.pointer_mut(ptr).unwrap() = v;
            r.to_string()
        };
        let mut cases = vec![
            good.to_string(),
            with("/request/uid", json!(7)),
            with("/request/uid", json!("")),
            with("/request", json!("x")),
            with("/request", json!(null)),
            with("/request/kind", json!(null)),
            with("/request/kind/kind", json!(["Pod"])),
            with("/request/operation", json!(null)),
            with("/request/namespace", json!("")),
            with("/request/namespace", json!(3)),
            with("/request/userInfo/groups", json!(["a", 1, "b"])),
            with("/request/userInfo", json!(null)),
            with("/request/dryRun", json!(null)),
            with("/request/dryRun", json!("yes")),
            with("/request/object", json!(null)),
            with("/apiVersion", json!("admission.k8s.io/v1beta1")),
            with("/apiVersion", json!(1)),
            with("/kind", json!("Other")),
            "[1, 2]".to_string(),
            "{}".to_string(),
            "not json".to_string(),
        ];
        // A duplicate key: the last one counts, as in a parsed Value.
        cases.push(good.to_string().replacen(
            r#""operation":"CREATE""#,
            r#""operation":"DELETE","operation":"CREATE""#,
            1,
        ));
        for body in &cases {
            let general = match serde_json::from_slice::<Value>(body.as_bytes()) {
                Err(_) => "not json".to_string(),
                Ok(v) => match v
                    .pointer("/request/uid")
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                {
                    None => "no uid".to_string(),
                    Some(uid) => format!("{uid} {:?}", Request::from_review_owned(v.clone())),
                },
            };
            let typed = match Request::read_review_bytes(body.as_bytes()) {
                ReviewRead::NotJson(_) => "not json".to_string(),
                ReviewRead::NoUid => "no uid".to_string(),
                ReviewRead::Read { uid, request } => format!("{uid} {request:?}"),
            };
            assert_eq!(typed, general, "{body}");
        }
        let ReviewRead::Read { request: Ok(r), .. } =
            Request::read_review_bytes(good.to_string().as_bytes())
        else {
            panic!("the good review was not read");
        };
        assert_eq!(
            (
                r.namespace.as_str(),
                r.kind.as_str(),
                r.name.as_str(),
                r.dry_run
            ),
            ("shop", "Pod", "p", true)
        );
        assert_eq!(r.user.groups, ["system:authenticated", "dev"]);
    }

    #[test]
    fn service_account_of_user() {
        let u = UserInfo {
            username: "system:serviceaccount:ci:deployer".into(),
            groups: vec![],
        };
        assert_eq!(u.service_account().as_deref(), Some("ci/deployer"));
        assert_eq!(UserInfo::default().service_account(), None);
    }
}
