//! PHP Composer packages: `composer.lock` and `vendor/composer/installed.json`.

pub mod composer;

use crate::other::support::FnCataloger;
use crate::util::{file_name, parent};
use crate::Cataloger;

/// The PHP catalogers: `composer-lock` and `composer-installed`.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        FnCataloger::boxed("composer-lock", wants_lock, composer::parse_lock),
        FnCataloger::boxed(
            "composer-installed",
            wants_installed,
            composer::parse_installed,
        ),
    ]
}

fn wants_lock(path: &str) -> bool {
    file_name(path) == "composer.lock"
}

fn wants_installed(path: &str) -> bool {
    file_name(path) == "installed.json" && file_name(parent(path)) == "composer"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScanMode;

    #[test]
    fn php_wants() {
        let c = catalogers();
        assert!(c[0].wants("srv/app/composer.lock", 1, 0o100644, ScanMode::Source));
        assert!(c[1].wants(
            "app/vendor/composer/installed.json",
            1,
            0o100644,
            ScanMode::Image
        ));
        assert!(!c[1].wants("app/installed.json", 1, 0o100644, ScanMode::Image));
        assert!(!c[0].wants("composer.lock", 1, 0o040755, ScanMode::Image));
    }
}
