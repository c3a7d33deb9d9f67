//! Builders: snapshot files plus targeted asserts (selector ⊂ pod labels, owner references,
//! restricted security context, names within 63 characters, determinism).

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Resource;
use serde_json::Value;
use support::*;
use tidewatch_operator::api::MLService;
use tidewatch_operator::builders::{self, names};
use tidewatch_operator::labels;
use tidewatch_operator::render::{mlservice_children, render, slo_children, to_yaml_stream};
use tidewatch_operator::validate::{
    OperatorSettings, ValidMlService, validate_mlservice, validate_slo,
};

const UID: &str = "5f0c8a3e-2b7d-4c3a-9d61-0123456789ab";

fn full_mlservice(name: &str, gpu: bool) -> MLService {
    let gpu_line = if gpu { "    gpu: 1\n" } else { "" };
    let mut m: MLService = serde_yaml::from_str(&format!(
        "apiVersion: tidewatch.io/v1alpha1
kind: MLService
metadata: {{name: {name}, namespace: fraud}}
spec:
  model: {{name: fraud-detector, version: '1.4.0', weightsVolumeClaim: fraud-model-1-4-0}}
  replicas: 3
  resources:
    cpu: 500m
    cpuLimit: '2'
    memory: 1Gi
{gpu_line}  featureStore:
    address: redis://redis.fraud.svc:6379
    credentialsSecret: {{name: fraud-redis}}
  tracing: {{otlpEndpoint: 'http://otel-collector.observability.svc:4318', samplingRatio: 0.25}}
  monitoring:
    scrapeInterval: 15s
    serviceMonitorLabels: {{team: fraud}}
"
    ))
    .expect("MLService parses");
    m.meta_mut().uid = Some(UID.into());
    m
}

fn valid(name: &str, gpu: bool) -> ValidMlService {
    validate_mlservice(&full_mlservice(name, gpu)).expect("valid MLService")
}

fn settings() -> OperatorSettings {
    OperatorSettings::new(
        "ghcr.io/tidewatch/tidewatch-inference:test",
        BTreeMap::from([("release".to_owned(), "kube-prometheus-stack".to_owned())]),
        "ML services",
    )
    .expect("valid settings")
}

fn json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("serialises")
}

fn assert_owned(meta: &Value, kind: &str) {
    let owners = meta["ownerReferences"]
        .as_array()
        .expect("owner references set");
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0]["uid"], UID);
    assert_eq!(owners[0]["kind"], kind);
    assert_eq!(owners[0]["apiVersion"], "tidewatch.io/v1alpha1");
    assert_eq!(owners[0]["controller"], true);
}

fn assert_recommended_labels(meta: &Value, instance: &str) {
    let l = &meta["labels"];
    assert_eq!(l[labels::INSTANCE], instance);
    assert_eq!(l[labels::PART_OF], "tidewatch");
    assert_eq!(l[labels::MANAGED_BY], "tidewatch-operator");
    assert!(l[labels::NAME].is_string() && l[labels::COMPONENT].is_string());
}

#[test]
fn deployment_selector_is_a_stable_subset_of_pod_labels() {
    let d = builders::deployment(&valid("fraud-detector", false), &settings());
    let selector = d
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone()
        .unwrap();
    let pod_labels = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    for (k, v) in &selector {
        assert_eq!(
            pod_labels.get(k),
            Some(v),
            "selector label {k} missing from pod labels"
        );
    }
    assert!(
        !selector.contains_key(labels::VERSION),
        "selectors never carry a version"
    );
    assert_eq!(pod_labels[labels::VERSION], "1.4.0");
    let service = builders::service(&valid("fraud-detector", false));
    assert_eq!(
        service.spec.unwrap().selector.unwrap(),
        selector,
        "Service selects exactly the Deployment's pods"
    );
}

#[test]
fn deployment_meets_the_restricted_pod_security_standard() {
    let d: Deployment = builders::deployment(&valid("fraud-detector", false), &settings());
    let pod = d.spec.unwrap().template.spec.unwrap();
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert_eq!(pod.automount_service_account_token, Some(false));
    for c in &pod.containers {
        let sc = c.security_context.clone().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_ne!(sc.run_as_user, Some(0));
        assert_eq!(
            sc.capabilities.unwrap().drop.unwrap(),
            vec!["ALL".to_owned()]
        );
        assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        assert!(sc.privileged.is_none() || sc.privileged == Some(false));
        assert_eq!(
            c.liveness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .path
                .as_deref(),
            Some("/healthz")
        );
        assert_eq!(
            c.readiness_probe
                .as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .path
                .as_deref(),
            Some("/readyz")
        );
        let port = &c.ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.container_port),
            (Some("http"), 8080)
        );
    }
    assert!(pod.host_network.is_none() && pod.host_pid.is_none() && pod.host_ipc.is_none());
}

#[test]
fn deployment_env_resources_and_gpu() {
    let cpu = builders::deployment(&valid("fraud-detector", false), &settings());
    let c = &cpu
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("ghcr.io/tidewatch/tidewatch-inference:test"),
        "operator default image"
    );
    let env: BTreeMap<String, Value> = c
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name.clone(), json(&e)))
        .collect();
    assert_eq!(
        env["TIDEWATCH_REDIS_URL"]["value"],
        "redis://redis.fraud.svc:6379"
    );
    assert_eq!(env["TIDEWATCH_FEATURE_TIMEOUT_MS"]["value"], "50");
    assert_eq!(
        env["TIDEWATCH_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"],
        "fraud-redis"
    );
    assert!(
        env["TIDEWATCH_REDIS_PASSWORD"].get("value").is_none(),
        "secrets come by reference only"
    );
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"],
        "http://otel-collector.observability.svc:4318"
    );
    assert_eq!(env["TIDEWATCH_TRACE_SAMPLE_RATIO"]["value"], "0.25");
    assert_eq!(
        env["TIDEWATCH_MODEL_DIR"]["value"],
        "/var/lib/tidewatch/model"
    );
    let pod = cpu.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let model = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "model")
        .expect("model volume");
    assert_eq!(
        model.persistent_volume_claim.as_ref().unwrap().claim_name,
        "fraud-model-1-4-0"
    );
    assert!(
        c.volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .any(|m| m.name == "model" && m.read_only == Some(true))
    );
    let r = c.resources.clone().unwrap();
    assert!(!r.limits.as_ref().unwrap().contains_key("nvidia.com/gpu"));
    assert_eq!(r.limits.unwrap()["memory"].0, "1Gi");

    let gpu = builders::deployment(&valid("fraud-detector", true), &settings());
    let pod = gpu.spec.unwrap().template.spec.unwrap();
    let r = pod.containers[0].resources.clone().unwrap();
    assert_eq!(r.limits.unwrap()["nvidia.com/gpu"].0, "1");
    assert_eq!(r.requests.unwrap()["nvidia.com/gpu"].0, "1");
    assert_eq!(
        pod.tolerations.unwrap()[0].key.as_deref(),
        Some("nvidia.com/gpu")
    );
}

#[test]
fn every_child_is_owned_labelled_and_named_within_63() {
    let longest = format!("a{}", "b".repeat(48));
    let m = valid(&longest, false);
    let mut slo = support::slo(&format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: SLO\nmetadata: {{name: {longest}, namespace: fraud}}\nspec:\n  target: {{mlService: {longest}}}\n  objective: 99.9\n  indicator: {{availability: {{}}}}\n"
    ));
    slo.meta_mut().uid = Some(UID.into());
    let s = validate_slo(&slo, Some(&full_mlservice(&longest, false))).expect("valid SLO");
    for (children, kind) in [
        (mlservice_children(&m, &settings()), "MLService"),
        (slo_children(&s, &settings()), "SLO"),
    ] {
        for child in children {
            let meta = &child.object["metadata"];
            assert!(
                child.name.len() <= 63,
                "{} {} is {} characters",
                child.kind,
                child.name,
                child.name.len()
            );
            assert!(
                meta["labels"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(|v| v.as_str().unwrap().len() <= 63)
            );
            assert_owned(meta, kind);
            assert_recommended_labels(meta, &longest);
            assert_eq!(meta["namespace"], "fraud");
        }
    }
}

#[test]
fn monitoring_objects_carry_extra_labels_without_losing_recommended_ones() {
    let m = valid("fraud-detector", false);
    let sm = json(&builders::service_monitor(&m, &settings()));
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(sm["metadata"]["labels"]["team"], "fraud");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(sm["spec"]["endpoints"][0]["scrapeTimeout"], "12s");
    // The model version the pods carry reaches the scraped series.
    let deployment = json(&builders::deployment(&m, &settings()));
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for label in sm["spec"]["podTargetLabels"].as_array().unwrap() {
        assert!(pod_labels[label.as_str().unwrap()].is_string(), "{label}");
    }
    assert_eq!(
        sm["spec"]["podTargetLabels"],
        serde_json::json!([labels::VERSION])
    );
    let service = json(&builders::service(&m));
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            &service["metadata"]["labels"][k], v,
            "ServiceMonitor selects the Service"
        );
    }
    let mut hostile = full_mlservice("fraud-detector", false);
    hostile
        .spec
        .monitoring
        .service_monitor_labels
        .insert(labels::MANAGED_BY.into(), "someone-else".into());
    let sm = json(&builders::service_monitor(
        &validate_mlservice(&hostile).unwrap(),
        &settings(),
    ));
    assert_eq!(
        sm["metadata"]["labels"][labels::MANAGED_BY],
        "tidewatch-operator"
    );
}

#[test]
fn dashboard_configmaps_are_picked_up_by_the_grafana_sidecar() {
    let m = valid("fraud-detector", false);
    let cm = json(&builders::mlservice_dashboard_configmap(&m, &settings()));
    assert_eq!(
        cm["metadata"]["name"],
        names::mlservice_dashboard("fraud-detector")
    );
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(
        cm["metadata"]["annotations"]["grafana_folder"],
        "ML services"
    );
    let data = cm["data"].as_object().unwrap();
    assert_eq!(data.len(), 1);
    let dashboard: Value =
        serde_json::from_str(data.values().next().unwrap().as_str().unwrap()).unwrap();
    assert!(dashboard["uid"].as_str().unwrap().len() <= 40);
    assert!(dashboard["panels"].as_array().unwrap().len() > 10);
    let templating = &dashboard["templating"]["list"];
    assert_eq!(templating[1]["current"]["value"], "fraud");
    assert_eq!(templating[2]["current"]["value"], "fraud-detector");
}

#[test]
fn builds_are_deterministic_and_input_order_does_not_matter() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples");
    let mut inputs: Vec<(String, String)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    inputs.sort();
    let first = to_yaml_stream(&render(&inputs, &settings()).manifests);
    inputs.reverse();
    let second = to_yaml_stream(&render(&inputs, &settings()).manifests);
    assert_eq!(first, second);
    insta::assert_snapshot!("examples_rendered", first);
}

#[test]
fn snapshot_of_each_builder() {
    let m = valid("fraud-detector", true);
    insta::assert_yaml_snapshot!("deployment_gpu", builders::deployment(&m, &settings()));
    insta::assert_yaml_snapshot!("service", builders::service(&m));
    insta::assert_yaml_snapshot!(
        "service_monitor",
        builders::service_monitor(&m, &settings())
    );
    let s = availability_slo("");
    insta::assert_yaml_snapshot!(
        "prometheus_rule",
        builders::prometheus_rule(&s, &settings())
    );
    let mut cm = builders::slo_dashboard_configmap(&s, &settings());
    cm.data = None; // the dashboard JSON has its own snapshot via dashboards/
    insta::assert_yaml_snapshot!("slo_dashboard_configmap_wrapper", cm);
}
