-- bulwark server store, migration 1: the schema for the whole of issue 8.
--
-- Written to run unchanged on SQLite (3.35+) and PostgreSQL (12+):
--   * types: TEXT, INTEGER, BIGINT only (no BLOB/BYTEA, no BOOLEAN: flags are INTEGER 0/1,
--     bound as i64 so PostgreSQL's strict typing accepts them);
--   * no auto-increment: ids are chosen by the server (random or content-derived hex),
--     sequences that must be gap-free (the audit log) are kept in a head row;
--   * times are BIGINT milliseconds since the Unix epoch (UTC);
--   * JSON documents are TEXT (never queried inside by SQL);
--   * every statement ends with ';' and none uses SQLite-only syntax (no WITHOUT ROWID,
--     no AUTOINCREMENT, no INSERT OR REPLACE: upserts are INSERT ... ON CONFLICT).

-- Images by manifest digest (or the config digest when no manifest digest is known).
CREATE TABLE images (
    digest TEXT PRIMARY KEY,
    image_id TEXT,
    registry TEXT,
    platform TEXT,
    team TEXT,
    owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX images_team ON images (team, digest);

-- Repositories and tags an image is known by; tag '' = known by digest only.
-- A (repository, tag) names one image at a time: moving a tag deletes its old row.
CREATE TABLE image_repositories (
    image_digest TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (image_digest, repository, tag)
);
CREATE INDEX image_repositories_name ON image_repositories (repository, tag);

-- Image config labels (owner and team come from here or from the upload).
CREATE TABLE image_labels (
    image_digest TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    label TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_digest, label)
);

-- Layers by blob digest, stored once however many images share them. A layer's package
-- list is immutable once stored. Packages an SBOM does not place in any layer go to a
-- per-image pseudo-layer 'unlayered:<image digest>' (replaced on each upload).
CREATE TABLE layers (
    digest TEXT PRIMARY KEY,
    diff_id TEXT,
    size BIGINT,
    package_count BIGINT NOT NULL,
    stored_at BIGINT NOT NULL
);

-- The layers of each image, bottom first. is_base: 1 when the layer belongs to a known
-- base image (filled by base-image detection, issue 8 item 5; 0 until then).
CREATE TABLE image_layers (
    image_digest TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    layer_digest TEXT NOT NULL REFERENCES layers (digest),
    created_by TEXT,
    is_base INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (image_digest, position)
);
CREATE INDEX image_layers_layer ON image_layers (layer_digest);

-- Package identities, de-duplicated across every layer and image. id = first 128 bits of
-- SHA-256 over (ecosystem, name, version, purl), hex.
CREATE TABLE packages (
    id TEXT PRIMARY KEY,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    purl TEXT NOT NULL,
    source_name TEXT,
    source_version TEXT
);
-- The continuous re-match looks packages up by exactly these keys (distro advisories
-- are keyed by source package).
CREATE INDEX packages_ecosystem_name ON packages (ecosystem, name);
CREATE INDEX packages_ecosystem_source ON packages (ecosystem, source_name);

-- Which packages each layer holds, and where.
CREATE TABLE layer_packages (
    layer_digest TEXT NOT NULL REFERENCES layers (digest) ON DELETE CASCADE,
    package_id TEXT NOT NULL REFERENCES packages (id),
    path TEXT NOT NULL,
    found_by TEXT NOT NULL,
    PRIMARY KEY (layer_digest, package_id, path)
);
CREATE INDEX layer_packages_package ON layer_packages (package_id);

-- One SBOM per image digest: what was stored last (the packages live in the layers).
CREATE TABLE sboms (
    image_digest TEXT PRIMARY KEY REFERENCES images (digest) ON DELETE CASCADE,
    format TEXT NOT NULL CHECK (format IN ('cyclonedx', 'spdx', 'bulwark-report')),
    document_sha256 TEXT NOT NULL,
    os_family TEXT,
    os_version TEXT,
    package_count BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    stored_by TEXT
);

-- Each upload or server-side scan of an image.
CREATE TABLE scans (
    id TEXT PRIMARY KEY,
    image_digest TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('report', 'sbom', 'job', 'rematch')),
    tool TEXT,
    schema_version INTEGER,
    document_sha256 TEXT NOT NULL,
    incomplete INTEGER NOT NULL,
    scanned_at TEXT,
    stored_at BIGINT NOT NULL,
    stored_by TEXT
);
CREATE INDEX scans_image ON scans (image_digest, stored_at);

-- The current vulnerability state of each image. state: affected (matched now), fixed
-- (a fix appeared upstream), withdrawn (the advisory was withdrawn); the re-match moves
-- rows between states and records an event for each move.
CREATE TABLE findings (
    image_digest TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    advisory_id TEXT NOT NULL,
    package_id TEXT NOT NULL REFERENCES packages (id),
    aliases TEXT NOT NULL,
    installed_version TEXT NOT NULL,
    fixed_version TEXT,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    layer_digest TEXT,
    suppressed TEXT,
    state TEXT NOT NULL CHECK (state IN ('affected', 'fixed', 'withdrawn')),
    scan_id TEXT,
    first_seen BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_digest, advisory_id, package_id)
);
CREATE INDEX findings_advisory ON findings (advisory_id);
CREATE INDEX findings_package ON findings (package_id);

-- Signatures and attestations seen on an image (reported by uploads, admit, or jobs).
CREATE TABLE signatures (
    id TEXT PRIMARY KEY,
    image_digest TEXT NOT NULL REFERENCES images (digest) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('signature', 'attestation')),
    predicate_type TEXT,
    identity TEXT,
    issuer TEXT,
    verified INTEGER NOT NULL,
    reference TEXT,
    seen_at BIGINT NOT NULL,
    reported_by TEXT
);
CREATE INDEX signatures_image ON signatures (image_digest);

-- Where images run, as reported by `bulwark admit` (reporter 'admission') and
-- `bulwark sensor` (reporter 'sensor'). image_digest is not a foreign key: a workload may
-- run an image the inventory has not seen yet (which is itself worth reporting).
CREATE TABLE placements (
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    workload_kind TEXT NOT NULL,
    workload TEXT NOT NULL,
    container TEXT NOT NULL,
    node TEXT NOT NULL,
    reporter TEXT NOT NULL CHECK (reporter IN ('admission', 'sensor')),
    image_digest TEXT NOT NULL,
    image_ref TEXT,
    reported_by TEXT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (cluster, namespace, workload_kind, workload, container, node, reporter)
);
CREATE INDEX placements_image ON placements (image_digest);

-- API tokens: id is the public lookup prefix; only an argon2id hash of the secret is kept.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'security', 'developer', 'ci-uploader', 'auditor', 'sensor', 'admission')),
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    created_by TEXT NOT NULL
);
CREATE TABLE api_token_teams (
    token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    team TEXT NOT NULL,
    PRIMARY KEY (token_id, team)
);

-- The hash-chained audit log. seq is gap-free from 1; hash = SHA-256 over the canonical
-- encoding of every other column and prev_hash (see src/store/audit.rs).
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    decision TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- The chain's head: one row, updated in the same transaction as each append. On
-- PostgreSQL the UPDATE of this row is what serialises concurrent appenders.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Work queue (server-side pulls and scans, re-matches). Claimed with
-- FOR UPDATE SKIP LOCKED on PostgreSQL, by the in-process worker on SQLite.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_after BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_claim ON jobs (state, run_after);

-- Feed deltas imported (each re-match starts from one).
CREATE TABLE feed_deltas (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    new_count BIGINT NOT NULL,
    changed_count BIGINT NOT NULL,
    withdrawn_count BIGINT NOT NULL,
    imported_at BIGINT NOT NULL,
    rematched_at BIGINT
);

-- Events (newly affected, fixed upstream, no longer affected), written in the same
-- transaction as the finding change that caused them.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    image_digest TEXT NOT NULL,
    delta_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_image ON events (image_digest, created_at);
CREATE INDEX events_created ON events (created_at, id);

-- Webhook subscriptions. The HMAC secret must be readable by the sender, so it is kept
-- as given (protect the database file; see docs/server.md).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('generic', 'repository-dispatch')),
    secret TEXT NOT NULL,
    team TEXT,
    enabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per (event, webhook) until delivered: at-least-once delivery.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);

-- Deliveries that ran out of attempts, kept for the API and for replay.
CREATE TABLE dead_letters (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    failed_at BIGINT NOT NULL
);
