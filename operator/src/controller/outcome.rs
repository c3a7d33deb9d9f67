//! What both controllers do with the outcome of one reconciliation: record it (metrics,
//! backoff state) and choose when to look at the object again. No API calls.

use std::time::Instant;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::error::Error;
use crate::runtime::metrics::ControllerName;

/// Records a finished reconciliation and requeues a success after the periodic interval.
pub fn finish<K: Resource>(
    ctx: &Context,
    controller: ControllerName,
    object: &K,
    started: Instant,
    result: Result<(), Error>,
) -> Result<Action, Error> {
    let category = result.as_ref().err().map(Error::category);
    ctx.metrics
        .reconciled(controller, started.elapsed().as_secs_f64(), category);
    if result.is_ok() {
        ctx.succeeded(
            controller,
            &object.namespace().unwrap_or_default(),
            &object.name_any(),
        );
    }
    result.map(|()| Action::requeue(ctx.requeue_after))
}

/// Retry policy after a failed reconciliation: exponential backoff per object.
pub fn retry_after<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    controller: ControllerName,
    object: &K,
    error: &Error,
) -> Action {
    let delay = ctx.backoff(
        controller,
        &object.namespace().unwrap_or_default(),
        &object.name_any(),
    );
    tracing::warn!(
        namespace = object.namespace(),
        name = object.name_any(),
        %error,
        category = error.category(),
        retry_in = ?delay,
        "{} reconciliation failed",
        K::kind(&()),
    );
    Action::requeue(delay)
}
