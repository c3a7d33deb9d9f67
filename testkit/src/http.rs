//! HTTP/1.0 GETs over loopback and a bounded wait for a 2xx answer: enough to probe and
//! read the servers under test (their `/readyz` and `/metrics`) without a client library or
//! an async runtime. Not a client for the APIs under test: the tests use reqwest for those.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::ChildGuard;

/// Bounds one probe, so that a server that accepts but never answers cannot stall a wait.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bounds reading a whole answer (a `/metrics` page included).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Status code and body of `GET path` on `address`. The request asks the server to close
/// the connection, so the body is everything that follows the headers.
pub fn http_get(address: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    // One write: a request sent in pieces lets a server that answers after its first read
    // close the connection while the rest is still on its way (a reset, not an answer).
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// Waits until `GET path` on `address` answers 2xx; fails with `child`'s log when it exits
/// first or `within` passes.
pub fn wait_for_http_ok(
    child: &mut ChildGuard,
    address: SocketAddr,
    path: &str,
    within: Duration,
) -> anyhow::Result<()> {
    child.wait_until(
        &format!("GET http://{address}{path} answering 2xx"),
        within,
        || http_get(address, path).is_ok_and(|(code, _)| (200..300).contains(&code)),
    )
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn reads_the_status_and_the_body_of_a_close_delimited_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // Read the whole head before answering, as a real server does.
            let mut request = [0u8; 1024];
            let mut n = 0;
            while !request[..n].ends_with(b"\r\n\r\n") {
                match stream.read(&mut request[n..]).unwrap() {
                    0 => break,
                    read => n += read,
                }
            }
            stream
                .write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\n\r\nnot ready",
                )
                .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let (code, body) = http_get(address, "/readyz").unwrap();
        assert_eq!((code, body.as_str()), (503, "not ready"));
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /readyz HTTP/1.0\r\n")
        );
    }

    #[test]
    fn nothing_listening_is_an_error() {
        let address = crate::loopback(crate::free_port());
        assert!(http_get(address, "/").is_err());
    }
}
