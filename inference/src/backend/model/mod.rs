//! The fraud model: loads weights and metadata, normalises inputs and scores batches with
//! candle. Synchronous and CPU-bound by design: callers run it off the async runtime.

pub mod metadata;
pub mod net;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::features::{FEATURE_COUNT, FEATURE_NAMES, FeatureVector};
pub use metadata::{METADATA_FILE, ModelMetadata, Thresholds, WEIGHTS_FILE};
use net::{FraudNet, ServingNet};

/// The model shipped inside the binary, used when no model directory is given.
const BUNDLED_WEIGHTS: &[u8] = include_bytes!("../../../model/model.safetensors");
const BUNDLED_METADATA: &str = include_str!("../../../model/metadata.json");

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid model metadata")]
    Metadata(#[from] serde_json::Error),
    #[error("model metadata does not match this server: {0}")]
    Incompatible(String),
    #[error("tensor computation failed")]
    Tensor(#[from] candle_core::Error),
}

/// A score and, when asked for, each feature's contribution to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub probability: f32,
    /// Score minus the score with that feature set to its training mean.
    pub contributions: Option<FeatureVector>,
}

/// A loaded model ready to score.
#[derive(Debug)]
pub struct FraudModel {
    net: ServingNet,
    metadata: ModelMetadata,
    device: Device,
}

impl FraudModel {
    /// Loads the model bundled in the binary.
    pub fn bundled(device: &Device) -> Result<Self, ModelError> {
        let metadata: ModelMetadata = serde_json::from_str(BUNDLED_METADATA)?;
        let tensors = candle_core::safetensors::load_buffer(BUNDLED_WEIGHTS, device)?;
        Self::from_parts(tensors, metadata, device)
    }

    /// Loads `model.safetensors` and `metadata.json` from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, ModelError> {
        let metadata_path = dir.join(METADATA_FILE);
        let text = std::fs::read_to_string(&metadata_path).map_err(|source| ModelError::Read {
            path: metadata_path.display().to_string(),
            source,
        })?;
        let metadata: ModelMetadata = serde_json::from_str(&text)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights_path).map_err(|source| ModelError::Read {
            path: weights_path.display().to_string(),
            source,
        })?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
        Self::from_parts(tensors, metadata, device)
    }

    fn from_parts(
        tensors: std::collections::HashMap<String, Tensor>,
        metadata: ModelMetadata,
        device: &Device,
    ) -> Result<Self, ModelError> {
        if metadata.feature_names != FEATURE_NAMES {
            return Err(ModelError::Incompatible(format!(
                "features {:?}, expected {FEATURE_NAMES:?}",
                metadata.feature_names
            )));
        }
        if metadata.mean.len() != FEATURE_COUNT || metadata.std.len() != FEATURE_COUNT {
            return Err(ModelError::Incompatible(
                "normalisation length differs from the feature count".into(),
            ));
        }
        if metadata.feature_reference.len() != FEATURE_COUNT {
            return Err(ModelError::Incompatible(format!(
                "{} reference histograms for {FEATURE_COUNT} features",
                metadata.feature_reference.len()
            )));
        }
        if let Some(problem) = metadata
            .feature_reference
            .iter()
            .chain([&metadata.score_reference])
            .find_map(|h| h.problem())
        {
            return Err(ModelError::Incompatible(problem));
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let net = ServingNet::new(&FraudNet::new(&vb, FEATURE_COUNT, metadata.hidden_units)?)?;
        Ok(Self {
            net,
            metadata,
            device: device.clone(),
        })
    }

    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// `cpu` or `cuda`, the `device` metric label.
    pub fn device_label(&self) -> &'static str {
        if self.device.is_cuda() { "cuda" } else { "cpu" }
    }

    /// Scores a batch. With `explain`, each row is also scored once per feature with that
    /// feature replaced by its training mean, all in the same forward pass.
    pub fn score(&self, rows: &[FeatureVector], explain: bool) -> Result<Vec<Scored>, ModelError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let variants = if explain { FEATURE_COUNT + 1 } else { 1 };
        // Each input row ends with the constant 1 that carries the hidden layer's bias.
        let width = FEATURE_COUNT + 1;
        let mut inputs = Vec::with_capacity(rows.len() * variants * width);
        for row in rows {
            let normalised = self.normalise(row);
            inputs.extend_from_slice(&normalised);
            inputs.push(1.0);
            if explain {
                for masked in 0..FEATURE_COUNT {
                    let mut copy = normalised;
                    copy[masked] = 0.0;
                    inputs.extend_from_slice(&copy);
                    inputs.push(1.0);
                }
            }
        }
        let batch = Tensor::from_vec(inputs, (rows.len() * variants, width), &self.device)?;
        let probabilities = candle_nn::ops::sigmoid(&self.net.logits(&batch)?)?.to_vec1::<f32>()?;
        Ok(probabilities
            .chunks(variants)
            .map(|chunk| Scored {
                probability: chunk[0],
                contributions: explain.then(|| {
                    let mut contributions = [0.0; FEATURE_COUNT];
                    for (c, masked) in contributions.iter_mut().zip(&chunk[1..]) {
                        *c = chunk[0] - masked;
                    }
                    contributions
                }),
            })
            .collect())
    }

    fn normalise(&self, row: &FeatureVector) -> FeatureVector {
        let mut out = [0.0; FEATURE_COUNT];
        for (i, value) in out.iter_mut().enumerate() {
            *value = (row[i] - self.metadata.mean[i]) / self.metadata.std[i];
        }
        out
    }
}

/// The device the server runs the model on: CUDA when built with the `cuda` feature and
/// a GPU is present, else the CPU.
pub fn select_device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(device) = Device::cuda_if_available(0) {
        return device;
    }
    Device::Cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(edit: impl FnOnce(&mut ModelMetadata)) -> Result<FraudModel, ModelError> {
        let mut metadata: ModelMetadata = serde_json::from_str(BUNDLED_METADATA).unwrap();
        edit(&mut metadata);
        let tensors = candle_core::safetensors::load_buffer(BUNDLED_WEIGHTS, &Device::Cpu).unwrap();
        FraudModel::from_parts(tensors, metadata, &Device::Cpu)
    }

    #[test]
    fn metadata_with_unusable_drift_references_is_refused() {
        assert!(load(|_| {}).is_ok());
        let error = load(|m| {
            m.feature_reference.pop();
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("reference histograms"),
            "{error}"
        );
        let error = load(|m| m.score_reference.shares.push(0.0)).unwrap_err();
        assert!(error.to_string().contains("prediction_score"), "{error}");
        let error = load(|m| m.feature_reference[0].edges.reverse()).unwrap_err();
        assert!(error.to_string().contains("ascending"), "{error}");
    }
}
