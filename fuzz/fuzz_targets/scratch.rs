//! A temporary folder the fuzz targets write their inputs into, made once per process.

use std::path::PathBuf;
use std::sync::OnceLock;

/// `name` inside the process's scratch folder.
pub fn file(name: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
        .join(name)
}
