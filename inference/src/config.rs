//! Command-line and environment configuration: one clap struct per command. Secrets are
//! typed so that `Debug` never shows them. The variables the operator sets, and the defaults
//! it shares, are named in `tidewatch_contract`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tidewatch_contract::{defaults, endpoints, env};

use crate::secret::{ConnectionUrl, Secret};
use crate::store::{BreakerSettings, RedisSettings};

/// Tidewatch fraud-detection inference server.
#[derive(Debug, Parser)]
#[command(name = "tidewatch-inference", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve predictions over HTTP.
    Serve(Box<ServeConfig>),
    /// Train a model on seeded synthetic data and write it to a directory.
    Train(TrainArgs),
    /// Write the synthetic user population's features into Redis.
    LoadFeatures(LoadFeaturesArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[value(name = env::LOG_FORMAT_JSON)]
    Json,
    #[value(name = env::LOG_FORMAT_TEXT)]
    Text,
}

/// Where Redis is and how to log in.
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// Redis URL, e.g. redis://redis:6379/0. Without it the in-memory store is used.
    #[arg(long, env = env::REDIS_URL, hide_env_values = true)]
    pub redis_url: Option<ConnectionUrl>,
    /// Redis password (overrides one in the URL).
    #[arg(long, env = env::REDIS_PASSWORD, hide_env_values = true)]
    pub redis_password: Option<Secret>,
    /// File holding the Redis password, e.g. a mounted Secret; trailing newline ignored.
    #[arg(long, env = "TIDEWATCH_REDIS_PASSWORD_FILE")]
    pub redis_password_file: Option<PathBuf>,
    /// Prefix of the per-user hash keys.
    #[arg(
        long,
        env = "TIDEWATCH_REDIS_KEY_PREFIX",
        default_value = "tidewatch:user:"
    )]
    pub redis_key_prefix: String,
    /// Prefix of the per-merchant hash keys (`merchant_id` of a request).
    #[arg(
        long,
        env = "TIDEWATCH_REDIS_MERCHANT_KEY_PREFIX",
        default_value = "tidewatch:merchant:"
    )]
    pub redis_merchant_key_prefix: String,
    /// Upper bound of one feature lookup, in milliseconds.
    #[arg(
        long,
        env = env::FEATURE_TIMEOUT_MS,
        default_value_t = defaults::FEATURE_TIMEOUT_MS.into()
    )]
    pub feature_timeout_ms: u64,
}

impl RedisArgs {
    /// Redis settings when a URL is configured; reads the password file if given.
    pub fn settings(&self) -> std::io::Result<Option<RedisSettings>> {
        let Some(url) = &self.redis_url else {
            return Ok(None);
        };
        let password = match (&self.redis_password, &self.redis_password_file) {
            (Some(password), _) => Some(password.clone()),
            (None, Some(path)) => Some(Secret::new(
                std::fs::read_to_string(path)?.trim_end_matches(['\r', '\n']),
            )),
            (None, None) => None,
        };
        Ok(Some(RedisSettings {
            url: url.clone(),
            password,
            key_prefix: self.redis_key_prefix.clone(),
            merchant_key_prefix: self.redis_merchant_key_prefix.clone(),
            timeout: Duration::from_millis(self.feature_timeout_ms.max(1)),
        }))
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(
        long,
        env = env::LISTEN,
        default_value_t = SocketAddr::from(([0, 0, 0, 0], endpoints::PORT))
    )]
    pub listen: SocketAddr,
    /// Directory with model.safetensors and metadata.json; the bundled model if unset.
    #[arg(long, env = env::MODEL_DIR)]
    pub model_dir: Option<PathBuf>,
    /// HTTP worker threads; 0 means one per CPU.
    #[arg(long, env = "TIDEWATCH_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Prediction requests served at once; more are answered 429 with Retry-After.
    #[arg(long, env = "TIDEWATCH_MAX_CONCURRENCY", default_value_t = 512)]
    pub max_concurrency: usize,
    /// Largest accepted request body, in bytes. Bodies held at once (read or being
    /// served) may take up to --max-concurrency times this; past it, 429.
    #[arg(long, env = "TIDEWATCH_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// Time a request body may take to arrive once the headers have, in milliseconds;
    /// past it the answer is 408 and the connection is closed. Bodies are read before a
    /// --max-concurrency slot is taken, so a slow client holds none.
    #[arg(long, env = "TIDEWATCH_BODY_TIMEOUT_MS", default_value_t = 5_000)]
    pub body_timeout_ms: u64,
    /// Time from a connection's first byte to the end of its first request's headers, in
    /// milliseconds; past it actix answers 408 and closes (0: no bound).
    #[arg(long, env = "TIDEWATCH_HEADER_TIMEOUT_MS", default_value_t = 5_000)]
    pub header_timeout_ms: u64,
    /// Seconds an idle kept-alive connection stays open (0: close after each answer).
    /// Keep it above the idle timeout of a proxy in front, so the proxy closes first.
    #[arg(long, env = "TIDEWATCH_KEEP_ALIVE_SECONDS", default_value_t = 5)]
    pub keep_alive_seconds: u64,
    /// Time closing a connection may take (the client reading the last answer, the rest
    /// of a refused body arriving), in milliseconds, before it is dropped (0: no bound).
    #[arg(long, env = "TIDEWATCH_DISCONNECT_TIMEOUT_MS", default_value_t = 1_000)]
    pub disconnect_timeout_ms: u64,
    /// Open connections per HTTP worker; past it the worker accepts no more until one
    /// closes (new ones wait in the listen backlog).
    #[arg(long, env = "TIDEWATCH_MAX_CONNECTIONS", default_value_t = 25_000)]
    pub max_connections: usize,
    /// Most transactions in one batch request.
    #[arg(long, env = "TIDEWATCH_MAX_BATCH_SIZE", default_value_t = 256)]
    pub max_batch_size: usize,
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Consecutive feature-store failures that open the circuit breaker.
    #[arg(long, env = "TIDEWATCH_BREAKER_FAILURES", default_value_t = 5)]
    pub breaker_failures: u32,
    /// How long an open breaker waits before probing the store again, in milliseconds.
    #[arg(long, env = "TIDEWATCH_BREAKER_COOL_DOWN_MS", default_value_t = 1000)]
    pub breaker_cool_down_ms: u64,
    /// Users in the in-memory store (`user-000000` ...), when Redis is not configured.
    #[arg(long, env = "TIDEWATCH_SYNTHETIC_USERS", default_value_t = 10_000)]
    pub synthetic_users: usize,
    /// Merchants in the in-memory store (`merchant_0` ...), when Redis is not configured.
    #[arg(long, env = "TIDEWATCH_SYNTHETIC_MERCHANTS", default_value_t = 1_000)]
    pub synthetic_merchants: usize,
    /// Seed of the synthetic user population.
    #[arg(long, env = "TIDEWATCH_SYNTHETIC_SEED", default_value_t = 42)]
    pub synthetic_seed: u64,
    /// Serve `POST /debug/populate-cache/{user_id}`, which writes a synthetic profile into
    /// the feature store (for demos). Off, the route answers 404.
    #[arg(long, env = "TIDEWATCH_ENABLE_DEBUG_ROUTES")]
    pub enable_debug_routes: bool,
    /// Most recent predictions the drift window holds.
    #[arg(long, env = "TIDEWATCH_DRIFT_WINDOW", default_value_t = 5000)]
    pub drift_window: usize,
    /// Predictions needed before drift is reported.
    #[arg(long, env = "TIDEWATCH_DRIFT_MIN_SAMPLES", default_value_t = 200)]
    pub drift_min_samples: usize,
    /// Predictions remembered by transaction id for joining `POST /v1/feedback`; the
    /// oldest are dropped past it, so memory stays bounded.
    #[arg(long, env = "TIDEWATCH_FEEDBACK_CAPACITY", default_value_t = 100_000)]
    pub feedback_capacity: usize,
    /// Seconds a prediction can still receive feedback.
    #[arg(long, env = "TIDEWATCH_FEEDBACK_TTL_SECONDS", default_value_t = 86_400)]
    pub feedback_ttl_seconds: u64,
    /// Most recent labelled predictions that precision, recall and false-positive rate
    /// are computed over.
    #[arg(long, env = "TIDEWATCH_QUALITY_WINDOW", default_value_t = 1_000)]
    pub quality_window: usize,
    /// OTLP/HTTP endpoint for traces, e.g. http://otel-collector:4318; no export if unset.
    #[arg(long, env = env::OTLP_ENDPOINT)]
    pub otlp_endpoint: Option<String>,
    /// Share of new traces sampled (a sampled parent is always followed). Each sampled
    /// request costs about as much CPU as one whole unsampled request, so the default
    /// keeps tracing near 1 % of the server's time.
    #[arg(
        long,
        env = env::TRACE_SAMPLE_RATIO,
        default_value_t = defaults::TRACE_SAMPLE_RATIO
    )]
    pub trace_sample_ratio: f64,
    /// Service name in traces.
    #[arg(long, env = env::SERVICE_NAME, default_value = "tidewatch-inference")]
    pub service_name: String,
    /// Log filter in tracing-subscriber syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
    /// Log format.
    #[arg(long, env = env::LOG_FORMAT, value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Seconds between GPU telemetry samples.
    #[arg(long, env = "TIDEWATCH_GPU_POLL_SECONDS", default_value_t = 10)]
    pub gpu_poll_seconds: u64,
    /// Seconds to keep serving after a stop signal while reporting not-ready, so load
    /// balancers stop sending traffic first.
    #[arg(long, env = env::SHUTDOWN_DELAY_SECONDS, default_value_t = 2)]
    pub shutdown_delay_seconds: u64,
    /// Seconds in-flight requests get to finish once shutdown starts.
    #[arg(long, env = "TIDEWATCH_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 20)]
    pub shutdown_timeout_seconds: u64,
    /// Fault injection for alert tests: share of prediction requests answered 500.
    #[arg(long, env = "TIDEWATCH_FAULT_ERROR_RATIO", default_value_t = 0.0)]
    pub fault_error_ratio: f64,
    /// Fault injection for alert tests: delay added to every prediction, in milliseconds.
    #[arg(long, env = "TIDEWATCH_FAULT_LATENCY_MS", default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Benchmarking only: record no metrics (request, prediction, feature-store, drift)
    /// and create no spans.
    #[arg(long, env = "TIDEWATCH_DISABLE_INSTRUMENTATION")]
    pub disable_instrumentation: bool,
    /// Secret key of the user pseudonyms in logs, at least 16 bytes. Replicas given the same
    /// key log the same pseudonym for a user; without one, each process draws a random key
    /// and its pseudonyms change on restart.
    #[arg(long, env = "TIDEWATCH_PSEUDONYM_KEY", hide_env_values = true)]
    pub pseudonym_key: Option<Secret>,
}

impl ServeConfig {
    pub fn breaker(&self) -> BreakerSettings {
        BreakerSettings {
            failure_threshold: self.breaker_failures,
            cool_down: Duration::from_millis(self.breaker_cool_down_ms),
        }
    }
}

impl Default for ServeConfig {
    /// The configuration with every default, as `serve` with no flags and no env.
    fn default() -> Self {
        let cli = Cli::parse_from(["tidewatch-inference", "serve"]);
        match cli.command {
            Command::Serve(config) => *config,
            _ => unreachable!("parsed the serve command"),
        }
    }
}

/// Arguments of `train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Output directory (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the synthetic data and of the weight initialisation order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Synthetic users.
    #[arg(long, default_value_t = 20_000)]
    pub users: usize,
    /// Synthetic transactions (80% train, 20% held out).
    #[arg(long, default_value_t = 120_000)]
    pub examples: usize,
    /// Passes over the training split.
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    /// Model version written to the metadata.
    #[arg(long, default_value = "1.0.0")]
    pub model_version: String,
}

/// Arguments of `load-features`.
#[derive(Debug, Clone, Args)]
pub struct LoadFeaturesArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Users to write (`user-000000` ...).
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Merchants to write (`merchant_0` ...).
    #[arg(long, default_value_t = 1_000)]
    pub merchants: usize,
    /// Seed of the synthetic user population (same as the server's in-memory store).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Upper bound of one batch write, in seconds. Replaces the lookup bound of
    /// `--feature-timeout-ms`, which is sized for serving (milliseconds) and would fail a
    /// bulk load on a busy Redis or node.
    #[arg(long, default_value_t = 30)]
    pub write_timeout_seconds: u64,
}

impl LoadFeaturesArgs {
    /// The Redis settings of a bulk load: the serving settings with the write bound.
    pub fn redis_settings(&self) -> std::io::Result<Option<RedisSettings>> {
        Ok(self.redis.settings()?.map(|settings| RedisSettings {
            timeout: Duration::from_secs(self.write_timeout_seconds.max(1)),
            ..settings
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_loads_are_bounded_in_seconds_not_by_the_lookup_timeout() {
        let cli = Cli::parse_from([
            "tidewatch-inference",
            "load-features",
            "--redis-url",
            "redis://redis:6379",
            "--feature-timeout-ms",
            "50",
        ]);
        let Command::LoadFeatures(args) = cli.command else {
            panic!("parsed {:?}", cli.command);
        };
        let settings = args.redis_settings().unwrap().unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(30));
        assert_eq!(
            args.redis.settings().unwrap().unwrap().timeout,
            Duration::from_millis(50)
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let cli = Cli::parse_from([
            "tidewatch-inference",
            "serve",
            "--redis-url",
            "redis://app:url-secret@redis:6379",
            "--redis-password",
            "flag-secret",
        ]);
        let Command::Serve(config) = cli.command else {
            panic!("serve expected")
        };
        let printed = format!("{config:?} {config:#?}");
        assert!(!printed.contains("url-secret"), "{printed}");
        assert!(!printed.contains("flag-secret"), "{printed}");
        let settings = config.redis.settings().unwrap().unwrap();
        assert!(!format!("{settings:?}").contains("secret"));
        assert_eq!(settings.password.unwrap().expose(), "flag-secret");
    }

    #[test]
    fn password_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "from-file\n").unwrap();
        let cli = Cli::parse_from([
            "tidewatch-inference",
            "load-features",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--redis-password-file",
            path.to_str().unwrap(),
        ]);
        let Command::LoadFeatures(args) = cli.command else {
            panic!("load-features expected")
        };
        let settings = args.redis.settings().unwrap().unwrap();
        assert_eq!(settings.password.unwrap().expose(), "from-file");
    }

    #[test]
    fn the_pseudonym_key_never_prints() {
        let cli = Cli::parse_from([
            "tidewatch-inference",
            "serve",
            "--pseudonym-key",
            "key-secret-0123456789",
        ]);
        let Command::Serve(config) = cli.command else {
            panic!("serve expected")
        };
        let printed = format!("{config:?} {config:#?}");
        assert!(!printed.contains("key-secret"), "{printed}");
        let key = config.pseudonym_key.unwrap();
        assert_eq!(key.expose(), "key-secret-0123456789");
    }

    #[test]
    fn defaults_are_usable() {
        let config = ServeConfig::default();
        assert!(config.redis.redis_url.is_none());
        assert_eq!(config.max_concurrency, 512);
    }
}
