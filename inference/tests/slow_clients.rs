//! Slow and idle clients against the real server over raw TCP: bodies sent a byte a second
//! must not hold the `--max-concurrency` slots that predictions need, and must be answered
//! 408 once `--body-timeout-ms` passes; slow headers and idle connections are closed at the
//! HTTP layer.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, client, sample, transaction};
use serde_json::{Value, json};

/// What a slow client saw: the answer's status and body if one came, and when.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    headers: String,
    body: String,
    /// From the end of the request headers to the answer or the close.
    after: Duration,
    /// Whether the server closed the connection (EOF or reset) by the time it ended.
    closed: bool,
    body_bytes_sent: usize,
}

fn address(server: &Server) -> SocketAddr {
    let url = reqwest::Url::parse(&server.url("/")).unwrap();
    SocketAddr::from(([127, 0, 0, 1], url.port().unwrap()))
}

/// Sends the headers of a POST at once, then its body one byte per `interval`, reading
/// between bytes; ends at the first complete answer, at a close, or after `give_up`.
fn trickle(
    address: SocketAddr,
    path: &str,
    body: &[u8],
    interval: Duration,
    give_up: Duration,
) -> Outcome {
    let mut stream = TcpStream::connect(address).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    stream.set_read_timeout(Some(interval)).unwrap();
    let mut received = Vec::new();
    let mut sent = 0;
    let mut closed = false;
    while started.elapsed() < give_up {
        if sent < body.len() && stream.write_all(&body[sent..=sent]).is_ok() {
            sent += 1;
        }
        let mut buffer = [0u8; 4096];
        match stream.read(&mut buffer) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => {
                received.extend_from_slice(&buffer[..n]);
                if answer_complete(&received) {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let after = started.elapsed();
    if !closed && !received.is_empty() {
        closed = closed_within(&mut stream, Duration::from_secs(3));
    }
    let (status, headers, body) = parse_answer(&received);
    Outcome {
        status,
        headers,
        body,
        after,
        closed,
        body_bytes_sent: sent,
    }
}

/// Whether the peer closes the connection within `limit` (EOF or reset).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buffer = [0u8; 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// An HTTP/1.1 answer with its whole `content-length` body.
fn answer_complete(received: &[u8]) -> bool {
    let text = String::from_utf8_lossy(received);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}

fn parse_answer(received: &[u8]) -> (Option<u16>, String, String) {
    let text = String::from_utf8_lossy(received).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok());
    (status, head.to_ascii_lowercase(), body.to_string())
}

const MAX_CONCURRENCY: usize = 2;
const BODY_TIMEOUT: Duration = Duration::from_millis(2_500);

/// Three times as many slow bodies as prediction slots, on both inference routes: while
/// they trickle, every prediction is answered 200; once the deadline passes each of them is
/// answered 408 with the route's error body and its connection closed.
#[test]
fn slow_bodies_hold_no_prediction_slot_and_are_refused_after_the_deadline() {
    let server = Server::start(
        &[
            "--max-concurrency",
            &MAX_CONCURRENCY.to_string(),
            "--body-timeout-ms",
            &BODY_TIMEOUT.as_millis().to_string(),
        ],
        &[],
    );
    let address = address(&server);
    let v1_body = serde_json::to_vec(&transaction("user-000001")).unwrap();
    let v2_body = serde_json::to_vec(&json!({
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 9],
                    "data": [4.0, 1.0, 3.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0]}]
    }))
    .unwrap();
    let slow_clients = 3 * MAX_CONCURRENCY;
    let tricklers: Vec<_> = (0..slow_clients)
        .map(|i| {
            let (path, body) = if i % 3 == 2 {
                ("/v2/models/fraud-mlp/infer", v2_body.clone())
            } else {
                ("/v1/predict", v1_body.clone())
            };
            thread::spawn(move || {
                let outcome = trickle(
                    address,
                    path,
                    &body,
                    Duration::from_secs(1),
                    BODY_TIMEOUT + Duration::from_secs(6),
                );
                (path, outcome)
            })
        })
        .collect();

    // Predictions while every slow client is still sending (well before the deadline).
    thread::sleep(Duration::from_millis(400));
    let http = client();
    let mut statuses = Vec::new();
    let trickling_since = Instant::now();
    while trickling_since.elapsed() < BODY_TIMEOUT - Duration::from_millis(1_000) {
        let v1 = http
            .post(server.url("/v1/predict"))
            .json(&transaction("user-000002"))
            .send()
            .unwrap();
        statuses.push(v1.status().as_u16());
        let v2 = http
            .post(server.url("/v2/models/fraud-mlp/infer"))
            .header("content-type", "application/json")
            .body(v2_body.clone())
            .send()
            .unwrap();
        statuses.push(v2.status().as_u16());
        thread::sleep(Duration::from_millis(50));
    }
    assert!(statuses.len() >= 10, "only {} predictions", statuses.len());
    assert!(
        statuses.iter().all(|s| *s == 200),
        "predictions refused while {slow_clients} clients trickled bodies: {statuses:?}"
    );

    let mut refused_v1 = 0;
    for trickler in tricklers {
        let (path, outcome) = trickler.join().unwrap();
        assert_eq!(outcome.status, Some(408), "{path}: {outcome:?}");
        assert!(
            outcome.after >= BODY_TIMEOUT - Duration::from_millis(100)
                && outcome.after <= BODY_TIMEOUT + Duration::from_millis(2_500),
            "{path}: answered after {:?}, the deadline is {BODY_TIMEOUT:?}",
            outcome.after
        );
        assert!(
            outcome.body_bytes_sent < v1_body.len().min(v2_body.len()),
            "{outcome:?}"
        );
        assert!(outcome.headers.contains("connection: close"), "{outcome:?}");
        assert!(outcome.closed, "{path}: connection left open: {outcome:?}");
        let body: Value = serde_json::from_str(&outcome.body).unwrap();
        if path == "/v1/predict" {
            refused_v1 += 1;
            assert_eq!(body["error"]["code"], "body_timeout", "{body}");
            assert_eq!(body["error"]["field"], "body", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("--body-timeout-ms"),
                "{body}"
            );
        } else {
            let message = body["error"].as_str().unwrap();
            assert!(
                message.contains("did not arrive within 2500 ms of its headers"),
                "{body}"
            );
        }
    }

    let after = http
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000003"))
        .send()
        .unwrap();
    assert_eq!(after.status(), 200);
    let metrics = server.metrics();
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_requests_total",
            &["route=\"/v1/predict\"", "code=\"408\""]
        ),
        Some(f64::from(refused_v1)),
        "{metrics}"
    );
}

/// A connection that sends its first request's headers too slowly, or nothing at all, is
/// closed once `--header-timeout-ms` passes; an idle kept-alive one after
/// `--keep-alive-seconds`.
#[test]
fn slow_headers_and_idle_connections_are_closed() {
    let server = Server::start(
        &["--header-timeout-ms", "1000", "--keep-alive-seconds", "1"],
        &[],
    );
    let address = address(&server);
    // actix computes these deadlines from a clock it reads twice a second, so they pass up
    // to half a second early.
    let within = |after: Duration, what: &str| {
        assert!(
            after >= Duration::from_millis(450) && after <= Duration::from_millis(3_500),
            "{what} closed after {after:?}"
        );
    };

    // Headers a byte every 100 ms: not done after a second.
    let mut slow_head = TcpStream::connect(address).unwrap();
    let started = Instant::now();
    let head =
        b"POST /v1/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n";
    slow_head
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut received = Vec::new();
    let mut closed = false;
    for byte in head {
        if slow_head.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 1024];
        match slow_head.read(&mut buffer) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        if !received.is_empty() {
            closed = closed_within(&mut slow_head, Duration::from_secs(2));
            break;
        }
    }
    let (status, _, _) = parse_answer(&received);
    assert!(
        closed && matches!(status, None | Some(408)),
        "slow headers: {status:?}, closed {closed}"
    );
    within(started.elapsed(), "a connection with slow headers");

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(address).unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(5)));
    within(started.elapsed(), "a silent connection");

    // A kept-alive connection, idle after one answer.
    let mut idle = TcpStream::connect(address).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut received = Vec::new();
    while !answer_complete(&received) {
        let mut buffer = [0u8; 1024];
        let n = idle.read(&mut buffer).unwrap();
        assert!(n > 0, "closed before answering");
        received.extend_from_slice(&buffer[..n]);
    }
    assert_eq!(parse_answer(&received).0, Some(200));
    let answered = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(5)));
    within(answered.elapsed(), "an idle kept-alive connection");

    // The server still serves.
    let ok = client()
        .post(server.url("/v1/predict"))
        .json(&transaction("user-000001"))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
}
