//! Globs for namespaces, users, labels and image names: `*` matches any run of
//! characters (slashes included, so `ghcr.io/acme/*` covers nested repositories), `?`
//! one character, everything else itself. Written by hand: two wildcards over short
//! strings, matched with the classic backtracking loop in linear time per star; a
//! glob crate's path semantics (`*` stopping at `/`) would be the wrong ones here.

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
    text: String,
}

/// Longest pattern accepted.
pub const MAX_GLOB: usize = 1024;

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern (use \"*\" to match everything)".into());
        }
        if pattern.len() > MAX_GLOB {
            return Err(format!("pattern longer than {MAX_GLOB} bytes"));
        }
        Ok(Glob {
            pattern: pattern.chars().collect(),
            text: pattern.to_string(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `s` matches the whole pattern.
    pub fn matches(&self, s: &str) -> bool {
        let s: Vec<char> = s.chars().collect();
        let p = &self.pattern;
        let (mut pi, mut si) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match p.get(pi) {
                Some('*') => {
                    star = Some((pi, si));
                    pi += 1;
                }
                Some(&c) if c == '?' || s.get(si) == Some(&c) => {
                    pi += 1;
                    si += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        pi = sp + 1;
                        si = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        p.get(pi..)
            .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
    }
}

/// Whether any glob of `globs` matches `s`.
pub fn any(globs: &[Glob], s: &str) -> bool {
    globs.iter().any(|g| g.matches(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("*", "anything/at/all"));
        assert!(m("ghcr.io/acme/*", "ghcr.io/acme/shop/api"));
        assert!(!m("ghcr.io/acme/*", "ghcr.io/acme"));
        assert!(!m("ghcr.io/acme/*", "ghcr.io/acmex/shop"));
        assert!(m("prod-?", "prod-1"));
        assert!(!m("prod-?", "prod-12"));
        assert!(m("*-system", "kube-system"));
        assert!(!m("kube-system", "kube-system2"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(Glob::new("").is_err());
    }
}
