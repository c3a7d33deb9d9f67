//! `tidewatch-operator`: the operator binary. Subcommands are added as the operator grows.

use clap::Parser;

/// Tidewatch operator: reconciles MLService and SLO resources.
#[derive(Debug, Parser)]
#[command(name = "tidewatch-operator", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
