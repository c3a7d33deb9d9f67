//! The apply step: server-side apply of each desired child (field manager
//! `tidewatch-operator`, forced, so a hand edit of an owned field is taken back) and deletion
//! of owned children that are no longer wanted. A child that already matches is not written.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use kube::ResourceExt;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};

use super::children::{Child, ChildKind};
use super::context::Context;
use super::drift::is_subset;
use super::error::Error;
use crate::labels::MANAGER;

/// Applies `desired` and prunes the other children of `kinds` owned by `owner_uid`. Returns
/// the live children in the order of `desired`.
pub async fn apply_children(
    ctx: &Context,
    namespace: &str,
    owner_uid: &str,
    desired: &[Child],
    kinds: &[ChildKind],
) -> Result<Vec<Arc<DynamicObject>>, Error> {
    let mut live = Vec::with_capacity(desired.len());
    for child in desired {
        live.push(apply_one(ctx, namespace, child).await?);
    }
    prune(ctx, namespace, owner_uid, desired, kinds).await?;
    Ok(live)
}

async fn apply_one(
    ctx: &Context,
    namespace: &str,
    child: &Child,
) -> Result<Arc<DynamicObject>, Error> {
    let name = child.name();
    let desired = serde_json::to_value(&child.object).map_err(|source| Error::Build {
        kind: child.kind,
        source,
    })?;
    let hash = {
        let mut hasher = DefaultHasher::new();
        desired.to_string().hash(&mut hasher);
        hasher.finish()
    };
    let key = (child.kind, namespace.to_owned(), name.clone());
    if let Some(cached) = ctx.children.get(child.kind, namespace, &name) {
        let version = cached.resource_version().unwrap_or_default();
        let known = ctx
            .applied
            .lock()
            .expect("applied lock")
            .get(&key)
            .is_some_and(|(h, v)| *h == hash && *v == version);
        let current = known
            || serde_json::to_value(cached.as_ref()).is_ok_and(|live| is_subset(&desired, &live));
        if current {
            return Ok(cached);
        }
    }
    let applied = child
        .kind
        .api(&ctx.client, namespace)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&child.object),
        )
        .await
        .map_err(|source| Error::Apply {
            kind: child.kind,
            name: name.clone(),
            source,
        })?;
    tracing::info!(kind = child.kind.as_str(), namespace, name, "applied child");
    ctx.applied
        .lock()
        .expect("applied lock")
        .insert(key, (hash, applied.resource_version().unwrap_or_default()));
    Ok(Arc::new(applied))
}

async fn prune(
    ctx: &Context,
    namespace: &str,
    owner_uid: &str,
    desired: &[Child],
    kinds: &[ChildKind],
) -> Result<(), Error> {
    let wanted: BTreeSet<(ChildKind, String)> =
        desired.iter().map(|c| (c.kind, c.name())).collect();
    for &kind in kinds {
        for stale in ctx.children.owned_by(kind, owner_uid) {
            let name = stale.name_any();
            if wanted.contains(&(kind, name.clone()))
                || stale.namespace().as_deref() != Some(namespace)
            {
                continue;
            }
            let api = kind.api(&ctx.client, namespace);
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: stale.uid(),
                    resource_version: None,
                }),
                ..DeleteParams::background()
            };
            match api.delete(&name, &params).await {
                Ok(_) => tracing::info!(
                    kind = kind.as_str(),
                    namespace,
                    name,
                    "deleted unwanted child"
                ),
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                Err(source) => return Err(Error::Prune { kind, name, source }),
            }
            ctx.applied
                .lock()
                .expect("applied lock")
                .remove(&(kind, namespace.to_owned(), name));
        }
    }
    Ok(())
}
