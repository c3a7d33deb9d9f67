//! What both controllers do with the outcome of one reconciliation: record it (metrics,
//! backoff state) and choose when to look at the object again. No API calls.

use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::error::Error;
use super::memory::ParentKey;
use super::metrics::ControllerName;
use crate::report::Report;

/// How often an object still converging is looked at again, at most. A rollout's progress
/// normally arrives by watch events; this bounds how long its status can lag when they do
/// not (a watch re-established after the API server came back can miss changes).
pub const CONVERGING_RECHECK: Duration = Duration::from_secs(10);

/// How often a parent blocked by a conflict is looked at again, at most: each look costs a
/// metadata GET per conflicting name the cache does not hold, for as long as it lasts.
pub const BLOCKED_RECHECK: Duration = Duration::from_secs(30);

/// Where a successful reconciliation left its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The object's children are as desired and report it: the periodic re-check will do.
    Settled,
    /// Applied, but the children have not got there yet (a rollout in progress).
    Converging,
    /// Not applied: objects the parent does not own hold children's names. Most of them send
    /// no event when they go (they are not in the child watches), so only a re-check sees it.
    Blocked,
}

/// Records a finished reconciliation and requeues a success: a settled object after the
/// periodic interval, a converging one sooner.
pub fn finish<K: Resource>(
    ctx: &Context,
    controller: ControllerName,
    object: &K,
    started: Instant,
    result: Result<Progress, Error>,
) -> Result<Action, Error> {
    let category = result.as_ref().err().map(Error::category);
    ctx.metrics
        .reconciled(controller, started.elapsed().as_secs_f64(), category);
    if result.is_ok() {
        ctx.memory.succeeded(&ParentKey::of(controller, object));
    }
    result.map(|progress| Action::requeue(next_check(progress, ctx.requeue_after)))
}

fn next_check(progress: Progress, periodic: Duration) -> Duration {
    match progress {
        Progress::Settled => periodic,
        Progress::Converging => periodic.min(CONVERGING_RECHECK),
        Progress::Blocked => periodic.min(BLOCKED_RECHECK),
    }
}

/// Retry policy after a failed reconciliation: exponential backoff per object.
pub fn retry_after<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    controller: ControllerName,
    object: &K,
    error: &Error,
) -> Action {
    let delay = ctx.memory.failed(&ParentKey::of(controller, object));
    tracing::warn!(
        namespace = object.namespace(),
        name = object.name_any(),
        error = %Report(error),
        category = error.category(),
        retry_in = ?delay,
        "{} reconciliation failed",
        K::kind(&()),
    );
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_converging_object_is_checked_again_sooner_than_a_settled_one() {
        let periodic = Duration::from_secs(300);
        assert_eq!(next_check(Progress::Settled, periodic), periodic);
        assert_eq!(
            next_check(Progress::Converging, periodic),
            CONVERGING_RECHECK
        );
        let short = Duration::from_secs(3);
        assert_eq!(
            next_check(Progress::Converging, short),
            short,
            "never later than the periodic check"
        );
    }
}
