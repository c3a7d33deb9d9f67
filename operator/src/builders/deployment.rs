//! The inference Deployment: restricted Pod Security, probes, resources, GPU, env.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext, Toleration,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tidewatch_contract::{defaults, endpoints, env};

use super::{child_meta, names};
use crate::labels::{self, Component};
use crate::validate::{ModelWeights, OperatorSettings, ValidMlService};

/// Name of the inference container.
pub const CONTAINER_NAME: &str = "inference";
/// Port serving predictions, `/metrics`, `/healthz` and `/readyz`, typed as Kubernetes
/// ports are (every `u16` fits an `i32`).
pub const HTTP_PORT: i32 = endpoints::PORT as i32;
/// Name of that port on the pod and the Service.
pub const HTTP_PORT_NAME: &str = "http";
/// Extended resource of NVIDIA's device plugin.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// UID the inference server runs as (non-root, distroless convention).
pub const RUN_AS_USER: i64 = 65_532;

fn env_var(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// Where a volume-claim model is mounted.
pub const MODEL_MOUNT_PATH: &str = "/var/lib/tidewatch/model";

/// Environment of the inference container (sorted by name for stable output). Names are the
/// inference server's configuration variables, as the contract spells them.
pub fn environment(m: &ValidMlService) -> Vec<EnvVar> {
    let mut vars = vec![
        env_var(env::LISTEN, format!("0.0.0.0:{HTTP_PORT}")),
        env_var(env::LOG_FORMAT, env::LOG_FORMAT_JSON),
        env_var(
            env::SHUTDOWN_DELAY_SECONDS,
            defaults::SHUTDOWN_DELAY_SECONDS.to_string(),
        ),
    ];
    if let ModelWeights::VolumeClaim(_) = &m.weights {
        vars.push(env_var(env::MODEL_DIR, MODEL_MOUNT_PATH));
    }
    if let Some(fs) = &m.feature_store {
        vars.push(env_var(env::REDIS_URL, &fs.address));
        vars.push(env_var(env::FEATURE_TIMEOUT_MS, fs.timeout_ms.to_string()));
        if let Some((secret, key)) = &fs.credentials {
            vars.push(EnvVar {
                name: env::REDIS_PASSWORD.into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.clone(),
                        key: key.clone(),
                        optional: Some(false),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            });
        }
    }
    if let Some(t) = &m.tracing {
        vars.push(env_var(env::OTLP_ENDPOINT, &t.otlp_endpoint));
        vars.push(env_var(env::SERVICE_NAME, m.name.as_str()));
        vars.push(env_var(
            env::TRACE_SAMPLE_RATIO,
            t.sampling_ratio.to_string(),
        ));
    }
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    vars
}

fn resources(m: &ValidMlService) -> ResourceRequirements {
    let r = &m.resources;
    let mut requests = BTreeMap::from([
        ("cpu".to_owned(), Quantity(r.cpu.clone())),
        ("memory".to_owned(), Quantity(r.memory.clone())),
    ]);
    let mut limits = BTreeMap::from([("memory".to_owned(), Quantity(r.memory.clone()))]);
    if let Some(cpu) = &r.cpu_limit {
        limits.insert("cpu".into(), Quantity(cpu.clone()));
    }
    if r.gpu > 0 {
        // Extended resources must be requested and limited alike.
        requests.insert(GPU_RESOURCE.into(), Quantity(r.gpu.to_string()));
        limits.insert(GPU_RESOURCE.into(), Quantity(r.gpu.to_string()));
    }
    ResourceRequirements {
        requests: Some(requests),
        limits: Some(limits),
        ..ResourceRequirements::default()
    }
}

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

fn volume_mounts(m: &ValidMlService) -> Vec<VolumeMount> {
    let mut mounts = vec![VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..VolumeMount::default()
    }];
    if let ModelWeights::VolumeClaim(_) = &m.weights {
        mounts.push(VolumeMount {
            name: "model".into(),
            mount_path: MODEL_MOUNT_PATH.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    mounts
}

fn volumes(m: &ValidMlService) -> Vec<Volume> {
    // The root filesystem is read-only; /tmp is the only scratch space.
    let mut volumes = vec![Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity("64Mi".into())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }];
    if let ModelWeights::VolumeClaim(claim) = &m.weights {
        volumes.push(Volume {
            name: "model".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(true),
            }),
            ..Volume::default()
        });
    }
    volumes
}

/// Container security context meeting the `restricted` Pod Security Standard.
pub fn restricted_container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

/// The inference Deployment of an MLService.
pub fn deployment(m: &ValidMlService, settings: &OperatorSettings) -> Deployment {
    let name = m.name.as_str();
    let image = m
        .image
        .clone()
        .unwrap_or_else(|| settings.default_image().to_owned());
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: Some(vec![ContainerPort {
            name: Some(HTTP_PORT_NAME.into()),
            container_port: HTTP_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(environment(m)),
        resources: Some(resources(m)),
        // Start-up covers model loading; afterwards liveness restarts a wedged server and
        // readiness takes a pod out of the Service while it cannot serve.
        startup_probe: Some(probe(endpoints::HEALTH_PATH, 2, 60)),
        liveness_probe: Some(probe(endpoints::HEALTH_PATH, 10, 3)),
        readiness_probe: Some(probe(endpoints::READY_PATH, 5, 2)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(volume_mounts(m)),
        ..Container::default()
    };
    let gpu_tolerations = (m.resources.gpu > 0).then(|| {
        vec![Toleration {
            key: Some(GPU_RESOURCE.into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Toleration::default()
        }]
    });
    let pod = PodSpec {
        containers: vec![container],
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(30),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            fs_group: Some(RUN_AS_USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        tolerations: gpu_tolerations,
        volumes: Some(volumes(m)),
        ..PodSpec::default()
    };
    Deployment {
        metadata: child_meta(
            names::inference(name),
            &m.namespace,
            labels::recommended(name, Component::Inference),
            m.owner.as_ref(),
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(m.replicas),
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".into())),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels::pod(name, &m.model_version)),
                    annotations: Some(BTreeMap::from([(
                        "kubectl.kubernetes.io/default-container".to_owned(),
                        CONTAINER_NAME.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}
