//! Reading the API server's audit log (writes only, Metadata level, JSON lines): who wrote
//! what, counted from the server's side rather than from a client's own claims.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use serde::Deserialize;

use crate::repo_root;

/// One write request as the API server recorded it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub stage: String,
    pub verb: String,
    pub user: User,
    #[serde(default)]
    pub object_ref: ObjectRef,
    #[serde(default)]
    pub response_status: Option<ResponseStatus>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub username: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub subresource: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResponseStatus {
    #[serde(default)]
    pub code: u16,
}

impl AuditEvent {
    /// `verb resource[/subresource] namespace/name`, for assertion messages.
    pub fn describe(&self) -> String {
        let o = &self.object_ref;
        let sub = if o.subresource.is_empty() {
            String::new()
        } else {
            format!("/{}", o.subresource)
        };
        format!(
            "{} {}{} {}/{} by {}",
            self.verb, o.resource, sub, o.namespace, o.name, self.user.username
        )
    }
}

/// The local control plane's audit log.
pub fn audit_log_path() -> PathBuf {
    std::env::var_os("TIDEWATCH_WORK_DIR")
        .map_or_else(|| repo_root().join("e2e/.work"), PathBuf::from)
        .join("cluster/logs/audit.log")
}

/// A position in the audit log: later calls read only what was written after it.
#[derive(Debug, Clone, Copy)]
pub struct AuditMark(u64);

/// Marks the current end of the audit log.
pub fn audit_mark() -> anyhow::Result<AuditMark> {
    Ok(AuditMark(std::fs::metadata(audit_log_path())?.len()))
}

/// Completed write requests logged since `mark`.
pub fn audit_writes_since(mark: AuditMark) -> anyhow::Result<Vec<AuditEvent>> {
    let mut file = std::fs::File::open(audit_log_path())?;
    file.seek(SeekFrom::Start(mark.0))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<AuditEvent>(line).ok())
        .filter(|event| event.stage == "ResponseComplete")
        .collect())
}
