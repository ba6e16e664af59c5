//! Any bytes as an article file (`.md`): reading (decoding, the title, the metadata
//! line) and segmenting into claims must never panic, and every claim's offsets must
//! point at its text.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("article.md");
    std::fs::write(&path, data).expect("writing the input");
    let Ok(articles) = concord_text::read_articles(&path, &concord_text::ReadOptions::default())
    else {
        return;
    };
    for a in articles {
        let chars: Vec<char> = a.text.chars().collect();
        for p in concord_text::segment(&a.text, &concord_text::SegmentOptions::default()) {
            assert!(p.start <= p.end && p.end as usize <= chars.len());
            let _ = concord_text::fold(&p.text);
        }
    }
});
