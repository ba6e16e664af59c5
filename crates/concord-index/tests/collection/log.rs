//! The change log: durable single changes, replay once, torn tails, a crashed writer's
//! changes, the write lock.

use super::*;

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
