//! Open Inference Protocol (v2) inference requests: the model's one FP32 input tensor of
//! `[N, features]` rows, given as JSON numbers (flat or nested, row-major) or as raw
//! little-endian bytes after the JSON header (the binary tensor data extension). No HTTP;
//! the routes and the protocol's error bodies are the server's.

use serde::Deserialize;
use serde_json::Value;

use crate::features::{FEATURE_COUNT, FeatureVector};

/// Name of the model's input tensor in the protocol's metadata.
pub const INPUT_NAME: &str = "input";
/// Name of the output tensor: the fraud probability of each row.
pub const OUTPUT_NAME: &str = "probabilities";
/// The only datatype of both tensors.
pub const DATATYPE: &str = "FP32";

/// An inference request. Unknown fields and parameters are ignored, as the protocol's
/// extensions add some.
#[derive(Debug, Deserialize)]
pub struct InferRequest {
    /// Echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    pub inputs: Vec<InferInput>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Debug, Deserialize)]
pub struct InferInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<TensorParameters>,
    #[serde(default)]
    pub data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TensorParameters {
    /// Bytes of this tensor in the binary section that follows the JSON header.
    #[serde(default)]
    pub binary_data_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct RequestedOutput {
    pub name: String,
}

/// Why an inference request cannot be scored; the message names the tensor and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TensorError(pub String);

fn error(message: impl Into<String>) -> TensorError {
    TensorError(message.into())
}

/// Splits a body into its JSON header and binary section: the whole body is JSON unless
/// the `Inference-Header-Content-Length` header gave the header's length.
pub fn split_body(
    body: &[u8],
    header_length: Option<usize>,
) -> Result<(&[u8], &[u8]), TensorError> {
    match header_length {
        None => Ok((body, &[])),
        Some(length) if length <= body.len() => Ok(body.split_at(length)),
        Some(length) => Err(error(format!(
            "Inference-Header-Content-Length is {length} but the body has {} bytes",
            body.len()
        ))),
    }
}

/// Parses the JSON header of a request.
pub fn parse(header: &[u8]) -> Result<InferRequest, TensorError> {
    let mut deserializer = serde_json::Deserializer::from_slice(header);
    let request = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = message
            .rfind(" at line ")
            .map_or(message.as_str(), |i| &message[..i]);
        if path == "." {
            error(format!("malformed inference request: {message}"))
        } else {
            error(format!("malformed inference request: {path}: {message}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|_| error("malformed inference request: unexpected data after the JSON"))?;
    Ok(request)
}

/// The rows of a request, checked against the model's input: one tensor named
/// [`INPUT_NAME`], FP32, shape `[N, FEATURE_COUNT]` with `1 <= N <= max_rows`, finite
/// values, and only [`OUTPUT_NAME`] asked for.
pub fn rows(
    request: &InferRequest,
    binary: &[u8],
    max_rows: usize,
) -> Result<Vec<FeatureVector>, TensorError> {
    let [input] = request.inputs.as_slice() else {
        return Err(error(format!(
            "inputs: expected exactly one tensor, `{INPUT_NAME}`, got {}",
            request.inputs.len()
        )));
    };
    if input.name != INPUT_NAME {
        return Err(error(format!(
            "inputs[0].name: unknown input `{}`; the model's input is `{INPUT_NAME}`",
            input.name
        )));
    }
    if input.datatype != DATATYPE {
        return Err(error(format!(
            "inputs[0].datatype: `{}` is not supported; the input is {DATATYPE}",
            input.datatype
        )));
    }
    let rows = match input.shape.as_slice() {
        &[rows, columns] if columns == FEATURE_COUNT as i64 && rows >= 1 => rows as usize,
        _ => {
            return Err(error(format!(
                "inputs[0].shape: expected [N, {FEATURE_COUNT}] with N >= 1, got {:?}",
                input.shape
            )));
        }
    };
    if rows > max_rows {
        return Err(error(format!(
            "inputs[0].shape: at most {max_rows} rows per request, got {rows}"
        )));
    }
    if let Some(outputs) = &request.outputs
        && let Some(unknown) = outputs.iter().find(|o| o.name != OUTPUT_NAME)
    {
        return Err(error(format!(
            "outputs: unknown output `{}`; the model's output is `{OUTPUT_NAME}`",
            unknown.name
        )));
    }
    let values = match (
        &input.data,
        input.parameters.as_ref().and_then(|p| p.binary_data_size),
    ) {
        (Some(_), Some(_)) => {
            return Err(error(
                "inputs[0]: give either `data` or `parameters.binary_data_size`, not both",
            ));
        }
        (Some(data), None) => json_values(data, rows * FEATURE_COUNT)?,
        (None, Some(size)) => binary_values(binary, size, rows * FEATURE_COUNT)?,
        (None, None) => return Err(error("inputs[0].data: missing")),
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(error(format!(
            "inputs[0].data[{i}]: not a finite FP32 value"
        )));
    }
    Ok(values
        .chunks_exact(FEATURE_COUNT)
        .map(|row| row.try_into().unwrap_or([0.0; FEATURE_COUNT]))
        .collect())
}

/// The numbers of a `data` array, flat or nested, in row-major order.
fn json_values(data: &Value, expected: usize) -> Result<Vec<f32>, TensorError> {
    fn flatten(value: &Value, out: &mut Vec<f32>, limit: usize) -> Result<(), TensorError> {
        match value {
            Value::Array(items) => items.iter().try_for_each(|v| flatten(v, out, limit)),
            Value::Number(n) => {
                if out.len() == limit {
                    return Err(error(format!(
                        "inputs[0].data: more than the {limit} values the shape gives"
                    )));
                }
                let v = n.as_f64().unwrap_or(f64::NAN);
                // FP32: a value past its range would become infinite.
                out.push(if v.abs() > f64::from(f32::MAX) {
                    f32::INFINITY
                } else {
                    v as f32
                });
                Ok(())
            }
            other => Err(error(format!(
                "inputs[0].data[{}]: expected a number, got {}",
                out.len(),
                kind(other)
            ))),
        }
    }
    let mut values = Vec::with_capacity(expected);
    flatten(data, &mut values, expected)?;
    if values.len() != expected {
        return Err(error(format!(
            "inputs[0].data: the shape gives {expected} values, got {}",
            values.len()
        )));
    }
    Ok(values)
}

fn binary_values(binary: &[u8], size: u64, expected: usize) -> Result<Vec<f32>, TensorError> {
    let wanted = expected * 4;
    if size != wanted as u64 {
        return Err(error(format!(
            "inputs[0].parameters.binary_data_size: the shape gives {wanted} bytes, got {size}"
        )));
    }
    if binary.len() != wanted {
        return Err(error(format!(
            "inputs[0]: binary_data_size is {wanted} but {} bytes follow the JSON header",
            binary.len()
        )));
    }
    Ok(binary
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::needless_pass_by_value)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(input: Value) -> InferRequest {
        serde_json::from_value(json!({ "inputs": [input] })).unwrap()
    }

    fn tensor(shape: Value, data: Value) -> Value {
        json!({"name": "input", "datatype": "FP32", "shape": shape, "data": data})
    }

    fn refused(input: Value) -> String {
        rows(&request(input), &[], 4).unwrap_err().0
    }

    #[test]
    fn flat_nested_and_binary_data_give_the_same_rows() {
        let flat: Vec<f32> = (0..18).map(|i| i as f32 * 0.5).collect();
        let nested = json!([flat[..9].to_vec(), flat[9..].to_vec()]);
        let a = rows(&request(tensor(json!([2, 9]), json!(flat))), &[], 4).unwrap();
        let b = rows(&request(tensor(json!([2, 9]), nested)), &[], 4).unwrap();
        let bytes: Vec<u8> = flat.iter().flat_map(|v| v.to_le_bytes()).collect();
        let binary = json!({"name": "input", "datatype": "FP32", "shape": [2, 9],
                            "parameters": {"binary_data_size": 72}});
        let c = rows(&request(binary), &bytes, 4).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a[1][0], 4.5);
    }

    #[test]
    fn every_mismatch_names_the_field() {
        let nine = json!(vec![0.0; 9]);
        for (input, needle) in [
            (tensor(json!([1, 8]), nine.clone()), "inputs[0].shape"),
            (tensor(json!([0, 9]), json!([])), "inputs[0].shape"),
            (
                tensor(json!([5, 9]), json!(vec![0.0; 45])),
                "at most 4 rows",
            ),
            (
                tensor(json!([1, 9]), json!(vec![0.0; 8])),
                "gives 9 values, got 8",
            ),
            (
                tensor(json!([1, 9]), json!(vec![0.0; 10])),
                "more than the 9",
            ),
            (
                tensor(json!([1, 9]), json!([1, 2, 3, 4, 5, 6, 7, 8, "x"])),
                "data[8]",
            ),
            (
                tensor(json!([1, 9]), json!([1e39, 0, 0, 0, 0, 0, 0, 0, 0])),
                "finite",
            ),
            (
                json!({"name": "x", "datatype": "FP32", "shape": [1, 9], "data": nine}),
                "unknown input",
            ),
            (
                json!({"name": "input", "datatype": "INT64", "shape": [1, 9], "data": nine}),
                "datatype",
            ),
            (
                json!({"name": "input", "datatype": "FP32", "shape": [1, 9]}),
                "data: missing",
            ),
        ] {
            let message = refused(input.clone());
            assert!(message.contains(needle), "{input}: {message}");
        }
        let two = serde_json::from_value(json!({"inputs": []})).unwrap();
        assert!(rows(&two, &[], 4).unwrap_err().0.contains("exactly one"));
        let wrong_output: InferRequest = serde_json::from_value(json!({
            "inputs": [tensor(json!([1, 9]), nine)], "outputs": [{"name": "logits"}]
        }))
        .unwrap();
        assert!(
            rows(&wrong_output, &[], 4)
                .unwrap_err()
                .0
                .contains("logits")
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        assert!(parse(b"{").unwrap_err().0.starts_with("malformed"));
        let error = parse(br#"{"inputs": [{"name": 3}]}"#).unwrap_err().0;
        assert!(error.contains("inputs[0].name"), "{error}");
        assert!(split_body(b"{}", Some(5)).is_err());
        assert_eq!(
            split_body(b"{}abc", Some(2)).unwrap(),
            (&b"{}"[..], &b"abc"[..])
        );
    }
}
