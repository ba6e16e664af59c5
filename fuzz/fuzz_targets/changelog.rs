//! Any bytes as the change log of a small committed collection: opening it (the
//! checksums, the sequence check, the replay of every change) gives a collection or a
//! clear error, never a panic; and `check` never panics either.
#![no_main]

use concord_index::{Collection, DocRecord, IndexParams, ModelStamp};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const DIM: usize = 4;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("a temporary folder");
        let stamp = ModelStamp {
            name: "fuzz".into(),
            dim: DIM,
            fingerprint: "fuzz".into(),
        };
        let mut c =
            Collection::create(d.path(), &stamp, IndexParams::default()).expect("a collection");
        let passage = concord_text::Passage {
            index: 0,
            start: 0,
            end: 4,
            text: "seed".into(),
            section: None,
            paragraph: None,
        };
        let doc = DocRecord {
            id: "seed".into(),
            title: None,
            source: None,
            meta: Default::default(),
            slots: vec![],
        };
        c.upsert(doc, vec![passage], &[1.0, 0.0, 0.0, 0.0])
            .expect("an article");
        c.commit().expect("a commit");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir().path();
    std::fs::write(d.join(concord_index::LOG_FILE), data).expect("writing the log");
    if let Ok(c) = Collection::open(d) {
        for doc in c.docs() {
            for &s in &doc.slots {
                assert_eq!(c.vector(s).len(), DIM);
            }
        }
    }
    let _ = concord_index::check(d);
});
