//! Collection behaviour on real files with synthetic unit vectors: commit and reopen,
//! replace and delete with tombstones and compaction, leftovers of a crashed commit,
//! a second writer, a foreign model, and the change log (durable single changes,
//! replay, torn tails), and damage: checksums on every file and record, the graph
//! rebuilt, `check` and `repair` (issue 15, defect 6).

use concord_index::{Collection, DocRecord, IndexParams, ModelStamp};
use concord_text::Passage;

const DIM: usize = 16;

fn stamp() -> ModelStamp {
    ModelStamp {
        name: "test".into(),
        dim: DIM,
        fingerprint: "abc".into(),
    }
}

/// A deterministic unit vector per seed.
fn unit(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

fn article(c: &mut Collection, id: &str, seeds: &[u64]) {
    let (doc, passages, vectors) = parts(id, seeds);
    c.upsert(doc, passages, &vectors).unwrap();
}

fn parts(id: &str, seeds: &[u64]) -> (DocRecord, Vec<Passage>, Vec<f32>) {
    let passages = seeds
        .iter()
        .enumerate()
        .map(|(i, s)| Passage {
            index: i as u32,
            start: 0,
            end: 1,
            text: format!("{id} passage {i} seed {s}"),
            section: None,
            paragraph: None,
        })
        .collect();
    let vectors: Vec<f32> = seeds.iter().flat_map(|&s| unit(s)).collect();
    let doc = DocRecord {
        id: id.into(),
        title: None,
        source: None,
        meta: Default::default(),
        slots: vec![],
    };
    (doc, passages, vectors)
}

fn texts(c: &Collection, hits: &[concord_index::Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| c.passage(h.slot).unwrap().passage.text.clone())
        .collect()
}

#[test]
fn commit_reopen_replace_delete_and_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("col");
    let mut c = Collection::create(&path, &stamp(), IndexParams::default()).unwrap();
    article(&mut c, "a", &[1, 2, 3]);
    article(&mut c, "b", &[4, 5]);
    c.commit().unwrap();
    let first = c.generation();
    drop(c);

    let mut c = Collection::open(&path).unwrap();
    assert_eq!(c.doc_count(), 2);
    assert_eq!(c.passage_count(), 5);
    let hits = c.search(&unit(5), 1, &|_| true);
    assert_eq!(texts(&c, &hits), ["b passage 1 seed 5"]);
    assert!(hits[0].cosine > 0.9999);
    assert_eq!(c.find_passage("b#1"), Some(hits[0].slot));

    // Replacing "a" tombstones its old slots; searches skip them.
    article(&mut c, "a", &[6]);
    let hits = c.search(&unit(2), 10, &|_| true);
    assert_eq!(hits.len(), 3);
    assert!(texts(&c, &hits).iter().all(|t| !t.contains("seed 2")));
    // A filter restricts results to some articles.
    let hits = c.search(&unit(6), 10, &|p| p.doc == "a");
    assert_eq!(texts(&c, &hits), ["a passage 0 seed 6"]);
    c.commit().unwrap();
    assert!(c.generation() > first);
    assert!(
        !path.join(format!("gen-{first:06}")).exists(),
        "old generation removed"
    );
    drop(c);

    // Three of six slots were tombstoned: the commit compacted them away.
    let mut c = Collection::open(&path).unwrap();
    assert_eq!(c.live_slots().count(), 3);
    assert_eq!(c.live_slots().max(), Some(2));
    assert!(c.remove("b").unwrap());
    assert!(!c.remove("zzz").unwrap());
    c.commit().unwrap();
    drop(c);
    let c = Collection::open(&path).unwrap();
    assert_eq!(c.docs().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(
        texts(&c, &c.search(&unit(4), 5, &|_| true)),
        ["a passage 0 seed 6"]
    );
}

#[test]
fn a_crashed_commit_leaves_the_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("col");
    let mut c = Collection::create(&path, &stamp(), IndexParams::default()).unwrap();
    article(&mut c, "a", &[1, 2]);
    c.commit().unwrap();
    let g = c.generation();
    drop(c);
    // What a process killed mid-commit leaves: a partial folder and a complete one the
    // manifest never pointed to, with garbage inside.
    for name in [
        format!("gen-{:06}.partial", g + 1),
        format!("gen-{:06}", g + 1),
    ] {
        std::fs::create_dir(path.join(&name)).unwrap();
        std::fs::write(path.join(&name).join("docs.jsonl"), b"{broken").unwrap();
    }
    std::fs::write(path.join("collection.tmp"), b"{half a manif").unwrap();
    let mut c = Collection::open(&path).unwrap();
    assert_eq!(c.passage_count(), 2);
    article(&mut c, "b", &[3]);
    c.commit().unwrap();
    drop(c);
    let c = Collection::open(&path).unwrap();
    assert_eq!(c.passage_count(), 3);
    let gens: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    assert_eq!(gens.len(), 1, "{gens:?}");
}

#[test]
fn one_writer_at_a_time_and_one_model_per_collection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("col");
    let mut w = Collection::create(&path, &stamp(), IndexParams::default()).unwrap();
    article(&mut w, "a", &[1]);
    let mut other = Collection::open(&path).unwrap();
    let err = other.remove("a");
    // "a" is not committed yet, so the second handle does not know it ...
    assert!(!err.unwrap());
    // ... and cannot write while the first holds the lock.
    let mut third = Collection::open(&path).unwrap();
    let e = third
        .upsert(
            DocRecord {
                id: "z".into(),
                title: None,
                source: None,
                meta: Default::default(),
                slots: vec![],
            },
            vec![],
            &[],
        )
        .unwrap_err();
    assert!(e.to_string().contains("another concord process"), "{e}");
    w.commit().unwrap();
    drop(w);
    // Stale handles refuse to overwrite a newer generation.
    let empty = DocRecord {
        id: "late".into(),
        title: None,
        source: None,
        meta: Default::default(),
        slots: vec![],
    };
    let e = third.upsert(empty, vec![], &[]).unwrap_err();
    assert!(e.to_string().contains("changed on disk"), "{e}");

    let foreign = ModelStamp {
        fingerprint: "def".into(),
        ..stamp()
    };
    let e = Collection::open_or_create(&path, &foreign, IndexParams::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("was built with model"), "{e}");
    // Wrong vector sizes and non-finite values are refused, never stored.
    let mut c = Collection::open(&path).unwrap();
    let p = Passage {
        index: 0,
        start: 0,
        end: 1,
        text: "x".into(),
        section: None,
        paragraph: None,
    };
    let doc = DocRecord {
        id: "bad".into(),
        title: None,
        source: None,
        meta: Default::default(),
        slots: vec![],
    };
    assert!(c.upsert(doc.clone(), vec![p.clone()], &[0.0; 3]).is_err());
    assert!(c.upsert(doc, vec![p], &[f32::NAN; DIM]).is_err());
    assert_eq!(c.passage_count(), 1);
}

#[test]
fn hnsw_matches_exact_search_on_random_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let mut c =
        Collection::create(&dir.path().join("col"), &stamp(), IndexParams::default()).unwrap();
    let seeds: Vec<u64> = (100..1100).collect();
    article(&mut c, "many", &seeds);
    let mut agree = 0;
    for q in 0..50 {
        let v = unit(5000 + q);
        let a = c.search(&v, 10, &|_| true);
        let b = c.search_exact(&v, 10, &|_| true);
        agree += a
            .iter()
            .filter(|h| b.iter().any(|e| e.slot == h.slot))
            .count();
    }
    assert!(
        agree as f32 / 500.0 > 0.95,
        "recall {}",
        agree as f32 / 500.0
    );
}

#[test]
fn logged_changes_survive_without_a_commit_and_replay_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collection::create(dir.path(), &stamp(), IndexParams::default()).unwrap();
    article(&mut c, "base", &[1, 2]);
    c.commit().unwrap();
    let generation = c.generation();

    let (doc, passages, vectors) = parts("logged", &[3, 4, 5]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    assert!(c.remove_logged("base").unwrap());
    assert!(!c.remove_logged("never-there").unwrap());
    let (doc, passages, vectors) = parts("replaced", &[6]);
    c.upsert_logged(doc.clone(), passages.clone(), &vectors)
        .unwrap();
    let (doc2, passages2, vectors2) = parts("replaced", &[7, 8]);
    c.upsert_logged(doc2, passages2, &vectors2).unwrap();
    assert_eq!(c.pending_changes(), 4);
    // A process killed here never commits: only the log has the changes.
    drop(c);

    let log = dir.path().join(concord_index::LOG_FILE);
    // A record cut short by the crash was never acknowledged and must be ignored.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":99,\"change\":{\"remove\":{\"id\":\"log").unwrap();
    drop(f);

    let mut c = Collection::open(dir.path()).unwrap();
    assert_eq!(c.generation(), generation);
    let ids: Vec<&str> = c.docs().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["logged", "replaced"]);
    assert_eq!(c.doc("replaced").unwrap().slots.len(), 2);
    assert_eq!(c.passage_count(), 5);
    let top = c.search(&unit(8), 1, &|_| true);
    assert_eq!(texts(&c, &top), ["replaced passage 1 seed 8"]);

    // The next append moves the torn tail apart and follows the good records.
    let (doc, passages, vectors) = parts("late", &[9]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    drop(c);
    let kept: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("changes.log.torn-"))
        .collect();
    assert_eq!(kept.len(), 1, "the torn tail was not kept apart");
    assert_eq!(
        std::fs::read(&kept[0]).unwrap(),
        b"{\"seq\":99,\"change\":{\"remove\":{\"id\":\"log"
    );
    let mut c = Collection::open(dir.path()).unwrap();
    assert_eq!(c.doc_count(), 3);

    // A commit folds the log into a generation and empties it; nothing replays twice.
    c.commit().unwrap();
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
    assert_eq!(c.pending_changes(), 0);
    drop(c);
    let c = Collection::open(dir.path()).unwrap();
    assert_eq!(c.doc_count(), 3);
    assert_eq!(c.passage_count(), 6);
    assert!(!c.is_dirty());
}

#[test]
fn a_log_replayed_after_its_commit_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collection::create(dir.path(), &stamp(), IndexParams::default()).unwrap();
    let (doc, passages, vectors) = parts("a", &[1, 2]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    let log = dir.path().join(concord_index::LOG_FILE);
    let saved = std::fs::read(&log).unwrap();
    c.commit().unwrap();
    c.remove_logged("a").unwrap();
    c.commit().unwrap();
    drop(c);
    // As if the process died between the manifest swap and emptying the log.
    std::fs::write(&log, saved).unwrap();
    let c = Collection::open(dir.path()).unwrap();
    assert_eq!(c.doc_count(), 0, "a change already committed was replayed");
}

#[test]
fn a_corrupt_record_before_good_ones_fails_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collection::create(dir.path(), &stamp(), IndexParams::default()).unwrap();
    let (doc, passages, vectors) = parts("a", &[1]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    drop(c);
    let log = dir.path().join(concord_index::LOG_FILE);
    let good = std::fs::read(&log).unwrap();
    let mut bad = b"not json\n".to_vec();
    bad.extend_from_slice(&good);
    std::fs::write(&log, bad).unwrap();
    let err = Collection::open(dir.path())
        .err()
        .expect("corruption accepted");
    assert!(
        format!("{err:#}").contains("damaged change record"),
        "{err:#}"
    );
}

/// Issue 15, defect 1: a CLI writer opened the collection while the server was logging
/// changes; the server was killed (its lock goes with it) before committing. The CLI's
/// commit used to fold only the log it had read at open and then empty the log, losing
/// every change the server acknowledged after that.
#[test]
fn a_writer_after_a_crashed_writer_keeps_the_changes_it_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("col");
    let mut server = Collection::create(&path, &stamp(), IndexParams::default()).unwrap();
    let log_change = |c: &mut Collection, i: u64| {
        let (doc, passages, vectors) = parts(&format!("posted-{i:02}"), &[100 + i]);
        c.upsert_logged(doc, passages, &vectors).unwrap();
    };
    for i in 0..3 {
        log_change(&mut server, i);
    }
    // The CLI reads the collection while the server runs ...
    let mut cli = Collection::open(&path).unwrap();
    assert_eq!(cli.doc_count(), 3);
    // ... the server acknowledges ten more, then dies without committing.
    for i in 3..13 {
        log_change(&mut server, i);
    }
    drop(server);
    article(&mut cli, "from-cli", &[1, 2]);
    cli.commit().unwrap();
    drop(cli);

    let c = Collection::open(&path).unwrap();
    let ids: Vec<&str> = c.docs().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 14, "acknowledged changes were lost: {ids:?}");
    assert!(ids.contains(&"posted-12") && ids.contains(&"from-cli"));
}

/// A writer takes the lock before reading: while another process holds it, opening for
/// writes fails at once (before a caller spends time embedding) and names the cause.
#[test]
fn opening_for_writes_refuses_a_locked_collection_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("col");
    let mut server = Collection::create(&path, &stamp(), IndexParams::default()).unwrap();
    server.lock_for_writes().unwrap();
    for open in [
        Collection::open_writable(&path).err(),
        Collection::open_or_create(&path, &stamp(), IndexParams::default()).err(),
    ] {
        let e = open.expect("a locked collection was opened for writes");
        assert!(e.to_string().contains("concord serve"), "{e}");
    }
    drop(server);
    let mut c = Collection::open_writable(&path).unwrap();
    article(&mut c, "a", &[1]);
    c.commit().unwrap();
    let e = Collection::open_writable(&dir.path().join("nothing"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("not a concord collection"), "{e}");
}

/// A committed collection of three articles plus two logged changes.
fn damaged_fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Collection::create(dir.path(), &stamp(), IndexParams::default()).unwrap();
    article(&mut c, "a", &[1, 2, 3]);
    article(&mut c, "b", &[4, 5]);
    article(&mut c, "c", &[6, 7, 8, 9]);
    c.commit().unwrap();
    let (doc, passages, vectors) = parts("d", &[10]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    let (doc, passages, vectors) = parts("e", &[11, 12]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    let gen = dir.path().join(format!("gen-{:06}", c.generation()));
    drop(c);
    (dir, gen)
}

fn open_err(dir: &std::path::Path) -> String {
    match Collection::open(dir) {
        Ok(_) => panic!("damage accepted"),
        Err(e) => format!("{e:#}"),
    }
}

fn flip_byte(path: &std::path::Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_damaged_last_log_record_fails_the_open_and_repair_keeps_the_rest() {
    let (dir, _) = damaged_fixture();
    let log = dir.path().join(concord_index::LOG_FILE);
    let len = std::fs::read(&log).unwrap().len();
    // A byte inside the last (complete, acknowledged) record; it used to be dropped.
    flip_byte(&log, len - 20);
    let err = open_err(dir.path());
    assert!(
        err.contains("changes.log:2") && err.contains("damaged"),
        "{err}"
    );
    let report = concord_index::check(dir.path()).unwrap();
    assert!(!report.is_sound() && report.log_records == 1, "{report:?}");

    let r = concord_index::repair(dir.path(), None).unwrap();
    assert!(r.lost.iter().any(|l| l.contains("line 2")), "{r:?}");
    let c = Collection::open(dir.path()).unwrap();
    let ids: Vec<&str> = c.docs().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    // The damaged bytes are kept beside the log, not deleted.
    assert!(std::fs::read_dir(dir.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("changes.log.damaged-")));
    assert!(concord_index::check(dir.path()).unwrap().is_sound());
}

#[test]
fn a_record_deleted_from_the_middle_of_the_log_fails_the_open() {
    let (dir, _) = damaged_fixture();
    let mut c = Collection::open_writable(dir.path()).unwrap();
    let (doc, passages, vectors) = parts("f", &[13]);
    c.upsert_logged(doc, passages, &vectors).unwrap();
    drop(c);
    let log = dir.path().join(concord_index::LOG_FILE);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    std::fs::write(&log, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let err = open_err(dir.path());
    assert!(err.contains("records are missing"), "{err}");
    // The first record gone: the gap is between the generation and the log.
    std::fs::write(&log, format!("{}\n{}\n", lines[1], lines[2])).unwrap();
    let err = open_err(dir.path());
    assert!(err.contains("changes are missing"), "{err}");
}

#[test]
fn a_line_deleted_from_the_articles_or_a_flipped_vector_byte_fails_the_open() {
    let (dir, gen) = damaged_fixture();
    let docs = gen.join("docs.jsonl");
    let saved = std::fs::read(&docs).unwrap();
    let text = String::from_utf8(saved.clone()).unwrap();
    let kept: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&docs, kept).unwrap();
    let err = open_err(dir.path());
    assert!(err.contains("docs.jsonl is damaged"), "{err}");
    std::fs::write(&docs, &saved).unwrap();

    let vectors = gen.join("vectors.f32");
    flip_byte(&vectors, 4 * DIM + 3);
    let err = open_err(dir.path());
    assert!(err.contains("vectors.f32 is damaged"), "{err}");
    let report = concord_index::check(dir.path()).unwrap();
    let status: Vec<(&str, &str)> = report
        .files
        .iter()
        .map(|f| (f.file.rsplit('/').next().unwrap(), f.status))
        .collect();
    assert!(status.contains(&("vectors.f32", "damaged")), "{status:?}");
    assert!(status.contains(&("docs.jsonl", "ok")), "{status:?}");

    // Without a model the vectors cannot be rebuilt: repair says so and changes nothing.
    let err = concord_index::repair(dir.path(), None).unwrap_err();
    assert!(format!("{err:#}").contains("needs the model"), "{err:#}");
    // With one (here: the same deterministic vectors from the texts' seeds) it can.
    let mut embed = |texts: &[&str]| -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| unit(t.rsplit(' ').next().unwrap().parse().unwrap()))
            .collect())
    };
    let r = concord_index::repair(dir.path(), Some(&mut embed)).unwrap();
    assert!(r.lost.is_empty(), "{r:?}");
    let c = Collection::open(dir.path()).unwrap();
    assert_eq!(c.doc_count(), 5);
    let top = c.search(&unit(5), 1, &|_| true);
    assert_eq!(texts(&c, &top), ["b passage 1 seed 5"]);
}

#[test]
fn a_damaged_article_line_is_reported_lost_and_the_rest_kept() {
    let (dir, gen) = damaged_fixture();
    let docs = gen.join("docs.jsonl");
    let text = std::fs::read_to_string(&docs).unwrap();
    let second = text.lines().next().unwrap().len() + 10;
    flip_byte(&docs, second);
    let report = concord_index::check(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains("docs.jsonl:2")),
        "{report:?}"
    );
    let r = concord_index::repair(dir.path(), None).unwrap();
    assert!(r.lost.iter().any(|l| l.contains("line 2")), "{r:?}");
    let c = Collection::open(dir.path()).unwrap();
    let ids: Vec<&str> = c.docs().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["a", "c", "d", "e"], "b was on line 2");
}

#[test]
fn a_truncated_graph_is_rebuilt_from_the_vectors_instead_of_panicking() {
    let (dir, gen) = damaged_fixture();
    let graph = gen.join("index.hnsw.graph");
    let len = std::fs::metadata(&graph).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&graph)
        .unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let c = Collection::open(dir.path()).unwrap();
    assert!(c.graph_damage().unwrap().contains("index.hnsw.graph"));
    let top = c.search(&unit(7), 1, &|_| true);
    assert_eq!(texts(&c, &top), ["c passage 1 seed 7"]);
    drop(c);
    assert!(!concord_index::check(dir.path()).unwrap().is_sound());
    let r = concord_index::repair(dir.path(), None).unwrap();
    assert!(
        r.actions.iter().any(|a| a.contains("graph rebuilt")),
        "{r:?}"
    );
    let c = Collection::open(dir.path()).unwrap();
    assert!(c.graph_damage().is_none());
    assert_eq!(c.doc_count(), 5);
    assert!(concord_index::check(dir.path()).unwrap().is_sound());
}
