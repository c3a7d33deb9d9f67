//! Leader election against the mocked API server, on tokio's paused clock: the exact Lease
//! each step writes (holder, duration, acquire and renew times, transitions), when a standby
//! takes over, and when a leader steps down. Tests only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future;
use k8s_openapi::jiff::Timestamp;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::http::Endpoints;
use super::leader::LeaseLock;
use super::{Stop, acquire, renew_until_lost};
use crate::mock_apiserver::{self, ApiServerVerifier, Expect, Reply};

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/tidewatch-system/leases";
const LEASE: &str =
    "/apis/coordination.k8s.io/v1/namespaces/tidewatch-system/leases/tidewatch-operator";
/// The lease duration of every test: retries every 2 s, a leader gives up after 6.67 s.
const DURATION: Duration = Duration::from_secs(10);
/// The loops sleep whole retry periods; the verifier waits this long in virtual time.
const LOOP_PATIENCE: Duration = Duration::from_secs(60);

/// This replica's lock, on a mocked client, whose wall clock reads 2030-01-01T00:00:00Z when
/// the test starts and then follows the paused test clock.
fn lock() -> (LeaseLock, ApiServerVerifier) {
    let (client, api) = mock_apiserver::client();
    let start = Instant::now();
    let epoch = Timestamp::from_second(1_893_456_000).expect("2030-01-01");
    let lock = LeaseLock::new(
        client,
        "tidewatch-system",
        "tidewatch-operator",
        "replica-a",
        DURATION,
    )
    .with_wall_clock(move || epoch + (Instant::now() - start));
    (lock, api)
}

/// `seconds` after the start of the test, as a Lease time.
fn at(seconds: u64) -> String {
    format!(
        "2030-01-01T00:{:02}:{:02}.000000Z",
        seconds / 60,
        seconds % 60
    )
}

/// A Lease as stored, held by `holder`.
fn lease(holder: &str, acquired: &str, renewed: &str, transitions: i32) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "tidewatch-operator", "namespace": "tidewatch-system", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder, "leaseDurationSeconds": 10,
            "acquireTime": acquired, "renewTime": renewed, "leaseTransitions": transitions,
        },
    })
}

fn read(stored: &Value) -> Expect {
    Expect::get(LEASE).reply(Reply::ok(stored.clone()))
}

/// A replace of the stored Lease with exactly `written` (resourceVersion kept, so that a
/// concurrent writer makes it fail).
fn replace(written: &Value) -> Expect {
    Expect::put(LEASE)
        .body(written.clone())
        .reply(Reply::applied("8"))
}

fn endpoints() -> Endpoints {
    Endpoints {
        registry: Registry::default(),
        ready: AtomicBool::new(false),
    }
}

fn never() -> Stop {
    future::pending().boxed().shared()
}

#[tokio::test(start_paused = true)]
async fn a_missing_lease_is_created_with_this_replica_as_holder() {
    let (mut lock, mut api) = lock();
    let created = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "tidewatch-operator"},
        "spec": {
            "holderIdentity": "replica-a", "leaseDurationSeconds": 10,
            "acquireTime": at(0), "renewTime": at(0), "leaseTransitions": 0,
        },
    });
    let scenario = vec![
        Expect::get(LEASE).reply(Reply::failure(404)),
        Expect::post(LEASES)
            .body(created)
            .reply(Reply::applied("1")),
    ];
    let held = api.run(scenario, lock.try_acquire_or_renew()).await;
    assert!(held.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_lease_another_replica_created_first_is_not_taken() {
    let (mut lock, mut api) = lock();
    let scenario = vec![
        Expect::get(LEASE).reply(Reply::failure(404)),
        Expect::post(LEASES)
            .body_includes(json!({"spec": {"holderIdentity": "replica-a"}}))
            .reply(Reply::failure(409)),
    ];
    let held = api.run(scenario, lock.try_acquire_or_renew()).await;
    assert!(!held.unwrap());
}

#[tokio::test(start_paused = true)]
async fn the_holder_renews_keeping_its_acquire_time_and_transitions() {
    let (mut lock, mut api) = lock();
    tokio::time::advance(Duration::from_secs(2)).await;
    let stored = lease("replica-a", &at(0), &at(0), 4);
    let renewed = lease("replica-a", &at(0), &at(2), 4);
    let held = api
        .run(
            vec![read(&stored), replace(&renewed)],
            lock.try_acquire_or_renew(),
        )
        .await;
    assert!(held.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_lease_its_holder_keeps_renewing_is_never_taken() {
    let (mut lock, mut api) = lock();
    let first = lease("replica-b", &at(0), &at(0), 1);
    assert!(
        !api.run(vec![read(&first)], lock.try_acquire_or_renew())
            .await
            .unwrap()
    );
    // replica-b renewed 8 s later, then 8 s pass without a renewal: 16 s since this
    // replica first saw the Lease, but only 8 s since it last changed.
    tokio::time::advance(Duration::from_secs(8)).await;
    let renewed = lease("replica-b", &at(0), &at(8), 1);
    assert!(
        !api.run(vec![read(&renewed)], lock.try_acquire_or_renew())
            .await
            .unwrap()
    );
    tokio::time::advance(Duration::from_secs(8)).await;
    assert!(
        !api.run(vec![read(&renewed)], lock.try_acquire_or_renew())
            .await
            .unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_of_another_replica_is_taken_over_by_this_replicas_clock() {
    let (mut lock, mut api) = lock();
    // replica-b's clock runs a year behind: its renewTime says nothing about expiry here,
    // only how long this replica has watched the Lease not change.
    let stale = lease(
        "replica-b",
        "2029-01-01T00:00:00.000000Z",
        "2029-01-01T00:00:00.000000Z",
        3,
    );
    assert!(
        !api.run(vec![read(&stale)], lock.try_acquire_or_renew())
            .await
            .unwrap()
    );
    tokio::time::advance(DURATION).await;
    assert!(
        !api.run(vec![read(&stale)], lock.try_acquire_or_renew())
            .await
            .unwrap(),
        "unchanged for exactly the lease duration: not expired yet"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let taken = lease("replica-a", &at(11), &at(11), 4);
    let held = api
        .run(
            vec![read(&stale), replace(&taken)],
            lock.try_acquire_or_renew(),
        )
        .await;
    assert!(held.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_replace_that_conflicts_means_another_replica_won() {
    let (mut lock, mut api) = lock();
    let stored = lease("replica-a", &at(0), &at(0), 4);
    let scenario = vec![
        read(&stored),
        Expect::put(LEASE)
            .body_includes(json!({"metadata": {"resourceVersion": "7"}}))
            .reply(Reply::failure(409)),
    ];
    let held = api.run(scenario, lock.try_acquire_or_renew()).await;
    assert!(!held.unwrap());
}

#[tokio::test(start_paused = true)]
async fn release_clears_the_holder_so_that_a_standby_takes_over_at_once() {
    let (mut lock, mut api) = lock();
    tokio::time::advance(Duration::from_secs(5)).await;
    let stored = lease("replica-a", &at(0), &at(4), 2);
    let mut released = stored.clone();
    let spec = released["spec"].as_object_mut().expect("a spec");
    spec.remove("holderIdentity");
    spec.insert("leaseDurationSeconds".into(), json!(1));
    spec.insert("renewTime".into(), json!(at(5)));
    let scenario = vec![read(&stored), replace(&released)];
    api.run(scenario, lock.release()).await.unwrap();

    let other = lease("replica-b", &at(0), &at(4), 3);
    api.run(vec![read(&other)], lock.release()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_standby_acquires_the_lease_once_its_holder_stops_renewing() {
    let (mut lock, api) = lock();
    let mut api = api.with_patience(LOOP_PATIENCE);
    let endpoints = endpoints();
    let abandoned = lease("replica-b", &at(0), &at(0), 1);
    // Read every retry period (2 s); the Lease has not changed for more than 10 s at 12 s.
    let mut scenario: Vec<Expect> = (0..=6).map(|_| read(&abandoned)).collect();
    scenario.push(replace(&lease("replica-a", &at(12), &at(12), 2)));
    let started = Instant::now();
    let leading = api
        .run(scenario, acquire(&mut lock, &endpoints, never()))
        .await;
    assert!(leading);
    assert_eq!(started.elapsed(), Duration::from_secs(12));
    assert!(endpoints.ready.load(Ordering::Relaxed));
}

#[tokio::test(start_paused = true)]
async fn a_leader_steps_down_when_another_replica_holds_the_lease() {
    let (mut lock, api) = lock();
    let mut api = api.with_patience(LOOP_PATIENCE);
    let endpoints = endpoints();
    let ours = lease("replica-a", &at(0), &at(0), 1);
    let scenario = vec![
        read(&ours),
        replace(&lease("replica-a", &at(0), &at(2), 1)),
        read(&lease("replica-b", &at(3), &at(3), 2)),
    ];
    let started = Instant::now();
    let lost = api
        .run(scenario, renew_until_lost(&mut lock, &endpoints, never()))
        .await;
    assert!(lost);
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn a_leader_steps_down_when_it_cannot_renew_within_the_deadline() {
    let (mut lock, api) = lock();
    let mut api = api.with_patience(LOOP_PATIENCE);
    let endpoints = endpoints();
    let unavailable = || Expect::get(LEASE).reply(Reply::failure(503));
    // Fails at 2 s, renews at 4 s, then fails from 6 s on: the 6.67 s deadline counts from
    // the last renewal, so the leader gives up at the attempt of 12 s (8 s after it).
    let mut scenario = vec![
        unavailable(),
        read(&lease("replica-a", &at(0), &at(0), 1)),
        replace(&lease("replica-a", &at(0), &at(4), 1)),
    ];
    scenario.extend((0..4).map(|_| unavailable()));
    let started = Instant::now();
    let lost = api
        .run(scenario, renew_until_lost(&mut lock, &endpoints, never()))
        .await;
    assert!(lost);
    assert_eq!(started.elapsed(), Duration::from_secs(12));
    assert!(
        !endpoints.ready.load(Ordering::Relaxed),
        "a leader that lost the API server is not ready"
    );
}

#[tokio::test(start_paused = true)]
async fn a_leader_asked_to_stop_sends_nothing_more() {
    let (mut lock, mut api) = lock();
    let endpoints = endpoints();
    let stopped: Stop = future::ready(()).boxed().shared();
    let lost = api
        .run(Vec::new(), renew_until_lost(&mut lock, &endpoints, stopped))
        .await;
    assert!(!lost, "stopping is not losing");
}
