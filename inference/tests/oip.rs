//! The Open Inference Protocol (v2) routes of the real server binary, driven by NVIDIA's
//! `tritonclient` (installed into a cached virtualenv by `tests/oip/setup.sh`), and the
//! protocol's error answers to malformed requests.

mod common;

use std::path::Path;
use std::process::Command;

use candle_core::Device;
use common::{Server, client, sample};
use serde_json::{Value, json};
use tidewatch_inference::backend::model::FraudModel;
use tidewatch_inference::features::{FeatureVector, engineer, synth};

/// Engineered rows of synthetic transactions, as a client would send them.
fn rows(count: usize) -> Vec<FeatureVector> {
    let users = synth::users(42, 1_000);
    synth::examples(3, &users, count)
        .iter()
        .map(|e| engineer(&e.transaction, &e.user))
        .collect()
}

/// The virtualenv python with tritonclient, created on first use.
fn python() -> String {
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oip/setup.sh");
    let output = Command::new("bash").arg(&setup).output().unwrap();
    assert!(
        output.status.success(),
        "{} failed (it needs python3 with venv and PyPI access once):\n{}",
        setup.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn tritonclient_speaks_to_the_server() {
    let python = python();
    let server = Server::start(&[], &[]);
    let rows = rows(25);
    let dir = tempfile::tempdir().unwrap();
    let rows_file = dir.path().join("rows.json");
    std::fs::write(&rows_file, serde_json::to_vec(&rows).unwrap()).unwrap();
    let host = server.url("").trim_start_matches("http://").to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oip/client.py");
    let output = Command::new(&python)
        .arg(&script)
        .args([host.as_str(), "fraud-mlp", "1.0.0"])
        .arg(&rows_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "client failed:\n{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(report["server_live"], true);
    assert_eq!(report["server_ready"], true);
    assert_eq!(report["model_ready"], true);
    assert_eq!(report["unknown_model_ready"], false);
    assert_eq!(report["server_metadata"]["name"], "tidewatch-inference");
    for metadata in [&report["metadata"], &report["version_metadata"]] {
        assert_eq!(metadata["name"], "fraud-mlp");
        assert_eq!(metadata["versions"], json!(["1.0.0"]));
        assert_eq!(
            metadata["inputs"],
            json!([{"name": "input", "datatype": "FP32", "shape": [-1, 9]}])
        );
        assert_eq!(metadata["outputs"][0]["name"], "probabilities");
    }

    // Both encodings give exactly what the model gives for these rows.
    let model = FraudModel::bundled(&Device::Cpu).unwrap();
    let expected: Vec<f32> = model
        .score(&rows, false)
        .unwrap()
        .iter()
        .map(|s| s.probability)
        .collect();
    for encoding in ["json", "binary"] {
        let answer = &report[encoding];
        assert_eq!(answer["shape"], json!([25, 1]), "{encoding}");
        assert_eq!(answer["dtype"], "float32", "{encoding}");
        assert_eq!(answer["id"], "req-1", "{encoding}");
        let got: Vec<f32> = answer["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), expected.len(), "{encoding}");
        for (got, expected) in got.iter().zip(&expected) {
            assert!(
                (got - expected).abs() < 1e-6,
                "{encoding}: {got} vs {expected}"
            );
        }
    }

    assert_eq!(report["unknown_model"]["status"], "404", "{report}");
    assert!(
        report["unknown_model"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );
    assert_eq!(report["infer_unknown_model"]["status"], "404", "{report}");
    assert_eq!(report["wrong_shape"]["status"], "400", "{report}");
    assert!(
        report["wrong_shape"]["message"]
            .as_str()
            .unwrap()
            .contains("inputs[0].shape"),
        "{report}"
    );

    // The inference requests are counted under the route's pattern, as the SLIs expect.
    let metrics = server.metrics();
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_requests_total",
            &["route=\"/v2/models/{name}/infer\"", "code=\"200\""]
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "tidewatch_requests_total",
            &["route=\"/v2/models/{name}/infer\"", "code=\"400\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        !metrics.contains("no-such-model"),
        "a raw path became a label"
    );
}

#[test]
fn malformed_inference_requests_get_the_protocols_error() {
    let server = Server::start(&["--max-batch-size", "8"], &[]);
    let http = client();
    let url = server.url("/v2/models/fraud-mlp/infer");
    let tensor = |shape: Value, data: Value| {
        json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": shape, "data": data}]})
            .to_string()
    };
    let nine = json!(vec![0.5; 9]);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("not json", "hello".into(), 400, "malformed"),
        ("empty", String::new(), 400, "body"),
        ("no inputs", "{}".into(), 400, "inputs"),
        ("inputs not array", r#"{"inputs": 1}"#.into(), 400, "inputs"),
        ("shape rank", tensor(json!([9]), nine.clone()), 400, "inputs[0].shape"),
        ("shape columns", tensor(json!([1, 3]), json!([1, 2, 3])), 400, "inputs[0].shape"),
        ("too many rows", tensor(json!([9, 9]), json!(vec![0.0; 81])), 400, "at most 8 rows"),
        ("too few values", tensor(json!([2, 9]), nine.clone()), 400, "inputs[0].data"),
        ("string value", tensor(json!([1, 9]), json!(vec!["a"; 9])), 400, "inputs[0].data[0]"),
        ("no data", json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 9]}]}).to_string(), 400, "inputs[0].data"),
        ("wrong datatype", json!({"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 9], "data": nine}]}).to_string(), 400, "inputs[0].datatype"),
        ("wrong name", json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 9], "data": nine}]}).to_string(), 400, "inputs[0].name"),
        ("unknown output", json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 9], "data": nine}], "outputs": [{"name": "logits"}]}).to_string(), 400, "logits"),
    ];
    for (name, body, status, needle) in &cases {
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), *status, "{name}");
        let answer: Value = response.json().unwrap();
        let message = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: not the protocol's error: {answer}"));
        assert!(message.contains(needle), "{name}: {message}");
    }
    let wrong_type = http
        .post(&url)
        .header("content-type", "text/plain")
        .body(tensor(json!([1, 9]), nine.clone()))
        .send()
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    let unknown = http
        .post(server.url("/v2/models/other/infer"))
        .body(tensor(json!([1, 9]), nine.clone()))
        .send()
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let answer: Value = unknown.json().unwrap();
    assert!(answer["error"].as_str().unwrap().contains("fraud-mlp"));
    let version = http
        .get(server.url("/v2/models/fraud-mlp/versions/9.9.9"))
        .send()
        .unwrap();
    assert_eq!(version.status(), 404);
    // Still serving.
    let ok = http
        .post(&url)
        .body(tensor(json!([1, 9]), nine))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
}
