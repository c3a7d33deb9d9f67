//! The committed default model: its held-out quality clears a floor, it loads, and the
//! training command reproduces a model of the same quality from the same seed.

use candle_core::Device;
use tidewatch_inference::backend::model::FraudModel;
use tidewatch_inference::features::FEATURE_NAMES;
use tidewatch_inference::train::{TrainOptions, train};

#[test]
fn committed_model_meets_the_quality_floor() {
    let model = FraudModel::bundled(&Device::Cpu).unwrap();
    let metadata = model.metadata();
    let quality = &metadata.quality;
    assert!(quality.test_examples >= 10_000);
    // The synthetic labels are noisy by construction (fraud is drawn from a probability),
    // so even the generating function stays below 0.9; 0.82 is a real floor.
    assert!(quality.auc >= 0.82, "AUC {}", quality.auc);
    assert!(quality.block.precision >= 0.5, "{:?}", quality.block);
    assert!(quality.review.recall >= 0.5, "{:?}", quality.review);
    assert!(metadata.thresholds.review < metadata.thresholds.block);
    assert_eq!(metadata.feature_names, FEATURE_NAMES);
    assert_eq!(metadata.feature_reference.len(), FEATURE_NAMES.len());
    assert!(metadata.score_reference.shares.len() >= 5);
}

#[test]
fn training_reproduces_the_committed_model_quality() {
    let committed = FraudModel::bundled(&Device::Cpu)
        .unwrap()
        .metadata()
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let options = TrainOptions {
        seed: committed.training.seed,
        users: committed.training.users,
        examples: committed.training.examples,
        epochs: committed.training.epochs,
        learning_rate: committed.training.learning_rate,
        version: committed.version.clone(),
        ..TrainOptions::default()
    };
    let trained = train(&options, dir.path()).unwrap();
    assert!((trained.quality.auc - committed.quality.auc).abs() < 0.01);
    let reloaded = FraudModel::load(dir.path(), &Device::Cpu).unwrap();
    let row = [4.0, 2.5, 6.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    let scored = reloaded.score(&[row], true).unwrap();
    assert!(
        scored[0].probability > 0.5,
        "an obviously risky row scores high"
    );
    let contributions = scored[0].contributions.unwrap();
    assert!(
        contributions[1] > 0.0,
        "a large amount ratio pushes the score up"
    );
}
