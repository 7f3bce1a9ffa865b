//! Vulnerability matching of a report's packages against the DB.
