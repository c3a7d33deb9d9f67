//! The model's metadata file: feature names and normalisation, decision thresholds,
//! population defaults, reference histograms for drift, and the held-out quality report.

use serde::{Deserialize, Serialize};

use crate::features::UserFeatures;
use crate::telemetry::drift::ReferenceHistogram;

/// Name of the metadata file inside a model directory.
pub const METADATA_FILE: &str = "metadata.json";
/// Name of the weights file inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Everything about a trained model except its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub name: String,
    pub version: String,
    pub feature_names: Vec<String>,
    pub hidden_units: usize,
    /// Per-feature mean subtracted before the first layer.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation divided by before the first layer.
    pub std: Vec<f32>,
    pub thresholds: Thresholds,
    /// Used when the feature store has nothing for a user or cannot be reached.
    pub population_defaults: UserFeatures,
    /// One histogram per feature, in feature order.
    pub feature_reference: Vec<ReferenceHistogram>,
    pub score_reference: ReferenceHistogram,
    pub quality: QualityReport,
    pub training: TrainingInfo,
}

/// Scores at or above `review` go to manual review; at or above `block` are declined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub review: f32,
    pub block: f32,
}

/// How the model was produced, so that it can be reproduced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub seed: u64,
    pub users: usize,
    pub examples: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub fraud_rate: f64,
}

/// The quality of a model on its held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub test_examples: usize,
    pub test_fraud_rate: f64,
    pub auc: f64,
    pub review: ThresholdQuality,
    pub block: ThresholdQuality,
}

/// Precision and recall of "score >= threshold" as the fraud prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdQuality {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
}
