//! `tidewatch-inference`: `serve`, `train` and `load-features`. Training lives in this
//! binary, not in the server library it runs.

mod train;

use anyhow::Context;
use clap::Parser;
use tidewatch_contract::env;
use tidewatch_inference::config::{Cli, Command, LoadFeaturesArgs, TrainArgs};
use tidewatch_inference::features::synth;
use tidewatch_inference::store::RedisStore;
use train::TrainOptions;

/// The request path allocates small, short-lived buffers on the HTTP worker and frees
/// some of them on the model thread; mimalloc handles both patterns with less contention
/// than glibc's allocator (see the README's performance section for the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(config) => {
            score_on_one_thread();
            actix_web::rt::System::new()
                .block_on(tidewatch_inference::service::serve(*config))
                .context("serve")
        }
        Command::Train(args) => run_train(&args),
        Command::LoadFeatures(args) => actix_web::rt::System::new().block_on(load_features(&args)),
    }
}

/// The server scores small batches on one dedicated thread, where candle's intra-op
/// parallelism would only contend with the HTTP workers. Without `RAYON_NUM_THREADS` set,
/// candle also re-reads `/proc/cpuinfo` on every matrix product to count cores, which
/// cost about a third of the model thread's time. An operator's own setting is kept.
#[allow(unsafe_code)]
fn score_on_one_thread() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
}

fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let options = TrainOptions {
        seed: args.seed,
        users: args.users,
        examples: args.examples,
        epochs: args.epochs,
        version: args.model_version.clone(),
        ..TrainOptions::default()
    };
    let metadata = train::train(&options, &args.out).context("training")?;
    println!("{}", serde_json::to_string_pretty(&metadata.quality)?);
    Ok(())
}

async fn load_features(args: &LoadFeaturesArgs) -> anyhow::Result<()> {
    let settings = args
        .redis_settings()
        .context("reading the Redis password file")?
        .with_context(|| format!("--redis-url (or {}) is required", env::REDIS_URL))?;
    let store = RedisStore::connect(&settings)
        .await
        .context("connecting to Redis")?;
    let users = synth::users(args.seed, args.users)
        .into_iter()
        .enumerate()
        .map(|(i, user)| (synth::user_id(i), user));
    let written = store.put_all(users).await.context("writing features")?;
    let merchants = synth::merchants(args.seed, args.merchants)
        .into_iter()
        .enumerate()
        .map(|(i, merchant)| (synth::merchant_id(i), merchant));
    let merchants = store
        .put_merchants(merchants)
        .await
        .context("writing merchants")?;
    store.quit().await;
    println!(
        "wrote {written} users and {merchants} merchants to {}",
        settings.url
    );
    Ok(())
}
