-- bulwark server store, migration 2: continuous re-match, base images, webhooks.
-- Same portability rules as migration 1 (runs unchanged on SQLite and PostgreSQL).

-- The name a package is looked up under in the advisory feed, normalised as the feed's
-- index is (bulwark_vulndb::store::package_key): the source package for deb and apk,
-- lower case for Go, NuGet and Composer, PEP 503 for PyPI, the name elsewhere. The
-- re-match joins the delta's (ecosystem, name) pairs on exactly this index.
ALTER TABLE packages ADD COLUMN match_name TEXT;
UPDATE packages SET match_name = CASE
    WHEN ecosystem IN ('deb', 'apk') THEN COALESCE(source_name, name)
    WHEN ecosystem IN ('golang', 'nuget', 'composer') THEN LOWER(name)
    WHEN ecosystem = 'pypi' THEN LOWER(REPLACE(REPLACE(name, '_', '-'), '.', '-'))
    ELSE name END;
CREATE INDEX packages_match ON packages (ecosystem, match_name);

-- Layers known to belong to a base image (registered through the API); image_layers.is_base
-- is set from this table and from layer history (see docs/server.md, "Rebuild events").
CREATE TABLE base_layers (
    layer_digest TEXT PRIMARY KEY,
    base_name TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    registered_by TEXT
);

-- The vulnerability DB generation the stored findings were last re-matched against.
-- One row; NULL until the server has seen a DB.
CREATE TABLE vulndb_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation TEXT,
    updated_at BIGINT NOT NULL
);
INSERT INTO vulndb_state (id, generation, updated_at) VALUES (1, NULL, 0);

-- Webhooks: a display name and an optional bearer token (a GitHub repository_dispatch
-- call needs one), kept like the HMAC secret.
ALTER TABLE webhooks ADD COLUMN name TEXT;
ALTER TABLE webhooks ADD COLUMN bearer_token TEXT;

CREATE INDEX findings_image_package ON findings (image_digest, package_id);
CREATE INDEX dead_letters_failed ON dead_letters (failed_at, id);
