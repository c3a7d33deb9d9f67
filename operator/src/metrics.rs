//! Names from the inference server's metric contract that the operator's rules and
//! dashboards query. They change only together with the inference server.

/// Requests by `route`, `method`, `code`.
pub const REQUESTS_TOTAL_METRIC: &str = "tidewatch_requests_total";
/// Request duration histogram by `route`, `method` (without `_bucket`/`_count` suffix).
pub const REQUEST_DURATION_METRIC: &str = "tidewatch_request_duration_seconds";
/// Requests being served.
pub const REQUESTS_IN_FLIGHT_METRIC: &str = "tidewatch_requests_in_flight";
/// Predictions by `model`, `version`, `decision`.
pub const PREDICTIONS_TOTAL_METRIC: &str = "tidewatch_predictions_total";
/// Prediction score histogram by `model`, `version`.
pub const PREDICTION_SCORE_METRIC: &str = "tidewatch_prediction_score";
/// Model compute time histogram by `model`, `version`, `device`.
pub const INFERENCE_DURATION_METRIC: &str = "tidewatch_inference_duration_seconds";
/// Feature store lookups by `result`.
pub const FEATURE_STORE_REQUESTS_METRIC: &str = "tidewatch_feature_store_requests_total";
/// Feature store lookup duration histogram.
pub const FEATURE_STORE_DURATION_METRIC: &str = "tidewatch_feature_store_duration_seconds";
/// Population stability index by `model`, `feature`.
pub const FEATURE_DRIFT_METRIC: &str = "tidewatch_feature_drift_psi";
/// Constant 1 by `model`, `version`, `device`.
pub const MODEL_INFO_METRIC: &str = "tidewatch_model_info";
/// Feature-store circuit breaker: 0 closed, 1 open, 2 half-open.
pub const FEATURE_STORE_BREAKER_METRIC: &str = "tidewatch_feature_store_breaker_state";
/// 1 when GPU telemetry is live, else 0.
pub const GPU_TELEMETRY_METRIC: &str = "tidewatch_gpu_telemetry_available";
/// GPU utilisation ratio by `gpu`, `uuid`.
pub const GPU_UTILIZATION_METRIC: &str = "tidewatch_gpu_utilization_ratio";
/// GPU memory used, bytes.
pub const GPU_MEMORY_USED_METRIC: &str = "tidewatch_gpu_memory_used_bytes";
/// GPU memory total, bytes.
pub const GPU_MEMORY_TOTAL_METRIC: &str = "tidewatch_gpu_memory_total_bytes";
/// GPU temperature, Celsius.
pub const GPU_TEMPERATURE_METRIC: &str = "tidewatch_gpu_temperature_celsius";
/// GPU power draw, watts.
pub const GPU_POWER_METRIC: &str = "tidewatch_gpu_power_watts";
