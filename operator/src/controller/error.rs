//! Errors of the reconcile steps that talk to the API server (apply, prune, reads, status)
//! or decode what it answered, each with a bounded category for metric labels. A message
//! says which step failed on what; its cause is its `source()`, printed by
//! `report::Report`. An invalid spec is not an error: it ends in a condition and an Event,
//! and the reconciliation counts as a success.

use crate::builders::ChildKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A builder output could not be serialised (a programming error, not user input).
    #[error("serialising the desired {kind}")]
    Build {
        kind: ChildKind,
        #[source]
        source: serde_json::Error,
    },
    /// Server-side apply of a child failed.
    #[error("applying {kind} {name}")]
    Apply {
        kind: ChildKind,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Reading a child from the API server (not the cache) failed.
    #[error("reading {kind} {name}")]
    Read {
        kind: ChildKind,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// A live child does not decode as its type (the server answered something unexpected).
    #[error("decoding {kind} {name}")]
    Decode {
        kind: ChildKind,
        name: String,
        #[source]
        source: serde_json::Error,
    },
    /// Deleting a child that is no longer wanted failed.
    #[error("deleting unwanted {kind} {name}")]
    Prune {
        kind: ChildKind,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Writing the parent's status failed.
    #[error("updating status")]
    Status(#[source] kube::Error),
}

impl Error {
    /// Bounded label for `tidewatch_operator_reconcile_errors_total{category}`: the step
    /// and, for API errors, the class of the answer.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Build { .. } => "build",
            Self::Apply { source, .. } => match api_class(source) {
                ApiClass::Forbidden => "apply_forbidden",
                ApiClass::Conflict => "apply_conflict",
                ApiClass::Invalid => "apply_invalid",
                ApiClass::Unavailable => "apply_unavailable",
                ApiClass::Other => "apply",
            },
            Self::Read { .. } => "read",
            Self::Decode { .. } => "decode",
            Self::Prune { .. } => "prune",
            Self::Status(source) => match api_class(source) {
                ApiClass::Forbidden => "status_forbidden",
                ApiClass::Conflict => "status_conflict",
                ApiClass::Invalid => "status_invalid",
                ApiClass::Unavailable => "status_unavailable",
                ApiClass::Other => "status",
            },
        }
    }
}

enum ApiClass {
    Forbidden,
    Conflict,
    Invalid,
    Unavailable,
    Other,
}

fn api_class(err: &kube::Error) -> ApiClass {
    match err {
        kube::Error::Api(status) => match status.code {
            401 | 403 => ApiClass::Forbidden,
            409 => ApiClass::Conflict,
            400 | 422 => ApiClass::Invalid,
            429 | 500..=599 => ApiClass::Unavailable,
            _ => ApiClass::Other,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => ApiClass::Unavailable,
        _ => ApiClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("x", "y").with_code(code),
        ))
    }

    #[test]
    fn categories_are_bounded_by_step_and_answer_class() {
        let apply = |code| Error::Apply {
            kind: ChildKind::of::<k8s_openapi::api::core::v1::Service>(),
            name: "a".into(),
            source: api_error(code),
        };
        assert_eq!(apply(403).category(), "apply_forbidden");
        assert_eq!(apply(409).category(), "apply_conflict");
        assert_eq!(apply(422).category(), "apply_invalid");
        assert_eq!(apply(503).category(), "apply_unavailable");
        assert_eq!(apply(404).category(), "apply");
        assert_eq!(
            Error::Status(api_error(500)).category(),
            "status_unavailable"
        );
    }
}
