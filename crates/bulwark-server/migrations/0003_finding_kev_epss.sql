-- KEV and EPSS per finding, as the scan that produced it knew them (NULL: unknown, e.g.
-- findings of an SBOM upload). Admission vulnerability gates ("no KEV", "max EPSS")
-- read them, and refuse to clear an image on NULL.
ALTER TABLE findings ADD COLUMN kev INTEGER;
ALTER TABLE findings ADD COLUMN epss DOUBLE PRECISION;
-- epss is DOUBLE PRECISION (this file first said REAL): on SQLite both names give the
-- column REAL affinity, so databases migrated with the old text are the same; on
-- PostgreSQL REAL is a 4-byte float and would round the stored probability.
