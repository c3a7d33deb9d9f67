//! Held-out quality measures of a binary scorer, as training reports them: ROC AUC and
//! precision/recall at a threshold.

use tidewatch_inference::backend::model::metadata::ThresholdQuality;

/// Area under the ROC curve (Mann-Whitney U with ties counted half).
pub fn auc(scores: &[f32], labels: &[bool]) -> f64 {
    let mut ranked: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < ranked.len() {
        let mut j = i;
        while j < ranked.len() && ranked[j].0 == ranked[i].0 {
            j += 1;
        }
        let mean_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mean_rank * ranked[i..j].iter().filter(|r| r.1).count() as f64;
        i = j;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Precision and recall at `threshold`.
pub fn at_threshold(scores: &[f32], labels: &[bool], threshold: f64) -> ThresholdQuality {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for (&score, &label) in scores.iter().zip(labels) {
        match (f64::from(score) >= threshold, label) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
            (false, false) => {}
        }
    }
    ThresholdQuality {
        threshold,
        precision: if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 },
        recall: if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_inverted_scorers() {
        let labels = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &labels), 0.5);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
    }

    #[test]
    fn precision_and_recall() {
        let q = at_threshold(&[0.9, 0.8, 0.3, 0.1], &[true, false, true, false], 0.5);
        assert_eq!((q.precision, q.recall), (0.5, 0.5));
    }
}
