//! The `tidewatch.io/v1alpha1` API: custom resource types and their CRDs. Types only — no
//! defaulting beyond serde defaults, no validation logic (that is the `validate` step).

pub mod conditions;
pub mod mlservice;
pub mod rules;
pub mod slo;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

pub use mlservice::{MLService, MlServiceSpec, MlServiceStatus};
pub use slo::{SLO, SloSpec, SloStatus};

/// API group of every Tidewatch kind.
pub const GROUP: &str = "tidewatch.io";
/// Served and stored version.
pub const VERSION: &str = "v1alpha1";

/// Longest MLService / SLO name: the longest child name (`mls-<name>-dashboard`) must stay
/// within the 63-character limit of a label value and a DNS-1123 label.
pub const MAX_NAME_LENGTH: usize = 49;

/// Top-level CEL rules shared by both kinds: they reach `metadata.name`, which field-level
/// rules cannot.
fn name_rules() -> Value {
    json!([
        {
            "rule": format!("self.metadata.name.size() <= {MAX_NAME_LENGTH}"),
            "message": format!("metadata.name must be at most {MAX_NAME_LENGTH} characters: child names add up to 14"),
        },
        {
            "rule": "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
            "message": "metadata.name must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter",
        }
    ])
}

fn with_name_rules(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            let rules = serde_json::from_value(name_rules()).expect("static CEL rules are valid");
            schema.x_kubernetes_validations = Some(rules);
        }
    }
    crd
}

/// The MLService CRD, as installed by `kubectl apply -f crds/`.
pub fn mlservice_crd() -> CustomResourceDefinition {
    with_name_rules(MLService::crd())
}

/// The SLO CRD, as installed by `kubectl apply -f crds/`.
pub fn slo_crd() -> CustomResourceDefinition {
    // The latency threshold is checked against the bucket list by the validate step, not
    // here: the list may change with the inference server without a CRD upgrade.
    with_name_rules(SLO::crd())
}

/// Every CRD of the API, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![mlservice_crd(), slo_crd()]
}
