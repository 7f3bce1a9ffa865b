//! Java catalogers: archives (`java-archive`: jar/war/ear/par, nested jars included) and
//! Gradle and sbt lock files
//! (`gradle-lock`, `sbt-lock`) and `pom.xml` manifests (`pom`). Names are Maven coordinates `groupId:artifactId`.

pub mod archive;
pub mod gradle;
pub mod manifest;
pub mod pom;
pub mod sbt;

use crate::Cataloger;

/// Every Java cataloger.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(archive::JavaArchiveCataloger),
        Box::new(gradle::GradleLockCataloger),
        Box::new(sbt::SbtLockCataloger),
        Box::new(pom::PomCataloger),
    ]
}

#[cfg(test)]
mod tests;
