//! Authorization: roles and the one table that says which roles may call which endpoint.
//!
//! Default deny: an endpoint lists the roles it admits, and nothing else gets in. The
//! router is built from [`Endpoint::ALL`] (see `api.rs`), so a route cannot exist without
//! a row here, and the OpenAPI test checks the document against the same list. Team
//! scoping (developer tokens see only their teams' images) is applied by every inventory
//! query through [`Scope`].

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A principal's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, including tokens.
    Admin,
    /// Reads everything; manages ignores and VEX.
    Security,
    /// Reads the images of its own teams.
    Developer,
    /// Uploads SBOMs and reports (of its teams, when it has any).
    CiUploader,
    /// Reads the audit log.
    Auditor,
    /// `bulwark sensor`: reports placements.
    Sensor,
    /// `bulwark admit`: reports placements and verdicts.
    Admission,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Security,
        Role::Developer,
        Role::CiUploader,
        Role::Auditor,
        Role::Sensor,
        Role::Admission,
    ];

    /// The name used in the API, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Security => "security",
            Role::Developer => "developer",
            Role::CiUploader => "ci-uploader",
            Role::Auditor => "auditor",
            Role::Sensor => "sensor",
            Role::Admission => "admission",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?} (expected admin, security, developer, ci-uploader, auditor, sensor or admission)"
                )
            })
    }
}

/// HTTP methods used by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Every endpoint of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /healthz`.
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /openapi.json`.
    OpenApi,
    /// `GET /metrics` (Prometheus).
    Metrics,
    /// `GET /v1/whoami`.
    Whoami,
    /// `POST /v1/sboms`.
    UploadSbom,
    /// `POST /v1/reports`.
    UploadReport,
    /// `GET /v1/images`.
    ListImages,
    /// `GET /v1/images/{digest}`.
    GetImage,
    /// `GET /v1/images/{digest}/packages`.
    ImagePackages,
    /// `GET /v1/images/{digest}/findings`.
    ImageFindings,
    /// `GET /v1/images/{digest}/placements`.
    ImagePlacements,
    /// `PUT /v1/placements`.
    PutPlacements,
    /// `POST /v1/tokens`.
    CreateToken,
    /// `GET /v1/tokens`.
    ListTokens,
    /// `DELETE /v1/tokens/{id}`.
    RevokeToken,
    /// `GET /v1/audit`.
    ReadAudit,
    /// `POST /v1/admission/decisions`.
    AdmissionDecisions,
    /// `POST /v1/vulndb/osv`: import OSV records (a feed delta, re-matched at once).
    ImportOsv,
    /// `GET /v1/events`.
    ListEvents,
    /// `POST /v1/base-images`: register a base image's layers.
    RegisterBase,
    /// `POST /v1/webhooks`.
    CreateWebhook,
    /// `GET /v1/webhooks`.
    ListWebhooks,
    /// `DELETE /v1/webhooks/{id}`.
    DeleteWebhook,
    /// `GET /v1/dead-letters`.
    DeadLetters,
    /// `POST /v1/runtime/alerts`: the runtime sensor's alerts, into the audit log.
    RuntimeAlerts,
    /// `POST /v1/vex`: store a VEX document.
    CreateVex,
    /// `GET /v1/vex`.
    ListVex,
    /// `DELETE /v1/vex/{id}`.
    DeleteVex,
    /// `POST /v1/ignores`: store an ignore rule.
    CreateIgnore,
    /// `GET /v1/ignores`.
    ListIgnores,
    /// `DELETE /v1/ignores/{id}`.
    DeleteIgnore,
    /// `POST /v1/jobs`: queue a pull-and-scan job.
    CreateJob,
    /// `GET /v1/jobs`.
    ListJobs,
    /// `GET /v1/jobs/{id}`.
    GetJob,
}

use Role::*;

const READERS: &[Role] = &[Admin, Security, Developer];

impl Endpoint {
    /// Every endpoint, in the order of the docs.
    pub const ALL: [Endpoint; 35] = [
        Endpoint::Healthz,
        Endpoint::Readyz,
        Endpoint::OpenApi,
        Endpoint::Metrics,
        Endpoint::Whoami,
        Endpoint::UploadSbom,
        Endpoint::UploadReport,
        Endpoint::ListImages,
        Endpoint::GetImage,
        Endpoint::ImagePackages,
        Endpoint::ImageFindings,
        Endpoint::ImagePlacements,
        Endpoint::PutPlacements,
        Endpoint::CreateToken,
        Endpoint::ListTokens,
        Endpoint::RevokeToken,
        Endpoint::ReadAudit,
        Endpoint::AdmissionDecisions,
        Endpoint::ImportOsv,
        Endpoint::ListEvents,
        Endpoint::RegisterBase,
        Endpoint::CreateWebhook,
        Endpoint::ListWebhooks,
        Endpoint::DeleteWebhook,
        Endpoint::DeadLetters,
        Endpoint::RuntimeAlerts,
        Endpoint::CreateVex,
        Endpoint::ListVex,
        Endpoint::DeleteVex,
        Endpoint::CreateIgnore,
        Endpoint::ListIgnores,
        Endpoint::DeleteIgnore,
        Endpoint::CreateJob,
        Endpoint::ListJobs,
        Endpoint::GetJob,
    ];

    /// The method and the route (axum's `{param}` syntax, also OpenAPI's).
    pub fn route(self) -> (Method, &'static str) {
        use Method::*;
        match self {
            Endpoint::Healthz => (Get, "/healthz"),
            Endpoint::Readyz => (Get, "/readyz"),
            Endpoint::OpenApi => (Get, "/openapi.json"),
            Endpoint::Metrics => (Get, "/metrics"),
            Endpoint::Whoami => (Get, "/v1/whoami"),
            Endpoint::UploadSbom => (Post, "/v1/sboms"),
            Endpoint::UploadReport => (Post, "/v1/reports"),
            Endpoint::ListImages => (Get, "/v1/images"),
            Endpoint::GetImage => (Get, "/v1/images/{digest}"),
            Endpoint::ImagePackages => (Get, "/v1/images/{digest}/packages"),
            Endpoint::ImageFindings => (Get, "/v1/images/{digest}/findings"),
            Endpoint::ImagePlacements => (Get, "/v1/images/{digest}/placements"),
            Endpoint::PutPlacements => (Put, "/v1/placements"),
            Endpoint::CreateToken => (Post, "/v1/tokens"),
            Endpoint::ListTokens => (Get, "/v1/tokens"),
            Endpoint::RevokeToken => (Delete, "/v1/tokens/{id}"),
            Endpoint::ReadAudit => (Get, "/v1/audit"),
            Endpoint::AdmissionDecisions => (Post, "/v1/admission/decisions"),
            Endpoint::ImportOsv => (Post, "/v1/vulndb/osv"),
            Endpoint::ListEvents => (Get, "/v1/events"),
            Endpoint::RegisterBase => (Post, "/v1/base-images"),
            Endpoint::CreateWebhook => (Post, "/v1/webhooks"),
            Endpoint::ListWebhooks => (Get, "/v1/webhooks"),
            Endpoint::DeleteWebhook => (Delete, "/v1/webhooks/{id}"),
            Endpoint::DeadLetters => (Get, "/v1/dead-letters"),
            Endpoint::RuntimeAlerts => (Post, "/v1/runtime/alerts"),
            Endpoint::CreateVex => (Post, "/v1/vex"),
            Endpoint::ListVex => (Get, "/v1/vex"),
            Endpoint::DeleteVex => (Delete, "/v1/vex/{id}"),
            Endpoint::CreateIgnore => (Post, "/v1/ignores"),
            Endpoint::ListIgnores => (Get, "/v1/ignores"),
            Endpoint::DeleteIgnore => (Delete, "/v1/ignores/{id}"),
            Endpoint::CreateJob => (Post, "/v1/jobs"),
            Endpoint::ListJobs => (Get, "/v1/jobs"),
            Endpoint::GetJob => (Get, "/v1/jobs/{id}"),
        }
    }

    /// `None`: public (no authentication: health, readiness, the API document).
    /// `Some(roles)`: the roles admitted; everyone else is denied.
    pub fn allowed(self) -> Option<&'static [Role]> {
        match self {
            Endpoint::Healthz | Endpoint::Readyz | Endpoint::OpenApi => None,
            Endpoint::Whoami => Some(&Role::ALL),
            Endpoint::UploadSbom | Endpoint::UploadReport => Some(&[Admin, CiUploader]),
            Endpoint::ListImages
            | Endpoint::GetImage
            | Endpoint::ImagePackages
            | Endpoint::ImagePlacements
            | Endpoint::ListEvents => Some(READERS),
            // The admission webhook decides vulnerability gates from stored findings.
            Endpoint::ImageFindings => Some(&[Admin, Security, Developer, Admission]),
            Endpoint::ImportOsv | Endpoint::RegisterBase => Some(&[Admin, Security]),
            Endpoint::CreateWebhook | Endpoint::ListWebhooks | Endpoint::DeleteWebhook => {
                Some(&[Admin])
            }
            Endpoint::DeadLetters => Some(&[Admin, Security]),
            Endpoint::PutPlacements => Some(&[Admin, Sensor, Admission]),
            Endpoint::CreateToken | Endpoint::ListTokens | Endpoint::RevokeToken => Some(&[Admin]),
            Endpoint::ReadAudit => Some(&[Admin, Auditor]),
            Endpoint::AdmissionDecisions => Some(&[Admin, Admission]),
            Endpoint::RuntimeAlerts => Some(&[Admin, Sensor]),
            // Suppressions are the security role's decisions; every reader may see them
            // (they explain why a finding is marked suppressed).
            Endpoint::CreateVex
            | Endpoint::DeleteVex
            | Endpoint::CreateIgnore
            | Endpoint::DeleteIgnore => Some(&[Admin, Security]),
            Endpoint::ListVex | Endpoint::ListIgnores => Some(READERS),
            // A Prometheus scraper uses an auditor token (read-only, no inventory).
            Endpoint::Metrics => Some(&[Admin, Auditor]),
            // Whoever may put results in the inventory may ask the server to make them.
            Endpoint::CreateJob | Endpoint::ListJobs | Endpoint::GetJob => {
                Some(&[Admin, Security, CiUploader])
            }
        }
    }

    /// Whether `role` may call this endpoint.
    pub fn admits(self, role: Role) -> bool {
        self.allowed().is_none_or(|roles| roles.contains(&role))
    }

    /// Whether the endpoint changes state (its mutation is audited with its result).
    pub fn mutates(self) -> bool {
        matches!(self.route().0, Method::Post | Method::Put | Method::Delete)
    }

    /// `GET /v1/images/{digest}`, for logs and the audit log.
    pub fn name(self) -> String {
        let (m, p) = self.route();
        format!("{} {p}", m.as_str())
    }
}

/// Which images a principal may see or write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every image (admin, security; uploaders without teams).
    All,
    /// Only images whose team is one of these (developers; team-scoped uploaders). An
    /// empty list sees nothing.
    Teams(Vec<String>),
}

impl Scope {
    /// Whether an image of `team` is in scope.
    pub fn sees(&self, team: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Teams(ts) => team.is_some_and(|t| ts.iter().any(|x| x == t)),
        }
    }
}

/// The scope of a role with these teams. Developers are always team-scoped (no teams:
/// nothing visible); other roles are team-scoped when the token names teams.
pub fn scope_for(role: Role, teams: &[String]) -> Scope {
    match role {
        Role::Developer => Scope::Teams(teams.to_vec()),
        _ if teams.is_empty() => Scope::All,
        _ => Scope::Teams(teams.to_vec()),
    }
}
