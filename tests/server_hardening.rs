//! `concord serve` under hostile requests, over raw sockets (issue 15): made-up methods
//! and paths never grow the metrics, a Host header that is not the server's own is
//! refused on a loopback bind (DNS rebinding), and every extractor rejection (query,
//! path, JSON body) answers the documented `{error, type}` JSON.

use crate::support;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::Server;

/// One answer read off the socket.
struct Answer {
    status: u16,
    /// Header names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
    }

    fn describe(&self) -> String {
        format!(
            "{} {:?} {}",
            self.status,
            self.header("content-type"),
            String::from_utf8_lossy(&self.body)
        )
    }
}

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Sends one request on a fresh connection (`Connection: close`) exactly as written:
/// the method, target and Host header are not checked or rewritten by a client library.
fn send(
    addr: &str,
    method: &str,
    target: &str,
    host: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    if let Some(h) = host {
        req.push_str(&format!("Host: {h}\r\n"));
    }
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    if body.is_some() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    sock.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// Asserts the documented error shape: `status`, JSON content type, `{error, type}`.
fn assert_json_error(a: &Answer, status: u16, kind: &str, what: &str) {
    assert_eq!(a.status, status, "{what}: {}", a.describe());
    assert!(
        a.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{what}: not JSON: {}",
        a.describe()
    );
    let body = a.json();
    assert_eq!(
        body["type"].as_str(),
        Some(kind),
        "{what}: {}",
        a.describe()
    );
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {}",
        a.describe()
    );
}

fn collection(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("collection")
}

const ARTICLE: &str = "The harbour ferry resumed its morning crossings on Monday after a week of repairs to the pier.\n\nOfficials said the timetable would return to normal by the end of the month.\n";

/// Defect 2: 50,000 made-up methods grew RSS and `/metrics` without bound. Made-up
/// methods and unknown paths are all counted under `other`, so the exposition stays
/// the size of the route table.
#[test]
fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection(&tmp), &[], &[]);
    let addr = addr(&server);
    for i in 0..2000 {
        let a = send(&addr, &format!("M{i:07}X"), "/health", Some(&addr), None);
        assert_eq!(a.status, 405, "{}", a.describe());
        let a = send(
            &addr,
            "GET",
            &format!("/no/such/route/{i}"),
            Some(&addr),
            None,
        );
        assert_eq!(a.status, 404, "{}", a.describe());
        let a = send(
            &addr,
            &format!("Q{i:07}Z"),
            &format!("/p{i}"),
            Some(&addr),
            None,
        );
        assert_eq!(a.status, 404, "{}", a.describe());
    }
    let a = send(&addr, "GET", "/metrics", Some(&addr), None);
    assert_eq!(a.status, 200);
    let metrics = String::from_utf8_lossy(&a.body).into_owned();
    assert!(
        metrics.len() < 64 * 1024,
        "/metrics grew to {} bytes after 6,000 made-up requests",
        metrics.len()
    );
    assert!(
        !metrics.contains("M0000001X"),
        "a made-up method is a label"
    );
    assert!(
        !metrics.contains("/no/such/route"),
        "an unknown path is a label"
    );
    assert!(
        metrics.contains(
            r#"concord_http_requests_total{method="other",route="/health",status="405"} 2000"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"concord_http_requests_total{method="GET",route="other",status="404"} 2000"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"concord_http_requests_total{method="other",route="other",status="404"} 2000"#
        ),
        "{metrics}"
    );
}

/// Defect 5: with the default loopback bind, a page on another origin that rebinds its
/// name to 127.0.0.1 must not reach the collection. Only loopback Host values get in
/// unless `--allowed-hosts` names others.
#[test]
fn foreign_host_headers_are_refused_on_a_loopback_bind() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection(&tmp), &[], &[]);
    let addr = addr(&server);
    let port = addr.rsplit(':').next().unwrap().to_string();
    let doc = json!({"id": "ferry", "text": ARTICLE});

    for host in [
        "attacker.example",
        "attacker.example:80",
        &format!("attacker.example:{port}"),
        "localhost.attacker.example",
        "127.0.0.1.attacker.example",
    ] {
        let a = send(&addr, "GET", "/documents", Some(host), None);
        assert_json_error(&a, 421, "host_not_allowed", &format!("GET Host: {host}"));
    }
    let a = send(
        &addr,
        "POST",
        "/documents",
        Some("attacker.example"),
        Some(&doc),
    );
    assert_json_error(&a, 421, "host_not_allowed", "POST /documents");
    let a = send(
        &addr,
        "DELETE",
        "/documents/ferry",
        Some("attacker.example"),
        None,
    );
    assert_json_error(&a, 421, "host_not_allowed", "DELETE /documents/ferry");

    // Nothing was written by the refused POST.
    let a = send(&addr, "GET", "/documents", Some(&addr), None);
    assert_eq!(a.status, 200, "{}", a.describe());
    assert_eq!(a.json()["total"], 0, "{}", a.describe());

    for host in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        "LOCALHOST".to_string(),
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("127.1.2.3:{port}"),
        format!("[::1]:{port}"),
    ] {
        let a = send(&addr, "GET", "/documents", Some(&host), None);
        assert_eq!(a.status, 200, "Host: {host}: {}", a.describe());
    }
    let a = send(
        &addr,
        "POST",
        "/documents",
        Some(&format!("localhost:{port}")),
        Some(&doc),
    );
    assert_eq!(a.status, 201, "{}", a.describe());
    drop(server);

    // --allowed-hosts lets a named host in (and still only that one).
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        &collection(&tmp),
        &["--allowed-hosts", "attacker.example,other.example"],
        &[],
    );
    let addr = self::addr(&server);
    for host in ["attacker.example", "Attacker.Example:8080", "other.example"] {
        let a = send(&addr, "GET", "/documents", Some(host), None);
        assert_eq!(a.status, 200, "Host: {host}: {}", a.describe());
    }
    let a = send(&addr, "GET", "/documents", Some(&addr), None);
    assert_eq!(a.status, 200, "{}", a.describe());
    let a = send(&addr, "GET", "/documents", Some("third.example"), None);
    assert_json_error(&a, 421, "host_not_allowed", "Host: third.example");
}

/// Defect 7: query, path and body rejections were axum's `400 text/plain`; a
/// well-formed body with a wrong type (an enum given a number) was `400 invalid_json`.
#[test]
fn extractor_rejections_answer_documented_json() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&collection(&tmp), &[], &[]);
    let addr = addr(&server);
    let host = Some(addr.as_str());

    for (method, target) in [
        ("GET", "/documents?limit=-1"),
        ("GET", "/documents?offset=abc"),
        ("GET", "/documents?limit=18446744073709551616"),
        ("GET", "/documents?limit=1&limit=2"),
        ("GET", "/documents/%FF%FE"),
        ("DELETE", "/documents/%FF%FE"),
        ("GET", "/assets/%C3%28"),
    ] {
        let a = send(&addr, method, target, host, None);
        assert_json_error(&a, 400, "invalid_request", &format!("{method} {target}"));
    }

    for body in [
        json!({"text": "x", "min_label": 3}),
        json!({"text": "x", "min_label": true}),
        json!({"text": "x", "min_label": ["agree"]}),
        json!({"text": "x", "min_label": "most"}),
        json!({"text": "x", "k": "ten"}),
    ] {
        let a = send(&addr, "POST", "/overlaps", host, Some(&body));
        assert_json_error(&a, 422, "validation", &format!("POST /overlaps {body}"));
    }

    // Unknown fields: the collection routes refuse them; the OpenAI- and TEI-compatible
    // embedding routes ignore them, as those services do (their clients send more).
    for (target, body) in [
        ("/overlaps", json!({"text": "x", "tresh": 0.5})),
        ("/search", json!({"text": "x", "kk": 3})),
    ] {
        let a = send(&addr, "POST", target, host, Some(&body));
        assert_json_error(&a, 422, "validation", &format!("POST {target} {body}"));
        assert!(
            String::from_utf8_lossy(&a.body).contains("unknown field"),
            "{}",
            a.describe()
        );
    }
    for (target, body) in [
        ("/v1/embeddings", json!({"input": "x", "user": "u1"})),
        ("/embed", json!({"inputs": "x", "truncate": true})),
    ] {
        let a = send(&addr, "POST", target, host, Some(&body));
        assert_eq!(a.status, 200, "POST {target}: {}", a.describe());
    }

    // Still right: not JSON at all is 400 invalid_json; a good query is answered.
    let mut sock = TcpStream::connect(&addr).unwrap();
    write!(
        sock,
        "POST /overlaps HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{{\"text\": "
    )
    .unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).unwrap();
    assert_json_error(&parse(&raw), 400, "invalid_json", "truncated JSON");
    let a = send(&addr, "GET", "/documents?offset=0&limit=5", host, None);
    assert_eq!(a.status, 200, "{}", a.describe());
    let a = send(&addr, "GET", "/documents/missing", host, None);
    assert_json_error(&a, 404, "not_found", "GET /documents/missing");
}

/// Issue 15, defect 8: the `Bearer` scheme is case-insensitive (RFC 7235); a lowercase
/// `bearer` used to be refused with 401.
#[test]
fn the_bearer_scheme_is_case_insensitive() {
    support::model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, "s3cret-key\n").unwrap();
    let server = Server::start(
        &collection(&tmp),
        &["--api-key-file", key_file.to_str().unwrap()],
        &[],
    );
    let post = |auth: &str, id: &str| match ureq::post(&format!("{}/documents", server.base))
        .set("Authorization", auth)
        .send_json(json!({"id": id, "text": ARTICLE}))
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(post("bearer s3cret-key", "a"), 201);
    assert_eq!(post("BEARER s3cret-key", "b"), 201);
    assert_eq!(post("Bearer  s3cret-key", "c"), 201);
    assert_eq!(post("Basic s3cret-key", "d"), 401);
    assert_eq!(post("bearer wrong-key", "e"), 401);
}
