//! The apply step: server-side apply of each desired child (field manager
//! `tidewatch-operator`, forced, so a hand edit of an owned field is taken back) and deletion
//! of owned children that are no longer wanted. A child that already matches is not written.
//! Each parent's children are destructured field by field, so a new child that is neither
//! applied nor pruned does not compile.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde::Serialize;

use super::cache::decode;
use super::context::Context;
use super::drift::is_subset;
use super::error::Error;
use super::memory::{Applied, ParentKey};
use crate::builders::{ChildKind, MlServiceChildren, SloChildren};
use crate::labels::MANAGER;

/// The parent whose children are applied: where they live and which uid owns them.
pub struct Parent {
    pub key: ParentKey,
    pub uid: String,
}

/// Applies every child of an MLService, then prunes what it no longer wants. Returns the
/// Deployment as the server (or the cache, when it already matched) has it.
pub async fn mlservice_children(
    ctx: &Context,
    parent: &Parent,
    children: &MlServiceChildren,
) -> Result<Deployment, Error> {
    let MlServiceChildren {
        deployment,
        service,
        service_monitor,
        dashboard,
    } = children;
    let live_deployment = apply(ctx, parent, deployment).await?;
    apply(ctx, parent, service).await?;
    apply(ctx, parent, service_monitor).await?;
    if let Some(dashboard) = dashboard {
        apply(ctx, parent, dashboard).await?;
    }
    prune(ctx, parent, [deployment]).await?;
    prune(ctx, parent, [service]).await?;
    prune(ctx, parent, [service_monitor]).await?;
    prune(ctx, parent, dashboard).await?;
    decode(&live_deployment)
}

/// Applies every child of an SLO, then prunes what it no longer wants.
pub async fn slo_children(
    ctx: &Context,
    parent: &Parent,
    children: &SloChildren,
) -> Result<(), Error> {
    let SloChildren { rule, dashboard } = children;
    apply(ctx, parent, rule).await?;
    apply(ctx, parent, dashboard).await?;
    prune(ctx, parent, [rule]).await?;
    prune(ctx, parent, [dashboard]).await
}

fn digest(desired: &serde_json::Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    desired.to_string().hash(&mut hasher);
    hasher.finish()
}

fn api(ctx: &Context, kind: &ChildKind, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(ctx.client.clone(), namespace, kind.api_resource())
}

/// Applies one child unless the cache shows it as desired: every desired field present with
/// its value, or unchanged since our last apply of this exact object.
async fn apply<K>(ctx: &Context, parent: &Parent, child: &K) -> Result<Arc<DynamicObject>, Error>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let kind = ChildKind::of::<K>();
    let (namespace, name) = (parent.key.namespace.as_str(), child.name_any());
    let desired = serde_json::to_value(child).map_err(|source| Error::Build {
        kind: kind.clone(),
        source,
    })?;
    let digest = digest(&desired);
    if let Some(cached) = ctx.children.get(&kind, namespace, &name) {
        let version = cached.resource_version().unwrap_or_default();
        let known = ctx
            .memory
            .applied(&parent.key, &kind, &name)
            .is_some_and(|a| a.digest == digest && a.resource_version == version);
        let current = known
            || serde_json::to_value(cached.as_ref()).is_ok_and(|live| is_subset(&desired, &live));
        if current {
            return Ok(cached);
        }
    }
    let applied = api(ctx, &kind, namespace)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&desired),
        )
        .await
        .map_err(|source| Error::Apply {
            kind: kind.clone(),
            name: name.clone(),
            source,
        })?;
    tracing::info!(kind = kind.name(), namespace, name, "applied child");
    let record = Applied {
        digest,
        resource_version: applied.resource_version().unwrap_or_default(),
    };
    ctx.memory.record_applied(&parent.key, &kind, &name, record);
    Ok(Arc::new(applied))
}

/// Deletes the cached children of `K`'s kind that `parent` owns, except `wanted`. Every
/// child of that kind the parent wants must be in `wanted`: the others are deleted.
async fn prune<'a, K>(
    ctx: &Context,
    parent: &Parent,
    wanted: impl IntoIterator<Item = &'a K>,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + 'a,
{
    let kind = ChildKind::of::<K>();
    let namespace = parent.key.namespace.as_str();
    let wanted: Vec<String> = wanted.into_iter().map(ResourceExt::name_any).collect();
    for stale in ctx.children.owned_by(&kind, &parent.uid) {
        let name = stale.name_any();
        if wanted.contains(&name) || stale.namespace().as_deref() != Some(namespace) {
            continue;
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: stale.uid(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match api(ctx, &kind, namespace).delete(&name, &params).await {
            Ok(_) => tracing::info!(
                kind = kind.name(),
                namespace,
                name,
                "deleted unwanted child"
            ),
            // Already gone, or replaced by a new object of the same name: nothing to delete.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(source) => return Err(Error::Prune { kind, name, source }),
        }
        ctx.memory.forget_child(&parent.key, &kind, &name);
    }
    Ok(())
}
