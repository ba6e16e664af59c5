//! Collection behaviour on real files with synthetic unit vectors: commit and reopen,
//! replace and delete with tombstones and compaction, leftovers of a crashed commit,
//! a second writer, a foreign model, and the change log (durable single changes,
//! replay, torn tails), and damage: checksums on every file and record, the graph
//! rebuilt, `check` and `repair` (issue 15, defect 6).

mod damage;
mod log;

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
fn an_in_memory_collection_searches_changes_and_compacts_without_a_folder() {
    let mut c = Collection::in_memory(&stamp(), IndexParams::default());
    assert!(!c.on_disk() && c.dir().as_os_str().is_empty());
    article(&mut c, "a", &[1, 2, 3]);
    article(&mut c, "b", &[4, 5]);
    let hits = c.search(&unit(5), 1, &|_| true);
    assert_eq!(texts(&c, &hits), ["b passage 1 seed 5"]);
    // Replace "a": three of six slots tombstoned, so the commit compacts.
    article(&mut c, "a", &[6]);
    c.commit().unwrap();
    assert_eq!(c.live_slots().count(), 3);
    assert_eq!(c.live_slots().max(), Some(2));
    assert!(!c.is_dirty());
    assert_eq!(
        texts(&c, &c.search(&unit(6), 1, &|_| true)),
        ["a passage 0 seed 6"]
    );
    // Nothing is durable, so a write that promises it is refused and changes nothing.
    let (doc, passages, vectors) = parts("c", &[7]);
    let e = c.upsert_logged(doc, passages, &vectors).unwrap_err();
    assert!(e.to_string().contains("no change log"), "{e}");
    assert!(c.doc("c").is_none());
    assert!(c.remove("b").unwrap());
    assert_eq!(c.doc_count(), 1);
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
