//! `--allowed-credentials-secrets`: an MLService naming a listed Secret gets its children,
//! the Secret's key in the inference pods' environment; one naming another gets none, a
//! `Degraded` condition with reason `SecretNotAllowed` naming the Secret, and a Warning
//! Event. Neither Secret needs to exist: the operator never reads Secrets.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{DynamicObject, ListParams};
use tidewatch_e2e::operator::resources::{apply_yaml, condition, mlservices};
use tidewatch_e2e::operator::{Operator, OperatorOptions};
use tidewatch_e2e::{TestNamespace, await_condition, client, eventually};

const WAIT: Duration = Duration::from_secs(60);

fn naming(name: &str, namespace: &str, secret: &str) -> String {
    format!(
        "apiVersion: tidewatch.io/v1alpha1\nkind: MLService\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         spec:\n  model: {{name: fraud-detector, version: 1.0.0}}\n  replicas: 1\n  \
         featureStore: {{address: \"redis://redis:6379\", credentialsSecret: {{name: {secret}, key: password}}}}\n"
    )
}

async fn degraded(api: &Api<DynamicObject>, name: &str) -> anyhow::Result<(String, String)> {
    let found = await_condition(
        api,
        name,
        |o: Option<&DynamicObject>| o.is_some_and(|o| condition(o, "Degraded").is_some()),
        WAIT,
    )
    .await?
    .expect("exists");
    let (status, reason, message) = condition(&found, "Degraded").expect("Degraded");
    Ok((format!("{status} {reason}"), message))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_secrets_reach_the_inference_pods() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "secret-policy").await?;
    let mut options = OperatorOptions::new("secret-policy");
    options.extra_args = vec![format!(
        "--allowed-credentials-secrets={}/redis-password",
        ns.name()
    )];
    let _operator = Operator::start(ns.name(), &options).await?;
    apply_yaml(&naming("allowed", ns.name(), "redis-password"))?;
    apply_yaml(&naming("refused", ns.name(), "db-admin"))?;
    let mls = mlservices(&client, ns.name());

    let (state, message) = degraded(&mls, "refused").await?;
    assert_eq!(state, "True SecretNotAllowed", "{message}");
    assert!(message.contains("Secret \"db-admin\""), "{message}");
    assert!(
        message.contains(&format!("{}/db-admin", ns.name())),
        "{message}"
    );
    let events: Api<Event> = ns.api();
    eventually(WAIT, || async {
        let found = events
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("refused")
                    && e.reason.as_deref() == Some("SecretNotAllowed")
                    && e.note.as_deref().is_some_and(|n| n.contains("db-admin"))
            });
        anyhow::ensure!(found, "no SecretNotAllowed Event about refused");
        Ok(())
    })
    .await?;

    let (state, message) = degraded(&mls, "allowed").await?;
    assert_eq!(state, "False Reconciled", "{message}");
    let deployments: Api<Deployment> = ns.api();
    let allowed = deployments.get("allowed").await?;
    let env = allowed
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default();
    let secrets: Vec<String> = env
        .iter()
        .filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(secrets, ["redis-password"]);
    assert!(
        deployments.get_opt("refused").await?.is_none(),
        "no children for a refused Secret"
    );
    Ok(())
}
