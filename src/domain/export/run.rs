//! The export run: rows at hand or every page fetched, written, then described by a manifest
//! and a report.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::{
    Cell, ExportError, ExportPlan, Manifest, Phase, Progress, Written, now_rfc3339, order_cells,
    order_filter, write_file, write_manifest,
};
use crate::domain::search::fetch_all;
use crate::gateway::cny::client::CnyClient;
use crate::gateway::cny::wire::{OrderKind, OrderQuery};

/// What an export wrote and how it compares with the gateway.
#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub file: PathBuf,
    pub manifest: PathBuf,
    pub written: Written,
    pub gateway_total: Option<u64>,
    pub count_note: Option<String>,
    pub invalid_signatures: usize,
    pub duplicates_dropped: usize,
}

impl ExportReport {
    /// One line for an operator.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "Wrote {} rows to {} ({} bytes, SHA-256 {}…); manifest {}",
            self.written.rows,
            self.file.display(),
            self.written.bytes,
            &self.written.sha256[..12],
            self.manifest.display()
        );
        if let Some(note) = &self.count_note {
            let _ = write!(s, ". WARNING: {note}");
        } else if let Some(t) = self.gateway_total {
            let _ = write!(s, ". Matches the gateway's total of {t}");
        }
        if self.invalid_signatures > 0 {
            let _ = write!(
                s,
                ". {} order(s) failed the signature check",
                self.invalid_signatures
            );
        }
        s
    }
}

/// Writes rows that are already at hand (a loaded page, a batch's sub-orders) and the
/// manifest. Blocking: run it off the UI thread.
pub fn write_with_manifest<I>(
    plan: &ExportPlan,
    rows: I,
    counts: Counts,
    cancel: &AtomicBool,
    progress: impl Fn(Progress),
) -> Result<ExportReport, ExportError>
where
    I: IntoIterator<Item = Vec<Cell>>,
{
    let total = counts.rows;
    let written = write_file(&plan.target, &plan.layout, rows, cancel, |done| {
        progress(Progress {
            phase: Phase::Writing,
            done,
            total,
        });
    })?;
    let count_note = counts.gateway_total.and_then(|t| {
        (t != written.rows).then(|| {
            format!(
                "the file has {} rows but the gateway reported {t} matching",
                written.rows
            )
        })
    });
    let file = plan
        .target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = Manifest {
        paydesk_version: env!("CARGO_PKG_VERSION"),
        written_at: now_rfc3339(),
        file,
        sha256: written.sha256.clone(),
        bytes: written.bytes,
        format: plan.layout.format,
        profile: plan.profile.clone(),
        gateway: plan.gateway,
        kind: plan.layout.kind,
        scope: plan.scope.clone(),
        filter: plan.filter.clone(),
        timezone: plan.layout.tz_name.clone(),
        amounts: plan.layout.kind.order_kind().map(|_| plan.layout.unit),
        columns: plan.layout.columns.clone(),
        rows: written.rows,
        gateway_total: counts.gateway_total,
        complete: count_note.is_none(),
        count_note: count_note.clone(),
        duplicates_dropped: counts.duplicates_dropped,
        invalid_signatures: counts.invalid_signatures,
    };
    let manifest_path = match write_manifest(&plan.target, &manifest) {
        Ok(p) => p,
        Err(e) => {
            // A file without its manifest cannot be proven complete: take it back.
            let _ = std::fs::remove_file(&plan.target);
            return Err(e);
        }
    };
    Ok(ExportReport {
        file: plan.target.clone(),
        manifest: manifest_path,
        written,
        gateway_total: counts.gateway_total,
        count_note,
        invalid_signatures: counts.invalid_signatures,
        duplicates_dropped: counts.duplicates_dropped,
    })
}

/// Counts a manifest records besides the rows written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub rows: u64,
    pub gateway_total: Option<u64>,
    pub duplicates_dropped: usize,
    pub invalid_signatures: usize,
}

async fn cancelled(cancel: &AtomicBool) {
    while !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Exports every order matching `query`: pages of 500 fetched `concurrency` at a time (the
/// upper time bound pinned at the start when none was given, de-duplicated, counted against
/// the gateway's total), then written and described by a manifest.
pub async fn export_all_orders(
    client: &CnyClient,
    kind: OrderKind,
    query: &OrderQuery,
    concurrency: usize,
    plan: ExportPlan,
    cancel: Arc<AtomicBool>,
    progress: impl Fn(Progress) + Send + Sync + Clone + 'static,
) -> Result<ExportReport, ExportError> {
    let now = jiff::Timestamp::now().as_second();
    let fetch_progress = progress.clone();
    let fetched = tokio::select! {
        r = fetch_all(client, kind, query, now, concurrency, move |done, total| {
            fetch_progress(Progress { phase: Phase::Fetching, done, total });
        }) => r.map_err(|e| ExportError::Fetch(format!("the orders could not all be fetched: {e}")))?,
        () = cancelled(&cancel) => return Err(ExportError::Cancelled),
    };
    let counts = Counts {
        rows: fetched.orders.len() as u64,
        gateway_total: Some(fetched.total_reported),
        duplicates_dropped: fetched.duplicates_dropped,
        invalid_signatures: fetched
            .orders
            .iter()
            .filter(|o| o.signature.is_invalid())
            .count(),
    };
    let pinned = fetched.query.created != query.created;
    let filter = order_filter(&fetched.query, pinned, &plan.layout.tz);
    let plan = plan.with_filter(filter);
    tokio::task::spawn_blocking(move || {
        let columns = plan.layout.columns.clone();
        let rows = fetched.orders.iter().map(|o| order_cells(o, &columns));
        write_with_manifest(&plan, rows, counts, &cancel, progress)
    })
    .await
    .map_err(|e| ExportError::Fetch(e.to_string()))?
}
