//! Damage: checksums on every file and record, `repair`, the graph rebuilt.

use super::*;

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
