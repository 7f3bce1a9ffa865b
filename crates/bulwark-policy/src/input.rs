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

fn s(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Request {
    /// Reads `request` of an AdmissionReview v1 (the whole review as JSON). The uid is
    /// required (the response must echo it); so are `kind.kind` and `operation`.
    pub fn from_review(review: &Value) -> Result<Request, InputError> {
        let object = review
            .pointer("/request/object")
            .cloned()
            .unwrap_or(Value::Null);
        Self::read_review(review, object)
    }

    /// [`Request::from_review`] taking the review by value, so that the object (most of
    /// the review) is moved, not copied: the webhook's path.
    pub fn from_review_owned(mut review: Value) -> Result<Request, InputError> {
        let object = review
            .pointer_mut("/request/object")
            .map(Value::take)
            .unwrap_or(Value::Null);
        Self::read_review(&review, object)
    }

    fn read_review(review: &Value, object: Value) -> Result<Request, InputError> {
        let bad = |m: &str| InputError::Malformed(m.to_string());
        if !review.is_object() {
            return Err(bad("not a JSON object"));
        }
        let api = s(review, "/apiVersion");
        if api != "admission.k8s.io/v1" {
            return Err(InputError::Malformed(format!(
                "apiVersion {api:?} is not admission.k8s.io/v1"
            )));
        }
        if s(review, "/kind") != "AdmissionReview" {
            return Err(bad("kind is not AdmissionReview"));
        }
        let req = review
            .get("request")
            .filter(|r| r.is_object())
            .ok_or_else(|| bad("no request"))?;
        let uid = s(req, "/uid");
        if uid.is_empty() {
            return Err(bad("request.uid is missing"));
        }
        let kind = s(req, "/kind/kind");
        if kind.is_empty() {
            return Err(bad("request.kind.kind is missing"));
        }
        let operation = s(req, "/operation");
        if operation.is_empty() {
            return Err(bad("request.operation is missing"));
        }
        let namespace = Some(s(req, "/namespace"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| s(&object, "/metadata/namespace"));
        let name = Some(s(req, "/name"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| object_name(&object));
        let groups = req
            .pointer("/userInfo/groups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Request {
            uid,
            operation,
            kind,
            sub_resource: s(req, "/subResource"),
            namespace: if namespace.is_empty() {
                "default".into()
            } else {
                namespace
            },
            name,
            user: UserInfo {
                username: s(req, "/userInfo/username"),
                groups,
            },
            object,
            dry_run: req.get("dryRun").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// A request for a manifest read offline: a CREATE by an anonymous user, in the
    /// object's namespace or `default_ns`.
    pub fn from_object(object: Value, default_ns: &str) -> Request {
        let ns = s(&object, "/metadata/namespace");
        Request {
            uid: String::new(),
            operation: "CREATE".into(),
            kind: s(&object, "/kind"),
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
    let n = s(o, "/metadata/name");
    if n.is_empty() {
        let g = s(o, "/metadata/generateName");
        if g.is_empty() {
            "<unnamed>".into()
        } else {
            g
        }
    } else {
        n
    }
}

/// Where an object keeps its pod, as JSON pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLocation {
    /// The pod (template) metadata.
    pub meta: String,
    /// The pod spec.
    pub spec: String,
}

/// The pod location of `kind`, `None` for kinds that carry no pod.
pub fn pod_location(kind: &str) -> Option<PodLocation> {
    let (meta, spec) = match kind {
        "Pod" => ("/metadata", "/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => ("/spec/template/metadata", "/spec/template/spec"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/metadata",
            "/spec/jobTemplate/spec/template/spec",
        ),
        // Older API servers sent this object for pods/ephemeralcontainers.
        "EphemeralContainers" => ("/metadata", ""),
        _ => return None,
    };
    Some(PodLocation {
        meta: meta.into(),
        spec: spec.into(),
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
    /// JSON pointer of its `image` field.
    pub image_ptr: String,
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
                    image_ptr: format!("{}/{list}/{index}/image", self.at.spec),
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
    let Some(at) = pod_location(kind) else {
        return Ok(None);
    };
    let spec = if at.spec.is_empty() {
        Some(object)
    } else {
        object.pointer(&at.spec)
    };
    let Some(spec) = spec.filter(|s| s.is_object()) else {
        return Err(format!("{kind} has no pod spec at {}", at.spec));
    };
    let meta = object.pointer(&at.meta).filter(|m| m.is_object());
    Ok(Some(Pod { at, meta, spec }))
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
            assert_eq!(cs[0].image_ptr, ptr, "{kind}");
            assert_eq!(obj.pointer(ptr).and_then(Value::as_str), Some("nginx"));
            assert_eq!(p.label("app"), Some("x"), "{kind}");
        }
        assert!(pod_of("Service", &pod).unwrap().is_none());
        assert!(pod_of("Deployment", &pod).is_err());
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
