-- bulwark server store, migration 4: server-side pull-and-scan jobs (the `jobs` table of
-- migration 1, used from here on) and the layer-result cache shared by every worker.
-- Portable SQL as in migration 1.

-- Who asked for a job, for which team, and what it produced.
ALTER TABLE jobs ADD COLUMN team TEXT;
ALTER TABLE jobs ADD COLUMN created_by TEXT;
ALTER TABLE jobs ADD COLUMN result TEXT;
CREATE INDEX jobs_created ON jobs (created_at, id);

-- Per-layer analysis records (the engine's layer-result cache, second tier), keyed by
-- the analyzer key (a hash of the analyzer version, the catalogers, the scanners'
-- configuration and the walk limits), the layer blob's digest and the entry name
-- ('layer', or 'links-<request hash>' for link-target visits). body is the record's
-- JSON; body_sha256 is checked on every read. Rows are immutable once written.
CREATE TABLE layer_results (
    analyzer_key TEXT NOT NULL,
    layer_digest TEXT NOT NULL,
    entry TEXT NOT NULL,
    body TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (analyzer_key, layer_digest, entry)
);
