//! `concord serve` under slow and idle clients, over raw sockets (issue 15, defect 4):
//! a client that stalls in its headers, one that stalls in its body and an idle
//! keep-alive connection are closed after their timeouts; idle sockets at the
//! connection limit do not lock out a new client for good; and SIGTERM with
//! half-sent requests still stops within the shutdown timeout, after a final commit.

use crate::support;

use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::Server;

/// Short timeouts so each test takes a few seconds.
const FLAGS: &[&str] = &[
    "--header-timeout",
    "1",
    "--body-timeout",
    "1",
    "--idle-timeout",
    "1",
    "--max-connections",
    "8",
    "--shutdown-timeout",
    "2",
];

fn collection(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("collection")
}

fn start(dir: &Path) -> Server {
    support::model_dir();
    Server::start(dir, FLAGS, &[])
}

fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

fn connect(addr: &str) -> TcpStream {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock
}

/// Waits for the server to close `sock` (EOF or reset), returning what it sent
/// first and how long it took; panics if nothing happens within `limit`.
fn wait_closed(sock: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let began = Instant::now();
    sock.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return (got, began.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, began.elapsed()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "the connection was still open after {:?} (got {:?})",
                    began.elapsed(),
                    String::from_utf8_lossy(&got)
                )
            }
            Err(e) => panic!("reading: {e}"),
        }
        assert!(began.elapsed() < limit, "still open after {limit:?}");
    }
}

/// Reads one response with a Content-Length body off a keep-alive connection.
fn read_response(sock: &mut TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&got[end + 4..end + 4 + len]).into_owned();
                return (status, body);
            }
        }
        let n = sock.read(&mut buf).expect("reading a response");
        assert!(n > 0, "closed before a whole response");
        got.extend_from_slice(&buf[..n]);
    }
}

fn get_health(addr: &str) -> u16 {
    let mut sock = connect(addr);
    sock.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_response(&mut sock).0
}

fn post_json(addr: &str, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let mut sock = connect(addr);
    sock.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        sock,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut sock)
}

/// A slowloris client (half a request line and headers, then nothing) is
/// disconnected after the header timeout.
#[test]
fn a_stalled_header_is_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&collection(&tmp));
    let mut sock = connect(&addr(&server));
    sock.write_all(b"GET /health HTTP/1.1\r\nHost: local")
        .unwrap();
    let (_, took) = wait_closed(&mut sock, Duration::from_secs(5));
    assert!(
        took >= Duration::from_millis(800),
        "closed too soon: {took:?}"
    );
    assert_eq!(get_health(&addr(&server)), 200);
}

/// A client that announces 1,000 body bytes and sends 10 gets a 408, and the
/// connection closed, after the body timeout.
#[test]
fn a_stalled_body_is_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&collection(&tmp));
    let mut sock = connect(&addr(&server));
    sock.write_all(
        b"POST /search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":",
    )
    .unwrap();
    let (got, took) = wait_closed(&mut sock, Duration::from_secs(5));
    // This server answers 408 (as `{error, type}` JSON) and then closes.
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "answered {got:?}");
    assert!(got.contains("\"type\":\"timeout\""), "{got}");
    assert!(
        took >= Duration::from_millis(800),
        "closed too soon: {took:?}"
    );
    assert_eq!(get_health(&addr(&server)), 200);
}

/// An idle keep-alive connection is closed after the idle timeout once a request
/// was answered, and after the header timeout when it never sent one.
#[test]
fn idle_connections_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&collection(&tmp));
    let mut used = connect(&addr(&server));
    used.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut used).0, 200);
    let mut silent = connect(&addr(&server));
    let (got, _) = wait_closed(&mut used, Duration::from_secs(5));
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    wait_closed(&mut silent, Duration::from_secs(5));
}

/// With `--max-connections 8`, eight idle sockets hold every slot: a ninth client is
/// queued (the server stops accepting while it is full) and answered once the idle
/// ones time out, and the service still answers afterwards.
#[test]
fn idle_sockets_at_the_limit_do_not_lock_out_others() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&collection(&tmp));
    let addr = addr(&server);
    let idle: Vec<TcpStream> = (0..8).map(|_| connect(&addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let began = Instant::now();
    assert_eq!(get_health(&addr), 200);
    let took = began.elapsed();
    // Queued, not refused: answered once the idle ones time out (1 s), not at once.
    assert!(
        took >= Duration::from_millis(400),
        "answered at once ({took:?}): no connection limit"
    );
    assert!(
        took < Duration::from_secs(5),
        "the ninth client waited {took:?}"
    );
    drop(idle);
    assert_eq!(get_health(&addr), 200);
}

/// SIGTERM while three clients hold half-sent requests: the server exits within the
/// shutdown timeout (plus a margin), and a document added before the signal is
/// there after a restart on the same collection.
#[test]
fn sigterm_with_half_sent_requests_stops_and_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = collection(&tmp);
    let mut server = start(&dir);
    let addr = addr(&server);
    let text = "The harbour ferry resumed its morning crossings on Monday after a week of repairs to the pier.\n\nOfficials said the timetable would return to normal by the end of the month.\n";
    let (status, body) = post_json(
        &addr,
        "/documents",
        &json!({"id": "ferry", "title": "Ferry", "text": text}),
    );
    assert_eq!(status, 201, "{body}");
    let mut half: Vec<TcpStream> = (0..3).map(|_| connect(&addr)).collect();
    for s in &mut half {
        s.write_all(b"POST /documents HTTP/1.1\r\nHost: localhost\r\nContent-Le")
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let ok = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let began = Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            began.elapsed() < Duration::from_secs(8),
            "still running {:?} after SIGTERM",
            began.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status}");
    drop(half);
    drop(server);
    let server = start(&dir);
    let mut sock = connect(&self::addr(&server));
    sock.write_all(
        b"GET /documents/ferry HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let (status, body) = read_response(&mut sock);
    assert_eq!(status, 200, "{body}");
}
