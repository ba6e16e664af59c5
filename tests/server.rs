//! `concord serve` over real sockets with the real model: every endpoint, a table of bad
//! requests with their statuses, the API key, an overloaded queue answering 429, many
//! concurrent clients without a failure, a client that leaves mid-job, short requests
//! under a maximal one, writes that survive `kill -9`, a graceful stop that commits,
//! several models, and the real `openai` and `huggingface_hub` clients.

mod bad_requests;
mod clients;
mod endpoints;
mod load;
mod models;

use crate::support;

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
