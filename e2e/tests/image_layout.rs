//! The images `make images` builds offline are laid out as the shipped Dockerfiles build
//! theirs: the runtime stage's user, entrypoint, command, environment, ports and binary path
//! are read here from the Dockerfile, independently of the builder, and compared with each
//! archive's OCI config and layer. Every image runs as a non-root user and has no shell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};
use serde_json::Value;
use tidewatch_e2e::repo_root;

/// The runtime stage of a Dockerfile: what a user's `docker build` puts in the image.
#[derive(Debug, Default)]
struct RuntimeStage {
    user: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: BTreeMap<String, String>,
    exposed: Vec<String>,
    binary: String,
}

fn runtime_stage(dockerfile: &Path) -> anyhow::Result<RuntimeStage> {
    let text = std::fs::read_to_string(dockerfile)?;
    let joined = text.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .context("no FROM")?;
    let mut stage = RuntimeStage::default();
    for line in &lines[last_from + 1..] {
        let (instruction, rest) = line
            .split_once(' ')
            .context("an instruction has arguments")?;
        match instruction {
            "USER" => stage.user = rest.trim().to_owned(),
            "ENTRYPOINT" => stage.entrypoint = serde_json::from_str(rest)?,
            "CMD" => stage.cmd = serde_json::from_str(rest)?,
            "EXPOSE" => stage
                .exposed
                .extend(rest.split_whitespace().map(|p| format!("{p}/tcp"))),
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').context("ENV K=V")?;
                    stage
                        .env
                        .insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
            "COPY" => {
                stage.binary = rest
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .to_owned();
            }
            other => anyhow::bail!(
                "{}: unexpected {other} in the runtime stage",
                dockerfile.display()
            ),
        }
    }
    Ok(stage)
}

/// An image archive unpacked: its OCI config and the paths (and modes) of its one layer.
struct Unpacked {
    config: Value,
    files: BTreeMap<String, u32>,
    layer_bytes: u64,
}

fn unpack(archive: &Path, scratch: &Path) -> anyhow::Result<Unpacked> {
    let dir = scratch.join(archive.file_stem().context("archive name")?);
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&dir)
        .status()?;
    ensure!(status.success(), "tar -xf {}", archive.display());
    let read_json = |relative: &str| -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&std::fs::read(dir.join(relative))?)?)
    };
    let blob = |digest: &Value| {
        format!(
            "blobs/sha256/{}",
            digest
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("sha256:")
        )
    };
    let index = read_json("index.json")?;
    let manifest = read_json(&blob(&index["manifests"][0]["digest"]))?;
    let config = read_json(&blob(&manifest["config"]["digest"]))?;
    let layer = dir.join(blob(&manifest["layers"][0]["digest"]));
    let listing = Command::new("tar").arg("-tvf").arg(&layer).output()?;
    ensure!(listing.status.success(), "tar -tvf of the layer");
    let mut files = BTreeMap::new();
    for line in String::from_utf8_lossy(&listing.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(mode), Some(path)) = (fields.first(), fields.last()) else {
            continue;
        };
        let executable = u32::from(mode.chars().nth(3) == Some('x'));
        files.insert(format!("/{}", path.trim_end_matches('/')), executable);
    }
    Ok(Unpacked {
        config,
        files,
        layer_bytes: std::fs::metadata(&layer)?.len(),
    })
}

fn images_dir() -> PathBuf {
    std::env::var_os("TIDEWATCH_WORK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("e2e/.work"))
        .join("images")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn offline_images_match_the_dockerfiles_runtime_stage() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    for (archive, dockerfile) in [
        ("operator.tar", "operator/Dockerfile"),
        ("inference.tar", "inference/Dockerfile"),
    ] {
        let stage = runtime_stage(&repo_root().join(dockerfile))?;
        let image = unpack(&images_dir().join(archive), scratch.path())
            .with_context(|| format!("{archive}: run `make images` first"))?;
        let config = &image.config["config"];
        ensure!(
            config["User"] == stage.user.as_str(),
            "{archive}: user {} vs {dockerfile} {}",
            config["User"],
            stage.user
        );
        ensure!(
            strings(&config["Entrypoint"]) == stage.entrypoint,
            "{archive}: entrypoint {} vs {:?}",
            config["Entrypoint"],
            stage.entrypoint
        );
        ensure!(
            strings(&config["Cmd"]) == stage.cmd,
            "{archive}: cmd {} vs {:?}",
            config["Cmd"],
            stage.cmd
        );
        let env: BTreeMap<String, String> = strings(&config["Env"])
            .iter()
            .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .filter(|(k, _)| k != "PATH")
            .collect();
        ensure!(
            env == stage.env,
            "{archive}: env {env:?} vs {dockerfile} {:?}",
            stage.env
        );
        let exposed: Vec<String> = config["ExposedPorts"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        ensure!(
            exposed == stage.exposed,
            "{archive}: ports {exposed:?} vs {:?}",
            stage.exposed
        );
        ensure!(
            image.files.get(&stage.binary) == Some(&1),
            "{archive}: {} is not an executable in the layer",
            stage.binary
        );
        ensure!(
            stage.entrypoint.first() == Some(&stage.binary),
            "{dockerfile}: the entrypoint is the copied binary"
        );
    }
    Ok(())
}

#[test]
fn every_image_runs_as_non_root_without_a_shell() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let mut archives: Vec<PathBuf> = std::fs::read_dir(images_dir())
        .context("run `make images` first")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tar"))
        .collect();
    archives.sort();
    ensure!(
        archives.len() >= 8,
        "expected the 8 images, found {archives:?}"
    );
    for archive in &archives {
        let image = unpack(archive, scratch.path())?;
        let user = image.config["config"]["User"].as_str().unwrap_or_default();
        let uid: u32 = user
            .split(':')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        ensure!(
            uid == 65532,
            "{}: runs as {user:?}, not 65532",
            archive.display()
        );
        for shell in ["/bin/sh", "/bin/bash", "/usr/bin/sh", "/bin/busybox"] {
            ensure!(
                !image.files.contains_key(shell),
                "{}: has {shell}",
                archive.display()
            );
        }
        let passwd = image.files.contains_key("/etc/passwd");
        ensure!(passwd, "{}: no /etc/passwd for the user", archive.display());
        eprintln!(
            "figure: image {}: {:.1} MB",
            archive.file_stem().unwrap_or_default().to_string_lossy(),
            image.layer_bytes as f64 / 1e6
        );
    }
    Ok(())
}
