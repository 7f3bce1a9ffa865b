//! Cancellation and deadlines for long reads (walks, pulls, daemon exports).
//!
//! A [`Cancel`] is a cheap, cloneable token: a shared flag that any thread may raise and
//! an optional deadline. Readers call [`Cancel::check`] between layers, per tar entry and
//! per chunk of a layer stream, so a cancelled or expired scan stops within one buffer's
//! worth of work and returns [`ImageError::Cancelled`] or
//! [`ImageError::DeadlineExceeded`] — never a partial result.

use crate::ImageError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cancellation flag plus an optional deadline, shared by clones.
#[derive(Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Option<(Instant, Duration)>,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .field("deadline", &self.deadline.map(|(_, d)| d))
            .finish()
    }
}

impl Cancel {
    /// A token that is never cancelled until [`Cancel::cancel`] is called.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// The same token (clones share the flag) with a deadline `budget` from now.
    pub fn with_timeout(mut self, budget: Duration) -> Cancel {
        self.deadline = Instant::now().checked_add(budget).map(|at| (at, budget));
        self
    }

    /// Whether a deadline is set.
    pub fn has_deadline(&self) -> bool {
        self.deadline.is_some()
    }

    /// Raises the flag: every holder of a clone stops at its next check.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether the flag is raised (the deadline is not consulted).
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// `Err` once cancelled or past the deadline.
    pub fn check(&self) -> Result<(), ImageError> {
        if self.is_cancelled() {
            return Err(ImageError::Cancelled);
        }
        if let Some((at, budget)) = self.deadline {
            if Instant::now() >= at {
                return Err(ImageError::DeadlineExceeded {
                    budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_deadlines_expire() {
        let c = Cancel::new();
        let d = c.clone();
        assert!(c.check().is_ok());
        d.cancel();
        assert!(matches!(c.check(), Err(ImageError::Cancelled)));
        let t = Cancel::new().with_timeout(Duration::ZERO);
        assert!(matches!(
            t.check(),
            Err(ImageError::DeadlineExceeded { budget_ms: 0 })
        ));
    }
}
