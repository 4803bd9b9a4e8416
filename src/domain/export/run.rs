//! The export run: rows at hand, or every page streamed to the file as it arrives; then a
//! manifest and a report.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use tokio::sync::mpsc;

use super::write::write_rows;
use super::{
    Cell, ExportError, ExportPlan, Manifest, Phase, Progress, Written, now_rfc3339, order_cells,
    order_filter, write_file, write_manifest,
};
use crate::domain::search::{StreamOptions, pinned_query, stream_orders};
use crate::gateway::cny::client::CnyClient;
use crate::gateway::cny::wire::{Order, OrderKind, OrderQuery};

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
    /// Time windows the range was read in (an export of every page).
    pub time_windows: Option<usize>,
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
    publish(plan, written, counts, None)
}

/// The manifest of a written file, and the report; the file is taken back when its manifest
/// cannot be written. `window_note` is what the time windows' own counts said.
fn publish(
    plan: &ExportPlan,
    written: Written,
    counts: Counts,
    windows: Option<(usize, Option<String>)>,
) -> Result<ExportReport, ExportError> {
    let mut count_note = counts.gateway_total.and_then(|t| {
        (t != written.rows).then(|| {
            format!(
                "the file has {} rows but the gateway reported {t} matching",
                written.rows
            )
        })
    });
    if let Some((_, Some(windows_note))) = &windows {
        count_note = Some(match count_note {
            Some(n) => format!("{n}; {windows_note}"),
            None => windows_note.clone(),
        });
    }
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
        time_windows: windows.as_ref().map(|(n, _)| *n),
    };
    let manifest_path = match write_manifest(&plan.target, &manifest) {
        Ok(p) => p,
        Err(e) => {
            // A file without its manifest cannot be proven complete: take it back.
            let _ = std::fs::remove_file(&plan.target);
            return Err(e);
        }
    };
    tracing::info!(
        target: "paydesk::export",
        file = %plan.target.display(),
        rows = written.rows,
        gateway_total = counts.gateway_total,
        complete = count_note.is_none(),
        invalid_signatures = counts.invalid_signatures,
        "export finished"
    );
    Ok(ExportReport {
        file: plan.target.clone(),
        manifest: manifest_path,
        written,
        gateway_total: counts.gateway_total,
        count_note,
        invalid_signatures: counts.invalid_signatures,
        duplicates_dropped: counts.duplicates_dropped,
        time_windows: windows.map(|(n, _)| n),
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

/// Exports every order matching `query` with the default time windows; see
/// [`export_all_orders_with`].
pub async fn export_all_orders(
    client: &CnyClient,
    kind: OrderKind,
    query: &OrderQuery,
    concurrency: usize,
    plan: ExportPlan,
    cancel: Arc<AtomicBool>,
    progress: impl Fn(Progress) + Send + Sync + Clone + 'static,
) -> Result<ExportReport, ExportError> {
    let options = StreamOptions {
        concurrency,
        ..StreamOptions::default()
    };
    export_all_orders_with(client, kind, query, options, plan, cancel, progress).await
}

/// Exports every order matching `query`, written as the pages arrive: the upper time bound
/// pinned at the start, the range read in time windows at most `options.concurrency` pages
/// at a time, each order once, the counts checked against the gateway's; the rows go through a
/// bounded channel to a writer on a blocking thread, so memory does not grow with the
/// number of orders. The file appears only when every page was written, with its manifest.
pub async fn export_all_orders_with(
    client: &CnyClient,
    kind: OrderKind,
    query: &OrderQuery,
    options: StreamOptions,
    plan: ExportPlan,
    cancel: Arc<AtomicBool>,
    progress: impl Fn(Progress) + Send + Sync + Clone + 'static,
) -> Result<ExportReport, ExportError> {
    let now = jiff::Timestamp::now().as_second();
    let pinned = pinned_query(query, now);
    let filter = order_filter(&pinned, pinned.created != query.created, &plan.layout.tz);
    let plan = plan.with_filter(filter);
    let (tx, mut rx) = mpsc::channel::<Vec<Order>>(2);
    // Set once every page was handed on: rows that end without it never become a file.
    let complete = Arc::new(AtomicBool::new(false));
    let writer = {
        let (plan, cancel, complete) = (plan.clone(), Arc::clone(&cancel), Arc::clone(&complete));
        tokio::task::spawn_blocking(move || {
            let columns = plan.layout.columns.clone();
            let ended = std::cell::Cell::new(false);
            let mut rows = std::iter::from_fn(|| {
                let page = rx.blocking_recv();
                ended.set(page.is_none());
                page
            })
            .flat_map(IntoIterator::into_iter)
            .map(|o| order_cells(&o, &columns));
            // The channel closes both when every page was handed on and when fetching
            // failed; only the first may become a file.
            let stop = || {
                cancel.load(Ordering::Relaxed) || (ended.get() && !complete.load(Ordering::Acquire))
            };
            write_rows(&plan.target, &plan.layout, &mut rows, &stop, |_| {})
        })
    };
    let fetch_progress = progress.clone();
    let streamed = tokio::select! {
        r = stream_orders(client, kind, query, now, options, move |done, total| {
            fetch_progress(Progress { phase: Phase::Fetching, done, total });
        }, &tx) => Some(r),
        () = cancelled(&cancel) => None,
    };
    if matches!(streamed, Some(Ok(_))) {
        complete.store(true, Ordering::Release);
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ExportError::Fetch(e.to_string()))?;
    // The operator's cancel wins; then the writer's own failure (the fetch then only saw its
    // reader stop); then the fetch's.
    let Some(streamed) = streamed.filter(|_| !cancel.load(Ordering::Relaxed)) else {
        return Err(ExportError::Cancelled);
    };
    if let Err(e @ ExportError::Io { .. }) = written {
        return Err(e);
    }
    let summary = streamed
        .map_err(|e| ExportError::Fetch(format!("the orders could not all be fetched: {e}")))?;
    let written = written?;
    progress(Progress {
        phase: Phase::Writing,
        done: written.rows,
        total: summary.total_reported,
    });
    let counts = Counts {
        rows: written.rows,
        gateway_total: Some(summary.total_reported),
        duplicates_dropped: summary.duplicates_dropped,
        invalid_signatures: summary.invalid_signatures,
    };
    let windows_note = (!summary.notes.is_empty()).then(|| summary.notes.join("; "));
    tokio::task::spawn_blocking(move || {
        publish(
            &plan,
            written,
            counts,
            Some((summary.windows, windows_note)),
        )
    })
    .await
    .map_err(|e| ExportError::Fetch(e.to_string()))?
}
