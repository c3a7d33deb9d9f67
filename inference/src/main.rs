//! `tidewatch-inference`: the inference server binary. Subcommands are added as it grows.

use clap::Parser;

/// Tidewatch inference server.
#[derive(Debug, Parser)]
#[command(name = "tidewatch-inference", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
