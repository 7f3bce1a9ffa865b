//! A verification cache for admission-time checks: verdicts keyed by (manifest
//! digest, policy hash), successes and failures alike, each kept for its own time to
//! live, at most `capacity` entries, safe to share between threads. A warm lookup is
//! one hash-map probe under a mutex; it never calls the verifier.
//!
//! When full, expired entries are dropped first, then the oldest insertion; that scan
//! is linear but only runs on insert into a full cache, never on lookups.

use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Cache key: manifest digest + policy hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// `sha256:<hex>` of the image manifest.
    pub manifest_digest: String,
    /// SHA-256 of the policy's canonical description.
    pub policy: [u8; 32],
}

impl Key {
    /// A key from a digest and a policy description (any stable bytes that change when
    /// the policy changes: keys, identities, required annotations, trusted root hash).
    pub fn new(manifest_digest: &str, policy: &[u8]) -> Self {
        Key {
            manifest_digest: manifest_digest.to_string(),
            policy: Sha256::digest(policy).into(),
        }
    }
}

/// A cached verdict.
pub type Verdict<T> = Result<T, String>;

struct Entry<T> {
    verdict: Verdict<T>,
    expires: Instant,
    inserted: Instant,
}

/// Cache configuration.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How long a success is remembered.
    pub success_ttl: Duration,
    /// How long a failure is remembered.
    pub failure_ttl: Duration,
    /// Most entries kept.
    pub capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            success_ttl: Duration::from_secs(300),
            failure_ttl: Duration::from_secs(30),
            capacity: 10_000,
        }
    }
}

/// The cache.
pub struct VerificationCache<T> {
    cfg: Config,
    map: Mutex<HashMap<Key, Entry<T>>>,
}

impl<T: Clone> VerificationCache<T> {
    /// An empty cache.
    pub fn new(cfg: Config) -> Self {
        VerificationCache {
            cfg,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry<T>>> {
        // A panic while holding the lock cannot leave an entry half-written (inserts
        // and removals are single map operations), so a poisoned map is still sound.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached verdict, if present and not expired.
    pub fn get(&self, key: &Key) -> Option<Verdict<T>> {
        self.get_at(key, Instant::now())
    }

    fn get_at(&self, key: &Key, now: Instant) -> Option<Verdict<T>> {
        let mut m = self.lock();
        match m.get(key) {
            Some(e) if e.expires > now => Some(e.verdict.clone()),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores a verdict.
    pub fn insert(&self, key: Key, verdict: Verdict<T>) {
        let now = Instant::now();
        let ttl = if verdict.is_ok() {
            self.cfg.success_ttl
        } else {
            self.cfg.failure_ttl
        };
        let mut m = self.lock();
        if self.cfg.capacity == 0 {
            return;
        }
        if m.len() >= self.cfg.capacity && !m.contains_key(&key) {
            m.retain(|_, e| e.expires > now);
            while m.len() >= self.cfg.capacity {
                let oldest = m
                    .iter()
                    .min_by_key(|(_, e)| e.inserted)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => {
                        m.remove(&k);
                    }
                    None => break,
                }
            }
        }
        m.insert(
            key,
            Entry {
                verdict,
                expires: now + ttl,
                inserted: now,
            },
        );
    }

    /// The cached verdict, or runs `verify` (outside the lock) and caches its result.
    pub fn get_or_verify(&self, key: &Key, verify: impl FnOnce() -> Verdict<T>) -> Verdict<T> {
        if let Some(v) = self.get(key) {
            return v;
        }
        let v = verify();
        self.insert(key.clone(), v.clone());
        v
    }

    /// Number of entries (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything (e.g. when the trusted root changes).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn remembers_success_and_failure_with_ttl() {
        let c = VerificationCache::<u32>::new(Config {
            success_ttl: Duration::from_secs(60),
            failure_ttl: Duration::from_millis(1),
            capacity: 10,
        });
        let calls = AtomicUsize::new(0);
        let ok = Key::new("sha256:aa", b"policy");
        let bad = Key::new("sha256:bb", b"policy");
        for _ in 0..3 {
            assert_eq!(
                c.get_or_verify(&ok, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(7)
                }),
                Ok(7)
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        c.insert(bad.clone(), Err("tampered".into()));
        assert_eq!(c.get(&bad), Some(Err("tampered".into())));
        // The failure expires; looking it up at a later instant misses.
        let later = Instant::now() + Duration::from_millis(5);
        assert_eq!(c.get_at(&bad, later), None);
        // Another policy is another key.
        assert_eq!(c.get(&Key::new("sha256:aa", b"other")), None);
    }

    #[test]
    fn bounded() {
        let c = VerificationCache::<u32>::new(Config {
            capacity: 3,
            ..Config::default()
        });
        for i in 0..10 {
            c.insert(Key::new(&format!("sha256:{i}"), b"p"), Ok(i));
        }
        assert_eq!(c.len(), 3);
        // The newest survive.
        assert_eq!(c.get(&Key::new("sha256:9", b"p")), Some(Ok(9)));
        assert_eq!(c.get(&Key::new("sha256:0", b"p")), None);
    }

    #[test]
    fn shared_between_threads() {
        let c = Arc::new(VerificationCache::<u32>::new(Config::default()));
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        let k = Key::new(&format!("sha256:{}", i % 10), b"p");
                        let v = c.get_or_verify(&k, || Ok(i % 10));
                        assert_eq!(v, Ok(i % 10), "thread {t}");
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(c.len(), 10);
    }
}
