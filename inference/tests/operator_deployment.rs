//! The Deployment the operator renders for the example MLService starts this server as the
//! spec asks: its container's command, arguments and environment (over the image's own
//! ENTRYPOINT, CMD and ENV) parse with the binary's argument parser, every variable is read
//! by a flag, and the parsed configuration carries the spec's values.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches};
use serde_json::Value;
use tidewatch_contract::defaults;
use tidewatch_contract::env::SERVE_FLAGS;
use tidewatch_inference::config::{Cli, Command, LogFormat, ServeConfig};
use tidewatch_inference::server::{ROUTES, RouteKind};
use tidewatch_operator::render::render;
use tidewatch_operator::validate::OperatorSettings;

/// What the kubelet would read from the Secret the spec names.
const SECRET_VALUE: &str = "from-the-secret";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example() -> serde_yaml::Value {
    let path = repo_root().join("manifests/examples/fraud-detector.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The objects `render` produces for one MLService, by kind.
fn rendered(mlservice: &serde_yaml::Value) -> BTreeMap<String, Value> {
    let input = (
        "mlservice.yaml".to_owned(),
        serde_yaml::to_string(mlservice).unwrap(),
    );
    let out = render(&[input], &OperatorSettings::default());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.manifests
        .into_iter()
        .map(|m| (m.kind.clone(), m.object))
        .collect()
}

/// The inference container of a rendered Deployment.
fn container(objects: &BTreeMap<String, Value>) -> &Value {
    let containers = &objects["Deployment"]["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().unwrap().len(), 1, "{containers:#}");
    &containers[0]
}

/// One instruction of `inference/Dockerfile`, continuation lines joined.
fn dockerfile_instruction(name: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("inference/Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let prefix = format!("{name} ");
    let mut found = joined.lines().filter_map(|l| l.strip_prefix(&prefix));
    let instruction = found.next().unwrap_or_else(|| panic!("no {name} line"));
    assert!(found.next().is_none(), "more than one {name} line");
    instruction.trim().to_owned()
}

/// The process arguments: the container sets neither `command` nor `args`, so the image's
/// ENTRYPOINT and CMD run as written.
fn argv(container: &Value) -> Vec<String> {
    assert!(container.get("command").is_none(), "{container:#}");
    assert!(container.get("args").is_none(), "{container:#}");
    let exec_form = |name| -> Vec<String> {
        serde_json::from_str(&dockerfile_instruction(name)).expect("exec form")
    };
    let mut argv = exec_form("ENTRYPOINT");
    argv.extend(exec_form("CMD"));
    argv
}

/// The process environment: the image's ENV, overridden by the container's `env`. A value
/// from a Secret is [`SECRET_VALUE`]; the reference must name the spec's Secret and key.
fn environment(container: &Value, spec: &serde_yaml::Value) -> BTreeMap<String, String> {
    let credentials = &spec["spec"]["featureStore"]["credentialsSecret"];
    let secret = (credentials["name"].as_str(), credentials["key"].as_str());
    let mut vars: BTreeMap<String, String> = dockerfile_instruction("ENV")
        .split_whitespace()
        .map(|pair| {
            let (name, value) = pair.split_once('=').expect("ENV name=value");
            (name.to_owned(), value.to_owned())
        })
        .collect();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = if let Some(value) = var["value"].as_str() {
            value.to_owned()
        } else {
            let reference = &var["valueFrom"]["secretKeyRef"];
            assert_eq!(
                (reference["name"].as_str(), reference["key"].as_str()),
                secret,
                "{var:#}"
            );
            SECRET_VALUE.to_owned()
        };
        vars.insert(name, value);
    }
    vars
}

/// Parses `argv` as the binary does, with `vars` as the whole environment. clap reads an
/// `env` from the process environment when the command is built, so each variable is
/// given to the flag that names it as that flag's fallback value, as clap would, and every
/// other flag forgets what the test process's own environment holds.
fn parse(argv: &[String], vars: &BTreeMap<String, String>) -> Result<ServeConfig, clap::Error> {
    let mut unread: Vec<&String> = vars.keys().collect();
    let command = Cli::command().mut_subcommand("serve", |serve| {
        serve.mut_args(|arg| {
            let Some(name) = arg.get_env().and_then(|n| n.to_str()).map(str::to_owned) else {
                return arg;
            };
            unread.retain(|v| **v != name);
            match vars.get(&name) {
                // clap keeps default values as `'static` strings; a test can leak a few.
                Some(value) => arg.env(None).default_value(&*value.clone().leak()),
                None => arg.env(None),
            }
        })
    });
    assert!(unread.is_empty(), "read by no flag of serve: {unread:?}");
    let matches = command.try_get_matches_from(argv)?;
    match Cli::from_arg_matches(&matches)?.command {
        Command::Serve(config) => Ok(*config),
        other => panic!("{argv:?} is not serve: {other:?}"),
    }
}

/// The flag reading each variable, from the parser itself.
fn serve_flags_by_env() -> BTreeMap<String, String> {
    let command = Cli::command();
    let serve = command.find_subcommand("serve").unwrap();
    serve
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_owned();
            Some((env, arg.get_long()?.to_owned()))
        })
        .collect()
}

fn yaml_str<'a>(value: &'a serde_yaml::Value, path: &[&str]) -> &'a str {
    let leaf = path.iter().fold(value, |v, key| &v[*key]);
    leaf.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
}

#[test]
fn the_contract_names_each_variable_with_the_flag_that_reads_it() {
    let flags = serve_flags_by_env();
    for (env, long) in SERVE_FLAGS {
        assert_eq!(flags.get(*env).map(String::as_str), Some(*long), "{env}");
    }
}

#[test]
fn the_example_deployment_starts_the_server_the_spec_describes() {
    let spec = example();
    let objects = rendered(&spec);
    let container = container(&objects);
    let vars = environment(container, &spec);
    for name in container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["name"])
    {
        let name = name.as_str().unwrap();
        assert!(
            SERVE_FLAGS.iter().any(|(env, _)| *env == name),
            "{name} is set by the operator but not in the contract"
        );
    }

    let config = parse(&argv(container), &vars).unwrap();

    // Listens on the port the pod declares, and serves the paths the probes and the
    // ServiceMonitor ask for.
    let port = &container["ports"][0];
    assert_eq!(
        config.listen,
        SocketAddr::from(([0, 0, 0, 0], port["containerPort"].as_u64().unwrap() as u16))
    );
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["port"], port["name"], "{probe}");
        let path = get["path"].as_str().unwrap();
        assert!(
            ROUTES
                .iter()
                .any(|r| r.pattern == path && r.method == "GET" && r.kind == RouteKind::Probe),
            "{probe} asks for {path}"
        );
    }
    let scrape = &objects["ServiceMonitor"]["spec"]["endpoints"][0];
    assert_eq!(scrape["port"], port["name"]);
    let metrics_path = scrape["path"].as_str().unwrap();
    assert!(
        ROUTES
            .iter()
            .any(|r| r.pattern == metrics_path && r.method == "GET"),
        "{metrics_path}"
    );

    // The bundled model, the spec's feature store, traces and structured logs.
    assert_eq!(config.model_dir, None);
    let redis = &config.redis;
    assert_eq!(
        redis.redis_url.as_ref().map(|u| u.expose()),
        Some(yaml_str(&spec, &["spec", "featureStore", "address"]))
    );
    assert_eq!(
        redis.redis_password.as_ref().map(|p| p.expose()),
        Some(SECRET_VALUE)
    );
    assert_eq!(
        Some(redis.feature_timeout_ms),
        spec["spec"]["featureStore"]["timeoutMs"].as_u64()
    );
    assert_eq!(
        config.otlp_endpoint.as_deref(),
        Some(yaml_str(&spec, &["spec", "tracing", "otlpEndpoint"]))
    );
    assert_eq!(
        Some(config.trace_sample_ratio),
        spec["spec"]["tracing"]["samplingRatio"].as_f64()
    );
    assert_eq!(config.service_name, yaml_str(&spec, &["metadata", "name"]));
    assert_eq!(config.log_format, LogFormat::Json);

    // A stopping pod serves until kube-proxy has dropped it, and the kubelet waits for it.
    let delay = config.shutdown_delay_seconds;
    assert_eq!(delay, u64::from(defaults::SHUTDOWN_DELAY_SECONDS));
    let grace = objects["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace >= delay + config.shutdown_timeout_seconds,
        "grace period {grace} s"
    );
}

#[test]
fn a_volume_claim_model_is_read_from_where_the_claim_is_mounted() {
    let mut spec = example();
    spec["spec"]["model"]["weightsVolumeClaim"] = "fraud-model".into();
    let objects = rendered(&spec);
    let container = container(&objects);
    let vars = environment(container, &spec);

    let config = parse(&argv(container), &vars).unwrap();

    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "model")
        .expect("the model volume is mounted");
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        config.model_dir.as_deref(),
        Some(Path::new(mount["mountPath"].as_str().unwrap()))
    );
    let volumes = &objects["Deployment"]["spec"]["template"]["spec"]["volumes"];
    assert!(
        volumes
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "model"
                && v["persistentVolumeClaim"]["claimName"] == "fraud-model"),
        "{volumes:#}"
    );
}

#[test]
fn the_parser_refuses_a_value_the_server_cannot_use() {
    let spec = example();
    let objects = rendered(&spec);
    let container = container(&objects);
    let mut vars = environment(container, &spec);
    vars.insert(
        tidewatch_contract::env::TRACE_SAMPLE_RATIO.to_owned(),
        "often".to_owned(),
    );
    let error = parse(&argv(container), &vars).unwrap_err();
    assert!(
        error.to_string().contains("--trace-sample-ratio"),
        "{error}"
    );
}
