//! `concord serve` over real sockets with the real model: every endpoint, a table of bad
//! requests with their statuses, the API key, an overloaded queue answering 429, many
//! concurrent clients without a failure, a client that leaves mid-job, short requests
//! under a maximal one, writes that survive `kill -9`, a graceful stop that commits,
//! several models, and the real `openai` and `huggingface_hub` clients.

mod support;

use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Server;

impl Server {
    /// `(status, headers we look at, body as JSON or Null)`.
    fn call(&self, method: &str, path: &str, body: Option<&Value>, key: Option<&str>) -> Reply {
        let mut req = agent().request(method, &self.url(path));
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let res = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        Reply::from(res)
    }

    fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(&body), None)
    }

    fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, None)
    }

    /// Sends raw bytes with an optional content type.
    fn raw(&self, path: &str, bytes: &[u8], content_type: Option<&str>) -> Reply {
        let mut req = agent().post(&self.url(path));
        if let Some(ct) = content_type {
            req = req.set("Content-Type", ct);
        }
        Reply::from(req.send_bytes(bytes))
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "concord serve exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "concord serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(300))
        .build()
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl From<Result<ureq::Response, ureq::Error>> for Reply {
    fn from(r: Result<ureq::Response, ureq::Error>) -> Self {
        let resp = match r {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => panic!("transport error: {e}"),
        };
        let status = resp.status();
        let retry_after = resp.header("Retry-After").map(str::to_string);
        let text = resp.into_string().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            retry_after,
            body,
        }
    }
}

fn article(name: &str) -> String {
    std::fs::read_to_string(support::root().join("examples/articles").join(name)).unwrap()
}

fn doc_body(id: &str, file: &str) -> Value {
    json!({"id": id, "title": file, "text": article(file)})
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn collection_dir(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("collection")
}

/// Offline `concord embed` vectors, to check the service returns the same numbers.
fn offline_embedding(text: &str, prefix: &str) -> Vec<f32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["embed", "--prefix", prefix])
        .current_dir(support::root())
        .env_remove("CONCORD_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{text}\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    floats(&line["embedding"])
}

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
    match concord_embed::qgemm::Kernel::best() {
        Some(kernel) => {
            assert_eq!(r.body["engine"], "fused-int8");
            assert_eq!(r.body["int8_kernel"], kernel.label());
        }
        None => {
            assert_eq!(r.body["engine"], "fused-f32");
            assert!(r.body["int8_kernel"].is_null());
        }
    }
    assert_eq!(r.body["cpu_isa"], concord_embed::isa::current().label());
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

#[test]
fn bad_requests_get_clear_errors_and_never_crash() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, "s3cret-key\n").unwrap();
    let server = Server::start(
        &collection_dir(&tmp),
        &[
            "--api-key-file",
            key_file.to_str().unwrap(),
            "--max-body-bytes",
            "65536",
            "--max-texts",
            "8",
            "--max-chars",
            "1000",
            "--max-article-bytes",
            "40000",
        ],
        &[],
    );
    let key = Some("s3cret-key");
    let r = server.call(
        "POST",
        "/documents",
        Some(&doc_body("ferry-cn", "harbour-ferry-cn.txt")),
        key,
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let long = "长".repeat(1001);
    let nine: Vec<&str> = vec!["a text"; 9];
    let json_cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("POST", "/search", json!({"text": 5}), 422, "validation"),
        ("POST", "/search", json!({"k": 3}), 422, "validation"),
        (
            "POST",
            "/search",
            json!({"text": "x", "limit": 3}),
            422,
            "validation",
        ),
        ("POST", "/search", json!({"text": "   "}), 422, "validation"),
        (
            "POST",
            "/search",
            json!({"text": "渡轮", "k": 0}),
            422,
            "validation",
        ),
        ("POST", "/search", json!({"text": long}), 413, "too_large"),
        (
            "POST",
            "/search",
            json!({"text": "渡轮", "docs": ["nope"]}),
            404,
            "not_found",
        ),
        ("POST", "/overlaps", json!({}), 422, "validation"),
        (
            "POST",
            "/overlaps",
            json!({"text": "渡轮", "doc_id": "ferry-cn"}),
            422,
            "validation",
        ),
        (
            "POST",
            "/overlaps",
            json!({"passage_id": "ferry-cn#99"}),
            404,
            "not_found",
        ),
        (
            "POST",
            "/overlaps",
            json!({"doc_id": "nope"}),
            404,
            "not_found",
        ),
        (
            "POST",
            "/overlaps",
            json!({"doc_id": "ferry-cn", "min_label": "same"}),
            422,
            "validation",
        ),
        (
            "POST",
            "/overlaps",
            json!({"with_doc": "ferry-cn", "text": "渡轮"}),
            422,
            "validation",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": []}),
            422,
            "validation",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": [""]}),
            422,
            "validation",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": nine}),
            413,
            "too_large",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": [1, 2, 3]}),
            422,
            "validation",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": "x", "encoding_format": "int8"}),
            422,
            "validation",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": "x", "dimensions": 128}),
            422,
            "validation",
        ),
        (
            "POST",
            "/v1/embeddings",
            json!({"input": {"text": "x"}}),
            422,
            "validation",
        ),
        (
            "POST",
            "/embed",
            json!({"inputs": "x", "prompt_name": "title"}),
            422,
            "validation",
        ),
        ("POST", "/embed", json!({"inputs": null}), 422, "validation"),
        (
            "POST",
            "/similarity",
            json!({"inputs": {"source_sentence": "x", "sentences": []}}),
            422,
            "validation",
        ),
        ("GET", "/documents/nope", Value::Null, 404, "not_found"),
        ("GET", "/search", Value::Null, 405, "method_not_allowed"),
        ("GET", "/no/such/route", Value::Null, 404, "not_found"),
        ("GET", "/assets/nope.js", Value::Null, 404, "not_found"),
        (
            "GET",
            "/clusters?min_label=related",
            Value::Null,
            422,
            "validation",
        ),
        (
            "GET",
            "/clusters?min_label=most",
            Value::Null,
            422,
            "validation",
        ),
        (
            "GET",
            "/clusters?colour=red",
            Value::Null,
            422,
            "validation",
        ),
    ];
    for (method, path, body, status, kind) in &json_cases {
        let body = (!body.is_null()).then_some(body);
        let r = server.call(method, path, body, key);
        assert_eq!(
            (r.status, r.body["type"].as_str()),
            (*status, Some(*kind)),
            "{method} {path} {body:?}: {}",
            r.body
        );
        assert!(r.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    // Bodies that are not JSON, or too big, or not labelled as JSON.
    type RawCase<'a> = (&'a str, &'a [u8], Option<&'a str>, u16, &'a str);
    let raw_cases: Vec<RawCase> = vec![
        (
            "/search",
            b"{\"text\": ",
            Some("application/json"),
            400,
            "invalid_json",
        ),
        (
            "/search",
            b"{\"text\": \"\xff\xfe\"}",
            Some("application/json"),
            400,
            "invalid_json",
        ),
        (
            "/search",
            b"{\"text\": \"x\"}",
            None,
            415,
            "unsupported_media_type",
        ),
    ];
    for (path, bytes, ct, status, kind) in &raw_cases {
        let r = server.raw(path, bytes, *ct);
        assert_eq!(
            (r.status, r.body["type"].as_str()),
            (*status, Some(*kind)),
            "{path} {ct:?}: {}",
            r.body
        );
    }

    // A huge body is refused from its length alone; the server answers before reading
    // it (so the client may find the connection closed while still sending).
    let addr = server.base.trim_start_matches("http://");
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    write!(
        sock,
        "POST /v1/embeddings HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\n\r\n{{\"input\": \""
    )
    .unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Headers and body may arrive in separate reads: read until the JSON body closes.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.ends_with(b"}") {
        match sock.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("reading the 413 answer: {e}"),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""type":"too_large""#), "{answer}");

    // The API key guards writes: missing, wrong, right.
    let body = doc_body("library", "city-library.txt");
    let r = server.call("POST", "/documents", Some(&body), None);
    assert_eq!(
        (r.status, r.body["type"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = server.call("POST", "/documents", Some(&body), Some("guess"));
    assert_eq!(r.status, 401);
    assert_eq!(
        server
            .call("DELETE", "/documents/ferry-cn", None, None)
            .status,
        401
    );
    assert_eq!(
        server.call("DELETE", "/documents/nope", None, key).status,
        404
    );
    // Reads stay open with --protect writes.
    assert_eq!(server.get("/documents").status, 200);

    // Articles that cannot become a collection entry.
    let bad_docs = [
        (
            json!({"id": "", "text": "一段足够长的正文，说明了一件事情。"}),
            422,
        ),
        (
            json!({"id": "a\nb", "text": "一段足够长的正文，说明了一件事情。"}),
            422,
        ),
        (json!({"id": "h", "text": "# 標題\n\n## 小標題\n"}), 422),
        (json!({"id": "z", "text": "正文\u{0}二进制"}), 422),
        // Over the article limit but within the body limit, so the body is read
        // whole (a body over the declared-length limit is refused unread, which a
        // client still writing it may see as a broken pipe: tested on a raw socket).
        (json!({"id": "big", "text": "长".repeat(15_000)}), 413),
    ];
    for (body, status) in &bad_docs {
        let r = server.call("POST", "/documents", Some(body), key);
        assert_eq!(r.status, *status, "{body}: {}", r.body);
    }

    // After all that the server still answers, and nothing was lost.
    assert_eq!(server.get("/health").status, 200);
    let r = server.get("/documents");
    assert_eq!(r.body["total"], 1);

    // With --protect all, reads need the key too (but not /health).
    drop(server);
    let server = Server::start(
        &collection_dir(&tmp),
        &["--protect", "all"],
        &[("CONCORD_API_KEY", "env-key")],
    );
    assert_eq!(server.get("/documents").status, 401);
    assert_eq!(server.get("/clusters").status, 401);
    assert_eq!(server.get("/health").status, 200);
    // The page and its assets hold no data and stay open; the page asks for the key.
    for path in [
        "/",
        "/assets/app.js",
        "/assets/viewer.js",
        "/assets/viewer.css",
    ] {
        let r = agent().get(&server.url(path)).call().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.into_string().unwrap().len() > 500, "{path}");
    }
    assert_eq!(
        server
            .call("GET", "/clusters", None, Some("env-key"))
            .status,
        200
    );
    assert_eq!(
        server
            .call("GET", "/documents", None, Some("env-key"))
            .status,
        200
    );
}

#[test]
fn overload_is_refused_with_429_and_concurrent_clients_all_succeed() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection_dir(&tmp), &["--max-queue-tokens", "64"], &[]);
    let paragraph = article("harbour-ferry-cn.txt");

    // Many clients sending 8 long texts each: the queue holds one such job at a time
    // (each is over its 64 tokens, so it is taken only when the queue is empty), so most
    // are refused at once with 429 and Retry-After; none fails otherwise.
    let texts: Vec<String> = (0..8).map(|i| format!("{i} {paragraph}")).collect();
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| s.spawn(|| server.post("/embed", json!({"inputs": texts}))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!refused.is_empty(), "no request was refused");
    assert!(refused
        .iter()
        .all(|r| r.retry_after.as_deref() == Some("1") && r.body["type"] == "overloaded"));
    assert!(replies.iter().all(|r| r.status == 429 || r.status == 200));
    assert!(replies.iter().any(|r| r.status == 200));

    // 64 concurrent clients within the queue bound: every request succeeds.
    let server = {
        drop(server);
        Server::start(&collection_dir(&tmp), &[], &[])
    };
    let failures: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let server = &server;
                s.spawn(move || {
                    (0..3)
                        .filter(|j| {
                            let r = server.post(
                                "/v1/embeddings",
                                json!({"input": format!("query: 第{i}位客户的第{j}个问题：渡轮几点开？")}),
                            );
                            r.status != 200
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(failures, 0);
    let metrics = server.get("/metrics").body.as_str().unwrap().to_string();
    assert!(
        metrics.contains(r#"route="/v1/embeddings",status="200"} 192"#),
        "{metrics}"
    );
}

/// Polls `/metrics` until a line reads exactly `line`.
fn wait_for_metric(server: &Server, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let m = server.get("/metrics").body.as_str().unwrap().to_string();
        if m.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {line:?} in\n{m}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of a counter or gauge in `/metrics`.
fn metric(server: &Server, name: &str) -> f64 {
    let m = server.get("/metrics").body.as_str().unwrap().to_string();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{m}"))
}

/// 256 texts of about a thousand tokens each (two windows): a quarter of a million
/// tokens, half a minute or more of inference on two cores.
fn maximal_request() -> Value {
    let paragraph = article("harbour-ferry-cn.txt");
    let texts: Vec<String> = (0..256)
        .map(|i| format!("{i} {}", paragraph.repeat(8)))
        .collect();
    json!({"inputs": texts})
}

const BIG_LIMITS: [&str; 4] = [
    "--max-request-tokens",
    "400000",
    "--max-queue-tokens",
    "800000",
];

/// Issue 15, defect 3: a running request was never cancelled, and the queue served
/// requests whole in arrival order. A client that hangs up now loses its remaining
/// windows at once.
#[test]
fn a_client_that_leaves_stops_costing_compute() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection_dir(&tmp), &BIG_LIMITS, &[]);
    let body = maximal_request().to_string();
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        sock,
        "POST /embed HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while metric(&server, "concord_tokens_embedded_total") == 0.0 {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let queued = metric(&server, "concord_queue_tokens");
    assert!(queued > 200_000.0, "{queued}");
    drop(sock);
    wait_for_metric(&server, "concord_jobs_cancelled_total 1");
    wait_for_metric(&server, "concord_queue_tokens 0");
    let spent = metric(&server, "concord_tokens_embedded_total");
    assert!(
        spent < queued / 2.0,
        "{spent} of {queued} tokens embedded for a client that left"
    );
    // Nothing more is embedded for it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(metric(&server, "concord_tokens_embedded_total"), spent);
}

/// Issue 15, defect 3: a short request sent while a maximal one runs used to wait for
/// all of it (38 s in the probe). Rounds take a window from each job in turn, so short
/// requests stay fast; and a request over the per-request limit is refused with 413.
#[test]
fn short_requests_stay_fast_while_a_maximal_one_runs() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection_dir(&tmp), &BIG_LIMITS, &[]);
    // Unloaded, for reference.
    let t = Instant::now();
    assert_eq!(
        server
            .post("/embed", json!({"inputs": "渡轮几点开？"}))
            .status,
        200
    );
    let unloaded = t.elapsed();
    std::thread::scope(|s| {
        let long = s.spawn(|| server.post("/embed", maximal_request()));
        let deadline = Instant::now() + Duration::from_secs(120);
        while metric(&server, "concord_tokens_embedded_total") < 2000.0 {
            assert!(Instant::now() < deadline, "the long job never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut times: Vec<Duration> = (0..40)
            .map(|i| {
                let t = Instant::now();
                let r = server.post(
                    "/embed",
                    json!({"inputs": format!("第{i}个问题：渡轮几点开？")}),
                );
                assert_eq!(r.status, 200, "{}", r.body);
                t.elapsed()
            })
            .collect();
        assert!(
            !long.is_finished(),
            "the long request ended before the short ones"
        );
        times.sort();
        let p99 = times[times.len() * 99 / 100];
        eprintln!(
            "short requests under a maximal one: p99 {p99:?}, median {:?}, unloaded {unloaded:?}",
            times[times.len() / 2]
        );
        // Each waits for at most the round in progress and its own (a few hundred ms
        // on two cores), not for the quarter of a million tokens ahead of it.
        assert!(
            p99 < Duration::from_secs(3),
            "p99 {p99:?} (unloaded {unloaded:?}), all: {times:?}"
        );
        assert_eq!(long.join().unwrap().status, 200);
    });

    // Over the per-request limit: 413 with the counts, before any work.
    let server = {
        drop(server);
        Server::start(
            &collection_dir(&tmp),
            &["--max-request-tokens", "5000"],
            &[],
        )
    };
    let r = server.post("/embed", maximal_request());
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("at most 5000"),
        "{}",
        r.body
    );
    assert_eq!(metric(&server, "concord_tokens_embedded_total"), 0.0);
}

#[test]
fn acknowledged_writes_survive_kill_9_and_a_graceful_stop_commits() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let dir = collection_dir(&tmp);
    let server = Server::start(&dir, &[], &[]);
    assert_eq!(
        server
            .post("/documents", doc_body("ferry-cn", "harbour-ferry-cn.txt"))
            .status,
        201
    );
    assert_eq!(
        server
            .post("/documents", doc_body("library", "city-library.txt"))
            .status,
        201
    );
    assert_eq!(
        server
            .call("DELETE", "/documents/library", None, None)
            .status,
        200
    );
    server.kill9();

    let server = Server::start(&dir, &[], &[]);
    let r = server.get("/documents");
    assert_eq!(r.body["total"], 1, "{}", r.body);
    assert_eq!(server.get("/documents/ferry-cn").status, 200);
    assert_eq!(server.get("/documents/library").status, 404);
    let r = server.post("/search", json!({"text": "渡轮准点率", "k": 1}));
    assert_eq!(r.body["results"][0]["doc"], "ferry-cn");
    assert!(
        server.get("/info").body["collection"]["pending_changes"]
            .as_u64()
            .unwrap()
            >= 1
    );

    // A graceful stop folds the log into a new generation.
    assert_eq!(
        server
            .post("/documents", doc_body("ferry-tw", "harbour-ferry-tw.md"))
            .status,
        201
    );
    server.terminate();
    let log = std::fs::metadata(dir.join(concord_index::LOG_FILE)).unwrap();
    assert_eq!(log.len(), 0, "the change log was not folded in");
    let docs = Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["docs", "--collection"])
        .arg(&dir)
        .output()
        .unwrap();
    let listed = String::from_utf8(docs.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
}

/// Issue 15, defect 8: `/overlaps` never answered 429, so its latency grew without
/// bound with clients. Queries beyond `--max-overlap-queries` are refused at once.
#[test]
fn overlap_queries_beyond_the_bound_get_429() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection_dir(&tmp), &["--max-overlap-queries", "1"], &[]);
    for (id, file) in [
        ("ferry-cn", "harbour-ferry-cn.txt"),
        ("ferry-tw", "harbour-ferry-tw.md"),
    ] {
        assert_eq!(server.post("/documents", doc_body(id, file)).status, 201);
    }
    let barrier = std::sync::Barrier::new(16);
    let statuses: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (server, barrier) = (&server, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let r = server.post(
                        "/overlaps",
                        json!({"text": format!("第{i}班渡轮因大风停航"), "k": 5}),
                    );
                    (r.status, r.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let refused: Vec<&(u16, Value)> = statuses.iter().filter(|r| r.0 == 429).collect();
    assert!(!refused.is_empty(), "{statuses:?}");
    assert!(
        refused.iter().all(|r| r.1["type"] == "overloaded"),
        "{refused:?}"
    );
    assert!(
        statuses.iter().all(|r| r.0 == 200 || r.0 == 429),
        "{statuses:?}"
    );
    assert!(statuses.iter().any(|r| r.0 == 200));
    // Once they are done, the bound is free again.
    let r = server.post("/overlaps", json!({"doc_id": "ferry-cn"}));
    assert_eq!(r.status, 200, "{}", r.body);
}

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

/// The clients people already have, unchanged: the `openai` Python package
/// (`/v1/embeddings`, float and base64, `dimensions` refused with the reason) and
/// `huggingface_hub`'s `InferenceClient` given the server's address (it posts to `/`,
/// as to text-embeddings-inference), installed from PyPI by the test; what they get
/// equals `concord embed`'s vectors.
const CLIENT_PACKAGES: [&str; 3] = ["openai==3.57.0", "huggingface_hub==2.4.0", "numpy==2.4.6"];

/// A throwaway venv under `target/` with the real client packages (pinned; reused
/// between runs once installed).
fn client_venv() -> PathBuf {
    let dir = support::root().join("target/test-clients-venv");
    let python = dir.join("bin/python");
    let ready = dir.join(".installed");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(&CLIENT_PACKAGES.join(" ")) {
        let ok = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv failed");
        let ok = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(CLIENT_PACKAGES)
            .status()
            .unwrap()
            .success();
        assert!(ok, "pip install {CLIENT_PACKAGES:?} failed");
        std::fs::write(&ready, CLIENT_PACKAGES.join(" ")).unwrap();
    }
    python
}

/// `concord embed` of `texts` with no prefix, as the embedding routes embed them.
fn offline_plain(dir: &Path, texts: &[&str]) -> Vec<Vec<f32>> {
    let file = dir.join("texts.txt");
    std::fs::write(&file, texts.join("\n") + "\n").unwrap();
    let out = support::concord(&["embed", file.to_str().unwrap(), "--prefix", "none"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| floats(&serde_json::from_str::<Value>(l).unwrap()["embedding"]))
        .collect()
}

#[test]
fn openai_and_huggingface_hub_clients_work_unchanged() {
    let python = client_venv();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("collection"), &[], &[]);
    let (text, other) = ("渡輪明年首航", "the ferry starts running next year");
    let out = Command::new(&python)
        .arg(support::root().join("tests/clients/check_clients.py"))
        .args([server.url(""), text.to_string(), other.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = offline_plain(tmp.path(), &[text, other]);
    let close = |a: &[f32], b: &[f32], what: &str| {
        let c = support::cosine(a, b);
        assert!(c > 0.9999, "{what}: cosine {c}");
    };
    let openai = got["openai_float"].as_array().unwrap();
    close(&floats(&openai[0]), &want[0], "openai float");
    close(&floats(&openai[1]), &want[1], "openai float, second input");
    close(&floats(&got["openai_base64"]), &want[0], "openai base64");
    assert_eq!(got["openai_model"], "multilingual-e5-small");
    let refusal = got["openai_dimensions"].as_str().unwrap();
    assert!(
        refusal.contains("dimensions 128 is not available") && refusal.contains("384"),
        "{refusal}"
    );
    close(
        &floats(&got["hf_feature"]),
        &want[0],
        "huggingface_hub feature_extraction",
    );
    let sim = floats(&got["hf_similarity"]);
    let expected = support::cosine(&want[0], &want[1]);
    assert!((sim[0] - expected).abs() < 1e-3, "{sim:?} vs {expected}");
    assert!((sim[1] - 1.0).abs() < 1e-3, "{sim:?}");
}
