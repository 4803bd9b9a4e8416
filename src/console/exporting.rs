//! The export the dialog describes, run off the UI thread: a save dialog first, then the rows
//! (fetched for every page, or the ones at hand), written with progress.

use super::context::TzChoice;
use super::files::FileDialogs;
use super::{PaydeskApp, progress_channel};
use tokio::sync::mpsc::Receiver;

use std::path::PathBuf;
use std::sync::Arc;

use paydesk::clock::{Clock, SystemClock};

use paydesk::domain::export::{
    Cell, Counts, ExportKind, ExportPlan, ExportRequest, Layout, ManifestProfile, Phase, Progress,
    export_all_orders, found_sub_order_cells, order_cells, order_filter, sub_order_cells,
    suggested_name, write_with_manifest,
};

impl PaydeskApp {
    /// Runs the export the dialog describes: a save dialog first, then the rows (fetched
    /// for every page, or the ones at hand), written off the UI thread with progress.
    pub(super) fn start_export(&mut self) {
        let kind = self.export.source;
        let tz_choice = self.time_zone();
        let tz = tz_choice.zone();
        let tz_name = match tz_choice {
            TzChoice::Gateway => paydesk::domain::dates::GATEWAY_TZ.to_owned(),
            TzChoice::Utc => "UTC".to_owned(),
            TzChoice::Local => tz.iana_name().unwrap_or("local").to_owned(),
        };
        let format = self.export.format;
        let layout = Layout {
            kind,
            format,
            columns: self.export.chosen_columns(),
            tz: tz.clone(),
            tz_name,
            unit: self.export.unit,
        };
        let Some(connection) = self.connection.clone() else {
            self.export
                .finished(Err("Not connected to a gateway".to_owned()));
            return;
        };
        let (base_url, merchant) = match kind.order_kind() {
            Some(_) => connection.cny.as_ref().map_or_else(Default::default, |c| {
                (
                    c.config().base_url.to_string(),
                    c.config().platform_id.clone(),
                )
            }),
            None => connection
                .gatepay
                .as_ref()
                .map_or_else(Default::default, |c| {
                    (
                        c.config().base_url.to_string(),
                        c.config().client_id.clone(),
                    )
                }),
        };
        let profile = ManifestProfile {
            name: connection.profile_name.clone(),
            marker: connection.marker.label().to_owned(),
            base_url,
            merchant,
        };
        let now = SystemClock.now_secs();
        let cancel = Arc::clone(&self.export.cancel);
        let (progress, progress_rx) = progress_channel(&self.ctx);
        let dialogs = Arc::clone(&self.file_dialogs);
        // The target comes from the save dialog, the scope and filter from the rows chosen.
        let mut plan = ExportRequest { layout, profile }.plan(PathBuf::new(), "");
        match kind.order_kind() {
            Some(order_kind) => {
                let all_pages = self.export.all_pages;
                let panel = self.orders_panel(order_kind);
                let query = panel.query(tz_choice);
                // A row menu's export writes the rows selected, in the order shown.
                // Otherwise the rows a quick filter or a tick leaves shown, as the operator sees.
                let chosen = if all_pages {
                    None
                } else if panel.export_selection {
                    Some(panel.rows_to_export())
                } else {
                    panel.shown_indices().map(Ok)
                };
                panel.export_selection = false;
                let loaded = if all_pages {
                    None
                } else {
                    panel
                        .result
                        .shown()
                        .map(|p| (Arc::clone(&p.rows), p.reread.clone(), p.total, p.all_pages))
                };
                let query = match query {
                    Ok(q) => q,
                    Err(e) => {
                        self.export
                            .finished(Err(format!("The filter is not valid: {e}")));
                        return;
                    }
                };
                let chosen = match chosen.transpose() {
                    Ok(chosen) => chosen,
                    Err(e) => {
                        self.export.finished(Err(e));
                        return;
                    }
                };
                let name = suggested_name(
                    kind,
                    !all_pages,
                    query.created.map(|r| (r.from_secs, r.to_secs)),
                    &tz,
                    format,
                    now,
                );
                if all_pages {
                    let Some(client) = connection.cny.clone() else {
                        self.export
                            .finished(Err("This profile has no CNY gateway".to_owned()));
                        return;
                    };
                    let concurrency = self.export.concurrency.clamp(1, 16);
                    "all pages".clone_into(&mut plan.scope);
                    let job = self.request(async move {
                        let Some(path) = dialogs.save_file(name).await else {
                            return Ok(None);
                        };
                        plan.target = path;
                        export_all_orders(
                            &client,
                            order_kind,
                            &query,
                            concurrency,
                            plan,
                            cancel,
                            progress,
                        )
                        .await
                        .map(|r| Some(r.describe()))
                        .map_err(|e| e.to_string())
                    });
                    let first = Progress {
                        phase: Phase::Fetching,
                        done: 0,
                        total: 0,
                    };
                    self.export.begin(first, job, progress_rx);
                } else {
                    let Some((rows, reread, total, loaded_all)) = loaded else {
                        self.export
                            .finished(Err("Nothing is loaded yet: search first".to_owned()));
                        return;
                    };
                    let picked: Vec<usize> =
                        chosen.clone().unwrap_or_else(|| (0..rows.len()).collect());
                    let counts = Counts {
                        rows: picked.len() as u64,
                        gateway_total: (loaded_all && chosen.is_none()).then_some(total),
                        duplicates_dropped: 0,
                        invalid_signatures: picked
                            .iter()
                            .filter(|i| rows[**i].signature.is_invalid())
                            .count(),
                    };
                    plan.scope = if let Some(chosen) = &chosen {
                        format!("{} selected orders", chosen.len())
                    } else if loaded_all {
                        "all loaded pages".to_owned()
                    } else {
                        format!("one page (offset {}, gateway total {total})", query.offset)
                    };
                    plan.filter = order_filter(&query, false, &tz);
                    self.export_rows(
                        dialogs,
                        name,
                        plan,
                        counts,
                        (progress, progress_rx),
                        // Each order is read again from the text its row kept.
                        one_at_a_time(picked.len(), move |i, cols| {
                            order_cells(&reread.order(&rows[picked[i]]), cols)
                        }),
                    );
                }
            }
            None if kind == ExportKind::SubOrdersByDate => {
                let found = self.suborders.found.clone();
                let name = format!("gatepay_suborders.{}", format.extension());
                "sub-orders by date".clone_into(&mut plan.scope);
                plan.filter = serde_json::json!({
                    "search": self.suborders.shown,
                    "status": self.suborders.status,
                });
                let counts = Counts {
                    rows: found.len() as u64,
                    ..Counts::default()
                };
                self.export_rows(
                    dialogs,
                    name,
                    plan,
                    counts,
                    (progress, progress_rx),
                    one_at_a_time(found.len(), move |i, cols| {
                        found_sub_order_cells(&found[i], cols)
                    }),
                );
            }
            None => {
                let Some(detail) = self.batches.detail.clone() else {
                    self.export.finished(Err("Load a batch first".to_owned()));
                    return;
                };
                let name = format!(
                    "batch_{}_{}.{}",
                    detail.batch_id,
                    self.batches.filter.as_str().to_lowercase(),
                    format.extension()
                );
                "batch sub-orders".clone_into(&mut plan.scope);
                plan.filter = serde_json::json!({
                    "batch_id": detail.batch_id,
                    "detail_status": self.batches.filter.as_str(),
                    "batch_status": detail.status,
                });
                let counts = Counts {
                    rows: detail.withdraw_list.len() as u64,
                    ..Counts::default()
                };
                self.export_rows(
                    dialogs,
                    name,
                    plan,
                    counts,
                    (progress, progress_rx),
                    one_at_a_time(detail.withdraw_list.len(), move |i, cols| {
                        sub_order_cells(&detail.withdraw_list[i], cols)
                    }),
                );
            }
        }
    }

    /// Writes rows already at hand (a page, a batch, a search's) after the save dialog, with
    /// the dialog showing its progress.
    fn export_rows(
        &mut self,
        dialogs: Arc<dyn FileDialogs>,
        name: String,
        mut plan: ExportPlan,
        counts: Counts,
        (progress, progress_rx): (impl Fn(Progress) + Send + 'static, Receiver<Progress>),
        // Rows are made one at a time as the writer takes them, never all at once.
        cells: impl FnOnce(Vec<String>) -> Box<dyn Iterator<Item = Vec<Cell>>> + Send + 'static,
    ) {
        let cancel = Arc::clone(&self.export.cancel);
        let runtime = self.runtime.clone();
        let job = self.request(async move {
            let Some(path) = dialogs.save_file(name).await else {
                return Ok(None);
            };
            plan.target = path;
            runtime
                .spawn_blocking(move || {
                    let rows = cells(plan.layout.columns.clone());
                    write_with_manifest(&plan, rows, counts, &cancel, progress)
                        .map(|r| Some(r.describe()))
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        });
        let first = Progress {
            phase: Phase::Writing,
            done: 0,
            total: counts.rows,
        };
        self.export.begin(first, job, progress_rx);
    }
}

/// The cells of `len` rows at hand, the `i`th made by `cells(i, columns)` only when the
/// writer takes it, so a long list is never turned into cells all at once.
fn one_at_a_time(
    len: usize,
    cells: impl Fn(usize, &[String]) -> Vec<Cell> + Send + 'static,
) -> impl FnOnce(Vec<String>) -> Box<dyn Iterator<Item = Vec<Cell>>> + Send + 'static {
    move |columns| Box::new((0..len).map(move |i| cells(i, &columns)))
}
