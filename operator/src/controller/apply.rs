//! The apply step: server-side apply of each desired child (field manager
//! `tidewatch-operator`, forced, so a hand edit of an owned field is taken back) and deletion
//! of owned children that are no longer wanted. A child that already matches is not written.
//! Forcing is safe only on objects the parent owns: before any write, every child's name is
//! looked up (the cache, else one metadata GET) and a live object the parent does not own
//! (`ownership`) blocks the whole set, so a parent never takes over, half-applies or
//! prunes beside someone else's object. Each parent's children are destructured field by
//! field, so a new child that is neither checked, applied nor pruned does not compile.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde::Serialize;

use super::cache::decode;
use super::context::Context;
use super::drift::{condense, is_subset};
use super::error::Error;
use super::memory::{Applied, ParentKey};
use super::metrics::ControllerName;
use super::ownership::{self, Claimant, Conflict};
use crate::builders::{ChildKind, MlServiceChildren, SloChildren};
use crate::labels::MANAGER;

/// The parent whose children are applied: its kind, where they live and which uid owns them.
pub struct Parent {
    pub kind: String,
    pub key: ParentKey,
    pub uid: String,
}

impl Parent {
    pub fn of<K: Resource<DynamicType = ()>>(controller: ControllerName, parent: &K) -> Self {
        Self {
            kind: K::kind(&()).into_owned(),
            key: ParentKey::of(controller, parent),
            uid: parent.meta().uid.clone().unwrap_or_default(),
        }
    }

    fn claimant(&self) -> Claimant<'_> {
        Claimant {
            kind: &self.kind,
            name: &self.key.name,
            uid: &self.uid,
        }
    }
}

/// What the apply step did.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Every child is applied and the unwanted ones pruned.
    Applied(T),
    /// Nothing was written: these live objects hold children's names and are not the parent's.
    Blocked(Vec<Conflict>),
}

/// Applies every child of an MLService, then prunes what it no longer wants, unless a child's
/// name is taken. Returns the Deployment as the server (or the cache, when it already
/// matched) has it.
pub async fn mlservice_children(
    ctx: &Context,
    parent: &Parent,
    children: &MlServiceChildren,
) -> Result<Outcome<Deployment>, Error> {
    let MlServiceChildren {
        deployment,
        service,
        service_monitor,
        dashboard,
    } = children;
    let mut conflicts = Vec::new();
    conflicts.extend(check(ctx, parent, deployment).await?);
    conflicts.extend(check(ctx, parent, service).await?);
    conflicts.extend(check(ctx, parent, service_monitor).await?);
    if let Some(dashboard) = dashboard {
        conflicts.extend(check(ctx, parent, dashboard).await?);
    }
    if !conflicts.is_empty() {
        return Ok(Outcome::Blocked(conflicts));
    }
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
    decode(&live_deployment).map(Outcome::Applied)
}

/// Applies every child of an SLO, then prunes what it no longer wants, unless a child's name
/// is taken.
pub async fn slo_children(
    ctx: &Context,
    parent: &Parent,
    children: &SloChildren,
) -> Result<Outcome<()>, Error> {
    let SloChildren { rule, dashboard } = children;
    let mut conflicts = Vec::new();
    conflicts.extend(check(ctx, parent, rule).await?);
    conflicts.extend(check(ctx, parent, dashboard).await?);
    if !conflicts.is_empty() {
        return Ok(Outcome::Blocked(conflicts));
    }
    apply(ctx, parent, rule).await?;
    apply(ctx, parent, dashboard).await?;
    prune(ctx, parent, [rule]).await?;
    prune(ctx, parent, [dashboard]).await?;
    Ok(Outcome::Applied(()))
}

/// The conflict over `child`'s name, if a live object the parent does not own holds it.
/// The cache holds every object labelled as ours, which covers the parent's own children
/// after their first apply: the GET happens only for a name the cache does not know — a
/// child not created yet, or someone else's unlabelled object.
async fn check<K>(ctx: &Context, parent: &Parent, child: &K) -> Result<Option<Conflict>, Error>
where
    K: Resource<DynamicType = ()>,
{
    let kind = ChildKind::of::<K>();
    let (namespace, name) = (parent.key.namespace.as_str(), child.name_any());
    let live = match ctx.children.metadata(&kind, namespace, &name) {
        Some(cached) => cached,
        None => match api(ctx, &kind, namespace).get_metadata_opt(&name).await {
            Ok(Some(found)) => found.metadata,
            Ok(None) => return Ok(None),
            Err(source) => return Err(Error::Read { kind, name, source }),
        },
    };
    Ok(ownership::conflict(&kind, &live, parent.claimant()))
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
        // The cache holds long strings as digests (`cache::pack`): compare like with like.
        let current = known
            || serde_json::to_value(cached.as_ref()).is_ok_and(|mut live| {
                let mut wanted = desired.clone();
                condense(&mut wanted);
                condense(&mut live);
                is_subset(&wanted, &live)
            });
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
