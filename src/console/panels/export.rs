//! The export dialog (Ctrl+E, and "Export…" on every results table): scope, format, columns
//! chosen and ordered, time zone and amount unit; then a save dialog, a progress bar with
//! rows per second and time left, and Cancel, which leaves no file behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use eframe::egui;
use egui::RichText;
use paydesk::domain::export::{AmountUnit, ExportFormat, ExportKind, Progress};

use crate::console::context::{Reply, take_reply};
use tokio::sync::mpsc;

use super::widgets;

/// What the export dialog asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask where to save, then run the export the dialog describes.
    Start,
}

pub struct ExportDialog {
    pub open: bool,
    pub source: ExportKind,
    /// Every order matching the filter (all pages) rather than the rows shown here.
    pub all_pages: bool,
    /// How a local filter (quick filter, a tick) narrows the rows shown, when one is on.
    pub shown_note: Option<String>,
    pub format: ExportFormat,
    pub unit: AmountUnit,
    /// (key, header, included), in the order they will be written.
    pub columns: Vec<(String, String, bool)>,
    pub concurrency: usize,
    pub running: Option<(Progress, Instant)>,
    /// Whether the running export has reported yet: until then the save dialog is open, and
    /// that wait must not count in the rate and the time left.
    reported: bool,
    /// The export under way: the reply says what was written, or `None` when the save
    /// dialog was cancelled.
    job: Option<Reply<Option<String>>>,
    progress_rx: Option<mpsc::Receiver<Progress>>,
    pub cancel: Arc<AtomicBool>,
    pub result: Option<Result<String, String>>,
    /// The outcome not yet posted as a notice.
    fresh: Option<Result<String, String>>,
}

impl Default for ExportDialog {
    fn default() -> Self {
        ExportDialog {
            open: false,
            source: ExportKind::BatchSubOrders,
            all_pages: true,
            shown_note: None,
            format: ExportFormat::Xlsx,
            unit: AmountUnit::Yuan,
            columns: Vec::new(),
            concurrency: 4,
            running: None,
            reported: false,
            job: None,
            progress_rx: None,
            cancel: Arc::new(AtomicBool::new(false)),
            result: None,
            fresh: None,
        }
    }
}

impl ExportDialog {
    pub fn show_for(&mut self, source: ExportKind) {
        if self.running.is_some() {
            self.open = true;
            return;
        }
        if self.source != source || self.columns.is_empty() {
            self.columns = source
                .columns()
                .iter()
                .map(|(k, h)| ((*k).to_owned(), (*h).to_owned(), true))
                .collect();
        }
        self.source = source;
        self.open = true;
        self.result = None;
    }

    pub fn chosen_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|(_, _, on)| *on)
            .map(|(k, _, _)| k.clone())
            .collect()
    }

    /// Waits for an export that starts at `first`.
    pub fn begin(
        &mut self,
        first: Progress,
        job: Reply<Option<String>>,
        progress: mpsc::Receiver<Progress>,
    ) {
        self.running = Some((first, Instant::now()));
        self.reported = false;
        self.job = Some(job);
        self.progress_rx = Some(progress);
    }

    /// Takes in the export's progress, then its outcome when it has ended.
    pub fn poll(&mut self) {
        if let Some(rx) = &mut self.progress_rx {
            while let Ok(p) = rx.try_recv() {
                if let Some((current, started)) = &mut self.running {
                    *current = p;
                    if !self.reported {
                        *started = Instant::now();
                        self.reported = true;
                    }
                }
            }
        }
        let Some(outcome) = self.job.as_mut().and_then(take_reply) else {
            return;
        };
        self.job = None;
        self.progress_rx = None;
        match outcome {
            Ok(Some(written)) => self.finished(Ok(written)),
            Ok(None) => self.running = None,
            Err(e) => self.finished(Err(e)),
        }
    }

    pub fn finished(&mut self, result: Result<String, String>) {
        self.running = None;
        self.result = Some(result.clone());
        self.fresh = Some(result);
    }

    /// The outcome of an export that ended since last asked, once (for the status bar).
    pub fn take_fresh_outcome(&mut self) -> Option<Result<String, String>> {
        self.fresh.take()
    }

    pub fn ui(&mut self, ctx: &egui::Context, tz_name: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.open {
            return actions;
        }
        let mut open = self.open;
        egui::Window::new("Export")
            .open(&mut open)
            .collapsible(false)
            .resizable(true)
            .default_width(420.0)
            .show(ctx, |ui| {
                let busy = self.running.is_some();
                ui.add_enabled_ui(!busy, |ui| self.options_ui(ui, tz_name, busy));
                ui.separator();
                if let Some((p, started)) = &self.running {
                    progress_ui(ui, *p, *started, self.reported);
                    if ui.button("Cancel export").clicked() {
                        self.cancel.store(true, Ordering::Relaxed);
                    }
                } else {
                    let ok = !self.chosen_columns().is_empty();
                    if !ok {
                        ui.colored_label(widgets::error(ui), "Choose at least one column");
                    }
                    if ui
                        .add_enabled(ok, egui::Button::new("Choose file and export…"))
                        .on_disabled_hover_text("Choose at least one column")
                        .clicked()
                    {
                        self.cancel = Arc::new(AtomicBool::new(false));
                        self.result = None;
                        actions.push(Action::Start);
                    }
                }
                match &self.result {
                    Some(Ok(m)) => {
                        let color = if needs_a_look(m) {
                            widgets::warn(ui)
                        } else {
                            widgets::ok(ui)
                        };
                        ui.colored_label(color, m);
                    }
                    Some(Err(e)) => {
                        ui.colored_label(widgets::error(ui), e);
                    }
                    None => {}
                }
            });
        self.open = open;
        actions
    }

    /// `busy`: an export is running, which is why everything here is off.
    fn options_ui(&mut self, ui: &mut egui::Ui, tz_name: &str, busy: bool) {
        if self.source.order_kind().is_some() {
            ui.horizontal(|ui| {
                ui.label("Scope:");
                ui.radio_value(&mut self.all_pages, true, "Every order matching the filter");
                ui.radio_value(&mut self.all_pages, false, "The rows shown here");
            });
            if let Some(note) = &self.shown_note {
                ui.colored_label(widgets::warn(ui), note);
            }
        }
        ui.horizontal(|ui| {
            ui.label("Format:");
            ui.radio_value(&mut self.format, ExportFormat::Xlsx, "XLSX");
            ui.radio_value(&mut self.format, ExportFormat::Csv, "CSV (UTF-8, BOM)");
            ui.radio_value(&mut self.format, ExportFormat::Jsonl, "JSON Lines");
        });
        if self.source.order_kind().is_some() {
            ui.horizontal(|ui| {
                ui.label("Amounts in:");
                ui.radio_value(&mut self.unit, AmountUnit::Yuan, "yuan");
                ui.radio_value(&mut self.unit, AmountUnit::Fen, "fen");
                ui.separator();
                // The rows shown here are written without asking the gateway for a page.
                ui.add_enabled_ui(self.all_pages, |ui| {
                    ui.label("Pages at a time:");
                    ui.add(egui::DragValue::new(&mut self.concurrency).range(1..=16))
                        .on_hover_text(
                            "At most; fewer while the gateway asks to slow down or fails a request",
                        );
                });
            });
        }
        ui.label(format!(
            "Times in {tz_name} (the console's time zone, chosen in the top bar)"
        ));
        ui.label(RichText::new("Columns (ticked ones are written, top to bottom):").strong());
        let mut swap = None;
        let n = self.columns.len();
        let running = "Columns are fixed while the export runs: wait for it or cancel it";
        egui::ScrollArea::vertical()
            .id_salt("export_columns")
            .max_height(260.0)
            .show(ui, |ui| {
                for i in 0..n {
                    ui.horizontal(|ui| {
                        let (_, header, on) = &mut self.columns[i];
                        ui.checkbox(on, header.as_str());
                        if ui
                            .add_enabled(i > 0, egui::Button::new("Up").small())
                            .on_disabled_hover_text(if busy {
                                running
                            } else {
                                "Already the first column"
                            })
                            .clicked()
                        {
                            swap = Some((i - 1, i));
                        }
                        if ui
                            .add_enabled(i + 1 < n, egui::Button::new("Down").small())
                            .on_disabled_hover_text(if busy {
                                running
                            } else {
                                "Already the last column"
                            })
                            .clicked()
                        {
                            swap = Some((i, i + 1));
                        }
                    });
                }
            });
        if let Some((a, b)) = swap {
            self.columns.swap(a, b);
        }
    }
}

fn progress_ui(ui: &mut egui::Ui, p: Progress, started: Instant, reported: bool) {
    if !reported {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Waiting for the file to be chosen in the save dialog…");
        });
        return;
    }
    let fraction = if p.total == 0 {
        0.0
    } else {
        (p.done as f32 / p.total as f32).min(1.0)
    };
    ui.add(egui::ProgressBar::new(fraction).text(p.describe(started.elapsed())));
}

/// Whether a finished export's line says something the operator must look at: a count that
/// does not match the gateway's, or orders whose signature failed (written, but not to be
/// trusted). Such a line is not shown as a plain success.
pub fn needs_a_look(written: &str) -> bool {
    written.contains("WARNING") || written.contains("failed the signature check")
}

#[cfg(test)]
mod tests {
    use paydesk::domain::export::Phase;
    use tokio::sync::{mpsc, oneshot};

    use super::*;

    fn first() -> Progress {
        Progress {
            phase: Phase::Writing,
            done: 0,
            total: 3,
        }
    }

    #[test]
    fn an_export_that_stops_without_a_result_says_so_in_the_export_dialog() {
        let mut dialog = ExportDialog::default();
        let (job, rx) = oneshot::channel::<Result<Option<String>, String>>();
        let (progress, progress_rx) = mpsc::channel(4);
        dialog.begin(first(), rx, progress_rx);
        progress.try_send(Progress { done: 2, ..first() }).unwrap();
        dialog.poll();
        assert_eq!(dialog.running.map(|(p, _)| p.done), Some(2));
        drop(job);
        dialog.poll();
        assert!(dialog.running.is_none());
        assert_eq!(
            dialog.result,
            Some(Err("The task stopped without a result".to_owned()))
        );
    }

    #[test]
    fn a_cancelled_save_dialog_ends_the_export_without_a_message() {
        let mut dialog = ExportDialog::default();
        let (job, rx) = oneshot::channel();
        let (_progress, progress_rx) = mpsc::channel(4);
        dialog.begin(first(), rx, progress_rx);
        job.send(Ok(None)).unwrap();
        dialog.poll();
        assert!(dialog.running.is_none());
        assert_eq!(dialog.result, None);
    }

    /// The rate and the time left count from the export's first report, not from the moment
    /// the save dialog opened: a minute spent naming the file made the export look slow.
    #[test]
    fn the_rate_counts_from_the_first_report_not_from_the_save_dialog() {
        let mut dialog = ExportDialog::default();
        let (_job, rx) = oneshot::channel::<Result<Option<String>, String>>();
        let (progress, progress_rx) = mpsc::channel(4);
        dialog.begin(first(), rx, progress_rx);
        std::thread::sleep(std::time::Duration::from_millis(300));
        progress.try_send(Progress { done: 2, ..first() }).unwrap();
        dialog.poll();
        let started = dialog.running.map(|(_, at)| at).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }

    /// Writing the rows shown here asks the gateway for nothing: the pace of page requests
    /// is greyed out then, and the zone named is the console's, set in the top bar.
    #[test]
    fn pages_at_a_time_only_for_every_matching_order() {
        use egui_kittest::kittest::{NodeT, Queryable};
        let mut dialog = ExportDialog::default();
        dialog.show_for(ExportKind::Payouts);
        let mut h = egui_kittest::Harness::new_ui_state(
            |ui, d: &mut ExportDialog| {
                d.ui(ui.ctx(), "UTC");
            },
            dialog,
        );
        h.run();
        let greyed = |h: &egui_kittest::Harness<'_, ExportDialog>| {
            h.get_by_label("Pages at a time:")
                .accesskit_node()
                .is_disabled()
        };
        assert!(!greyed(&h));
        h.state_mut().all_pages = false;
        h.run();
        assert!(greyed(&h));
        assert!(
            h.query_by_label_contains("the console's time zone, chosen in the top bar")
                .is_some()
        );
    }

    /// An export with badly signed orders was reported in green as a plain success.
    #[test]
    fn an_export_with_badly_signed_orders_is_not_a_plain_success() {
        assert!(needs_a_look(
            "Wrote 2002 rows to /tmp/p.xlsx (1 bytes, SHA-256 4a9c…); manifest /tmp/p.json. \
             Matches the gateway's total of 2002. 5 order(s) failed the signature check"
        ));
        assert!(!needs_a_look(
            "Wrote 2 rows to /tmp/p.xlsx (1 bytes, SHA-256 4a9c…); manifest /tmp/p.json. \
             Matches the gateway's total of 2"
        ));
    }

    fn shown(dialog: ExportDialog) -> egui_kittest::Harness<'static, ExportDialog> {
        egui_kittest::Harness::builder()
            .with_size(egui::vec2(600.0, 700.0))
            .build_ui_state(
                |ui, d: &mut ExportDialog| {
                    d.ui(ui.ctx(), "UTC");
                },
                dialog,
            )
    }

    /// The export button, off without a column, says why on hover.
    #[test]
    fn choose_file_and_export_says_why_it_is_off() {
        use egui_kittest::kittest::Queryable;
        let mut dialog = ExportDialog::default();
        dialog.show_for(ExportKind::Payouts);
        for column in &mut dialog.columns {
            column.2 = false;
        }
        let mut h = shown(dialog);
        h.run();
        let said = |h: &egui_kittest::Harness<'_, ExportDialog>| {
            h.query_all_by_label("Choose at least one column").count()
        };
        assert_eq!(said(&h), 1, "the line under the columns");
        h.get_by_label("Choose file and export…").hover();
        h.run();
        assert_eq!(said(&h), 2, "and the button's own reason on hover");
    }

    /// While an export runs the columns are off: a column's "Up" said "Already the first
    /// column" of the fifth column.
    #[test]
    fn a_column_moved_during_an_export_says_the_export_runs() {
        use egui_kittest::kittest::Queryable;
        let mut dialog = ExportDialog::default();
        dialog.show_for(ExportKind::Payouts);
        let (_job, rx) = oneshot::channel::<Result<Option<String>, String>>();
        let (_progress, progress_rx) = mpsc::channel(4);
        dialog.begin(first(), rx, progress_rx);
        let mut h = shown(dialog);
        // The progress bar spins: stepped, never settled.
        h.run_steps(4);
        h.query_all_by_label("Up")
            .nth(2)
            .expect("a third column")
            .hover();
        h.run_steps(4);
        assert!(
            h.query_by_label_contains("Columns are fixed while the export runs")
                .is_some()
        );
        assert!(h.query_by_label("Already the first column").is_none());
    }
}
