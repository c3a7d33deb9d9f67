//! Every inference metric that the alert rules and dashboards query exists in the server's
//! registry, with a series, after traffic of every kind the registry can see here.

use std::path::Path;

use tidewatch_inference::telemetry::metrics::Metrics;

fn registry_text() -> String {
    let metrics = Metrics::new();
    metrics.sample_every_family();
    metrics.encode()
}

/// `tidewatch_*` metric names in a file, without recording-rule names (`tidewatch_slo:...`)
/// and the operator's own metrics.
fn queried_names(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while let Some(offset) = text[i..].find("tidewatch_") {
        let start = i + offset;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end] == b'_'
                || bytes[end].is_ascii_digit())
        {
            end += 1;
        }
        let name = &text[start..end];
        let is_recording_rule = bytes.get(end) == Some(&b':');
        if !is_recording_rule
            && !name.starts_with("tidewatch_operator_")
            && name.len() > "tidewatch_".len()
        {
            names.push(name.to_string());
        }
        i = end;
    }
    names
}

fn files(dir: &Path, extensions: &[&str]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path, extensions));
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
    out
}

#[test]
fn metrics_queried_by_alerts_and_dashboards_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = files(&root.join("alerts"), &["yaml", "yml"]);
    sources.extend(files(&root.join("dashboards"), &["json"]));
    assert!(
        !sources.is_empty(),
        "no alert rules or dashboards found next to the crate"
    );
    let registry = registry_text();
    let mut checked = 0;
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        for name in queried_names(&text) {
            let sample = format!("\n{name}{{");
            let bare = format!("\n{name} ");
            assert!(
                registry.contains(&sample) || registry.contains(&bare),
                "{} queries `{name}`, which the inference server does not export",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}
