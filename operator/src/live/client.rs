//! A small Prometheus HTTP API client: instant queries and the alerts list, with a bounded
//! timeout, an optional CA bundle and an optional bearer token read from a file (re-read on
//! every request, so a rotated token is picked up). Every failure is a `Trouble`, never a
//! panic. Knows nothing of SLOs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::Value;

use super::board::Trouble;

/// Largest answer read: a guard against a proxy answering with something unbounded.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Where Prometheus is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://prometheus-operated.monitoring:9090` (a path prefix is kept).
    pub url: String,
    /// PEM bundle of the CAs that sign Prometheus' certificate (system roots otherwise).
    pub ca_file: Option<PathBuf>,
    /// File holding a bearer token sent as `Authorization: Bearer`.
    pub bearer_token_file: Option<PathBuf>,
    /// Bound on every request, connection included.
    pub timeout: Duration,
}

/// A configuration refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--prometheus-url {0:?} is not an http(s) URL")]
    Url(String),
    #[error("--prometheus-ca-file {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("system CA roots: {0}")]
    NativeRoots(std::io::Error),
}

/// One sample of an instant query: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, `__name__` included.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Value (NaN and infinities kept as Prometheus sends them).
    pub value: f64,
}

/// One alert from `/api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Alert {
    /// Labels of the alert.
    pub labels: std::collections::BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
}

/// A Prometheus client.
#[derive(Clone)]
pub struct Prometheus {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    bearer_token_file: Option<PathBuf>,
    timeout: Duration,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn roots(ca_file: &Path) -> Result<rustls::RootCertStore, ConfigError> {
    let fail = |reason: String| ConfigError::Ca {
        path: ca_file.display().to_string(),
        reason,
    };
    let mut store = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        store.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(store)
}

impl Prometheus {
    /// A client for `config`; refuses a malformed URL or an unreadable CA file at once.
    pub fn new(config: &PrometheusConfig) -> Result<Self, ConfigError> {
        let base = config.url.trim_end_matches('/').to_owned();
        let parsed: Uri = base
            .parse()
            .map_err(|_| ConfigError::Url(config.url.clone()))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(ConfigError::Url(config.url.clone()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match &config.ca_file {
            Some(path) => {
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| ConfigError::Ca {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?
                    .with_root_certificates(roots(path)?)
                    .with_no_client_auth();
                builder.with_tls_config(tls)
            }
            None => builder
                .with_provider_and_native_roots(provider)
                .map_err(ConfigError::NativeRoots)?,
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            base,
            client,
            bearer_token_file: config.bearer_token_file.clone(),
            timeout: config.timeout,
        })
    }

    /// An instant query at Prometheus' current time: the samples of a vector result.
    pub async fn query(&self, expr: &str) -> Result<Vec<Sample>, Trouble> {
        let data = self
            .get(&format!("/api/v1/query?query={}", url_encode(expr)))
            .await?;
        vector_samples(&data)
    }

    /// An instant query at `unix_seconds`.
    pub async fn query_at(&self, expr: &str, unix_seconds: f64) -> Result<Vec<Sample>, Trouble> {
        let data = self
            .get(&format!(
                "/api/v1/query?query={}&time={unix_seconds:.3}",
                url_encode(expr)
            ))
            .await?;
        vector_samples(&data)
    }

    /// The `data` of any GET of the HTTP API, e.g. `/api/v1/rules`.
    pub async fn api(&self, path_and_query: &str) -> Result<Value, Trouble> {
        self.get(path_and_query).await
    }

    /// Every alert Prometheus evaluates, pending or firing.
    pub async fn alerts(&self) -> Result<Vec<Alert>, Trouble> {
        let data = self.get("/api/v1/alerts").await?;
        let alerts = data
            .get("alerts")
            .cloned()
            .ok_or_else(|| Trouble::BadAnswer("no data.alerts".into()))?;
        serde_json::from_value(alerts).map_err(|e| Trouble::BadAnswer(e.to_string()))
    }

    /// GET `path` and the `data` of a `status: success` answer.
    async fn get(&self, path: &str) -> Result<Value, Trouble> {
        let mut request = Request::get(format!("{}{path}", self.base));
        if let Some(file) = &self.bearer_token_file {
            let token = std::fs::read_to_string(file).map_err(|e| {
                Trouble::Unreachable(format!("bearer token file {}: {e}", file.display()))
            })?;
            request = request.header("authorization", format!("Bearer {}", token.trim()));
        }
        let request = request
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| Trouble::BadAnswer(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Trouble::Unreachable(connect_cause(&e)))?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| Trouble::Unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, Trouble>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Trouble::Timeout)??;
        // Prometheus answers 400/422/503 with a JSON error body; anything not 2xx is an
        // HTTP error whatever the body says.
        if status != StatusCode::OK {
            return Err(Trouble::HttpError(status.as_u16()));
        }
        let answer: Value =
            serde_json::from_slice(&body).map_err(|e| Trouble::BadAnswer(e.to_string()))?;
        if answer.get("status").and_then(Value::as_str) != Some("success") {
            return Err(Trouble::BadAnswer(format!(
                "status {}",
                answer.get("status").unwrap_or(&Value::Null)
            )));
        }
        answer
            .get("data")
            .cloned()
            .ok_or_else(|| Trouble::BadAnswer("no data".into()))
    }
}

/// The innermost cause of a connection failure, without addresses that change per attempt.
fn connect_cause(error: &hyper_util::client::legacy::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    // "Connection refused (os error 111)" stays; "tcp connect error: 10.0.0.1:9090" does not
    // need its address: the URL is in the operator's configuration.
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// Percent-encodes a query parameter value.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The samples of `data` of an instant query whose result is a vector.
pub fn vector_samples(data: &Value) -> Result<Vec<Sample>, Trouble> {
    if data.get("resultType").and_then(Value::as_str) != Some("vector") {
        return Err(Trouble::BadAnswer("the result is not a vector".into()));
    }
    let result = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or_else(|| Trouble::BadAnswer("no result".into()))?;
    result
        .iter()
        .map(|item| {
            let labels = item
                .get("metric")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            // Values travel as strings: "0.001", "NaN", "+Inf".
            let value = item
                .get("value")
                .and_then(|v| v.get(1))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(|| Trouble::BadAnswer("a sample without a value".into()))?;
            Ok(Sample { labels, value })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vector_answers_decode_including_nan() {
        let data = json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "x", "slo": "a"}, "value": [1.5, "0.001"]},
            {"metric": {"slo": "b"}, "value": [1.5, "NaN"]},
        ]});
        let samples = vector_samples(&data).unwrap();
        assert_eq!(samples[0].labels["slo"], "a");
        assert!((samples[0].value - 0.001).abs() < 1e-15);
        assert!(samples[1].value.is_nan());
        let matrix = json!({"resultType": "matrix", "result": []});
        assert!(matches!(
            vector_samples(&matrix),
            Err(Trouble::BadAnswer(_))
        ));
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            url_encode(r#"{__name__=~"a:b.+"}"#),
            "%7B__name__%3D~%22a%3Ab.%2B%22%7D"
        );
    }

    #[test]
    fn bad_urls_and_ca_files_are_refused() {
        let config = |url: &str, ca: Option<&str>| PrometheusConfig {
            url: url.into(),
            ca_file: ca.map(PathBuf::from),
            bearer_token_file: None,
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(
            Prometheus::new(&config("prometheus:9090", None)),
            Err(ConfigError::Url(_))
        ));
        assert!(matches!(
            Prometheus::new(&config("ftp://x", None)),
            Err(ConfigError::Url(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let refused = Prometheus::new(&config("https://p:9090", empty.to_str())).unwrap_err();
        assert!(refused.to_string().contains("ca.pem"), "{refused}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_and_a_silent_one_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let silent = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let client = |addr: std::net::SocketAddr| {
            Prometheus::new(&PrometheusConfig {
                url: format!("http://{addr}"),
                ca_file: None,
                bearer_token_file: None,
                timeout: Duration::from_millis(300),
            })
            .unwrap()
        };
        assert!(matches!(
            client(closed).query("up").await,
            Err(Trouble::Unreachable(_))
        ));
        // Accepted by the kernel's backlog, never answered.
        assert_eq!(client(silent).query("up").await, Err(Trouble::Timeout));
        drop(listener);
    }
}
