//! Reconciliations of both controllers against the mocked API server: the exact requests one
//! reconciliation sends for a given parent and cache, and what it returns. This module holds
//! the harness (a context on a mocked client, caches filled by hand, the parents, the desired
//! children from the pure builders); no production code depends on it.

mod apply;
mod conflicts;
mod errors;
mod live_status;
mod status_events;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::cache::{self, ChildStores};
use super::context::Context;
use super::error::Error;
use super::metrics::Metrics;
use super::{mlservice, slo};
use crate::api::{MLService, SLO};
use crate::builders::{self, children};
use crate::labels::MANAGER;
use crate::mock_apiserver::{self, ApiServerVerifier, Expect, merge};
use crate::validate::{OperatorSettings, validate_mlservice, validate_slo};

const NAMESPACE: &str = "fraud";
const MLS_UID: &str = "uid-mls";
const SLO_UID: &str = "uid-slo";
/// The periodic re-check the harness configures.
const REQUEUE_AFTER: Duration = Duration::from_secs(300);

/// Where each object of the scenarios lives on the API server.
mod path {
    pub const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/fraud/deployments/fraud-detector";
    pub const SERVICE: &str = "/api/v1/namespaces/fraud/services/fraud-detector";
    pub const SERVICE_MONITOR: &str =
        "/apis/monitoring.coreos.com/v1/namespaces/fraud/servicemonitors/fraud-detector";
    pub const MLS_DASHBOARD: &str =
        "/api/v1/namespaces/fraud/configmaps/mls-fraud-detector-dashboard";
    pub const MLS_STATUS: &str =
        "/apis/tidewatch.io/v1alpha1/namespaces/fraud/mlservices/fraud-detector/status";
    pub const RULE: &str = "/apis/monitoring.coreos.com/v1/namespaces/fraud/prometheusrules/slo-fraud-detector-availability";
    pub const SLO_DASHBOARD: &str =
        "/api/v1/namespaces/fraud/configmaps/slo-fraud-detector-availability-dashboard";
    pub const SLO_STATUS: &str =
        "/apis/tidewatch.io/v1alpha1/namespaces/fraud/slos/fraud-detector-availability/status";
    pub const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/fraud/events";
}

/// A context on a mocked client, with caches the test fills as the watches would.
struct Harness {
    ctx: Arc<Context>,
    api: ApiServerVerifier,
    registry: Registry,
    /// One writer per child kind, by the `kind` of its objects.
    children: HashMap<String, Writer<DynamicObject>>,
    mlservices: Writer<MLService>,
}

impl Harness {
    fn new() -> Self {
        let (client, api) = mock_apiserver::client();
        let mut registry = Registry::default();
        let mut stores = ChildStores::default();
        let mut children = HashMap::new();
        for kind in children::all_kinds() {
            let writer = Writer::new(kind.api_resource().clone());
            stores.insert(kind.clone(), writer.as_reader());
            children.insert(kind.name().to_owned(), writer);
        }
        let mlservices = Writer::default();
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: Some("replica-a".into()),
        };
        let ctx = Context::new(
            client.clone(),
            OperatorSettings::default(),
            stores,
            mlservices.as_reader(),
            Metrics::register(&mut registry),
            Recorder::new(client, reporter),
            REQUEUE_AFTER,
        );
        Self {
            ctx: Arc::new(ctx),
            api,
            registry,
            children,
            mlservices,
        }
    }

    /// The same harness, its SLO statuses carrying what `board` publishes.
    fn with_live(mut self, board: Arc<crate::live::Board>) -> Self {
        let ctx =
            Arc::try_unwrap(self.ctx).unwrap_or_else(|_| panic!("the context is not shared yet"));
        self.ctx = Arc::new(ctx.with_live(board));
        self
    }

    /// Puts `object` in the cache of its kind, packed as the kind's watch would after a change.
    fn cache(&mut self, object: &Value) {
        let mut object: DynamicObject = serde_json::from_value(object.clone()).expect("an object");
        cache::pack(&mut object);
        let kind = object
            .types
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_default();
        let writer = self
            .children
            .get_mut(&kind)
            .unwrap_or_else(|| panic!("no cache of {kind:?}"));
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }

    fn cache_mlservice(&mut self, mls: &MLService) {
        self.mlservices
            .apply_watcher_event(&watcher::Event::Apply(mls.clone()));
    }

    async fn reconcile_mlservice(
        &mut self,
        mls: &MLService,
        scenario: Vec<Expect>,
    ) -> Result<Action, Error> {
        let reconcile = mlservice::reconcile(Arc::new(mls.clone()), self.ctx.clone());
        self.api.run(scenario, reconcile).await
    }

    async fn reconcile_slo(&mut self, slo: &SLO, scenario: Vec<Expect>) -> Result<Action, Error> {
        let reconcile = slo::reconcile(Arc::new(slo.clone()), self.ctx.clone());
        self.api.run(scenario, reconcile).await
    }

    /// The body of the last scenario's request `index`, decoded.
    fn sent<T: DeserializeOwned>(&self, index: usize, pointer: &str) -> T {
        let body = self.api.bodies()[index]
            .pointer(pointer)
            .unwrap_or_else(|| panic!("request {index} has no {pointer}"));
        serde_json::from_value(body.clone()).expect("a decodable body")
    }

    /// The operator's metrics, in the text exposition format.
    fn metrics(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("encoded");
        text
    }
}

/// The harness with every child of `mls` cached as applied and the Deployment rolled out.
fn converged(mls: &MLService) -> Harness {
    let mut harness = Harness::new();
    let children = MlsChildren::of(mls);
    let nothing = json!({});
    harness.cache(&live(
        &children.deployment,
        "uid-d",
        "11",
        &rollout_status(2),
    ));
    harness.cache(&live(&children.service, "uid-s", "12", &nothing));
    harness.cache(&live(&children.service_monitor, "uid-sm", "13", &nothing));
    harness.cache(&live(&children.dashboard, "uid-cm", "14", &nothing));
    harness
}

/// The MLService `fraud/fraud-detector` at generation 1 with `spec`.
fn mlservice(spec: Value) -> MLService {
    let mut object = json!({
        "apiVersion": "tidewatch.io/v1alpha1", "kind": "MLService",
        "metadata": {"name": "fraud-detector", "namespace": NAMESPACE, "uid": MLS_UID, "generation": 1},
    });
    object["spec"] = spec;
    serde_json::from_value(object).expect("an MLService")
}

/// A valid spec: two replicas, the dashboard on (the default).
fn serving_spec() -> Value {
    json!({"model": {"name": "fraud-detector", "version": "1.4.0"}, "replicas": 2})
}

/// The SLO `fraud/fraud-detector-availability` on the MLService `fraud-detector`.
fn slo() -> SLO {
    serde_json::from_value(json!({
        "apiVersion": "tidewatch.io/v1alpha1", "kind": "SLO",
        "metadata": {"name": "fraud-detector-availability", "namespace": NAMESPACE, "uid": SLO_UID, "generation": 1},
        "spec": {
            "target": {"mlService": "fraud-detector"},
            "objective": 99.9, "window": "30d", "indicator": {"availability": {}},
        },
    }))
    .expect("an SLO")
}

/// What the pure builders make of a valid MLService: the bodies its applies must carry.
struct MlsChildren {
    deployment: Value,
    service: Value,
    service_monitor: Value,
    dashboard: Value,
}

impl MlsChildren {
    fn of(mls: &MLService) -> Self {
        let valid = validate_mlservice(mls).expect("a valid MLService");
        let settings = OperatorSettings::default();
        Self {
            deployment: to_json(&builders::deployment(&valid, &settings)),
            service: to_json(&builders::service(&valid)),
            service_monitor: to_json(&builders::service_monitor(&valid, &settings)),
            dashboard: to_json(&builders::mlservice_dashboard_configmap(&valid, &settings)),
        }
    }
}

/// What the pure builders make of a valid SLO.
struct SloChildren {
    rule: Value,
    dashboard: Value,
}

impl SloChildren {
    fn of(slo: &SLO, target: &MLService) -> Self {
        let valid = validate_slo(slo, Some(target)).expect("a valid SLO");
        let settings = OperatorSettings::default();
        Self {
            rule: to_json(&builders::prometheus_rule(&valid, &settings)),
            dashboard: to_json(&builders::slo_dashboard_configmap(&valid, &settings)),
        }
    }
}

fn to_json(object: &impl serde::Serialize) -> Value {
    serde_json::to_value(object).expect("JSON")
}

/// `desired` as the API server stores it: with a uid, a resourceVersion and whatever
/// `server_fields` the server and other controllers add.
fn live(desired: &Value, uid: &str, resource_version: &str, server_fields: &Value) -> Value {
    let mut object = desired.clone();
    merge(&mut object, server_fields);
    object["metadata"]["uid"] = json!(uid);
    object["metadata"]["resourceVersion"] = json!(resource_version);
    object
}

/// A Deployment's status once `ready` of its replicas run the current generation.
fn rollout_status(ready: i32) -> Value {
    json!({"metadata": {"generation": 1}, "status": {
        "observedGeneration": 1, "replicas": 2, "readyReplicas": ready, "updatedReplicas": 2,
    }})
}

/// A status write of `parent` by server-side apply, carrying at least the fields of `patch`,
/// answered with the parent as stored after it.
fn status_write(path: &str, parent: &impl serde::Serialize, patch: Value) -> Expect {
    Expect::apply(path)
        .body_includes(patch)
        .reply(mock_apiserver::Reply::applied_onto(to_json(parent), "20"))
}

/// The metadata reads of children's names the cache does not hold, answered "not found":
/// what a parent's first reconciliation sends before its first apply.
fn name_lookups(paths: &[&str]) -> Vec<Expect> {
    paths
        .iter()
        .map(|path| Expect::get(path).reply(mock_apiserver::Reply::failure(404)))
        .collect()
}

/// Every child name of the MLService `fraud-detector`, in apply order.
const MLS_CHILDREN: [&str; 4] = [
    path::DEPLOYMENT,
    path::SERVICE,
    path::SERVICE_MONITOR,
    path::MLS_DASHBOARD,
];

/// Every child name of the SLO `fraud-detector-availability`, in apply order.
const SLO_CHILDREN: [&str; 2] = [path::RULE, path::SLO_DASHBOARD];

/// Conditions as a status write carries them, without their transition times.
fn conditions(ready: (&str, &str), progressing: (&str, &str), degraded: (&str, &str)) -> Value {
    let condition = |type_: &str, (status, reason): (&str, &str)| json!({"type": type_, "status": status, "reason": reason, "observedGeneration": 1});
    json!([
        condition("Ready", ready),
        condition("Progressing", progressing),
        condition("Degraded", degraded),
    ])
}

/// Kinds and names as a parent's status lists its children.
fn child_refs(children: &[(&str, &str)]) -> Value {
    let refs: BTreeMap<(&str, &str), Value> = children
        .iter()
        .map(|&(kind, name)| ((kind, name), json!({"kind": kind, "name": name})))
        .collect();
    Value::Array(refs.into_values().collect())
}
