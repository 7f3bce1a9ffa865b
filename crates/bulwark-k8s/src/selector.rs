//! Kubernetes label selectors (`matchLabels` and `matchExpressions` with `In`, `NotIn`,
//! `Exists`, `DoesNotExist`), as used by NetworkPolicy pod and namespace selectors and
//! ClusterRole aggregation rules. Written by hand: the semantics are a dozen lines and
//! the objects come from the shared YAML reader, not from a typed client.
//!
//! An empty selector (`{}`) selects everything. An unknown operator, or `In`/`NotIn`
//! without values, is an error: the API server refuses such an object, so guessing a
//! meaning would analyse a cluster that cannot exist.

use std::collections::BTreeMap;

use bulwark_misconfig::yaml::Node;
use serde::{Deserialize, Serialize};

use crate::load::{string_map, strings};

/// A `matchExpressions` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expr {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: Op,
    /// Values (`In`, `NotIn`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// `matchLabels`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Expr>,
}

impl Selector {
    /// Reads a selector node; `Err((line, message))` for one the API server refuses.
    pub fn parse(node: &Node) -> Result<Selector, (u32, String)> {
        // Anything but a mapping would read as `{}`, which selects everything: refuse it.
        if !node.is_map() && !node.is_null() {
            return Err((node.line, "label selector is not a mapping".into()));
        }
        if let Some(ml) = node.get("matchLabels") {
            if !ml.is_map() && !ml.is_null() {
                return Err((ml.line, "matchLabels is not a mapping".into()));
            }
        }
        if let Some(me) = node.get("matchExpressions") {
            if !matches!(me.value, bulwark_misconfig::yaml::Value::Seq(_)) && !me.is_null() {
                return Err((me.line, "matchExpressions is not a list".into()));
            }
        }
        let match_labels = string_map(node.get("matchLabels"));
        let mut match_expressions = Vec::new();
        for e in node.get("matchExpressions").map(Node::items).unwrap_or(&[]) {
            let key = e
                .get("key")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            let op = e.get("operator").and_then(Node::as_str).unwrap_or("");
            let operator = match op {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    return Err((e.line, format!("unknown selector operator {other:?}")));
                }
            };
            let values = strings(e.get("values"));
            if matches!(operator, Op::In | Op::NotIn) && values.is_empty() {
                return Err((e.line, format!("operator {op} needs values")));
            }
            if key.is_empty() {
                return Err((e.line, "selector expression without key".into()));
            }
            match_expressions.push(Expr {
                key,
                operator,
                values,
            });
        }
        Ok(Selector {
            match_labels,
            match_expressions,
        })
    }

    /// Whether the selector is `{}` (selects everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| {
                let got = labels.get(&e.key);
                match e.operator {
                    Op::In => got.is_some_and(|v| e.values.contains(v)),
                    Op::NotIn => got.is_none_or(|v| !e.values.contains(v)),
                    Op::Exists => got.is_some(),
                    Op::DoesNotExist => got.is_none(),
                }
            })
    }

    /// `app=web,tier in (a,b)` for messages (`{}` for the empty selector).
    pub fn display(&self) -> String {
        if self.is_empty() {
            return "{}".into();
        }
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for e in &self.match_expressions {
            parts.push(match e.operator {
                Op::In => format!("{} in ({})", e.key, e.values.join(",")),
                Op::NotIn => format!("{} notin ({})", e.key, e.values.join(",")),
                Op::Exists => e.key.clone(),
                Op::DoesNotExist => format!("!{}", e.key),
            });
        }
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators() {
        let docs = bulwark_misconfig::yaml::parse_str(
            "s",
            "matchLabels: {app: db}\nmatchExpressions:\n- {key: tier, operator: In, values: [a, b]}\n- {key: env, operator: NotIn, values: [prod]}\n- {key: x, operator: Exists}\n- {key: y, operator: DoesNotExist}\n",
        )
        .unwrap();
        let s = Selector::parse(docs[0].root.as_ref().unwrap()).unwrap();
        assert!(s.matches(&labels(&[("app", "db"), ("tier", "a"), ("x", "")])));
        assert!(!s.matches(&labels(&[("app", "db"), ("tier", "c"), ("x", "")])));
        assert!(!s.matches(&labels(&[
            ("app", "db"),
            ("tier", "a"),
            ("x", ""),
            ("env", "prod")
        ])));
        assert!(!s.matches(&labels(&[("app", "db"), ("tier", "a")])));
        assert!(!s.matches(&labels(&[
            ("app", "db"),
            ("tier", "a"),
            ("x", ""),
            ("y", "1")
        ])));
        assert!(Selector::default().matches(&labels(&[])));
    }

    #[test]
    fn a_selector_that_is_not_a_mapping_is_refused() {
        for text in [
            "app=web\n",
            "matchLabels: [app]\n",
            "matchExpressions: {key: a}\n",
        ] {
            let docs = bulwark_misconfig::yaml::parse_str("s", text).unwrap();
            assert!(
                Selector::parse(docs[0].root.as_ref().unwrap()).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_operator_is_refused() {
        let docs = bulwark_misconfig::yaml::parse_str(
            "s",
            "matchExpressions:\n- {key: tier, operator: Like, values: [a]}\n",
        )
        .unwrap();
        let e = Selector::parse(docs[0].root.as_ref().unwrap()).unwrap_err();
        assert_eq!(e.0, 2);
    }
}
