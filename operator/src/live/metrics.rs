//! Counters of the live figures: reads of Prometheus by outcome, and publications (each one
//! leads to at most one status write).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::board::Trouble;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReadLabels {
    /// `success` or a trouble reason (`PrometheusTimeout`, ...): a bounded set.
    result: &'static str,
}

/// Handles on the live-figure counters; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LiveMetrics {
    reads: Family<ReadLabels, Counter>,
    publications: Counter,
}

impl LiveMetrics {
    /// Creates the counters and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "tidewatch_operator_prometheus_reads",
            "Polls of Prometheus for SLO figures (three requests each), by result",
            metrics.reads.clone(),
        );
        registry.register(
            "tidewatch_operator_slo_figures_published",
            "SLO figures published to status after a change past the thresholds",
            metrics.publications.clone(),
        );
        metrics
    }

    /// Counts one poll.
    pub fn read(&self, trouble: Option<&Trouble>) {
        let result = trouble.map_or("success", Trouble::reason);
        self.reads.get_or_create(&ReadLabels { result }).inc();
    }

    /// Counts one publication.
    pub fn published(&self) {
        self.publications.inc();
    }
}
