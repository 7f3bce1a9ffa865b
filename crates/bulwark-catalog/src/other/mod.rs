//! Smaller ecosystems: Conan, Swift, CocoaPods, Dart, Elixir, Julia and Conda, plus the
//! plumbing ([`support`]) the Ruby, PHP and .NET catalogers share.

pub mod support;

#[cfg(test)]
pub(crate) mod expected;

use crate::Cataloger;

/// The catalogers of the smaller ecosystems.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![]
}
