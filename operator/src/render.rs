//! Offline rendering: MLService and SLO documents in, every child manifest out, with the same
//! validate and build steps the controllers run. Deterministic: same input, same bytes.

use std::collections::BTreeMap;

use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde_json::Value;

use crate::api::{MLService, SLO};
use crate::builders::{MlServiceChildren, SloChildren};
use crate::validate::schema::{CrdKind, check_document};
use crate::validate::{
    OperatorSettings, ValidMlService, ValidSlo, ValidationErrors, validate_mlservice, validate_slo,
};

/// One input document: where it came from and its text position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// File name as given.
    pub file: String,
    /// 1-based document index in the file.
    pub document: usize,
}

/// A refused document or resource: `file:document: field: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {field}: {reason}", origin.file, origin.document)]
pub struct RenderError {
    /// Where.
    pub origin: Source,
    /// Which field (or `document` when it cannot be read at all).
    pub field: String,
    /// Why.
    pub reason: String,
}

/// One rendered child.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// `Kind`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The object as JSON (apiVersion and kind included).
    pub object: Value,
}

impl Manifest {
    fn of<K: Resource<DynamicType = ()> + Serialize>(object: &K) -> Self {
        Self {
            kind: K::kind(&()).into_owned(),
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            object: serde_json::to_value(object).expect("Kubernetes objects serialise"),
        }
    }

    /// File name used with `-o DIR`.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.yaml",
            self.namespace,
            self.kind.to_lowercase(),
            self.name
        )
    }

    /// The object as a YAML document (without `---`) that YAML 1.1 readers (kubectl, Argo
    /// CD, Flux) read back as the same object.
    pub fn to_yaml(&self) -> String {
        crate::manifest_yaml::to_yaml(&self.object)
    }
}

/// Rule counts of one SLO, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCount {
    /// `namespace/name`.
    pub slo: String,
    /// Recording rules.
    pub recording: usize,
    /// Alerting rules.
    pub alerting: usize,
}

/// Result of a render: manifests of every valid resource and errors of the others.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Child manifests, ordered by namespace, parent kind, parent name, child kind.
    pub manifests: Vec<Manifest>,
    /// Refused documents.
    pub errors: Vec<RenderError>,
    /// Rules per SLO.
    pub rule_counts: Vec<RuleCount>,
}

enum Parsed {
    MlService(Box<MLService>),
    Slo(Box<SLO>),
}

/// Reads one document as the API server reads a create request: its kind, then the CRD's
/// schema (unknown fields, patterns, bounds, map limits), then the typed object. Every schema
/// error is reported; the validate step (CEL rules and the operator's own checks) follows.
fn parse_document(mut value: Value, source: &Source) -> Result<Option<Parsed>, Vec<RenderError>> {
    let err = |field: &str, reason: String| RenderError {
        origin: source.clone(),
        field: field.into(),
        reason,
    };
    if value.is_null() {
        return Ok(None);
    }
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let expected = format!("{}/{}", crate::api::GROUP, crate::api::VERSION);
    if api_version != expected {
        return Err(vec![err(
            "apiVersion",
            format!("{api_version:?} is not {expected}"),
        )]);
    }
    let crd_kind = match kind.as_str() {
        "MLService" => CrdKind::MlService,
        "SLO" => CrdKind::Slo,
        other => {
            return Err(vec![err(
                "kind",
                format!("{other:?} is not MLService or SLO"),
            )]);
        }
    };
    check_document(&mut value, crd_kind).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| err(&e.field, e.reason))
            .collect::<Vec<_>>()
    })?;
    match crd_kind {
        CrdKind::MlService => {
            serde_path_to_error::deserialize(value).map(|m| Parsed::MlService(Box::new(m)))
        }
        CrdKind::Slo => serde_path_to_error::deserialize(value).map(|s| Parsed::Slo(Box::new(s))),
    }
    .map(Some)
    .map_err(|e| {
        let path = e.path().to_string();
        vec![err(
            if path == "." { "document" } else { &path },
            e.into_inner().to_string(),
        )]
    })
}

/// Splits a multi-document YAML text into JSON values, one per document.
fn documents(text: &str, file: &str) -> Vec<(Source, Result<Value, RenderError>)> {
    serde_yaml::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            let source = Source {
                file: file.into(),
                document: i + 1,
            };
            let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
                .and_then(serde_yaml::from_value::<Value>)
                .map_err(|e| RenderError {
                    origin: source.clone(),
                    field: "document".into(),
                    reason: e.to_string(),
                });
            (source, value)
        })
        .collect()
}

/// Children of a valid MLService, in apply order.
pub fn mlservice_children(m: &ValidMlService, settings: &OperatorSettings) -> Vec<Manifest> {
    let MlServiceChildren {
        deployment,
        service,
        service_monitor,
        dashboard,
    } = MlServiceChildren::build(m, settings);
    let mut manifests = vec![
        Manifest::of(&deployment),
        Manifest::of(&service),
        Manifest::of(&service_monitor),
    ];
    manifests.extend(dashboard.as_ref().map(Manifest::of));
    manifests
}

/// Children of a valid SLO, in apply order.
pub fn slo_children(slo: &ValidSlo, settings: &OperatorSettings) -> Vec<Manifest> {
    let SloChildren { rule, dashboard } = SloChildren::build(slo, settings);
    vec![Manifest::of(&rule), Manifest::of(&dashboard)]
}

/// Renders `(file name, text)` inputs. Resources with errors produce no manifest.
pub fn render(inputs: &[(String, String)], settings: &OperatorSettings) -> Rendered {
    let mut errors = Vec::new();
    let Parents {
        mut mlservices,
        mut slos,
    } = parse_inputs(inputs, &mut errors);
    keep_first_definitions(&mut mlservices, &mut errors);
    keep_first_definitions(&mut slos, &mut errors);
    let targets: BTreeMap<(String, String), &MLService> = mlservices
        .iter()
        .map(|(_, m)| (key(m.namespace(), m.name_any()), m))
        .collect();
    let mut entries = Vec::new();
    for (source, m) in &mlservices {
        match validate_mlservice(m) {
            Ok(valid) => entries.push(Entry {
                namespace: valid.namespace.clone(),
                parent_order: 0,
                name: valid.name.to_string(),
                manifests: mlservice_children(&valid, settings),
                rule_count: None,
            }),
            Err(e) => errors.extend(refusals(source, e)),
        }
    }
    for (source, s) in &slos {
        let (ns, _) = key(s.namespace(), s.name_any());
        let target = s
            .spec
            .target
            .as_ref()
            .and_then(|t| targets.get(&(ns, t.ml_service.clone())).copied());
        match validate_slo(s, target) {
            Ok(valid) => entries.push(Entry {
                namespace: valid.namespace.clone(),
                parent_order: 1,
                name: valid.name.to_string(),
                manifests: slo_children(&valid, settings),
                rule_count: Some(rule_count(&valid)),
            }),
            Err(e) => errors.extend(refusals(source, e)),
        }
    }
    collect(entries, errors)
}

/// A valid resource on its way out.
struct Entry {
    namespace: String,
    /// MLServices before SLOs within a namespace.
    parent_order: u8,
    name: String,
    manifests: Vec<Manifest>,
    rule_count: Option<RuleCount>,
}

/// The namespace (`default` when unset) and name of a resource.
fn key(namespace: Option<String>, name: String) -> (String, String) {
    (namespace.unwrap_or_else(|| "default".into()), name)
}

/// The resources of the inputs, each with the document it came from.
#[derive(Default)]
struct Parents {
    mlservices: Vec<(Source, MLService)>,
    slos: Vec<(Source, SLO)>,
}

/// Every document of every input, as the resources they hold; a document that is not one
/// becomes an error.
fn parse_inputs(inputs: &[(String, String)], errors: &mut Vec<RenderError>) -> Parents {
    let mut parents = Parents::default();
    for (file, text) in inputs {
        for (source, value) in documents(text, file) {
            match value
                .map_err(|e| vec![e])
                .and_then(|v| parse_document(v, &source))
            {
                Ok(Some(Parsed::MlService(m))) => parents.mlservices.push((source, *m)),
                Ok(Some(Parsed::Slo(s))) => parents.slos.push((source, *s)),
                Ok(None) => {}
                Err(e) => errors.extend(e),
            }
        }
    }
    parents
}

/// Refuses every definition of an object after its first: two documents for one object
/// would make the output depend on their order.
fn keep_first_definitions<K: Resource<DynamicType = ()>>(
    resources: &mut Vec<(Source, K)>,
    errors: &mut Vec<RenderError>,
) {
    let kind = K::kind(&());
    let mut seen: BTreeMap<(String, String), Source> = BTreeMap::new();
    resources.retain(|(source, resource)| {
        let (ns, name) = key(resource.namespace(), resource.name_any());
        match seen.get(&(ns.clone(), name.clone())) {
            Some(first) => {
                errors.push(RenderError {
                    origin: source.clone(),
                    field: "metadata.name".into(),
                    reason: format!(
                        "{kind} {ns}/{name} is already defined at {}:{}",
                        first.file, first.document
                    ),
                });
                false
            }
            None => {
                seen.insert((ns, name), source.clone());
                true
            }
        }
    });
}

/// The validation errors of the resource at `source`, one per field.
fn refusals(source: &Source, errors: ValidationErrors) -> impl Iterator<Item = RenderError> {
    errors.0.into_iter().map(|f| RenderError {
        origin: source.clone(),
        field: f.field,
        reason: f.reason,
    })
}

fn rule_count(slo: &ValidSlo) -> RuleCount {
    let rules: Vec<_> = crate::slo_rules::rule_groups(slo)
        .into_iter()
        .flat_map(|g| g.rules)
        .collect();
    let recording = rules.iter().filter(|r| r.record.is_some()).count();
    RuleCount {
        slo: format!("{}/{}", slo.namespace, slo.name),
        recording,
        alerting: rules.len() - recording,
    }
}

/// Orders the output: manifests by namespace, parent kind and parent name; errors by file
/// and document.
fn collect(mut entries: Vec<Entry>, mut errors: Vec<RenderError>) -> Rendered {
    entries.sort_by(|a, b| {
        (&a.namespace, a.parent_order, &a.name).cmp(&(&b.namespace, b.parent_order, &b.name))
    });
    let mut rendered = Rendered::default();
    for entry in entries {
        rendered.manifests.extend(entry.manifests);
        rendered.rule_counts.extend(entry.rule_count);
    }
    errors.sort_by(|a, b| {
        (&a.origin.file, a.origin.document).cmp(&(&b.origin.file, b.origin.document))
    });
    rendered.errors = errors;
    rendered
}

/// The manifests as one multi-document YAML stream.
pub fn to_yaml_stream(manifests: &[Manifest]) -> String {
    manifests
        .iter()
        .map(|m| format!("---\n{}", m.to_yaml()))
        .collect()
}
