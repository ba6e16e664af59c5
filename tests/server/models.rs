//! Several models: a second one answers the embedding routes that name it; a model the
//! pair judge was not trained with gets no pair labels.

use super::*;

/// The ids of one input's tokens in a `/tokenize` answer.
fn token_ids(tokens: &Value) -> Vec<u64> {
    tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

fn tiny_model(name: &str) -> PathBuf {
    support::root()
        .join("crates/concord-embed/tests/fixtures/tiny")
        .join(name)
}

/// What transformers gave the tiny model for `text` with no prompt.
fn tiny_expected(name: &str, text: &str) -> Vec<f32> {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(tiny_model(name).join("expected.json")).unwrap(),
    )
    .unwrap();
    let case = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "none" && c["text"] == text)
        .unwrap();
    floats(&case["vector"])
}

/// `--embed-model` runs a second model beside the collection's: the embedding routes
/// pick it by their `model` field, `/info` lists both, an unknown name is 404, and the
/// collection's routes keep the collection's model.
#[test]
fn a_second_model_answers_the_embedding_routes_that_name_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bert = tiny_model("bert");
    let server = Server::start(
        &collection_dir(&tmp),
        &["--embed-model", bert.to_str().unwrap()],
        &[],
    );
    let info = server.get("/info");
    assert_eq!(info.status, 200);
    let models = info.body["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["multilingual-e5-small", "bert"], "{}", info.body);
    assert_eq!(models[1]["dimension"], 32);
    assert_eq!(models[1]["pooling"], "mean");
    assert_eq!(models[0]["judge_calibrated"], true);
    assert_eq!(models[1]["judge_calibrated"], false);

    let text = "港務局表示新碼頭將於三月啟用。";
    let r = server.post("/v1/embeddings", json!({"model": "bert", "input": [text]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "bert");
    let v = floats(&r.body["data"][0]["embedding"]);
    let c = support::cosine(&v, &tiny_expected("bert", text));
    assert!(c > 0.999, "{c}");
    let r = server.post("/embed", json!({"model": "bert", "inputs": text}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[0].as_array().unwrap().len(), 32);
    let r = server.post(
        "/similarity",
        json!({"model": "bert", "inputs": {"source_sentence": text, "sentences": [text]}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!((r.body[0].as_f64().unwrap() - 1.0).abs() < 1e-4);

    let r = server.post("/v1/embeddings", json!({"input": text}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["model"], "multilingual-e5-small");
    assert_eq!(
        r.body["data"][0]["embedding"].as_array().unwrap().len(),
        384
    );
    let r = server.post(
        "/v1/embeddings",
        json!({"model": "text-embedding-3-small", "input": text}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.body["type"], "model_not_found");
    assert!(r.body["error"].as_str().unwrap().contains("bert"));

    // text-embeddings-inference's /tokenize and /decode, on either model.
    let r = server.post("/tokenize", json!({"model": "bert", "inputs": "Prices"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let ids = token_ids(&r.body[0]);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(tiny_model("bert").join("expected.json")).unwrap(),
    )
    .unwrap();
    let want = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "Prices" && c["role"] == "none")
        .unwrap()["ids"]
        .clone();
    assert_eq!(json!(ids), want);
    assert_eq!(r.body[0][0]["special"], true);
    let r = server.post(
        "/tokenize",
        json!({"inputs": [text], "add_special_tokens": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Offsets are characters of the text; the pieces cover it from its first character
    // to its last (SentencePiece's "▁" shares the first one).
    let n = text.chars().count() as u64;
    let tokens = r.body[0].as_array().unwrap();
    for t in tokens {
        assert_eq!(t["special"], false);
        let (a, b) = (t["start"].as_u64().unwrap(), t["stop"].as_u64().unwrap());
        assert!(a <= b && b <= n, "{t}");
    }
    assert_eq!(tokens[0]["start"], 0);
    assert_eq!(tokens.last().unwrap()["stop"], n);
    let ids = token_ids(&r.body[0]);
    let r = server.post("/decode", json!({"ids": ids}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[0], text);
    let r = server.post("/decode", json!({"ids": [[5, 999_999]]}));
    assert_eq!(r.status, 422, "{}", r.body);

    let r = server.post("/documents", doc_body("library", "city-library.txt"));
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = server.post("/overlaps", json!({"text": article("city-library.txt")}));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A collection of a model the pair judge was not trained with: embeddings, writes and
/// search work; overlaps and clusters answer 501 in the server and fail with the
/// reason in the CLI, instead of labelling pairs on the wrong similarity scale.
#[test]
fn a_model_the_judge_was_not_trained_with_gets_no_pair_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let xlmr = tiny_model("xlmr-cls");
    let dir = collection_dir(&tmp);
    let server = Server::start(&dir, &["--model", xlmr.to_str().unwrap()], &[]);
    let r = server.post("/documents", doc_body("library", "city-library.txt"));
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let r = server.post("/search", json!({"text": "library"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server.post("/v1/embeddings", json!({"input": "library"}));
    assert_eq!(r.status, 200, "{}", r.body);
    for r in [
        server.post("/overlaps", json!({"text": "library"})),
        server.get("/clusters"),
    ] {
        assert_eq!(r.status, 501, "{}", r.body);
        assert_eq!(r.body["type"], "judge_not_calibrated");
        assert!(r.body["error"].as_str().unwrap().contains("retrain"));
    }
    server.terminate();

    let out = support::concord(&[
        "--model",
        xlmr.to_str().unwrap(),
        "overlaps",
        "--collection",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("calibrated for multilingual-e5-small"),
        "{err}"
    );

    // The collection remembers its model: the default one is refused on it.
    let out = support::concord(&["search", "--collection", dir.to_str().unwrap(), "library"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was built with model xlmr-cls") && err.contains("multilingual-e5-small"),
        "{err}"
    );
}
