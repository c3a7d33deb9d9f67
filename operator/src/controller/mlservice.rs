//! Reconciliation of an MLService: validate → build → apply → update_status. Reads like a
//! table of contents; each step lives in its own module.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::apply::{self, Outcome, Parent};
use super::context::Context;
use super::error::Error;
use super::events;
use super::metrics::ControllerName;
use super::outcome::{self, Progress};
use super::ownership::{self, Conflict, REASON_CHILD_CONFLICT};
use super::secret_policy::REASON_SECRET_NOT_ALLOWED;
use super::status::{self, Assessment, Verdict};
use crate::api::conditions::{REASON_INVALID_SPEC, REASON_RECONCILED};
use crate::api::{MLService, MlServiceStatus};
use crate::builders::service::endpoint;
use crate::builders::{ChildKind, MlServiceChildren, names};
use crate::validate::{ValidMlService, ValidationErrors, validate_mlservice};

const CONTROLLER: ControllerName = ControllerName::mlservice;

/// Entry point for the controller runtime.
pub async fn reconcile(mls: Arc<MLService>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_steps(&mls, &ctx).await;
    outcome::finish(&ctx, CONTROLLER, mls.as_ref(), started, result)
}

/// Retry policy: exponential backoff per object.
#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature the controller runtime calls"
)]
pub fn error_policy(mls: Arc<MLService>, error: &Error, ctx: Arc<Context>) -> Action {
    outcome::retry_after(&ctx, CONTROLLER, mls.as_ref(), error)
}

async fn reconcile_steps(mls: &MLService, ctx: &Context) -> Result<Progress, Error> {
    let (desired_status, progress) = match validate_mlservice(mls) {
        // No children from an invalid spec; existing ones are kept as they were, so an
        // invalid edit never takes a serving model down. Nothing converges until it is fixed.
        Err(errors) => (invalid_status(mls, ctx, &errors)?, Progress::Settled),
        Ok(valid) => match ctx.secrets.refusal(&valid) {
            // Like an invalid spec: no children, the existing ones kept as they were.
            Some(refusal) => {
                let waiting = "waiting for an allowed Secret";
                let assessment = Assessment::refused(REASON_SECRET_NOT_ALLOWED, &refusal, waiting);
                (unapplied_status(mls, ctx, assessment)?, Progress::Settled)
            }
            None => applied(mls, ctx, &valid).await?,
        },
    };
    update_status(mls, ctx, desired_status).await?;
    Ok(progress)
}

/// Build → apply of a valid, admitted MLService, and the status that follows.
async fn applied(
    mls: &MLService,
    ctx: &Context,
    valid: &ValidMlService,
) -> Result<((MlServiceStatus, Assessment), Progress), Error> {
    let children = MlServiceChildren::build(valid, &ctx.settings);
    let parent = Parent::of(CONTROLLER, mls);
    let deployment = match apply::mlservice_children(ctx, &parent, &children).await? {
        Outcome::Blocked(conflicts) => {
            return Ok((blocked_status(mls, ctx, &conflicts)?, Progress::Blocked));
        }
        Outcome::Applied(deployment) => deployment,
    };
    let rollout = current_rollout(ctx, &parent, valid, &deployment).await?;
    let progress = if rollout.complete() {
        Progress::Settled
    } else {
        Progress::Converging
    };
    let status = MlServiceStatus {
        observed_generation: mls.metadata.generation,
        conditions: Vec::new(),
        ready_replicas: Some(rollout.ready),
        endpoint: Some(endpoint(valid)),
        children: children.refs(),
    };
    Ok(((status, rollout.assessment()), progress))
}

/// The rollout of the applied Deployment. The cache follows a watch, which can fall behind
/// (for a while after the API server restarts, say): an unfinished rollout is read again
/// from the server.
async fn current_rollout(
    ctx: &Context,
    parent: &Parent,
    valid: &ValidMlService,
    applied: &Deployment,
) -> Result<Rollout, Error> {
    let cached = rollout(valid.replicas, Some(applied));
    if cached.complete() {
        return Ok(cached);
    }
    let name = applied.name_any();
    let live = Api::<Deployment>::namespaced(ctx.client.clone(), &parent.key.namespace)
        .get(&name)
        .await
        .map_err(|source| Error::Read {
            kind: ChildKind::of::<Deployment>(),
            name,
            source,
        })?;
    Ok(rollout(valid.replicas, Some(&live)))
}

fn invalid_status(
    mls: &MLService,
    ctx: &Context,
    errors: &ValidationErrors,
) -> Result<(MlServiceStatus, Assessment), Error> {
    let message = format!("invalid spec: {errors}");
    let assessment = Assessment::refused(REASON_INVALID_SPEC, &message, "waiting for a valid spec");
    unapplied_status(mls, ctx, assessment)
}

fn blocked_status(
    mls: &MLService,
    ctx: &Context,
    conflicts: &[Conflict],
) -> Result<(MlServiceStatus, Assessment), Error> {
    let message = ownership::message(conflicts);
    let waiting = "waiting for the conflicting objects to go";
    let assessment = Assessment::refused(REASON_CHILD_CONFLICT, &message, waiting);
    unapplied_status(mls, ctx, assessment)
}

/// The status of an MLService whose children were left as they were: what it said before,
/// with the replicas its Deployment, if any, reports now.
fn unapplied_status(
    mls: &MLService,
    ctx: &Context,
    assessment: Assessment,
) -> Result<(MlServiceStatus, Assessment), Error> {
    let previous = mls.status.clone().unwrap_or_default();
    let deployment: Option<Deployment> = ctx.children.get_typed(
        &mls.namespace().unwrap_or_default(),
        &names::inference(&mls.name_any()),
    )?;
    let status = MlServiceStatus {
        observed_generation: mls.metadata.generation,
        conditions: Vec::new(),
        ready_replicas: deployment.as_ref().map(|d| replicas(d).ready),
        endpoint: previous.endpoint,
        children: previous.children,
    };
    Ok((status, assessment))
}

/// What the Deployment reports about its rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    desired: i32,
    ready: i32,
    updated: i32,
    observed_current: bool,
}

impl Rollout {
    fn complete(self) -> bool {
        self.observed_current && self.ready >= self.desired && self.updated >= self.desired
    }

    fn assessment(self) -> Assessment {
        let summary = format!("{}/{} replicas ready", self.ready, self.desired);
        let applied = Verdict::new(false, REASON_RECONCILED, "every child is applied");
        if self.complete() {
            Assessment {
                ready: Verdict::new(true, REASON_RECONCILED, summary),
                progressing: Verdict::new(false, REASON_RECONCILED, "rollout complete"),
                degraded: applied,
            }
        } else {
            Assessment {
                ready: Verdict::new(false, "PodsNotReady", summary.clone()),
                progressing: Verdict::new(true, "RollingOut", format!("rolling out: {summary}")),
                degraded: applied,
            }
        }
    }
}

/// Ready and updated replicas as the Deployment's status counts them (0 when unset).
struct Replicas {
    ready: i32,
    updated: i32,
}

fn replicas(deployment: &Deployment) -> Replicas {
    let status = deployment.status.as_ref();
    Replicas {
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
    }
}

fn rollout(desired: i32, deployment: Option<&Deployment>) -> Rollout {
    let Some(d) = deployment else {
        return Rollout {
            desired,
            ready: 0,
            updated: 0,
            observed_current: false,
        };
    };
    let observed = d.status.as_ref().and_then(|s| s.observed_generation);
    let Replicas { ready, updated } = replicas(d);
    Rollout {
        desired,
        ready,
        updated,
        observed_current: observed.is_some() && observed >= d.metadata.generation,
    }
}

async fn update_status(
    mls: &MLService,
    ctx: &Context,
    (mut desired, assessment): (MlServiceStatus, Assessment),
) -> Result<(), Error> {
    let current = mls.status.as_ref();
    let previous = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    desired.conditions = assessment.conditions(previous, mls.metadata.generation, status::now());
    let written = status::write_if_changed(ctx, mls, current, &desired).await?;
    if written {
        events::degraded(ctx, mls, &assessment.degraded, previous).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn deployment(status: &Value, generation: i64) -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "generation": generation},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn rollout_is_complete_only_when_every_replica_is_updated_and_ready() {
        let done = deployment(
            &json!({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2}),
            2,
        );
        assert!(rollout(2, Some(&done)).complete());
        let stale = deployment(
            &json!({"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2}),
            2,
        );
        assert!(
            !rollout(2, Some(&stale)).complete(),
            "status of an older generation"
        );
        let starting = deployment(
            &json!({"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 2}),
            2,
        );
        assert!(!rollout(2, Some(&starting)).complete());
        assert!(!rollout(2, None).complete());
        let zero = deployment(&json!({"observedGeneration": 3}), 3);
        assert!(
            rollout(0, Some(&zero)).complete(),
            "scaled to zero is ready"
        );
    }
}
