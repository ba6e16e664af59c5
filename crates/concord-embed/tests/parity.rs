//! Parity with Hugging Face transformers on tiny random-initialised BERT and XLM-R
//! models (tests/fixtures/tiny, written by scripts/make-tiny-models.py): every
//! engine (fused f32, fused int8 where the processor has an integer kernel, the
//! candle graph) gives transformers' token ids and pooled vectors. The fixtures cover
//! XLM-R's position numbering, weights under a `roberta.` prefix, one token type,
//! WordPiece, and mean / CLS / last-token pooling and prompts read from
//! sentence-transformers' files. Folders the encoders cannot run are refused.

use candle_core::Device;
use concord_embed::cpu::qgemm::Kernel;
use concord_embed::{CpuPrecision, Embedder, Engine, Pooling, Prefix};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn engines() -> Vec<(Engine, f32)> {
    let mut e = vec![(Engine::FusedF32, 0.9999), (Engine::Candle, 0.9999)];
    if Kernel::best().is_some() {
        e.push((Engine::FusedInt8, 0.999));
    }
    e
}

fn role(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// Checks every recorded case of `name` on every engine, printing each engine's worst
/// cosine.
fn check(name: &str, pooling: Pooling) {
    let dir = fixture(name);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for (engine, floor) in engines() {
        let mut worst = 1f32;
        let e = Embedder::load_engine(&dir, &Device::Cpu, engine).unwrap();
        assert_eq!(e.profile().pooling, pooling, "{name}");
        for case in expected["cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let prefix = role(case["role"].as_str().unwrap());
            let want_ids: Vec<u32> = case["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            let mut ids = vec![e.tokenizer().bos];
            ids.extend(e.tokenize(text, prefix).unwrap());
            ids.push(e.tokenizer().eos);
            assert_eq!(ids, want_ids, "{name} {prefix:?} {text:?}");
            let want: Vec<f32> = case["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let got = e.embed(&[text], prefix).unwrap().remove(0);
            let c = cosine(&got, &want);
            assert!(
                c >= floor,
                "{name} on {}: cosine {c} < {floor} for {prefix:?} {text:?}",
                engine.label()
            );
            worst = worst.min(c);
        }
        eprintln!("{name} on {}: worst cosine {worst:.6}", engine.label());
    }
}

#[test]
fn bert_with_wordpiece_and_mean_pooling_matches_transformers() {
    check("bert", Pooling::Mean);
}

#[test]
fn xlm_roberta_with_cls_pooling_and_prompts_matches_transformers() {
    check("xlmr-cls", Pooling::Cls);
    let e = Embedder::load_cpu(&fixture("xlmr-cls"), CpuPrecision::F32).unwrap();
    assert_eq!(e.profile().prompts.query, "query: ");
    assert_eq!(e.profile().prompts.passage, "doc: ");
}

#[test]
fn xlm_roberta_with_one_token_type_and_last_token_pooling_matches_transformers() {
    check("xlmr-last", Pooling::LastToken);
    // Not an e5 model and no prompts in its files: texts go in as they are.
    let e = Embedder::load_cpu(&fixture("xlmr-last"), CpuPrecision::F32).unwrap();
    assert_eq!(
        e.tokenize("Prices", Prefix::Query).unwrap(),
        e.tokenize("Prices", Prefix::None).unwrap()
    );
}

/// A copy of a fixture with one file rewritten by `edit`.
fn altered(name: &str, file: &str, edit: impl Fn(&mut Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), tmp.path());
    let path = tmp.path().join(file);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn refusal(dir: &Path) -> String {
    match Embedder::load_cpu(dir, CpuPrecision::F32) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn what_the_encoders_do_not_implement_is_refused() {
    let relative = altered("xlmr-last", "config.json", |c| {
        c["position_embedding_type"] = "relative_key".into()
    });
    assert!(refusal(relative.path()).contains("relative_key"));

    let decoder = altered("bert", "config.json", |c| c["is_decoder"] = true.into());
    assert!(refusal(decoder.path()).contains("decoder"));

    let other = altered("bert", "config.json", |c| {
        c["model_type"] = "nomic_bert".into();
        c["architectures"] = serde_json::json!(["NomicBertModel"]);
    });
    assert!(refusal(other.path()).contains("nomic_bert"));

    let classifier = altered("xlmr-last", "config.json", |c| {
        c["architectures"] = serde_json::json!(["XLMRobertaForSequenceClassification"])
    });
    assert!(refusal(classifier.path()).contains("XLMRobertaForSequenceClassification"));

    let max = altered("xlmr-cls", "1_Pooling/config.json", |c| {
        c["pooling_mode_cls_token"] = false.into();
        c["pooling_mode_max_tokens"] = true.into();
    });
    assert!(refusal(max.path()).contains("\"max\""));

    let dense = altered("xlmr-cls", "modules.json", |m| {
        m.as_array_mut().unwrap().push(serde_json::json!(
            {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
        ))
    });
    assert!(refusal(dense.path()).contains("Dense"));
}

/// A Hub `tokenizer.json` often sets truncation and padding (for training); concord
/// never cuts or pads a text, so both are ignored.
#[test]
fn a_tokenizer_files_truncation_and_padding_are_ignored() {
    let capped = altered("bert", "tokenizer.json", |t| {
        t["truncation"] = serde_json::json!(
            {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0}
        );
        t["padding"] = serde_json::json!({
            "strategy": {"Fixed": 64}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"
        });
    });
    let text = "Officials expect 12,000 visitors on the first weekend, the mayor said.";
    let plain = Embedder::load_cpu(&fixture("bert"), CpuPrecision::F32).unwrap();
    let e = Embedder::load_cpu(capped.path(), CpuPrecision::F32).unwrap();
    let ids = e.tokenize(text, Prefix::None).unwrap();
    assert!(ids.len() > 8, "{ids:?}");
    assert_eq!(ids, plain.tokenize(text, Prefix::None).unwrap());
}
