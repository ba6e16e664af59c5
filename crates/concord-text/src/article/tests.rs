//! Tests of `article`.

use super::*;

#[test]
fn legacy_encodings_are_detected_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let simplified = "港务局周一宣布，首批六艘电动渡轮正式投入营运，往返东堤与南湾码头之间。\n票价维持不变，市民反应热烈。\n";
    let traditional = "港務局週一宣布，首批六艘電動渡輪正式投入營運，往返東堤與南灣碼頭之間。\n票價維持不變，市民反應熱烈。\n";
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "gbk.txt",
            encoding_rs::GBK.encode(simplified).0.into_owned(),
            simplified,
        ),
        (
            "big5.txt",
            encoding_rs::BIG5.encode(traditional).0.into_owned(),
            traditional,
        ),
        (
            "utf16.txt",
            [0xFF, 0xFE]
                .into_iter()
                .chain(traditional.encode_utf16().flat_map(u16::to_le_bytes))
                .collect(),
            traditional,
        ),
        (
            "latin1.txt",
            encoding_rs::WINDOWS_1252
                .encode("Le café crème coûte déjà trois euros à Genève.\n")
                .0
                .into_owned(),
            "Le café crème coûte déjà trois euros à Genève.\n",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = write(dir.path(), name, &bytes);
        let a = read_articles(&p, &ReadOptions::default()).unwrap();
        assert_eq!(a[0].text, want, "{name}");
    }
    // UTF-8 with a bad byte in it is damage, not another encoding.
    let mut damaged = simplified.as_bytes().to_vec();
    damaged.insert(12, 0xFF);
    let p = write(dir.path(), "damaged.txt", &damaged);
    let e = read_articles(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("offset 12") && e.contains("damaged"), "{e}");
}

#[test]
fn metadata_comes_from_front_matter_the_source_line_and_jsonl_fields() {
    let dir = tempfile::tempdir().unwrap();
    let md = write(
        dir.path(),
        "a.md",
        "---\noutlet: 港灣日報\ndate: 2025-03-02\nlanguage: zh-Hant\n---\n# 渡輪首航\n\n港務局週一宣布。\n".as_bytes(),
    );
    let a = read_articles(&md, &ReadOptions::default())
        .unwrap()
        .remove(0);
    assert_eq!(a.title.as_deref(), Some("渡輪首航"));
    assert_eq!(a.meta.outlet.as_deref(), Some("港灣日報"));
    assert_eq!(a.meta.published.as_deref(), Some("2025-03-02"));
    assert_eq!(a.meta.language.as_deref(), Some("zh-Hant"));
    assert!(!a.text.contains("outlet") && a.text.contains("港務局週一宣布。"));
    let txt = write(
        dir.path(),
        "b.txt",
        "渡輪首航\n> source: 南方晚報; date: 2025-03-03; url: https://example.org/b\n港务局周一宣布。\n".as_bytes(),
    );
    let b = read_articles(&txt, &ReadOptions::default())
        .unwrap()
        .remove(0);
    assert_eq!(b.meta.outlet.as_deref(), Some("南方晚報"));
    assert_eq!(b.meta.published.as_deref(), Some("2025-03-03"));
    assert_eq!(b.meta.url.as_deref(), Some("https://example.org/b"));
    assert!(!b.text.contains("source"));
    let jsonl = write(
        dir.path(),
        "c.jsonl",
        r#"{"id":"c","title":"T","text":"港務局宣布。","outlet":"Harbour Post","published":"2025-03-01T08:00:00Z","lang":"en"}"#.as_bytes(),
    );
    let c = read_articles(&jsonl, &ReadOptions::default())
        .unwrap()
        .remove(0);
    assert_eq!(c.meta.outlet.as_deref(), Some("Harbour Post"));
    assert_eq!(c.meta.published.as_deref(), Some("2025-03-01T08:00:00Z"));
    assert_eq!(c.meta.language.as_deref(), Some("en"));
}

#[test]
fn html_pages_are_read_for_their_article() {
    let dir = tempfile::tempdir().unwrap();
    let page = "<html><head><title>站名</title><script>var a=1;</script></head><body>\
        <nav>首頁 | 新聞</nav><article><h1>渡輪下月首航</h1><p>港務局宣布，<b>六艘</b>電動渡輪下月投入營運。</p>\
        <p>單程約22分鐘。</p></article><footer>版權所有</footer></body></html>";
    let p = write(dir.path(), "ferry.html", page.as_bytes());
    let a = read_articles(dir.path(), &ReadOptions::default()).unwrap();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].id, "ferry");
    assert_eq!(a[0].title.as_deref(), Some("渡輪下月首航"));
    assert!(a[0].text.contains("港務局宣布，六艘電動渡輪下月投入營運。"));
    assert!(
        !a[0].text.contains('<') && !a[0].text.contains("var a") && !a[0].text.contains("版權")
    );
    // A GBK page decodes too.
    let gbk = encoding_rs::GBK.encode("<html><body><p>港务局宣布，六艘电动渡轮下月投入营运，单程约二十二分钟。</p></body></html>").0;
    write(dir.path(), "gbk.htm", &gbk);
    let a = read_articles(&dir.path().join("gbk.htm"), &ReadOptions::default()).unwrap();
    assert!(a[0].text.contains("港务局宣布"), "{:?}", a[0].text);
    let _ = p;
}

#[test]
fn word_documents_are_read_for_their_paragraphs() {
    use docx_rs::{Docx, Paragraph, Run};
    let dir = tempfile::tempdir().unwrap();
    let mut buf = std::io::Cursor::new(Vec::new());
    Docx::new()
        .add_paragraph(
            Paragraph::new()
                .add_run(Run::new().add_text("渡輪下月首航"))
                .style("Title"),
        )
        .add_paragraph(
            Paragraph::new().add_run(Run::new().add_text("港務局宣布，六艘電動渡輪下月投入營運。")),
        )
        .build()
        .pack(&mut buf)
        .unwrap();
    write(dir.path(), "ferry.docx", buf.get_ref());
    let a = read_articles(dir.path(), &ReadOptions::default()).unwrap();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].id, "ferry");
    assert_eq!(a[0].title.as_deref(), Some("渡輪下月首航"));
    assert!(
        a[0].text
            .ends_with("港務局宣布，六艘電動渡輪下月投入營運。"),
        "{:?}",
        a[0].text
    );
    // A damaged one is refused with the reason and what to do.
    let broken = write(dir.path(), "broken.docx", &buf.get_ref()[..200]);
    let e = read_articles(&broken, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("broken.docx: not a readable Word document") && e.contains("save it again"),
        "{e}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn reads_files_folders_and_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b.md", "# Title\n\nBody.\n".as_bytes());
    write(dir.path(), "a.txt", "\u{feff}第一段。\n".as_bytes());
    write(dir.path(), ".hidden.txt", b"skip me");
    write(dir.path(), "notes.bin", b"skip me too");
    write(
        dir.path(),
        "c.jsonl",
        br#"{"id":"x","title":"T","text":"hello."}
{"id":7,"text":"seven."}
"#,
    );
    let got = read_articles(dir.path(), &ReadOptions::default()).unwrap();
    let ids: Vec<_> = got.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "x", "7"]);
    assert_eq!(got[0].text, "第一段。\n", "byte-order mark dropped");
    assert_eq!(got[2].title.as_deref(), Some("T"));
    assert_eq!(got[1].title.as_deref(), Some("Title"));
    assert_eq!(got[0].title, None, "a sentence is not a title");
}

#[test]
fn titles_and_metadata_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# 港口新航線\n> source: 本地日報; date: 2025-03-02\n\n首日載客三千人。\n";
    let p = write(dir.path(), "a.md", text.as_bytes());
    let a = read_articles(&p, &ReadOptions::default())
        .unwrap()
        .remove(0);
    assert_eq!(a.title.as_deref(), Some("港口新航線"));
    assert!(!a.text.contains("source"), "{}", a.text);
    assert_eq!(a.text.chars().count(), text.chars().count(), "offsets kept");
    let p = write(
        dir.path(),
        "b.txt",
        "全球AI芯片巨頭首次全面解析\n正文第一段。\n".as_bytes(),
    );
    let b = read_articles(&p, &ReadOptions::default())
        .unwrap()
        .remove(0);
    assert_eq!(b.title.as_deref(), Some("全球AI芯片巨頭首次全面解析"));
    for first in ["· 全文共 7999 字", "文/劉勝軍", "置頂推薦:"] {
        let p = write(dir.path(), "c.txt", format!("{first}\n正文。\n").as_bytes());
        let c = read_articles(&p, &ReadOptions::default())
            .unwrap()
            .remove(0);
        assert_eq!(c.title, None, "{first}");
    }
}

#[test]
fn one_id_rule() {
    assert_eq!(check_article_id("cafe\u{301}").unwrap(), "caf\u{e9}");
    assert_eq!(check_article_id("caf\u{e9}").unwrap(), "caf\u{e9}");
    for ok in ["a", "7", "港口 新航線", "a b", "x\u{200d}y", "👩\u{200d}💻"] {
        assert_eq!(check_article_id(ok).as_deref(), Ok(ok), "{ok:?}");
    }
    let long = "a".repeat(MAX_ID_BYTES + 1);
    for bad in [
        "",
        " ",
        "\u{3000}",
        "\u{200b}",
        " \u{200b}\u{feff}\u{2060} ",
        "a\nb",
        "a\tb",
        "bell\u{7}",
        "del\u{7f}",
        "a\u{85}",
        "a\u{202a}b",
        "a\u{202e}b",
        "a\u{2066}b",
        "a\u{2069}b",
        long.as_str(),
    ] {
        let err = check_article_id(bad).unwrap_err();
        assert!(err.starts_with("article id"), "{bad:?}: {err}");
    }
}

#[test]
fn jsonl_and_file_ids_follow_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ids.jsonl",
        "{\"id\":\"cafe\u{301}\",\"text\":\"ok.\"}\n".as_bytes(),
    );
    let got = read_articles(&p, &ReadOptions::default()).unwrap();
    assert_eq!(got[0].id, "caf\u{e9}");
    let p = write(
        dir.path(),
        "bad.jsonl",
        b"{\"id\":\"a\",\"text\":\"ok.\"}\n{\"id\":\"a\\u0007\",\"text\":\"ok.\"}\n",
    );
    let err = read_articles(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.jsonl:2: article id"), "{err}");
    let p = write(dir.path(), "bell\u{7}.txt", b"Some text.");
    let err = read_articles(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a valid article id"), "{err}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReadOptions {
        max_article_bytes: 1000,
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.txt", b"  \n\n".to_vec(), "empty"),
        ("bin.txt", b"PK\x03\x04\x00\x00".to_vec(), "binary"),
        (
            "damaged.txt",
            b"caf\xc3\xa9 au lait \xff".to_vec(),
            "offset 14",
        ),
        ("big.txt", vec![b'a'; 1001], "over the 1000-byte limit"),
        (
            "bad.jsonl",
            b"{\"id\":\"a\",\"text\":\"ok\"}\n{oops\n".to_vec(),
            ":2: invalid JSON",
        ),
        (
            "noid.jsonl",
            b"{\"text\":\"ok\"}\n".to_vec(),
            "missing `id`",
        ),
        (
            "notext.jsonl",
            b"{\"id\":\"a\",\"text\":\" \"}\n".to_vec(),
            "empty `text`",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = write(dir.path(), name, &bytes);
        let err = read_articles(&p, &opts).unwrap_err().to_string();
        assert!(err.contains(want), "{name}: {err}");
    }
    let missing = read_articles(&dir.path().join("nope.txt"), &opts).unwrap_err();
    assert!(matches!(missing, TextError::Io { .. }));
    let empty_dir = tempfile::tempdir().unwrap();
    let err = read_articles(empty_dir.path(), &opts).unwrap_err();
    assert!(matches!(err, TextError::NoFiles { .. }));
}
