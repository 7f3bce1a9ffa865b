//! Arbitrary-length unsigned decimal numbers, compared by value.
//!
//! Most version schemes compare digit runs numerically with no upper bound
//! (dpkg, rpm, PEP 440, RubyGems, Maven's BigInteger items). Keeping the
//! digits instead of parsing into a fixed-width integer means a 30-digit
//! date stamp can neither overflow nor be mis-ordered.

use std::cmp::Ordering;

/// A non-negative decimal integer of any length. Leading zeros are dropped,
/// so `007 == 7` and zero is the empty digit string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Num(String);

impl Num {
    /// Builds a number from a run of ASCII digits. Callers guarantee `digits`
    /// holds only `0-9`; anything else would make the ordering meaningless.
    pub fn from_digits(digits: &str) -> Num {
        Num(digits.trim_start_matches('0').to_string())
    }

    /// The number zero.
    pub fn zero() -> Num {
        Num(String::new())
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// The value as `u64` when it fits.
    pub fn to_u64(&self) -> Option<u64> {
        if self.0.is_empty() {
            return Some(0);
        }
        self.0.parse().ok()
    }

    /// Number of significant digits.
    pub fn digits(&self) -> usize {
        self.0.len()
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        // Without leading zeros, more digits means a larger value; equal
        // lengths compare digit by digit.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Length of the run of ASCII digits at the start of `b`.
pub(crate) fn digit_run(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}
