//! Every endpoint over a real socket, with the answers checked against the offline model.

use super::*;

#[test]
fn every_endpoint_over_a_real_socket() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection_dir(&tmp), &[], &[]);

    let r = server.get("/health");
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));

    // Documents: add, replace, list, read.
    for (id, file) in [
        ("ferry-tw", "harbour-ferry-tw.md"),
        ("ferry-cn", "harbour-ferry-cn.txt"),
        ("library", "city-library.txt"),
    ] {
        let r = server.post("/documents", doc_body(id, file));
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["created"], true);
        assert!(r.body["passages"].as_u64().unwrap() >= 3);
    }
    // The same article again is kept as it is, with nothing embedded (the CLI's
    // ingest makes the same check); a changed one is replaced.
    let r = server.post("/documents", doc_body("library", "city-library.txt"));
    assert_eq!((r.status, &r.body["created"]), (200, &json!(false)));
    assert_eq!(
        (&r.body["unchanged"], &r.body["tokens"]),
        (&json!(true), &json!(0))
    );
    let changed = json!({"id": "library", "title": "city-library.txt",
        "text": article("city-library.txt") + "\n\n圖書館週末延長開放到晚上十點。\n"});
    let r = server.post("/documents", changed);
    assert_eq!((r.status, &r.body["unchanged"]), (200, &json!(false)));
    assert!(r.body["tokens"].as_u64().unwrap() > 0);
    let r = server.post("/documents", doc_body("library", "city-library.txt"));
    assert_eq!((r.status, &r.body["unchanged"]), (200, &json!(false)));
    // Without a title, the article's own heading is its title, as for files; metadata
    // fields are kept.
    let r = server.post(
        "/documents",
        json!({"id": "ferry-tw", "text": article("harbour-ferry-tw.md"),
               "outlet": "港灣日報", "published": "2025-03-03"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = server.get("/documents/ferry-tw").body;
    assert_eq!(
        (&d["outlet"], &d["published"]),
        (&json!("港灣日報"), &json!("2025-03-03"))
    );
    let heading = article("harbour-ferry-tw.md")
        .lines()
        .next()
        .unwrap()
        .trim_start_matches('#')
        .trim()
        .to_string();
    assert_eq!(
        server.get("/documents/ferry-tw").body["title"],
        json!(heading)
    );
    let r = server.get("/documents");
    assert_eq!(r.body["total"], 3);
    let ids: Vec<&str> = r.body["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ferry-cn", "ferry-tw", "library"]);
    let r = server.get("/documents/ferry-cn");
    assert_eq!(r.status, 200);
    let source: Vec<char> = article("harbour-ferry-cn.txt").chars().collect();
    for p in r.body["passages"].as_array().unwrap() {
        let (start, end) = (
            p["start"].as_u64().unwrap() as usize,
            p["end"].as_u64().unwrap() as usize,
        );
        let span: String = source[start..end].iter().collect();
        assert_eq!(
            span,
            p["text"].as_str().unwrap(),
            "offsets must point into the article"
        );
    }

    // Info reflects the collection.
    let r = server.get("/info");
    assert_eq!(r.body["dimension"], 384);
    assert_eq!(r.body["device"], "cpu");
    match concord_embed::cpu::qgemm::Kernel::best() {
        Some(kernel) => {
            assert_eq!(r.body["engine"], "fused-int8");
            assert_eq!(r.body["int8_kernel"], kernel.label());
        }
        None => {
            assert_eq!(r.body["engine"], "fused-f32");
            assert!(r.body["int8_kernel"].is_null());
        }
    }
    assert_eq!(
        r.body["cpu_isa"],
        concord_embed::cpu::isa::current().label()
    );
    assert_eq!(r.body["collection"]["documents"], 3);

    // Search: a ferry question finds a ferry passage, and the docs filter holds.
    let r = server.post(
        "/search",
        json!({"text": "电动渡轮首月客运量和准点率是多少", "k": 3}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0]["doc"].as_str().unwrap().starts_with("ferry"));
    assert!(results[0]["text"].as_str().unwrap().contains("97%"));
    let r = server.post(
        "/search",
        json!({"text": "电动渡轮首月客运量", "k": 2, "docs": ["library"]}),
    );
    assert!(r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["doc"] == "library"));

    // Overlaps by article, by passage, by free text and aligned.
    let r = server.post("/overlaps", json!({"doc_id": "ferry-cn"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let pairs = r.body["pairs"].as_array().unwrap();
    let find = |pairs: &[Value], a: &str, b: &str| {
        pairs
            .iter()
            .find(|p| {
                p["a"]["text"].as_str().unwrap().contains(a)
                    && p["b"]["text"].as_str().unwrap().contains(b)
            })
            .cloned()
    };
    // The same figures: an overlap, with the paragraph around each claim.
    let figures = find(pairs, "12.6万人次", "12.6萬人次").expect("the figures pair");
    assert!(
        ["overlap", "duplicate"].contains(&figures["label"].as_str().unwrap()),
        "{figures:#}"
    );
    assert!(figures["b"]["context"]
        .as_str()
        .unwrap()
        .contains("試營運首月"));
    // The shared reprint notice is boilerplate: left out unless asked for.
    assert!(find(pairs, "本文仅供参考", "本文僅供參考").is_none());
    assert!(pairs
        .iter()
        .all(|p| p["a"]["doc"] == "ferry-cn" && p["b"]["doc"] != "ferry-cn"));
    let r = server.post(
        "/overlaps",
        json!({"doc_id": "ferry-cn", "boilerplate": true}),
    );
    let with_notices = r.body["pairs"].as_array().unwrap();
    let notice = find(with_notices, "本文仅供参考", "本文僅供參考").expect("the notice pair");
    assert_eq!(notice["label"], "boilerplate");
    let notice_id = notice["b"]["passage"].as_str().unwrap().to_string();
    let r = server.post(
        "/overlaps",
        json!({"passage_id": notice_id, "min_label": "duplicate", "boilerplate": true}),
    );
    assert_eq!(r.body["pairs"][0]["b"]["doc"], "ferry-cn", "{}", r.body);
    let r = server.post(
        "/overlaps",
        json!({"text": "港務局數據顯示，試運營首月客運量達12.6萬人次，準點率為97%。"}),
    );
    let pairs = r.body["pairs"].as_array().unwrap();
    assert!(!pairs.is_empty());
    assert!(["duplicate", "overlap"].contains(&pairs[0]["label"].as_str().unwrap()));
    let r = server.post(
        "/overlaps",
        json!({"doc_id": "ferry-tw", "with_doc": "ferry-cn", "k": 100}),
    );
    let aligned = r.body["pairs"].as_array().unwrap();
    assert!(aligned.len() >= 3, "{aligned:#?}");
    let mut seen = std::collections::HashSet::new();
    assert!(aligned
        .iter()
        .all(|p| seen.insert(p["b"]["passage"].clone())));

    // OpenAI shape: floats and base64 carry the same numbers, equal to offline embedding.
    let text = "query: 渡轮什么时候首航";
    let r = server.post(
        "/v1/embeddings",
        json!({"input": [text, "passage: 图书馆延长开放时间"], "model": "e5"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // One model served: the name a client sends is not checked; the answer says which.
    assert_eq!(r.body["model"], "multilingual-e5-small");
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"][1]["index"], 1);
    assert!(r.body["usage"]["prompt_tokens"].as_u64().unwrap() > 5);
    let served = floats(&r.body["data"][0]["embedding"]);
    assert_eq!(served.len(), 384);
    let r = server.post(
        "/v1/embeddings",
        json!({"input": text, "model": "e5", "encoding_format": "base64"}),
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r.body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, served);
    let offline = offline_embedding(text, "none");
    assert!(support::cosine(&served, &offline) > 0.9999);
    // A text of several windows, embedded window by window in the queue's rounds and
    // combined, is the vector `concord embed` gives the whole text.
    let long = article("harbour-ferry-cn.txt").replace('\n', " ").repeat(6);
    let r = server.post(
        "/embed",
        json!({"inputs": long.clone(), "normalize": false}),
    );
    let raw = floats(&r.body[0]);
    let offline = offline_embedding(&long, "none");
    assert!(support::cosine(&raw, &offline) > 0.9999);

    // text-embeddings-inference shapes.
    let r = server.post(
        "/embed",
        json!({"inputs": "渡轮什么时候首航", "prompt_name": "query"}),
    );
    let unit = floats(&r.body[0]);
    assert!((norm(&unit) - 1.0).abs() < 1e-4);
    assert!(
        support::cosine(&unit, &served) > 0.9999,
        "prompt_name query = query: prefix"
    );
    let r = server.post(
        "/embed",
        json!({"inputs": ["渡轮什么时候首航"], "prompt_name": "query", "normalize": false}),
    );
    let raw = floats(&r.body[0]);
    assert!((norm(&raw) - 1.0).abs() > 1e-3);
    assert!(support::cosine(&raw, &unit) > 0.9999);
    let r = server.post(
        "/similarity",
        json!({"inputs": {"source_sentence": "电动渡轮首航",
                          "sentences": ["青岚港的电动渡轮开始运营", "市图书馆调整开放时间"]},
               "prompt_name": "query"}),
    );
    let sims = floats(&r.body);
    assert_eq!(sims.len(), 2);
    assert!(sims[0] > sims[1], "{sims:?}");

    // Delete.
    let r = server.call("DELETE", "/documents/library", None, None);
    assert_eq!((r.status, &r.body["deleted"]), (200, &json!(true)));
    assert_eq!(server.get("/documents/library").status, 404);
    assert_eq!(
        server
            .call("DELETE", "/documents/library", None, None)
            .status,
        404
    );

    // Metrics and the OpenAPI document.
    let r = server.get("/metrics");
    let text = r.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"concord_http_requests_total{method="POST",route="/search",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains("concord_tokens_embedded_total"));
    assert!(text.contains("concord_batch_tokens_bucket"));
    assert!(text.contains("concord_queue_tokens"));
    // The clustering view of the page at `/`, cached until the collection changes.
    let r = server.get("/clusters");
    assert_eq!(r.status, 200, "{}", r.body);
    let view = &r.body;
    let ids: Vec<&str> = view["clustering"]["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let listed = server.get("/documents").body["total"].as_u64().unwrap();
    assert_eq!(ids.len() as u64, listed);
    // Each article's claims, in order, for the side-by-side of two full texts.
    for id in &ids {
        let claims = server.get(&format!("/documents/{id}")).body["passages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["text"].clone())
            .collect::<Vec<_>>();
        let texts: Vec<Value> = view["texts"][*id]
            .as_array()
            .unwrap_or_else(|| panic!("no text for {id}"))
            .iter()
            .map(|p| p["text"].clone())
            .collect();
        assert_eq!(texts, claims, "{id}");
    }
    assert_eq!(
        view["heatmap"]["order"].as_array().unwrap().len(),
        ids.len()
    );
    assert_eq!(server.get("/clusters").body, r.body);
    let page = agent().get(&server.url("/")).call().unwrap();
    assert!(page.content_type().starts_with("text/html"));
    assert!(page.into_string().unwrap().contains("/assets/viewer.js"));
    let r = server.get("/openapi.json");
    for path in [
        "/clusters",
        "/search",
        "/overlaps",
        "/documents",
        "/documents/{id}",
        "/v1/embeddings",
        "/embed",
        "/similarity",
        "/health",
        "/info",
        "/metrics",
    ] {
        assert!(r.body["paths"][path].is_object(), "openapi lacks {path}");
    }
    server.terminate();
}
