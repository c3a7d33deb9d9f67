//! The validate step: what the schema cannot express, each refusal naming its field.

mod support;

use support::*;
use tidewatch_operator::api::MLService;
use tidewatch_operator::promql::Selector;
use tidewatch_operator::validate::{
    LatencyThreshold, Objective, Window, validate_mlservice, validate_slo,
};

fn mls(spec: &str) -> MLService {
    serde_yaml::from_str(&format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {{name: fraud-detector, namespace: fraud}}\nspec:\n{spec}"
    ))
    .unwrap()
}

fn fields_of_mls(spec: &str) -> Vec<String> {
    validate_mlservice(&mls(spec))
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn defaults_resolve() {
    let v = validate_mlservice(&mls("  model: {name: fraud, version: '1'}\n")).unwrap();
    assert_eq!(v.replicas, 2);
    assert_eq!(v.scrape_interval.to_string(), "30s");
    assert!(v.dashboard);
    assert_eq!(v.resources.gpu, 0);
    assert_eq!(v.drift_thresholds, (0.1, 0.25));
    assert!(
        v.owner.is_none(),
        "no uid: rendered offline, no owner reference"
    );
}

#[test]
fn mlservice_refusals_name_the_field() {
    assert_eq!(
        fields_of_mls("  model: {name: 'bad name', version: '1'}\n"),
        ["spec.model.name"]
    );
    assert_eq!(
        fields_of_mls("  model: {name: a, version: '1'}\n  replicas: 1000\n"),
        ["spec.replicas"]
    );
    assert_eq!(
        fields_of_mls("  model: {name: a, version: '1'}\n  resources: {cpu: lots}\n"),
        ["spec.resources.cpu"]
    );
    assert_eq!(
        fields_of_mls("  model: {name: a, version: '1'}\n  resources: {gpu: 99}\n"),
        ["spec.resources.gpu"]
    );
    assert_eq!(
        fields_of_mls(
            "  model: {name: a, version: '1'}\n  featureStore: {address: 'http://redis:6379'}\n"
        ),
        ["spec.featureStore.address"]
    );
    assert_eq!(
        fields_of_mls(
            "  model: {name: a, version: '1'}\n  monitoring: {drift: {warning: 0.5, critical: 0.2}}\n"
        ),
        ["spec.monitoring.drift"]
    );
    assert_eq!(
        fields_of_mls(
            "  model: {name: a, version: '1'}\n  monitoring: {serviceMonitorLabels: {'bad key!': x}}\n"
        ),
        ["spec.monitoring.serviceMonitorLabels"]
    );
    assert_eq!(
        fields_of_mls("  model: {name: a, version: '1'}\n  monitoring: {scrapeInterval: soon}\n"),
        ["spec.monitoring.scrapeInterval"]
    );
    // Several problems are reported together.
    assert_eq!(fields_of_mls("  model: {name: '', version: ''}\n").len(), 2);
}

#[test]
fn newtypes_check_their_ranges() {
    assert!(Objective::new(99.9).is_ok());
    assert!((Objective::new(99.9).unwrap().error_budget() - 0.001).abs() < 1e-15);
    for bad in [0.0, 100.0, -1.0, f64::NAN, 101.0] {
        assert!(Objective::new(bad).is_err(), "{bad}");
    }
    assert!(
        Window::parse("30d").is_ok()
            && Window::parse("4w").is_ok()
            && Window::parse("168h").is_ok()
    );
    assert!(
        Window::parse("6d")
            .unwrap_err()
            .starts_with(tidewatch_operator::api::rules::WINDOW_BOUNDS_MESSAGE)
    );
    assert!((LatencyThreshold::parse("250ms").unwrap().seconds() - 0.25).abs() < 1e-12);
    assert!((LatencyThreshold::parse("0.25s").unwrap().seconds() - 0.25).abs() < 1e-12);
    assert!(
        LatencyThreshold::parse("251ms")
            .unwrap_err()
            .contains("not a bucket")
    );
    assert!(LatencyThreshold::parse("-1s").is_err());
}

#[test]
fn latency_thresholds_must_be_request_duration_buckets() {
    use tidewatch_contract::buckets::REQUEST_DURATION_BUCKETS;
    for b in REQUEST_DURATION_BUCKETS {
        assert!(LatencyThreshold::parse(&format!("{b}s")).is_ok(), "{b}s");
        assert!(
            LatencyThreshold::parse(&format!("{}ms", b * 1000.0)).is_ok(),
            "{b}s in ms"
        );
    }
}

#[test]
fn selectors_round_trip_with_escaping() {
    let s = Selector::parse(r#"http_requests_total{job="a\"b", code=~"5..",}"#).unwrap();
    assert_eq!(
        s.to_string(),
        r#"http_requests_total{job="a\"b", code=~"5.."}"#
    );
    assert_eq!(Selector::parse("up").unwrap().to_string(), "up");
    for bad in [
        "",
        "{job=\"a\"}",
        "up{job=a}",
        "up{job=\"a\"",
        "rate(up[5m])",
        "up offset 5m",
        "up{job!\"a\"}",
    ] {
        assert!(Selector::parse(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn slo_target_must_exist_in_the_same_namespace() {
    let s = slo(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {name: a, namespace: fraud}\nspec:\n  target: {mlService: fraud-detector}\n  objective: 99.9\n  indicator: {availability: {}}\n",
    );
    assert!(validate_slo(&s, Some(&mlservice("fraud", "fraud-detector"))).is_ok());
    let err = validate_slo(&s, None).unwrap_err();
    assert_eq!(err.0[0].field, "spec.target.mlService");
    assert!(err.to_string().contains("does not exist"));
    assert!(validate_slo(&s, Some(&mlservice("other", "fraud-detector"))).is_err());
}

#[test]
fn every_refused_field_of_an_mlservice_is_reported_at_once_in_spec_order() {
    let m: MLService = serde_yaml::from_str(
        "apiVersion: tidewatch.io/v1alpha1
kind: MLService
metadata: {name: Bad_Name, namespace: Bad_Namespace}
spec:
  model: {name: 'bad name', version: '', weightsVolumeClaim: 'Bad Claim'}
  image: ''
  replicas: 1000
  resources: {cpu: lots, cpuLimit: '-1', memory: much, gpu: 99}
  featureStore: {address: 'http://x', timeoutMs: 0, credentialsSecret: {name: 'Bad Secret'}}
  tracing: {otlpEndpoint: 'ftp://x', samplingRatio: 2}
  monitoring: {scrapeInterval: soon, drift: {warning: 0.5, critical: 0.1}, serviceMonitorLabels: {'bad key': x}}
",
    )
    .unwrap();
    let errors = validate_mlservice(&m).unwrap_err().0;
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "metadata.name",
            "metadata.namespace",
            "spec.model.name",
            "spec.model.version",
            "spec.model.weightsVolumeClaim",
            "spec.image",
            "spec.replicas",
            "spec.resources.cpu",
            "spec.resources.cpuLimit",
            "spec.resources.memory",
            "spec.resources.gpu",
            "spec.featureStore.address",
            "spec.featureStore.timeoutMs",
            "spec.featureStore.credentialsSecret.name",
            "spec.tracing.otlpEndpoint",
            "spec.tracing.samplingRatio",
            "spec.monitoring.scrapeInterval",
            "spec.monitoring.drift",
            "spec.monitoring.serviceMonitorLabels",
        ]
    );
}

#[test]
fn every_refused_field_of_an_slo_is_reported_at_once_in_spec_order() {
    let ratio_with_target = slo("apiVersion: tidewatch.io/v1alpha1
kind: SLO
metadata: {name: Bad_Name, namespace: fraud}
spec:
  target: {mlService: Bad_Target}
  objective: 100
  window: 1d
  indicator: {ratio: {errors: 'rate(x[5m])', total: 'y{'}}
  alerting:
    page: {labels: {severity: x}}
    ticket: {labels: {'bad key': x}}
    runbookUrl: 'not a url'
    minimumRequestsPerHour: -1
");
    let fields: Vec<String> = validate_slo(&ratio_with_target, None)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "metadata.name",
            "spec.objective",
            "spec.window",
            "spec.target.mlService",
            "spec.target",
            "spec.indicator.ratio.errors",
            "spec.indicator.ratio.total",
            "spec.alerting.page.labels",
            "spec.alerting.ticket.labels",
            "spec.alerting.runbookUrl",
            "spec.alerting.minimumRequestsPerHour",
        ]
    );
    let latency_without_target = slo("apiVersion: tidewatch.io/v1alpha1
kind: SLO
metadata: {name: a, namespace: fraud}
spec:
  objective: 99
  indicator: {latency: {threshold: 300ms}}
");
    let errors = validate_slo(&latency_without_target, None).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "spec.target");
    assert_eq!(
        errors[0].reason,
        "availability and latency indicators need spec.target.mlService"
    );
}

fn assert_one_refusal(
    errors: &[tidewatch_operator::validate::FieldError],
    spec: &str,
    field: &str,
    message: &str,
) {
    assert_eq!(errors.len(), 1, "{spec}: {errors:?}");
    assert_eq!(errors[0].field, field, "{spec}");
    assert!(
        errors[0].reason.starts_with(message),
        "{spec}: {}",
        errors[0].reason
    );
}

/// Every CEL rule of the CRDs has a twin here that answers with the rule's message at the
/// rule's path, for `render` and for objects stored before the rule existed.
#[test]
fn cel_rules_have_twins_with_the_same_message() {
    use tidewatch_operator::api::rules::*;
    let model = "  model: {name: m, version: '1'}\n";
    let mls_cases = [
        (
            "  resources: {cpu: '0'}\n",
            "spec.resources.cpu",
            POSITIVE_QUANTITY_MESSAGE,
        ),
        (
            "  resources: {memory: 0Mi}\n",
            "spec.resources.memory",
            POSITIVE_QUANTITY_MESSAGE,
        ),
        (
            "  resources: {cpu: '2', cpuLimit: 1500m}\n",
            "spec.resources",
            CPU_LIMIT_MESSAGE,
        ),
        (
            "  monitoring: {scrapeInterval: 0s0m}\n",
            "spec.monitoring.scrapeInterval",
            POSITIVE_DURATION_MESSAGE,
        ),
        (
            "  monitoring: {serviceMonitorLabels: {'a/b/c': x}}\n",
            "spec.monitoring.serviceMonitorLabels",
            K8S_LABEL_KEY_MESSAGE,
        ),
        (
            "  featureStore: {address: 'redis://u:pw@r:6379'}\n",
            "spec.featureStore.address",
            REDIS_CREDENTIALS_MESSAGE,
        ),
        (
            "  featureStore: {address: 'rediss://r:6379/0?password=pw'}\n",
            "spec.featureStore.address",
            REDIS_CREDENTIALS_MESSAGE,
        ),
        (
            "  featureStore: {address: 'redis://r:6379/a/b'}\n",
            "spec.featureStore.address",
            REDIS_SHAPE_MESSAGE,
        ),
        (
            "  tracing: {otlpEndpoint: 'http://u:t@c:4318'}\n",
            "spec.tracing.otlpEndpoint",
            OTLP_CREDENTIALS_MESSAGE,
        ),
        (
            "  tracing: {otlpEndpoint: 'http://c:4318/?Api_Key=t'}\n",
            "spec.tracing.otlpEndpoint",
            OTLP_CREDENTIALS_MESSAGE,
        ),
        (
            "  monitoring: {drift: {warning: 0.3, critical: 0.3}}\n",
            "spec.monitoring.drift",
            "drift.warning must be lower than drift.critical",
        ),
    ];
    for (spec, field, message) in mls_cases {
        let errors = validate_mlservice(&mls(&format!("{model}{spec}")))
            .unwrap_err()
            .0;
        assert_one_refusal(&errors, spec, field, message);
    }
    let target = mlservice("fraud", "svc");
    let slo_cases = [
        (
            "  window: 6d\n  indicator: {availability: {}}\n",
            "spec.window",
            WINDOW_BOUNDS_MESSAGE,
        ),
        (
            "  indicator: {availability: {}, latency: {threshold: 250ms}}\n",
            "spec.indicator",
            ONE_INDICATOR_MESSAGE,
        ),
        (
            "  indicator: {latency: {threshold: 0ms}}\n",
            "spec.indicator.latency.threshold",
            POSITIVE_DURATION_MESSAGE,
        ),
        (
            "  indicator: {availability: {}}\n  alerting: {page: {labels: {alertname: x}}}\n",
            "spec.alerting.page.labels",
            RESERVED_ALERT_LABEL_MESSAGE,
        ),
        (
            "  indicator: {availability: {}}\n  alerting: {ticket: {labels: {'on-call': x}}}\n",
            "spec.alerting.ticket.labels",
            PROM_LABEL_NAME_MESSAGE,
        ),
        (
            "  indicator: {availability: {}}\n  alerting: {runbookUrl: 'https://w/?sig=x'}\n",
            "spec.alerting.runbookUrl",
            RUNBOOK_CREDENTIALS_MESSAGE,
        ),
        (
            "  indicator: {availability: {}}\n  alerting: {runbookUrl: 'https://a:b@w/'}\n",
            "spec.alerting.runbookUrl",
            RUNBOOK_CREDENTIALS_MESSAGE,
        ),
    ];
    for (spec, field, message) in slo_cases {
        let s = slo(&format!(
            "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {{name: a, namespace: fraud}}\nspec:\n  target: {{mlService: svc}}\n  objective: 99\n{spec}"
        ));
        let errors = validate_slo(&s, Some(&target)).unwrap_err().0;
        assert_one_refusal(&errors, spec, field, message);
    }
}
