//! Writes the benchmark baseline's inputs from the same synthetic source the server uses:
//! `users.json` (the in-memory store's users) and `train.csv` (engineered features and
//! labels), so both services compute the same features for the same users.
//!
//! `cargo run -p tidewatch-inference --example export_bench_data -- OUT_DIR`

use std::fmt::Write as _;

use tidewatch_inference::features::synth;
use tidewatch_inference::features::{FEATURE_NAMES, engineer};

fn main() -> anyhow::Result<()> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&out)?;
    let users = synth::users(42, 10_000);
    let by_id: serde_json::Map<String, serde_json::Value> = users
        .iter()
        .enumerate()
        .map(|(i, u)| Ok((synth::user_id(i), serde_json::to_value(u)?)))
        .collect::<Result<_, serde_json::Error>>()?;
    std::fs::write(out.join("users.json"), serde_json::to_string(&by_id)?)?;
    let mut csv = FEATURE_NAMES.join(",") + ",is_fraud\n";
    for example in synth::examples(42, &users, 40_000) {
        let row = engineer(&example.transaction, &example.user);
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        writeln!(csv, "{},{}", cells.join(","), u8::from(example.is_fraud))?;
    }
    std::fs::write(out.join("train.csv"), csv)?;
    Ok(())
}
