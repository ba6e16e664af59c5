//! The PostgreSQL store on a real cluster the test starts on loopback: a primary and
//! two streaming replicas (PostgreSQL 15 and pgvector from `scripts/install-postgres.sh`).
//! Two writers ingest shards of the inputs at once, one is killed with SIGKILL mid-batch
//! and run again; every article is then there exactly once, written once, and both
//! replicas answer as the primary does once they have replayed the writers' position.
//! On the reference corpus the store gives the same overlaps as the folder store, and
//! `concord bench store` measures it at two small sizes.

use crate::cli_collection::{ok, stderr};
use crate::support::{self, concord};
use concord_postgres::PgStore;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The folder of `initdb`, `pg_ctl`, `postgres` and `pg_basebackup`.
fn pg_bin() -> PathBuf {
    let dir = std::env::var_os("CONCORD_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::root().join("target/pg/usr/lib/postgresql/15/bin"));
    assert!(
        dir.join("postgres").is_file(),
        "no PostgreSQL at {}: run scripts/install-postgres.sh",
        dir.display()
    );
    dir
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A primary and its streaming replicas on 127.0.0.1, stopped when dropped.
struct PgCluster {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    /// (data folder, port) of the primary, then of each replica.
    nodes: Vec<(PathBuf, u16)>,
}

impl PgCluster {
    fn start(replicas: usize) -> PgCluster {
        let bin = pg_bin();
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pg");
        std::fs::create_dir(&root).unwrap();
        // PostgreSQL refuses to run as root: as root, its folders belong to `postgres`.
        if is_root() {
            chmod(tmp.path(), 0o755);
            succeed(Command::new("chown").arg("postgres").arg(&root));
        }
        // `postgres` must reach the programs: a checkout in a private folder (a root-only
        // temporary folder, say) hides them, so then they run from a copy in ours (the
        // unpacked tree finds its files relative to its own binaries).
        let bin = if is_root() && !reachable_by_postgres(&bin.join("postgres")) {
            let tree = bin
                .ancestors()
                .nth(4)
                .expect("bin is under usr/lib/postgresql/15");
            let copy = tmp.path().join("usr");
            succeed(Command::new("cp").arg("-a").arg(tree).arg(&copy));
            copy.join("lib/postgresql/15/bin")
        } else {
            bin
        };
        let mut cluster = PgCluster {
            _tmp: tmp,
            root,
            bin,
            nodes: Vec::new(),
        };
        let primary = cluster.root.join("primary");
        cluster.run(
            "initdb",
            &[
                "-D",
                s(&primary),
                "-U",
                "concord",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 8\nhot_standby = on\n\
             max_connections = 40\nshared_buffers = 32MB\n",
            cluster.root.display()
        );
        append(&primary.join("postgresql.conf"), &conf);
        let port = free_port();
        cluster.pg_ctl_start(&primary, port);
        cluster.nodes.push((primary, port));
        for r in 0..replicas {
            let dir = cluster.root.join(format!("replica{r}"));
            cluster.run(
                "pg_basebackup",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "concord",
                    "-D",
                    s(&dir),
                    "-R",
                    "-X",
                    "stream",
                ],
            );
            let p = free_port();
            cluster.pg_ctl_start(&dir, p);
            cluster.nodes.push((dir, p));
        }
        cluster
    }

    fn url(&self, node: usize, db: &str) -> String {
        format!("postgres://concord@127.0.0.1:{}/{db}", self.nodes[node].1)
    }

    /// One of the server's programs, run as `postgres` when we are root.
    fn program(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        }
    }

    /// Runs one of the server's programs; it must succeed.
    fn run(&self, program: &str, args: &[&str]) {
        succeed(
            self.program(program)
                .args(args)
                .current_dir(&self.root)
                .stdin(Stdio::null()),
        );
    }

    fn pg_ctl_start(&self, dir: &Path, port: u16) {
        let log = self.root.join(format!(
            "{}.log",
            dir.file_name().unwrap().to_string_lossy()
        ));
        self.run(
            "pg_ctl",
            &[
                "-D",
                s(dir),
                "-o",
                &format!("-p {port}"),
                "-l",
                s(&log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Creates a database on the primary (replicas get it by replication).
    fn create_db(&self, name: &str) {
        let mut c = postgres::Client::connect(&self.url(0, "postgres"), postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for (dir, _) in self.nodes.iter().rev() {
            let _ = self
                .program("pg_ctl")
                .args(["-D", s(dir), "-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `cmd`, which must succeed.
fn succeed(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the `postgres` user can run `exe`.
fn reachable_by_postgres(exe: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(exe)
        .status()
        .is_ok_and(|s| s.success())
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Article id -> passage count, as `concord docs` lists them.
fn docs(args: &[&str]) -> BTreeMap<String, u64> {
    let mut all = vec!["docs"];
    all.extend_from_slice(args);
    String::from_utf8(ok(concord(&all)).stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let d: Value = serde_json::from_str(l).unwrap();
            (
                d["id"].as_str().unwrap().to_string(),
                d["passages"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The WAL position an ingest printed last.
fn position(out: &Output) -> String {
    stderr(out)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("position: "))
        .unwrap_or_else(|| panic!("no position in {}", stderr(out)))
        .to_string()
}

/// The shard `concord ingest --shard I/N` puts an article id in: the first 8 bytes of
/// its SHA-256, little-endian, modulo N.
fn shard_of(id: &str, n: u64) -> u64 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(id.as_bytes());
    u64::from_le_bytes(h[..8].try_into().unwrap()) % n
}

fn ingest_child(url: &str, shard: &str, input: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["ingest", "--store", url, "--shard", shard, s(input)])
        .current_dir(support::root())
        .env_remove("CONCORD_MODEL")
        .env_remove("CONCORD_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_primary_and_two_replicas_keep_every_article_exactly_once_through_killed_writers() {
    support::model_dir();
    let cluster = PgCluster::start(2);
    cluster.create_db("news");
    let primary = cluster.url(0, "news");
    // A multi-host URL: whichever host is the primary takes the writes.
    let writers_url = format!(
        "postgres://concord@127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}/news?target_session_attrs=read-write",
        cluster.nodes[1].1, cluster.nodes[2].1, cluster.nodes[0].1
    );

    // Many small articles, so the kill lands between two of one writer's commits.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("many.jsonl");
    let paras: Vec<String> = support::corpus_paragraphs()
        .into_iter()
        .filter(|p| p.chars().count() >= 40)
        .collect();
    let articles = paras.chunks(2).count();
    let mut text = String::new();
    for (i, chunk) in paras.chunks(2).enumerate() {
        let rec = serde_json::json!({"id": format!("a{i:03}"), "text": chunk.join("\n")});
        text.push_str(&rec.to_string());
        text.push('\n');
    }
    std::fs::write(&input, text).unwrap();

    // Two writers at once; the second is killed once some of its articles are in.
    let ids: Vec<String> = (0..articles).map(|i| format!("a{i:03}")).collect();
    let second_ids: Vec<&String> = ids.iter().filter(|id| shard_of(id, 2) == 1).collect();
    let first = ingest_child(&writers_url, "0/2", &input);
    let mut second = ingest_child(&writers_url, "1/2", &input);
    let start = Instant::now();
    let mut reader: Option<PgStore> = None;
    let mut seconds_written = || -> usize {
        if reader.is_none() {
            reader = PgStore::connect(&primary).ok();
        }
        match reader.as_mut().map(|r| r.docs()) {
            Some(Ok(d)) => d.iter().filter(|d| shard_of(&d.id, 2) == 1).count(),
            _ => 0,
        }
    };
    while seconds_written() == 0 {
        assert!(start.elapsed() < Duration::from_secs(300), "no writes seen");
        assert!(
            second.try_wait().unwrap().is_none(),
            "the second writer ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    second.kill().unwrap(); // SIGKILL
    second.wait().unwrap();
    let kept = seconds_written();
    assert!(
        kept > 0 && kept < second_ids.len(),
        "the kill came after the second writer's last write ({kept} of {})",
        second_ids.len()
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains(&format!(
            "{} added, 0 replaced, 0 unchanged",
            articles - second_ids.len()
        )),
        "{}",
        stderr(&first)
    );

    // The killed writer's command again: what it had written is kept, not redone.
    let again = ok(concord(&[
        "ingest",
        "--store",
        &writers_url,
        "--shard",
        "1/2",
        s(&input),
    ]));
    let err = stderr(&again);
    assert!(
        err.contains(&format!(
            "{} added, 0 replaced, {kept} unchanged (shard 1/2",
            second_ids.len() - kept
        )),
        "{err}"
    );
    let pos = position(&again);

    // Every article once, each written once (no write repeated or half-applied).
    let mut store = PgStore::connect(&primary).unwrap();
    let rows = store.docs().unwrap();
    let stored: Vec<&String> = rows.iter().map(|d| &d.id).collect();
    assert_eq!(stored, ids.iter().collect::<Vec<_>>());
    assert!(
        rows.iter().all(|d| d.version == 1 && d.passages > 0),
        "{rows:?}"
    );
    let changes = store.changes().unwrap();
    assert_eq!(changes.len(), articles, "one change row per article");
    let on_primary = docs(&["--store", &primary]);

    // Both replicas, once they have replayed the last writer's position, hold and
    // answer the same as the primary.
    let query = "人工智能產業規模";
    let search = |url: &str| {
        let out = ok(concord(&[
            "search", query, "--store", url, "--after", &pos, "-k", "5", "--format", "jsonl",
        ]));
        String::from_utf8(out.stdout).unwrap()
    };
    let on_primary_search = search(&primary);
    assert_eq!(on_primary_search.lines().count(), 5);
    for replica in [1, 2] {
        let url = cluster.url(replica, "news");
        assert_eq!(docs(&["--store", &url, "--after", &pos]), on_primary);
        assert_eq!(search(&url), on_primary_search, "replica {replica}");
    }
    // A replica refuses writes with a clear message.
    let refused = concord(&["ingest", "--store", &cluster.url(1, "news"), s(&input)]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("read-only replica"),
        "{}",
        stderr(&refused)
    );

    // The reference corpus: the same overlaps from the store as from a folder, read on
    // the primary and on a replica.
    cluster.create_db("corpus");
    let corpus = support::corpus_dir();
    let store_url = cluster.url(0, "corpus");
    let stored = ok(concord(&["ingest", "--store", &store_url, s(&corpus)]));
    let pos = position(&stored);
    let folder = tmp.path().join("col");
    ok(concord(&["ingest", "--collection", s(&folder), s(&corpus)]));
    let overlaps = |args: &[&str]| {
        let mut all = vec!["overlaps", "--format", "jsonl", "--boilerplate"];
        all.extend_from_slice(args);
        String::from_utf8(ok(concord(&all)).stdout).unwrap()
    };
    let from_folder = overlaps(&["--collection", s(&folder)]);
    assert!(from_folder.lines().count() > 20, "{from_folder}");
    assert_eq!(overlaps(&["--store", &store_url]), from_folder);
    assert_eq!(
        overlaps(&["--store", &cluster.url(2, "corpus"), "--after", &pos]),
        from_folder
    );

    // `bench store` at two small sizes, on the primary and a replica.
    let lines = tmp.path().join("lines.txt");
    std::fs::write(&lines, support::corpus_paragraphs().join("\n")).unwrap();
    let embedded = tmp.path().join("lines.jsonl");
    let out = ok(concord(&["embed", s(&lines)]));
    std::fs::write(&embedded, &out.stdout).unwrap();
    cluster.create_db("bench");
    let out = ok(concord(&[
        "bench",
        "store",
        s(&embedded),
        "--store",
        &cluster.url(0, "bench"),
        "--replica",
        &cluster.url(1, "bench"),
        "--sizes",
        "300,600",
        "--queries",
        "30",
        "--ef",
        "100",
    ]));
    let table = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| postgres") || l.starts_with("| folder"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 6, "{table}");
    for r in &rows {
        let recall: f64 = r[6].parse().unwrap();
        assert!(recall >= 0.9, "{table}");
    }
    assert_eq!(rows[3][2], "600", "{table}");
    // Filled step by step: the store ends with the largest size.
    let bench_docs = PgStore::connect(&cluster.url(0, "bench"))
        .unwrap()
        .docs()
        .unwrap();
    assert_eq!(bench_docs.iter().map(|d| d.passages).sum::<usize>(), 600);
}
