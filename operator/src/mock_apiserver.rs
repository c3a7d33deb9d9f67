//! Test-only stand-in for the Kubernetes API server: a `kube::Client` whose requests reach a
//! scripted verifier instead of a network. A scenario lists the requests one step must send,
//! in order (method, path, query, content type and body each checked) and the answer to each;
//! a request that differs, one that is not expected, one that never comes, or a client that
//! does not finish fails the test with a message naming the request. No sockets; the one
//! timer bounds a client that hangs.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use hyper::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

/// The query of every server-side apply of the operator: its field manager, forced.
const APPLY_QUERY: &[(&str, &str)] = &[("fieldManager", "tidewatch-operator"), ("force", "true")];

/// The content type that makes a PATCH a server-side apply.
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// How long a scenario waits for the client by default. Nothing in a scenario sleeps, so this
/// only bounds a client that hangs; tests on paused time raise it to their virtual span.
const DEFAULT_PATIENCE: Duration = Duration::from_secs(5);

/// A client for code under test, and the verifier that answers its requests.
pub fn client() -> (Client, ApiServerVerifier) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let verifier = ApiServerVerifier {
        handle,
        patience: DEFAULT_PATIENCE,
        bodies: Vec::new(),
    };
    (Client::new(service, "default"), verifier)
}

/// Answers the requests of one client, scenario after scenario.
pub struct ApiServerVerifier {
    handle: Handle<Request<Body>, Response<Body>>,
    patience: Duration,
    bodies: Vec<Value>,
}

impl ApiServerVerifier {
    /// Waits up to `patience` for the client in each scenario (virtual time on a paused clock).
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// Drives `client` to completion while answering its requests with `scenario`, and
    /// returns its output. Panics when a request differs from the next expected one, when a
    /// request comes after the last expected one, when the client finishes before every
    /// expected request came, or when it has not finished within the patience.
    pub async fn run<F: Future>(&mut self, scenario: Vec<Expect>, client: F) -> F::Output {
        match self.try_run(scenario, client).await {
            Ok(output) => output,
            Err(failure) => panic!("{failure}"),
        }
    }

    /// [`Self::run`], with the failure as a message instead of a panic.
    async fn try_run<F: Future>(
        &mut self,
        scenario: Vec<Expect>,
        client: F,
    ) -> Result<F::Output, String> {
        let total = scenario.len();
        let mut expected = scenario.into_iter().enumerate();
        let describe =
            |(index, next): (usize, Expect)| format!("request {} of {total}, {next}", index + 1);
        self.bodies.clear();
        let mut client = std::pin::pin!(client);
        let deadline = tokio::time::sleep(self.patience);
        let mut deadline = std::pin::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                request = self.handle.next_request() => {
                    let (request, respond) = request.expect("the client under test was dropped");
                    let seen = Seen::read(request).await;
                    let Some((index, expect)) = expected.next() else {
                        return Err(format!("unexpected request after the {total} expected: {seen}"));
                    };
                    if let Err(difference) = expect.check(&seen) {
                        return Err(format!(
                            "request {} of {total}: {difference}\n  expected {expect}\n  got      {seen}",
                            index + 1
                        ));
                    }
                    respond.send_response(expect.reply.answer(&seen.body));
                    self.bodies.push(seen.body);
                }
                output = &mut client => {
                    return match expected.next().map(describe) {
                        Some(missing) => Err(format!("the client finished without sending {missing}")),
                        None => Ok(output),
                    };
                }
                () = &mut deadline => {
                    let state = expected.next().map(describe).map_or_else(
                        || "after every expected request".to_owned(),
                        |next| format!("waiting for {next}"),
                    );
                    return Err(format!("the client did not finish within {:?}, {state}", self.patience));
                }
            }
        }
    }

    /// The bodies of the last scenario's requests, in order (`null` for a request without one).
    pub fn bodies(&self) -> &[Value] {
        &self.bodies
    }
}

/// A request as the verifier received it.
struct Seen {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Value,
}

impl Seen {
    async fn read(request: Request<Body>) -> Self {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("a request body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON request body")
        };
        Self {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: query_pairs(parts.uri.query().unwrap_or_default()),
            content_type: parts
                .headers
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{}",
            self.method,
            self.path,
            query_text(&self.query)
        )?;
        if !self.body.is_null() {
            write!(f, " {}", abridged(&self.body))?;
        }
        Ok(())
    }
}

/// The query's pairs, sorted, as sent (kube form-encodes them; the operator's values need no
/// decoding).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    pairs.sort();
    pairs
}

fn query_text(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("?{}", joined.join("&"))
}

/// A body for a failure message: short enough to read next to another (the difference
/// itself is named by its JSON pointer).
fn abridged(body: &Value) -> String {
    const SHOWN: usize = 600;
    let text = body.to_string();
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// What the body of an expected request must be.
enum BodyCheck {
    /// No body at all (reads).
    Empty,
    /// Exactly this JSON.
    Equals(Value),
    /// At least these fields with these values (see [`includes`]).
    Includes(Value),
}

/// One expected request and the answer to give it.
pub struct Expect {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<&'static str>,
    body: BodyCheck,
    reply: Reply,
}

impl Expect {
    fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            query: Vec::new(),
            content_type: None,
            body: BodyCheck::Empty,
            reply: Reply::Json(StatusCode::OK, json!({})),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn put(path: &str) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// A server-side apply of the operator: PATCH with the apply content type and
    /// [`APPLY_QUERY`].
    pub fn apply(path: &str) -> Self {
        let mut expect = Self::new(Method::PATCH, path).query(APPLY_QUERY);
        expect.content_type = Some(APPLY_PATCH);
        expect
    }

    /// The exact query parameters (any order).
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.query = pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        self.query.sort();
        self
    }

    /// The body must be exactly `body`.
    pub fn body(mut self, body: Value) -> Self {
        self.body = BodyCheck::Equals(body);
        self
    }

    /// The body must hold at least the fields of `body`, with their values.
    pub fn body_includes(mut self, body: Value) -> Self {
        self.body = BodyCheck::Includes(body);
        self
    }

    pub fn reply(mut self, reply: Reply) -> Self {
        self.reply = reply;
        self
    }

    fn check(&self, seen: &Seen) -> Result<(), String> {
        if seen.method != self.method || seen.path != self.path {
            return Err("method or path differs".into());
        }
        if seen.query != self.query {
            return Err(format!(
                "query {:?}, expected {:?}",
                query_text(&seen.query),
                query_text(&self.query)
            ));
        }
        if let Some(wanted) = self.content_type
            && seen.content_type.as_deref() != Some(wanted)
        {
            return Err(format!(
                "content type {:?}, expected {wanted:?}",
                seen.content_type
            ));
        }
        match &self.body {
            BodyCheck::Empty if seen.body.is_null() => Ok(()),
            BodyCheck::Empty => Err("a body, expected none".into()),
            BodyCheck::Equals(wanted) if *wanted == seen.body => Ok(()),
            BodyCheck::Equals(wanted) => Err(format!(
                "body differs at {}",
                first_difference(wanted, &seen.body, "").unwrap_or_else(|| "<root>".into())
            )),
            BodyCheck::Includes(wanted) => {
                includes(wanted, &seen.body, "").map_err(|at| format!("body differs at {at}"))
            }
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{}",
            self.method,
            self.path,
            query_text(&self.query)
        )?;
        match &self.body {
            BodyCheck::Empty => Ok(()),
            BodyCheck::Equals(body) => write!(f, " {}", abridged(body)),
            BodyCheck::Includes(body) => write!(f, " including {}", abridged(body)),
        }
    }
}

/// `wanted` is included in `seen` when every field of every object in it is present in `seen`
/// with an included value, arrays have the same length and include element by element, and
/// other values are equal. Err: the JSON pointer of the first difference.
fn includes(wanted: &Value, seen: &Value, at: &str) -> Result<(), String> {
    match (wanted, seen) {
        (Value::Object(want), Value::Object(have)) => want.iter().try_for_each(|(key, value)| {
            let at = format!("{at}/{key}");
            match have.get(key) {
                Some(present) => includes(value, present, &at),
                None => Err(format!("{at} (missing)")),
            }
        }),
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => want
            .iter()
            .zip(have)
            .enumerate()
            .try_for_each(|(i, (w, h))| includes(w, h, &format!("{at}/{i}"))),
        (want, have) if want == have => Ok(()),
        (want, have) => Err(format!("{at}: expected {want}, got {have}")),
    }
}

/// The JSON pointer of the first place where two values differ, if any.
fn first_difference(wanted: &Value, seen: &Value, at: &str) -> Option<String> {
    match (wanted, seen) {
        (Value::Object(want), Value::Object(have)) => {
            want.keys()
                .chain(have.keys())
                .find_map(|key| match (want.get(key), have.get(key)) {
                    (Some(w), Some(h)) => first_difference(w, h, &format!("{at}/{key}")),
                    (Some(_), None) => Some(format!("{at}/{key} (missing)")),
                    (None, _) => Some(format!("{at}/{key} (not expected)")),
                })
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => want
            .iter()
            .zip(have)
            .enumerate()
            .find_map(|(i, (w, h))| first_difference(w, h, &format!("{at}/{i}"))),
        (want, have) if want == have => None,
        (want, have) => Some(format!("{at}: expected {want}, got {have}")),
    }
}

/// The API server's answer to an expected request.
pub enum Reply {
    /// This status and JSON body.
    Json(StatusCode, Value),
    /// What a successful write returns: `onto` (for a status write, the whole parent) with
    /// the request body merged in, at `resourceVersion`.
    Applied {
        onto: Value,
        resource_version: String,
    },
    /// A `metav1.Status` failure with this code.
    Failure(StatusCode),
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self::Json(StatusCode::OK, body)
    }

    /// The written object itself, at `resource_version`.
    pub fn applied(resource_version: &str) -> Self {
        Self::applied_onto(json!({}), resource_version)
    }

    pub fn applied_onto(onto: Value, resource_version: &str) -> Self {
        Self::Applied {
            onto,
            resource_version: resource_version.to_owned(),
        }
    }

    /// The answer to a delete carried out.
    pub fn deleted() -> Self {
        Self::ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}))
    }

    pub fn failure(code: u16) -> Self {
        Self::Failure(StatusCode::from_u16(code).expect("an HTTP status code"))
    }

    fn answer(&self, request: &Value) -> Response<Body> {
        let (code, body) = match self {
            Self::Json(code, body) => (*code, body.clone()),
            Self::Applied {
                onto,
                resource_version,
            } => {
                let mut object = onto.clone();
                merge(&mut object, request);
                object["metadata"]["resourceVersion"] = json!(resource_version);
                (StatusCode::OK, object)
            }
            Self::Failure(code) => (*code, failure_status(*code)),
        };
        Response::builder()
            .status(code)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&body).expect("JSON")))
            .expect("a response")
    }
}

/// Merges `patch` into `target`: objects field by field, anything else replaced.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn failure_status(code: StatusCode) -> Value {
    let reason = match code.as_u16() {
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ => "InternalError",
    };
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": reason, "code": code.as_u16(),
        "message": format!("mocked answer {code}"),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    fn configmaps(client: Client) -> kube::Api<ConfigMap> {
        kube::Api::namespaced(client, "ns")
    }

    #[test]
    fn inclusion_names_the_first_difference() {
        let seen = json!({"a": {"b": [1, {"c": 2, "d": 3}]}, "e": "x"});
        assert_eq!(
            includes(&json!({"a": {"b": [1, {"c": 2}]}}), &seen, ""),
            Ok(())
        );
        assert_eq!(
            includes(&json!({"a": {"b": [1, {"c": 5}]}}), &seen, ""),
            Err("/a/b/1/c: expected 5, got 2".into())
        );
        assert_eq!(
            includes(&json!({"f": 1}), &seen, ""),
            Err("/f (missing)".into())
        );
        assert!(includes(&json!({"a": {"b": [1]}}), &seen, "").is_err());
    }

    #[test]
    fn equality_names_the_first_difference() {
        let seen = json!({"a": 1, "b": 2});
        assert_eq!(first_difference(&json!({"a": 1, "b": 2}), &seen, ""), None);
        assert_eq!(
            first_difference(&json!({"a": 1}), &seen, ""),
            Some("/b (not expected)".into())
        );
    }

    #[tokio::test]
    async fn a_missing_request_fails_with_its_description() {
        let (client, mut api) = client();
        let scenario = vec![Expect::get("/api/v1/namespaces/ns/configmaps/a")];
        let failure = api
            .try_run(scenario, async { drop(client) })
            .await
            .unwrap_err();
        assert_eq!(
            failure,
            "the client finished without sending request 1 of 1, GET /api/v1/namespaces/ns/configmaps/a"
        );
    }

    #[tokio::test]
    async fn an_unexpected_request_fails_with_the_request() {
        let (client, mut api) = client();
        let configmaps = configmaps(client);
        let failure = api
            .try_run(Vec::new(), configmaps.get("a"))
            .await
            .unwrap_err();
        assert_eq!(
            failure,
            "unexpected request after the 0 expected: GET /api/v1/namespaces/ns/configmaps/a"
        );
    }

    #[tokio::test]
    async fn a_request_that_differs_fails_with_the_difference() {
        let (client, mut api) = client();
        let configmaps = configmaps(client);
        let scenario = vec![
            Expect::apply("/api/v1/namespaces/ns/configmaps/a").body(json!({"data": {"k": "v"}})),
        ];
        let patch = kube::api::Patch::Apply(json!({"data": {"k": "w"}}));
        let params = kube::api::PatchParams::apply("tidewatch-operator").force();
        let failure = api
            .try_run(scenario, configmaps.patch("a", &params, &patch))
            .await
            .unwrap_err();
        assert!(
            failure
                .starts_with("request 1 of 1: body differs at /data/k: expected \"v\", got \"w\""),
            "{failure}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_hangs_fails_once_the_patience_is_spent() {
        let (_client, api) = client();
        let mut api = api.with_patience(Duration::from_secs(3));
        let scenario = vec![Expect::get("/api/v1/namespaces/ns/configmaps/a")];
        let failure = api
            .try_run(scenario, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(
            failure,
            "the client did not finish within 3s, waiting for request 1 of 1, GET /api/v1/namespaces/ns/configmaps/a"
        );
    }
}
