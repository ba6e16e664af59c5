//! Any bytes as a JSONL input: every record is an article or a clear error naming the
//! line, never a panic; every id that is accepted follows the id rule.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("input.jsonl");
    std::fs::write(&path, data).expect("writing the input");
    if let Ok(articles) = concord_text::read_articles(&path, &concord_text::ReadOptions::default())
    {
        for a in articles {
            assert_eq!(
                concord_text::check_article_id(&a.id).as_deref(),
                Ok(a.id.as_str())
            );
        }
    }
});
