//! Validation of an MLService into `ValidMlService`, one function per spec section.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use super::errors::{Collector, ValidationErrors};
use super::names::{ResourceName, check_k8s_labels_into, checked_namespace, is_dns1123_label};
use super::newtypes::PromDuration;
use super::urls::{has_secret_query, has_userinfo, is_redis_address};
use crate::api::MLService;
use crate::api::mlservice::{
    FeatureStoreSpec, ModelSpec, MonitoringSpec, ResourcesSpec, TracingSpec,
};
use crate::api::rules::{
    CPU_LIMIT_MESSAGE, DRIFT_ORDER_MESSAGE, OTLP_CREDENTIALS_MESSAGE, POSITIVE_QUANTITY_MESSAGE,
    REDIS_CREDENTIALS_MESSAGE, REDIS_SHAPE_MESSAGE,
};

/// Where the weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelWeights {
    /// The model bundled in the image.
    Bundled,
    /// A PersistentVolumeClaim holding `model.safetensors` and `metadata.json`.
    VolumeClaim(String),
}

/// Pod resources, quantities checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// CPU request.
    pub cpu: String,
    /// CPU limit, if any.
    pub cpu_limit: Option<String>,
    /// Memory request and limit.
    pub memory: String,
    /// NVIDIA GPUs per pod (0: none).
    pub gpu: u32,
}

/// Feature store connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureStore {
    /// `redis://host:port`.
    pub address: String,
    /// Secret name and key of the password.
    pub credentials: Option<(String, String)>,
    /// Lookup timeout, milliseconds.
    pub timeout_ms: u32,
}

/// Trace export.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// OTLP/HTTP endpoint.
    pub otlp_endpoint: String,
    /// Root sampling ratio in [0, 1].
    pub sampling_ratio: f64,
}

/// An MLService whose spec passed validation, with every default resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMlService {
    /// Name (also the name of the Deployment, Service and ServiceMonitor).
    pub name: ResourceName,
    /// Namespace.
    pub namespace: String,
    /// Controller owner reference, when the object came from a cluster (has a uid).
    pub owner: Option<OwnerReference>,
    /// Model name.
    pub model_name: String,
    /// Model version (never in a selector).
    pub model_version: String,
    /// Weights source.
    pub weights: ModelWeights,
    /// Image, if the spec names one (else the operator default).
    pub image: Option<String>,
    /// Replicas.
    pub replicas: i32,
    /// Resources.
    pub resources: Resources,
    /// Feature store.
    pub feature_store: Option<FeatureStore>,
    /// Tracing.
    pub tracing: Option<Tracing>,
    /// Scrape interval.
    pub scrape_interval: PromDuration,
    /// Whether the dashboard ConfigMap exists.
    pub dashboard: bool,
    /// Drift PSI warning and critical thresholds.
    pub drift_thresholds: (f64, f64),
    /// Extra ServiceMonitor labels.
    pub service_monitor_labels: BTreeMap<String, String>,
}

fn quantity(text: &str) -> Result<String, String> {
    let value = quantity_value(text)
        .ok_or_else(|| format!("{text:?} is not a Kubernetes quantity such as 500m, 2 or 512Mi"))?;
    if value <= 0.0 {
        return Err(POSITIVE_QUANTITY_MESSAGE.into());
    }
    Ok(text.to_owned())
}

/// The value of a quantity in base units (cores, bytes), precise enough to compare a limit
/// with a request.
fn quantity_value(text: &str) -> Option<f64> {
    let (number, suffix) = split_quantity(text)?;
    let scale = match suffix {
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        _ => 1.0,
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

fn split_quantity(text: &str) -> Option<(&str, &str)> {
    let suffixes = ["Ki", "Mi", "Gi", "Ti", "m", "k", "M", "G", "T", ""];
    suffixes.iter().find_map(|s| {
        let number = text.strip_suffix(s)?;
        let ok = !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.matches('.').count() <= 1
            && !number.starts_with('.')
            && !number.ends_with('.');
        ok.then_some((number, *s))
    })
}

fn url(text: &str, schemes: &[&str]) -> Result<String, String> {
    let ok = schemes
        .iter()
        .any(|s| text.strip_prefix(s).is_some_and(|rest| !rest.is_empty()))
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} must be a URL starting with {}",
            schemes.join(" or ")
        ))
    }
}

/// The Redis address: its shape, and no password in it (the address is a plain env value).
fn redis_address(text: &str) -> Result<String, String> {
    let address = url(text, &["redis://", "rediss://"])?;
    if has_userinfo(&address) || address.contains('?') {
        Err(REDIS_CREDENTIALS_MESSAGE.into())
    } else if !is_redis_address(&address) {
        Err(REDIS_SHAPE_MESSAGE.into())
    } else {
        Ok(address)
    }
}

fn model_token(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} must be 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
        ))
    }
}

/// Validates an MLService (as read from the API server or from a file). Every section is
/// checked, so that one answer names every refused field.
pub fn validate_mlservice(mls: &MLService) -> Result<ValidMlService, ValidationErrors> {
    let mut c = Collector::default();
    let spec = &mls.spec;
    let name = c.take("metadata.name", ResourceName::new(&mls.name_any()));
    let namespace = checked_namespace(&mut c, mls.namespace());
    let model = model(&mut c, &spec.model);
    check_image(&mut c, spec.image.as_deref());
    check_replicas(&mut c, spec.replicas);
    let resources = resources(&mut c, &spec.resources);
    let feature_store = spec
        .feature_store
        .as_ref()
        .map(|fs| feature_store(&mut c, fs));
    let tracing = spec.tracing.as_ref().map(|t| trace_export(&mut c, t));
    let scrape_interval = monitoring(&mut c, &spec.monitoring);
    let owner = mls.controller_owner_ref(&());
    let m = &spec.monitoring;
    c.finish(|| {
        let (model_name, model_version, weights) = model.expect("checked");
        ValidMlService {
            name: name.expect("checked"),
            namespace,
            owner,
            model_name,
            model_version,
            weights,
            image: spec.image.clone(),
            replicas: spec.replicas,
            resources: resources.expect("checked"),
            feature_store,
            tracing,
            scrape_interval: scrape_interval.expect("checked"),
            dashboard: m.dashboard,
            drift_thresholds: (m.drift.warning, m.drift.critical),
            service_monitor_labels: m.service_monitor_labels.clone(),
        }
    })
}

/// `spec.model`: name, version and where the weights come from.
fn model(c: &mut Collector, model: &ModelSpec) -> Option<(String, String, ModelWeights)> {
    let name = c.take("spec.model.name", model_token(&model.name));
    let version = c.take("spec.model.version", model_token(&model.version));
    let weights = match &model.weights_volume_claim {
        None => Some(ModelWeights::Bundled),
        Some(claim) if claim.len() <= 253 && claim.split('.').all(is_dns1123_label) => {
            Some(ModelWeights::VolumeClaim(claim.clone()))
        }
        Some(claim) => {
            c.push(
                "spec.model.weightsVolumeClaim",
                format!("{claim:?} is not a PersistentVolumeClaim name"),
            );
            None
        }
    };
    Some((name?, version?, weights?))
}

fn check_image(c: &mut Collector, image: Option<&str>) {
    if let Some(image) = image
        && (image.is_empty()
            || image
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control()))
    {
        c.push("spec.image", format!("{image:?} is not an image reference"));
    }
}

fn check_replicas(c: &mut Collector, replicas: i32) {
    if !(0..=100).contains(&replicas) {
        c.push(
            "spec.replicas",
            format!("must be between 0 and 100, got {replicas}"),
        );
    }
}

/// `spec.resources`: quantities and the GPU count.
fn resources(c: &mut Collector, r: &ResourcesSpec) -> Option<Resources> {
    let cpu = c.take("spec.resources.cpu", quantity(&r.cpu));
    let cpu_limit = match &r.cpu_limit {
        None => Some(None),
        Some(l) => c.take("spec.resources.cpuLimit", quantity(l)).map(Some),
    };
    if let (Some(request), Some(Some(limit))) = (&cpu, &cpu_limit)
        && quantity_value(limit) < quantity_value(request)
    {
        c.push("spec.resources", CPU_LIMIT_MESSAGE);
    }
    let memory = c.take("spec.resources.memory", quantity(&r.memory));
    let gpu = match r.gpu.unwrap_or(0) {
        g @ 0..=16 => Some(g as u32),
        g => {
            c.push(
                "spec.resources.gpu",
                format!("must be between 0 and 16, got {g}"),
            );
            None
        }
    };
    Some(Resources {
        cpu: cpu?,
        cpu_limit: cpu_limit?,
        memory: memory?,
        gpu: gpu?,
    })
}

/// `spec.featureStore`: address, timeout and the password's Secret. A refused field leaves
/// its default; the collected error keeps the whole MLService from validating.
fn feature_store(c: &mut Collector, fs: &FeatureStoreSpec) -> FeatureStore {
    let address = c.take("spec.featureStore.address", redis_address(&fs.address));
    if !(1..=10_000).contains(&fs.timeout_ms) {
        c.push(
            "spec.featureStore.timeoutMs",
            format!("must be between 1 and 10000, got {}", fs.timeout_ms),
        );
    }
    let credentials = fs.credentials_secret.as_ref().map(|s| {
        if !s.name.split('.').all(is_dns1123_label) || s.name.len() > 253 {
            c.push(
                "spec.featureStore.credentialsSecret.name",
                format!("{:?} is not a Secret name", s.name),
            );
        }
        (s.name.clone(), s.key.clone())
    });
    FeatureStore {
        address: address.unwrap_or_default(),
        credentials,
        timeout_ms: fs.timeout_ms.max(1) as u32,
    }
}

/// `spec.tracing`: the OTLP endpoint and the sampling ratio (defaults as for the feature
/// store when refused).
fn trace_export(c: &mut Collector, t: &TracingSpec) -> Tracing {
    let endpoint = c.take(
        "spec.tracing.otlpEndpoint",
        url(&t.otlp_endpoint, &["http://", "https://"]).and_then(|u| {
            if has_userinfo(&u) || has_secret_query(&u) {
                Err(OTLP_CREDENTIALS_MESSAGE.into())
            } else {
                Ok(u)
            }
        }),
    );
    if !(0.0..=1.0).contains(&t.sampling_ratio) {
        c.push(
            "spec.tracing.samplingRatio",
            format!("must be between 0 and 1, got {}", t.sampling_ratio),
        );
    }
    Tracing {
        otlp_endpoint: endpoint.unwrap_or_default(),
        sampling_ratio: t.sampling_ratio,
    }
}

/// `spec.monitoring`: the scrape interval (returned), drift thresholds, ServiceMonitor labels.
fn monitoring(c: &mut Collector, m: &MonitoringSpec) -> Option<PromDuration> {
    let scrape_interval = c.take(
        "spec.monitoring.scrapeInterval",
        PromDuration::parse(&m.scrape_interval),
    );
    let drift = &m.drift;
    if !(drift.warning >= 0.0 && drift.warning < drift.critical) {
        c.push("spec.monitoring.drift", DRIFT_ORDER_MESSAGE);
    }
    check_k8s_labels_into(
        c,
        "spec.monitoring.serviceMonitorLabels",
        &m.service_monitor_labels,
    );
    scrape_interval
}
