//! `concord serve`: runs the HTTP service over a collection until SIGINT or SIGTERM.

use crate::cmd_collection::CollectionArg;
use crate::cmd_model::{load_embedder_on, load_embedder_onto, ModelChoice};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use concord_index::{Collection, IndexParams};
use concord_ingest::model_stamp;
use concord_server::{Limits, Protect, ServeOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, ValueEnum)]
pub enum ProtectArg {
    /// Only changes to the collection need the key.
    Writes,
    /// Every route but /health needs the key.
    All,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// Another model to run for the embedding routes (repeatable; a folder or a Hub id,
    /// as --model takes). Requests pick one with their `model` field: a model's folder
    /// name or Hub id, as `GET /info` lists them. The collection's model is --model's.
    #[arg(long = "embed-model", value_name = "MODEL")]
    embed_models: Vec<String>,
    /// Address to listen on; anything but loopback exposes the service to the network.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Host names the service answers for besides the loopback names (comma-separated;
    /// `.example.com` also allows its subdomains, `*` allows any). Requests whose Host
    /// header names another host get 421, which guards against DNS rebinding. Without
    /// it, a loopback bind answers only localhost, 127.x.x.x and [::1], and any other
    /// bind answers every name.
    #[arg(long, value_delimiter = ',', value_name = "HOSTS")]
    allowed_hosts: Option<Vec<String>>,
    /// File holding the API key (bearer token). Otherwise the key comes from the
    /// CONCORD_API_KEY environment variable; with neither, no key is asked for.
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// What the API key guards.
    #[arg(long, value_enum, default_value = "writes")]
    protect: ProtectArg,
    /// Tokens the inference queue holds (every unfinished job) before answering 429.
    #[arg(long, default_value_t = ServeOptions::default().max_queue_tokens)]
    max_queue_tokens: usize,
    /// Tokens one request may ask the model to run (its texts' windows, specials
    /// included); 413 above.
    #[arg(long, default_value_t = ServeOptions::default().max_request_tokens)]
    max_request_tokens: usize,
    /// Overlap queries admitted at once (running or waiting); 429 above.
    #[arg(long, default_value_t = ServeOptions::default().max_overlap_queries)]
    max_overlap_queries: usize,
    /// Token budget of one inference batch.
    #[arg(long, default_value_t = ServeOptions::default().batch_tokens)]
    batch_tokens: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Most texts in one request.
    #[arg(long, default_value_t = Limits::default().max_texts)]
    max_texts: usize,
    /// Longest text to embed or look up, in characters.
    #[arg(long, default_value_t = Limits::default().max_chars)]
    max_chars: usize,
    /// Largest article POST /documents accepts, in bytes.
    #[arg(long, default_value_t = Limits::default().max_article_bytes)]
    max_article_bytes: usize,
    /// Changes kept in the change log before they are committed to a new generation.
    #[arg(long, default_value_t = ServeOptions::default().commit_after)]
    commit_after: usize,
    /// Seconds between commits of pending changes.
    #[arg(long, default_value_t = ServeOptions::default().commit_interval.as_secs())]
    commit_interval: u64,
    /// Seconds a client may take to send a request line and headers before the
    /// connection is closed.
    #[arg(long, default_value_t = ServeOptions::default().header_timeout.as_secs())]
    header_timeout: u64,
    /// Seconds a client may take to send a whole request body before it gets 408 and
    /// the connection is closed.
    #[arg(long, default_value_t = ServeOptions::default().body_timeout.as_secs())]
    body_timeout: u64,
    /// Seconds a keep-alive connection may sit idle before it is closed.
    #[arg(long, default_value_t = ServeOptions::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Most connections open at once; further clients wait until one closes.
    #[arg(long, default_value_t = ServeOptions::default().max_connections)]
    max_connections: usize,
    /// Seconds open connections get to finish after SIGINT or SIGTERM before they are
    /// closed; the collection is committed either way.
    #[arg(long, default_value_t = ServeOptions::default().shutdown_timeout.as_secs())]
    shutdown_timeout: u64,
}

/// What requests call a model: its Hub id, or its folder's name.
fn served_name(spec: Option<&str>, dir: &std::path::Path) -> String {
    if let Some(concord_embed::source::ModelSpec::Hub { repo, .. }) =
        spec.map(concord_embed::source::ModelSpec::parse)
    {
        return repo;
    }
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

fn api_key(file: Option<&PathBuf>) -> Result<Option<String>> {
    let key = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the API key from {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("CONCORD_API_KEY").ok(),
    };
    match key {
        Some(k) if k.is_empty() => bail!("the API key is empty"),
        Some(k) if k.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            bail!("the API key must not contain spaces or control characters")
        }
        other => Ok(other),
    }
}

pub fn run(args: ServeArgs, model: &ModelChoice) -> Result<()> {
    let key = api_key(args.api_key_file.as_ref())?;
    let (embedder, device) = load_embedder_on(model)?;
    let stamp = model_stamp(&embedder)?;
    let mut models = vec![(served_name(model.model, embedder.model_dir()), embedder)];
    for spec in &args.embed_models {
        let e = load_embedder_onto(Some(spec), &device)?;
        models.push((served_name(Some(spec), e.model_dir()), e));
    }
    let collection =
        Collection::open_or_create(&args.collection.collection, &stamp, IndexParams::default())?;
    let opts = ServeOptions {
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_texts: args.max_texts.max(1),
            max_chars: args.max_chars.max(1),
            max_article_bytes: args.max_article_bytes,
            ..Limits::default()
        },
        max_queue_tokens: args.max_queue_tokens.max(1),
        max_request_tokens: args.max_request_tokens.max(1),
        max_overlap_queries: args.max_overlap_queries.max(1),
        batch_tokens: args.batch_tokens.max(1),
        api_key: key,
        protect: match args.protect {
            ProtectArg::Writes => Protect::Writes,
            ProtectArg::All => Protect::All,
        },
        commit_after: args.commit_after.max(1),
        commit_interval: Duration::from_secs(args.commit_interval.max(1)),
        device: device.label.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_connections: args.max_connections.max(1),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        names: crate::cmd_model::names(),
    };
    if !args.host.is_loopback() && opts.api_key.is_none() {
        eprintln!(
            "warning: listening on {} without an API key; anyone who can reach it can change the collection",
            args.host
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        eprintln!(
            "concord: serving {} ({} articles, {} passages, model on {}) on http://{}",
            collection.dir().display(),
            collection.doc_count(),
            collection.passage_count(),
            device.label,
            listener.local_addr()?
        );
        concord_server::serve(
            listener,
            models,
            collection,
            opts,
            concord_server::shutdown_signal(),
        )
        .await
    })?;
    eprintln!("concord: stopped; collection committed");
    Ok(())
}
