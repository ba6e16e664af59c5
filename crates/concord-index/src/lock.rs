//! The write lock: one process at a time changes a collection (an advisory lock on
//! `DIR/lock`, released when the process ends, however it ends).

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::path::Path;

const LOCK: &str = "lock";

/// Takes the collection's write lock, or says who holds it.
pub(crate) fn take_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if f.try_lock().is_err() {
        bail!(
            "{} is being changed by another concord process (a running `concord serve` holds it \
             until it stops); try again when it is done, or send the change to the server's API",
            dir.display()
        );
    }
    Ok(f)
}
