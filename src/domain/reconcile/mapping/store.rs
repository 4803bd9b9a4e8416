//! The file of remembered mappings, `reconcile.toml`: a table per profile, in it one per kind
//! (`[shop.deposits]`). Read whole, changed, written whole to a temporary file and renamed, so
//! a crash leaves the old file or the new one, never half of one.

use std::io::Write as _;
use std::path::Path;

use super::Mapping;
use crate::gateway::cny::wire::OrderKind;

fn kind_key(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Deposit => "deposits",
        OrderKind::Payout => "payouts",
    }
}

/// The file as a table; an absent file is an empty one.
fn load(path: &Path) -> Result<toml::Table, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    text.parse::<toml::Table>().map_err(|e| damaged(path, &e))
}

fn damaged(path: &Path, e: &dyn std::fmt::Display) -> String {
    format!(
        "the remembered mappings in {} cannot be read ({e}): correct or delete the file",
        path.display()
    )
}

pub(super) fn get(path: &Path, profile: &str, kind: OrderKind) -> Result<Option<Mapping>, String> {
    let table = load(path)?;
    let Some(entry) = table
        .get(profile)
        .and_then(|p| p.as_table())
        .and_then(|p| p.get(kind_key(kind)))
    else {
        return Ok(None);
    };
    let mapping: Mapping = entry
        .clone()
        .try_into()
        .map_err(|e| damaged(path, &format!("[{profile}.{}]: {e}", kind_key(kind))))?;
    Ok(Some(mapping))
}

pub(super) fn set(
    path: &Path,
    profile: &str,
    kind: OrderKind,
    mapping: &Mapping,
) -> Result<(), String> {
    // A damaged file is refused rather than replaced: it holds other profiles' mappings.
    let mut table = load(path)?;
    let value = toml::Value::try_from(mapping).map_err(|e| e.to_string())?;
    let entry = table
        .entry(profile.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(per_kind) = entry.as_table_mut() else {
        return Err(damaged(path, &format!("“{profile}” is not a table")));
    };
    per_kind.insert(kind_key(kind).to_owned(), value);
    let text = toml::to_string_pretty(&table).map_err(|e| e.to_string())?;
    let write_err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(write_err)?;
    // A temporary file of its own: two windows (or the console and the CLI) remembering at
    // once never write into each other's file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".reconcile.toml.{}.{n}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(write_err)
}
