//! The `train` command: synthetic data, candle training with autograd, held-out evaluation,
//! and the model directory (weights plus metadata). Used offline, never by the server.

mod quality;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use tidewatch_inference::backend::model::metadata::{QualityReport, TrainingInfo};
use tidewatch_inference::backend::model::net::FraudNet;
use tidewatch_inference::backend::model::{
    FraudModel, METADATA_FILE, ModelMetadata, Thresholds, WEIGHTS_FILE,
};
use tidewatch_inference::features::synth;
use tidewatch_inference::features::{
    CountryCode, FEATURE_COUNT, FEATURE_NAMES, FeatureVector, UserFeatures, engineer,
};
use tidewatch_inference::telemetry::drift::ReferenceHistogram;

/// Bins of the reference histograms.
const REFERENCE_BINS: usize = 10;

/// Training knobs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub seed: u64,
    pub users: usize,
    pub examples: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub hidden_units: usize,
    pub learning_rate: f64,
    pub thresholds: Thresholds,
    pub version: String,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            users: 20_000,
            examples: 120_000,
            epochs: 12,
            batch_size: 512,
            hidden_units: 16,
            learning_rate: 0.01,
            thresholds: Thresholds {
                review: 0.15,
                block: 0.5,
            },
            version: "1.0.0".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("tensor computation failed")]
    Tensor(#[from] candle_core::Error),
    #[error("cannot write the model")]
    Io(#[from] std::io::Error),
    #[error("cannot encode metadata")]
    Json(#[from] serde_json::Error),
    #[error("trained model does not load back")]
    Reload(#[from] tidewatch_inference::backend::model::ModelError),
}

/// Trains a model and writes it to `out`; returns its metadata (with the quality report).
pub fn train(options: &TrainOptions, out: &Path) -> Result<ModelMetadata, TrainError> {
    let users = synth::users(options.seed, options.users);
    let (rows, labels) = labelled_rows(options, &users);
    // The last fifth is held out for the quality report.
    let split = rows.len() * 4 / 5;
    let (train_rows, test_rows) = rows.split_at(split);
    let (train_labels, test_labels) = labels.split_at(split);

    let (mean, std) = normalisation(train_rows);
    let weights = fit(options, train_rows, train_labels, &mean, &std)?;
    std::fs::create_dir_all(out)?;
    weights.save(out.join(WEIGHTS_FILE))?;

    let mut metadata = unscored_metadata(options, &users, train_rows, train_labels, mean, std);
    // Score the held-out split with the model exactly as the server will load it.
    write_metadata(out, &metadata)?;
    let model = FraudModel::load(out, &Device::Cpu)?;
    let train_scores = probabilities(&model, train_rows)?;
    let score_values: Vec<f64> = train_scores.iter().map(|&s| f64::from(s)).collect();
    metadata.score_reference =
        ReferenceHistogram::from_values("prediction_score", &score_values, REFERENCE_BINS);
    let test_scores = probabilities(&model, test_rows)?;
    metadata.quality = held_out_quality(&test_scores, test_labels, options.thresholds);
    write_metadata(out, &metadata)?;
    Ok(metadata)
}

/// The engineered features and fraud labels of the synthetic transactions over `users`.
fn labelled_rows(
    options: &TrainOptions,
    users: &[UserFeatures],
) -> (Vec<FeatureVector>, Vec<bool>) {
    synth::examples(options.seed, users, options.examples)
        .iter()
        .map(|e| (engineer(&e.transaction, &e.user), e.is_fraud))
        .unzip()
}

/// Fits the network to the normalised training rows with AdamW on binary cross-entropy;
/// returns its weights.
fn fit(
    options: &TrainOptions,
    rows: &[FeatureVector],
    labels: &[bool],
    mean: &[f32; FEATURE_COUNT],
    std: &[f32; FEATURE_COUNT],
) -> Result<VarMap, TrainError> {
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let net = FraudNet::new(&vb, FEATURE_COUNT, options.hidden_units)?;
    seed_weights(&varmap, options.seed)?;
    let mut optimizer = AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: 1e-4,
            ..ParamsAdamW::default()
        },
    )?;

    let normalised: Vec<f32> = rows
        .iter()
        .flat_map(|row| (0..FEATURE_COUNT).map(move |i| (row[i] - mean[i]) / std[i]))
        .collect();
    let inputs = Tensor::from_vec(normalised, (rows.len(), FEATURE_COUNT), &device)?;
    let targets = Tensor::from_vec(
        labels
            .iter()
            .map(|&l| f32::from(u8::from(l)))
            .collect::<Vec<f32>>(),
        labels.len(),
        &device,
    )?;
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    let mut rng = StdRng::seed_from_u64(options.seed);
    for _ in 0..options.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(options.batch_size) {
            let index = Tensor::from_slice(chunk, chunk.len(), &device)?;
            let logits = net.logits(&inputs.index_select(&index, 0)?)?;
            let loss = candle_nn::loss::binary_cross_entropy_with_logit(
                &logits,
                &targets.index_select(&index, 0)?,
            )?;
            optimizer.backward_step(&loss)?;
        }
    }
    Ok(varmap)
}

/// The metadata of a freshly fitted model, before it is scored: the score reference and
/// the quality report are placeholders until then.
fn unscored_metadata(
    options: &TrainOptions,
    users: &[UserFeatures],
    train_rows: &[FeatureVector],
    train_labels: &[bool],
    mean: [f32; FEATURE_COUNT],
    std: [f32; FEATURE_COUNT],
) -> ModelMetadata {
    ModelMetadata {
        name: "fraud-mlp".into(),
        version: options.version.clone(),
        feature_names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        hidden_units: options.hidden_units,
        mean: mean.to_vec(),
        std: std.to_vec(),
        thresholds: options.thresholds,
        population_defaults: population_defaults(users),
        feature_reference: feature_references(train_rows),
        score_reference: ReferenceHistogram::from_values("prediction_score", &[0.5], 1),
        quality: QualityReport {
            test_examples: 0,
            test_fraud_rate: 0.0,
            auc: 0.0,
            review: quality::at_threshold(&[], &[], 0.0),
            block: quality::at_threshold(&[], &[], 0.0),
        },
        training: TrainingInfo {
            seed: options.seed,
            users: options.users,
            examples: options.examples,
            epochs: options.epochs,
            learning_rate: options.learning_rate,
            fraud_rate: share_of_fraud(train_labels),
        },
    }
}

fn held_out_quality(scores: &[f32], labels: &[bool], thresholds: Thresholds) -> QualityReport {
    QualityReport {
        test_examples: labels.len(),
        test_fraud_rate: share_of_fraud(labels),
        auc: quality::auc(scores, labels),
        review: quality::at_threshold(scores, labels, f64::from(thresholds.review)),
        block: quality::at_threshold(scores, labels, f64::from(thresholds.block)),
    }
}

fn share_of_fraud(labels: &[bool]) -> f64 {
    labels.iter().filter(|&&l| l).count() as f64 / labels.len() as f64
}

/// Re-initialises every weight from the seed (candle's own initialiser is not seedable on
/// the CPU), uniformly in +-1/sqrt(fan_in) like the default initialiser.
fn seed_weights(varmap: &VarMap, seed: u64) -> Result<(), TrainError> {
    let vars = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(1));
    for name in names {
        let var = &vars[name];
        let dims = var.dims().to_vec();
        let fan_in = if dims.len() == 2 {
            dims[1]
        } else {
            FEATURE_COUNT
        };
        let bound = 1.0 / (fan_in as f32).sqrt();
        let values: Vec<f32> = (0..var.elem_count())
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}

fn probabilities(model: &FraudModel, rows: &[FeatureVector]) -> Result<Vec<f32>, TrainError> {
    let mut scores = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(4096) {
        scores.extend(
            model
                .score(chunk, false)?
                .into_iter()
                .map(|s| s.probability),
        );
    }
    Ok(scores)
}

fn write_metadata(out: &Path, metadata: &ModelMetadata) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(metadata)?;
    std::fs::write(out.join(METADATA_FILE), text + "\n")?;
    Ok(())
}

fn normalisation(rows: &[FeatureVector]) -> ([f32; FEATURE_COUNT], [f32; FEATURE_COUNT]) {
    let n = rows.len().max(1) as f64;
    let mut mean = [0.0f32; FEATURE_COUNT];
    let mut std = [1.0f32; FEATURE_COUNT];
    for i in 0..FEATURE_COUNT {
        let m = rows.iter().map(|r| f64::from(r[i])).sum::<f64>() / n;
        let var = rows
            .iter()
            .map(|r| (f64::from(r[i]) - m).powi(2))
            .sum::<f64>()
            / n;
        mean[i] = m as f32;
        std[i] = var.sqrt().max(1e-6) as f32;
    }
    (mean, std)
}

fn feature_references(rows: &[FeatureVector]) -> Vec<ReferenceHistogram> {
    FEATURE_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values: Vec<f64> = rows.iter().map(|r| f64::from(r[i])).collect();
            ReferenceHistogram::from_values(name, &values, REFERENCE_BINS)
        })
        .collect()
}

/// Medians of the numeric user features and the most common home country.
fn population_defaults(users: &[UserFeatures]) -> UserFeatures {
    let median = |f: fn(&UserFeatures) -> f64| {
        let mut v: Vec<f64> = users.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut countries: Vec<CountryCode> = users.iter().map(|u| u.home_country).collect();
    countries.sort_unstable();
    let mut best = (CountryCode::from_static(b"US"), 0);
    for group in countries.chunk_by(|a, b| a == b) {
        if group.len() > best.1 {
            best = (group[0], group.len());
        }
    }
    UserFeatures {
        avg_amount_30d: median(|u| u.avg_amount_30d),
        txn_count_24h: median(|u| u.txn_count_24h),
        account_age_days: median(|u| u.account_age_days),
        chargebacks_90d: median(|u| u.chargebacks_90d),
        home_country: best.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
