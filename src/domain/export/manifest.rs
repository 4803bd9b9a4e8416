//! The manifest written beside an export: what was written, from where, with which filter,
//! and the SHA-256 that proves the file complete.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::Value;

use super::write::{Partial, io_error, partial_path};
use super::{AmountUnit, ExportError, ExportFormat, ExportKind};
use crate::gateway::cny::wire::OrderQuery;

/// The manifest written beside an export (`NAME.manifest.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub paydesk_version: &'static str,
    pub written_at: String,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: ExportFormat,
    pub profile: ManifestProfile,
    pub gateway: &'static str,
    pub kind: ExportKind,
    /// "all pages" or "one page".
    pub scope: String,
    pub filter: Value,
    pub timezone: String,
    pub amounts: Option<AmountUnit>,
    pub columns: Vec<String>,
    pub rows: u64,
    pub gateway_total: Option<u64>,
    pub complete: bool,
    pub count_note: Option<String>,
    pub duplicates_dropped: usize,
    pub invalid_signatures: usize,
    /// Time windows an export of every page was read in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_windows: Option<usize>,
}

/// The profile as a manifest names it: never a secret.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestProfile {
    pub name: String,
    pub marker: String,
    pub base_url: String,
    pub merchant: String,
}

pub fn manifest_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!("{name}.manifest.json"))
}

/// Writes the manifest (also through a temporary file).
pub fn write_manifest(target: &Path, manifest: &Manifest) -> Result<PathBuf, ExportError> {
    let path = manifest_path(target);
    let mut partial = Partial {
        path: partial_path(&path),
        keep: false,
    };
    let err = io_error(&path);
    let mut body = serde_json::to_vec_pretty(manifest).map_err(|e| err(e.into()))?;
    body.push(b'\n');
    let mut f = File::create(&partial.path).map_err(&err)?;
    f.write_all(&body).map_err(&err)?;
    f.sync_all().map_err(&err)?;
    std::fs::rename(&partial.path, &path).map_err(&err)?;
    partial.keep = true;
    Ok(path.clone())
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// The filter of an order query as a manifest records it.
pub fn order_filter(query: &OrderQuery, pinned: bool, tz: &TimeZone) -> Value {
    let time = |s: i64| {
        jiff::Timestamp::from_second(s).map_or(Value::Null, |t| {
            Value::String(
                t.to_zoned(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string(),
            )
        })
    };
    serde_json::json!({
        "system_id": query.system_id,
        "merchant_id": query.merchant_id,
        "created_from_unix": query.created.map(|r| r.from_secs),
        "created_to_unix": query.created.map(|r| r.to_secs),
        "created_from": query.created.map_or(Value::Null, |r| time(r.from_secs)),
        "created_to": query.created.map_or(Value::Null, |r| time(r.to_secs)),
        "upper_bound_pinned_at_start": pinned,
    })
}
