-- bulwark server store, migration 6: cheaper re-match writes. Portable SQL as in
-- migration 1.

-- Indexes on findings that no query uses: findings are read by image (the primary key's
-- first column) and by package (findings_package, the re-match's candidates), and
-- changed by their primary key. Each index cost every finding insert a B-tree insert.
DROP INDEX IF EXISTS findings_advisory;
DROP INDEX IF EXISTS findings_image_package;

-- findings and outbox without foreign keys. A re-match writes a finding and an outbox
-- row per event (214,120 of each in the 10,000-SBOM benchmark), and each foreign key
-- cost every row a lookup of its parent: on PostgreSQL a per-row trigger running a
-- query through SPI (about 40 % of the re-match's backend time). Integrity is kept by
-- the writers instead, which all run on the store's one writer (SQLite's write lock,
-- PostgreSQL's audit-head row lock), so nothing deletes a parent between their read and
-- their insert:
--   * findings are written by an upload (for the image and packages it stores in the
--     same transaction) and by the re-match (for image and package rows it read in the
--     same transaction);
--   * outbox rows are written by the re-match for the events it inserts in the same
--     transaction and the webhooks it read there;
--   * no code deletes images, packages or events (the cascades from them never ran);
--     deleting a webhook deletes its outbox rows in the same transaction, as the
--     cascade did (webhooks::delete);
--   * the sender reads the outbox joined to events and webhooks, so a row without them
--     would never be sent.
-- SQLite cannot drop a constraint: each table is rebuilt (new table, rows copied, old
-- table dropped, new one renamed), which runs the same on both backends.
CREATE TABLE findings_v6 (
    image_digest TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    package_id TEXT NOT NULL,
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
    kev INTEGER,
    epss DOUBLE PRECISION,
    PRIMARY KEY (image_digest, advisory_id, package_id)
);
INSERT INTO findings_v6 (image_digest, advisory_id, package_id, aliases, installed_version,
    fixed_version, status, severity, title, layer_digest, suppressed, state, scan_id,
    first_seen, updated_at, kev, epss)
SELECT image_digest, advisory_id, package_id, aliases, installed_version,
    fixed_version, status, severity, title, layer_digest, suppressed, state, scan_id,
    first_seen, updated_at, kev, epss
FROM findings;
DROP TABLE findings;
ALTER TABLE findings_v6 RENAME TO findings;
CREATE INDEX findings_package ON findings (package_id);

CREATE TABLE outbox_v6 (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
INSERT INTO outbox_v6 (id, event_id, webhook_id, attempts, next_attempt_at, last_status,
    last_error, created_at)
SELECT id, event_id, webhook_id, attempts, next_attempt_at, last_status, last_error,
    created_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v6 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (next_attempt_at);
-- (No index on webhook_id: deleting a webhook, rare, scans the outbox once; an index
-- would cost every row of a re-match another insert.)

-- Event payloads in parts. About 900 bytes of each re-match event's payload are shared
-- with other events (the image's and layer's objects with every event of that image
-- layer; the advice, advisory, feed and package objects with every image holding that
-- package): a re-match stores each such part once in event_parts and the event row
-- names its two parts (payload is then ''). The API and the webhooks assemble the
-- payload from them, the same bytes as before (rematch::event_payload). Rows written
-- before this migration keep their whole payload (both part columns NULL).
CREATE TABLE event_parts (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
ALTER TABLE events ADD COLUMN image_part TEXT;
ALTER TABLE events ADD COLUMN match_part TEXT;
