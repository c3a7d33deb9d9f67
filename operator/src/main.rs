//! `tidewatch-operator`: the operator binary. Subcommands: `crds`, `dashboards`, `render`,
//! `rbac` (offline) and `run` (the controllers).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tidewatch_operator::cli::{Cli, Command, RenderArgs};
use tidewatch_operator::dashboards::{
    MlServiceDashboard, SloDashboard, mlservice_dashboard, operator_dashboard, slo_dashboard,
};
use tidewatch_operator::render::{render, to_yaml_stream};
use tidewatch_operator::report::Report;
use tidewatch_operator::validate::OperatorSettings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds { output_dir } => crds(output_dir.as_deref()).map(|()| ExitCode::SUCCESS),
        Command::Dashboards { output_dir } => dashboards(&output_dir).map(|()| ExitCode::SUCCESS),
        Command::Render(args) => run_render(&args),
        Command::Run(args) => operator(*args).map(|()| ExitCode::SUCCESS),
        Command::Rbac {
            namespace,
            service_account,
            watch_namespace,
        } => tidewatch_operator::runtime::rbac::manifests(
            &namespace,
            &service_account,
            &watch_namespace,
        )
        .map(|yaml| print!("{yaml}"))
        .map(|()| ExitCode::SUCCESS)
        .map_err(Into::into),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", Report(e.as_ref()));
        ExitCode::FAILURE
    })
}

fn operator(args: tidewatch_operator::runtime::config::RunArgs) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(tidewatch_operator::runtime::run(args))
}

fn crds(output_dir: Option<&Path>) -> Result<()> {
    for crd in tidewatch_operator::api::crds() {
        let yaml = serde_yaml::to_string(&crd)?;
        match output_dir {
            None => print!("---\n{yaml}"),
            Some(dir) => {
                fs::create_dir_all(dir)?;
                let path = dir.join(format!(
                    "{}.yaml",
                    crd.metadata.name.as_deref().unwrap_or("crd")
                ));
                fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

fn dashboards(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)?;
    let files = [
        (
            "mlservice.json",
            mlservice_dashboard(&MlServiceDashboard::generic()),
        ),
        ("slo.json", slo_dashboard(&SloDashboard::generic())),
        ("operator.json", operator_dashboard()),
    ];
    for (name, dashboard) in files {
        let path = dir.join(name);
        fs::write(&path, serde_json::to_string_pretty(&dashboard)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn input_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn run_render(args: &RenderArgs) -> Result<ExitCode> {
    let settings = OperatorSettings::new(
        &args.default_image,
        args.monitoring_labels.iter().cloned().collect(),
        &args.grafana_folder,
    )?;
    let mut inputs = Vec::new();
    for file in input_files(&args.file)? {
        let text =
            fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        inputs.push((file.display().to_string(), text));
    }
    let rendered = render(&inputs, &settings);
    if args.output == "-" {
        print!("{}", to_yaml_stream(&rendered.manifests));
    } else {
        let dir = Path::new(&args.output);
        fs::create_dir_all(dir)?;
        for m in &rendered.manifests {
            fs::write(dir.join(m.file_name()), m.to_yaml())?;
        }
    }
    for count in &rendered.rule_counts {
        eprintln!(
            "slo {}: {} rules ({} recording, {} alerting)",
            count.slo,
            count.recording + count.alerting,
            count.recording,
            count.alerting
        );
    }
    eprintln!(
        "rendered {} manifests, {} errors",
        rendered.manifests.len(),
        rendered.errors.len()
    );
    for e in &rendered.errors {
        eprintln!("{e}");
    }
    Ok(if rendered.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
