//! `render`'s YAML reads back unchanged in a YAML 1.1 reader (PyYAML's safe loader, the
//! dialect of kubectl's, Argo CD's and Flux's readers): every label, annotation, env value and
//! every other field is the same JSON value the builders made, for specs full of text such a
//! reader would retype (`yes`, `on`, `1.10`, `2024_01_15`, `1:20`) or mangle (U+0085, U+2028).

mod support;

use anyhow::Result;
use support::oracles::yaml_1_1_documents;
use tidewatch_operator::render::{render, to_yaml_stream};
use tidewatch_operator::validate::OperatorSettings;

const HOSTILE: &str = r#"
apiVersion: tidewatch.io/v1alpha1
kind: MLService
metadata: {name: yes-service, namespace: "on"}
spec:
  model: {name: "no", version: "1.10"}
  monitoring:
    serviceMonitorLabels: {"yes": "on", "n": "2024_01_15", "release": "0o17", "y": "1e3", "off": "0x1F"}
---
apiVersion: tidewatch.io/v1alpha1
kind: SLO
metadata: {name: "null", namespace: "on"}
spec:
  target: {mlService: yes-service}
  objective: 99.9
  window: 28d
  indicator: {availability: {}}
  alerting:
    runbookUrl: "https://runbooks.example.com/1:20#yes"
    page: {labels: {"on": "off", "team": "1:20", "y": "~", "x": "line\u2028sep\u0085nel\ttab\u0007bell", "z": " lead and trail ", "w": "- dash: colon #hash"}}
    ticket: {labels: {"n": ".inf", "t": "2024-01-15", "u": "190:20:30", "v": "<<", "q": "'\"both\"'"}}
"#;

#[test]
fn rendered_yaml_reads_back_unchanged_in_a_yaml_1_1_reader() -> Result<()> {
    let rendered = render(
        &[("hostile.yaml".into(), HOSTILE.into())],
        &OperatorSettings::default(),
    );
    assert!(rendered.errors.is_empty(), "{:?}", rendered.errors);
    assert!(rendered.manifests.len() >= 5, "MLService and SLO children");
    let read_back = yaml_1_1_documents(&to_yaml_stream(&rendered.manifests))?;
    assert_eq!(read_back.len(), rendered.manifests.len());
    for (manifest, back) in rendered.manifests.iter().zip(&read_back) {
        assert_eq!(
            &manifest.object, back,
            "{} {} reads back differently",
            manifest.kind, manifest.name
        );
    }
    Ok(())
}
