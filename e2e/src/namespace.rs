//! A namespace that lives as long as one test: created with a unique name, deleted when
//! dropped, also when the test fails.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Label on every namespace a test creates, so leftovers are easy to find.
pub const TEST_NAMESPACE_LABEL: &str = "e2e.tidewatch.io/test";

pub struct TestNamespace {
    name: String,
    client: Client,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<suffix>`. `prefix` names the test, for readable leftovers.
    pub async fn create(client: &Client, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("e2e-{prefix}-{}", crate::unique_suffix());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.into(),
                    prefix.into(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(Self {
            name,
            client: client.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A typed API scoped to this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and an async client would need the runtime this blocks, so
        // the deletion goes through kubectl. `--wait=false`: the namespace controller
        // finishes the job while the next test runs.
        let deleted = crate::kubectl(
            &[
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ],
            None,
        );
        match deleted {
            Ok(out) if out.success => {}
            Ok(out) => eprintln!(
                "could not delete test namespace {}: {}",
                self.name, out.stderr
            ),
            Err(err) => eprintln!("could not delete test namespace {}: {err}", self.name),
        }
    }
}
