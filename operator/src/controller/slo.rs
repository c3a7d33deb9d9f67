//! Reconciliation of an SLO: dereference (its target MLService, from the cache) → validate →
//! build → apply → update_status. With live figures, update_status also writes what the
//! live board publishes for the SLO (figures, `BudgetExhausted`, `Burning`), so that one step
//! owns the status and its field manager.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::apply::{self, Outcome, Parent};
use super::context::Context;
use super::error::Error;
use super::events;
use super::metrics::ControllerName;
use super::outcome::{self, Progress};
use super::ownership::{self, REASON_CHILD_CONFLICT};
use super::status::{self, Assessment, Verdict};

use crate::api::conditions::{
    BURNING, REASON_INVALID_SPEC, REASON_RECONCILED, REASON_TARGET_NOT_FOUND,
};
use crate::api::{MLService, SLO, SloStatus};
use crate::builders::SloChildren;
use crate::live::Published;
use crate::slo_rules::{raised_windows, rule_names};
use crate::validate::{ValidSlo, validate_slo};

const CONTROLLER: ControllerName = ControllerName::slo;

/// Entry point for the controller runtime.
pub async fn reconcile(slo: Arc<SLO>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_steps(&slo, &ctx).await;
    outcome::finish(&ctx, CONTROLLER, slo.as_ref(), started, result)
}

/// Retry policy: exponential backoff per object.
#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature the controller runtime calls"
)]
pub fn error_policy(slo: Arc<SLO>, error: &Error, ctx: Arc<Context>) -> Action {
    outcome::retry_after(&ctx, CONTROLLER, slo.as_ref(), error)
}

/// The SLOs to re-check when an MLService changes: those of its namespace that target it.
pub fn slos_targeting(mls: &MLService, slos: &[Arc<SLO>]) -> Vec<ObjectRef<SLO>> {
    let namespace = mls.namespace();
    slos.iter()
        .filter(|slo| slo.namespace() == namespace)
        .filter(|slo| {
            slo.spec
                .target
                .as_ref()
                .is_some_and(|t| t.ml_service == mls.name_any())
        })
        .map(|slo| ObjectRef::from_obj(slo.as_ref()))
        .collect()
}

/// The dereference step: the target MLService as the cache knows it.
fn dereference(slo: &SLO, ctx: &Context) -> Option<Arc<MLService>> {
    let target = slo.spec.target.as_ref()?;
    let namespace = slo.namespace().unwrap_or_default();
    ctx.mlservices
        .get(&ObjectRef::new(&target.ml_service).within(&namespace))
}

async fn reconcile_steps(slo: &SLO, ctx: &Context) -> Result<Progress, Error> {
    let target = dereference(slo, ctx);
    let previous = slo.status.clone().unwrap_or_default();
    let (desired, assessment, progress) = match validate_slo(slo, target.as_deref()) {
        // No children from an invalid spec; existing ones are kept (see mlservice.rs).
        Err(errors) => {
            let reason = if slo.spec.target.is_some() && target.is_none() {
                REASON_TARGET_NOT_FOUND
            } else {
                REASON_INVALID_SPEC
            };
            let message = format!("invalid spec: {errors}");
            let assessment = Assessment::refused(reason, &message, "waiting for a valid spec");
            let status = SloStatus {
                observed_generation: slo.metadata.generation,
                conditions: Vec::new(),
                ..previous
            };
            (status, assessment, Progress::Settled)
        }
        Ok(valid) => {
            let children = SloChildren::build(&valid, &ctx.settings);
            let parent = Parent::of(CONTROLLER, slo);
            match apply::slo_children(ctx, &parent, &children).await? {
                Outcome::Blocked(conflicts) => {
                    let message = ownership::message(&conflicts);
                    let waiting = "waiting for the conflicting objects to go";
                    let assessment = Assessment::refused(REASON_CHILD_CONFLICT, &message, waiting);
                    let status = SloStatus {
                        observed_generation: slo.metadata.generation,
                        conditions: Vec::new(),
                        ..previous
                    };
                    (status, assessment, Progress::Blocked)
                }
                // An SLO's children are rules and a dashboard: applied means done.
                Outcome::Applied(()) => {
                    let (status, assessment) = applied_status(slo, &valid, &children, previous);
                    (status, assessment, Progress::Settled)
                }
            }
        }
    };
    update_status(slo, ctx, desired, &assessment).await?;
    Ok(progress)
}

/// The status of an SLO whose children are applied.
fn applied_status(
    slo: &SLO,
    valid: &ValidSlo,
    children: &SloChildren,
    previous: SloStatus,
) -> (SloStatus, Assessment) {
    // Distinct names in group order (the burn-rate alerts share one name per tier).
    let rule_names = rule_names(valid);
    let summary = format!(
        "{} rules in PrometheusRule {}{}",
        rule_names.len(),
        children.rule.name_any(),
        raised_note(valid)
    );
    let assessment = Assessment {
        ready: Verdict::new(true, REASON_RECONCILED, summary),
        progressing: Verdict::new(false, REASON_RECONCILED, "rules applied"),
        degraded: Verdict::new(false, REASON_RECONCILED, "every child is applied"),
    };
    let status = SloStatus {
        observed_generation: slo.metadata.generation,
        conditions: Vec::new(),
        rule_names,
        children: children.refs(),
        ..previous
    };
    (status, assessment)
}

/// Says which alert windows the scrape interval raised above the Workbook's, if any.
fn raised_note(slo: &ValidSlo) -> String {
    let raised = raised_windows(slo.window, slo.scrape_interval);
    if raised.is_empty() {
        return String::new();
    }
    let list: Vec<String> = raised
        .iter()
        .map(|(from, to)| format!("{from}→{to}"))
        .collect();
    format!(
        "; alert windows raised to four scrape intervals ({}): {}",
        slo.scrape_interval,
        list.join(", ")
    )
}

/// The live figures published for this SLO, if the operator reads a Prometheus.
fn published(slo: &SLO, ctx: &Context) -> Option<Published> {
    let key = (slo.namespace().unwrap_or_default(), slo.name_any());
    ctx.live.as_ref()?.get(&key)
}

async fn update_status(
    slo: &SLO,
    ctx: &Context,
    mut desired: SloStatus,
    assessment: &Assessment,
) -> Result<(), Error> {
    let current = slo.status.as_ref();
    let previous = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let now = status::now();
    let generation = slo.metadata.generation;
    desired.conditions = assessment.conditions(previous, generation, now);
    let live = published(slo, ctx);
    if let Some(live) = &live {
        desired.live.clone_from(&live.live);
        desired.error_budget_remaining = live.budget_column();
        desired.conditions.extend(live.conditions.iter().map(|c| {
            status::condition(
                c.type_, c.status, &c.reason, &c.message, previous, generation, now,
            )
        }));
    }
    let written = status::write_if_changed(ctx, slo, current, &desired).await?;
    if written {
        announce_trouble(slo, ctx, live.as_ref(), previous).await;
    }
    if written {
        events::degraded(ctx, slo, &assessment.degraded, previous).await;
    }
    Ok(())
}

/// One Warning Event when reading the figures starts failing or fails for another reason;
/// none while the same trouble lasts.
async fn announce_trouble(
    slo: &SLO,
    ctx: &Context,
    live: Option<&Published>,
    previous: &[Condition],
) {
    let Some(reason) = live.and_then(Published::trouble_reason) else {
        return;
    };
    let before = previous
        .iter()
        .find(|c| c.type_ == BURNING)
        .map(|c| c.reason.as_str());
    if before == Some(reason) {
        return;
    }
    let message = live
        .map(|l| l.conditions[1].message.clone())
        .unwrap_or_default();
    events::warn(ctx, slo, reason, "ReadFigures", &message).await;
}
