//! The request counter and duration histogram, with the series of each route's usual
//! answer resolved up front: the hot path then hashes no label set and takes no lock on
//! the metric families.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::{ROUTES, Route};
use crate::telemetry::metrics::{Metrics, RequestLabels, RouteLabels};

/// Records `tidewatch_requests_total` and `tidewatch_request_duration_seconds`.
#[derive(Debug)]
pub struct RequestMetrics {
    metrics: Arc<Metrics>,
    /// One per entry of [`ROUTES`], with that route's own method.
    usual: Vec<UsualAnswer>,
}

/// The series of a route called with its own method.
#[derive(Debug)]
struct UsualAnswer {
    route: &'static str,
    method: &'static str,
    /// Requests answered 200.
    ok: Counter,
    duration: Histogram,
}

impl RequestMetrics {
    /// Creates the 200 and duration series of every route, so they read 0 before the
    /// first request rather than being absent.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let usual = ROUTES
            .iter()
            .map(
                |&Route {
                     pattern: route,
                     method,
                     ..
                 }| UsualAnswer {
                    route,
                    method,
                    ok: metrics
                        .requests
                        .get_or_create(&RequestLabels {
                            route,
                            method,
                            code: 200,
                        })
                        .clone(),
                    duration: metrics
                        .request_duration
                        .get_or_create(&RouteLabels { route, method })
                        .clone(),
                },
            )
            .collect();
        Self { metrics, usual }
    }

    /// Counts one answered request and records how long it took.
    pub fn record(&self, route: &'static str, method: &'static str, code: u16, seconds: f64) {
        let usual = self
            .usual
            .iter()
            .find(|u| u.route == route && u.method == method);
        match usual {
            Some(usual) => {
                if code == 200 {
                    usual.ok.inc();
                } else {
                    self.count(route, method, code);
                }
                usual.duration.observe(seconds);
            }
            None => {
                self.count(route, method, code);
                self.metrics
                    .request_duration
                    .get_or_create(&RouteLabels { route, method })
                    .observe(seconds);
            }
        }
    }

    fn count(&self, route: &'static str, method: &'static str, code: u16) {
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                route,
                method,
                code,
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_and_unusual_answers_land_in_the_same_families() {
        let metrics = Arc::new(Metrics::new());
        let recorder = RequestMetrics::new(metrics.clone());
        let before = metrics.encode();
        assert!(
            before.contains(
                r#"tidewatch_requests_total{route="/v1/predict",method="POST",code="200"} 0"#
            ),
            "{before}"
        );
        recorder.record("/v1/predict", "POST", 200, 0.001);
        recorder.record("/v1/predict", "POST", 200, 0.002);
        recorder.record("/v1/predict", "POST", 422, 0.001);
        recorder.record("/v1/predict", "GET", 404, 0.001);
        recorder.record("unmatched", "GET", 404, 0.001);
        let after = metrics.encode();
        for line in [
            r#"tidewatch_requests_total{route="/v1/predict",method="POST",code="200"} 2"#,
            r#"tidewatch_requests_total{route="/v1/predict",method="POST",code="422"} 1"#,
            r#"tidewatch_requests_total{route="/v1/predict",method="GET",code="404"} 1"#,
            r#"tidewatch_requests_total{route="unmatched",method="GET",code="404"} 1"#,
            r#"tidewatch_request_duration_seconds_count{route="/v1/predict",method="POST"} 3"#,
            r#"tidewatch_request_duration_seconds_count{route="/v1/predict",method="GET"} 1"#,
            r#"tidewatch_request_duration_seconds_count{route="unmatched",method="GET"} 1"#,
        ] {
            assert!(after.contains(line), "missing {line}:\n{after}");
        }
    }
}
