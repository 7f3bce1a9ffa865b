-- Server-side suppressions (security role): VEX documents (OpenVEX or CycloneDX, kept
-- as uploaded) and ignore rules. Applied when findings are read; the version row is
-- bumped by every change so that each replica re-reads them once per change.
CREATE TABLE vex_documents (
    id TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    name TEXT,
    body TEXT NOT NULL,
    statements BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE ignore_rules (
    id TEXT PRIMARY KEY,
    vulnerability TEXT NOT NULL,
    purl TEXT,
    image_digest TEXT,
    reason TEXT NOT NULL,
    expires TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE suppression_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO suppression_state (id, version) VALUES (1, 0);
