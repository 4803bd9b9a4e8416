//! The Reconcile tab: the merchant's ledger for some days against the gateway's orders of the
//! same days. The operator opens the ledger, maps its columns (remembered per profile and
//! kind), runs it on a task with progress and Cancel, reads the totals per class with the
//! difference explained to the fen, pages through any class's rows (read from the work file
//! a page at a time), opens a row's two sides, and exports the differences with a manifest.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use eframe::egui;
use egui::RichText;
use jiff::civil::Date;
use paydesk::domain::dates::{Bound, parse_bound};
use paydesk::domain::export::ExportFormat;
use paydesk::domain::reconcile::{Class, Mapping, Period, Report, Stage, Workfile};
use paydesk::gateway::cny::wire::OrderKind;
use tokio::sync::mpsc;

use crate::console::context::{ConsoleContext, Reply, take_reply};

use super::widgets;

mod form;
mod pages;
mod table;
mod totals;

pub use form::{LedgerFile, MappingForm};
pub use pages::{PAGE_ROWS, PageCache, PageRead, TableKey};

/// What the tab asks of the app.
#[derive(Debug)]
pub enum Action {
    /// Ask for the ledger file (the file dialog, or a typed path).
    OpenLedger,
    /// Read the mapping remembered for the active profile and this kind.
    LoadMapping(OrderKind),
    Run(Box<RunInput>),
    /// Read one page of a class table from the work file.
    ReadPage(PageAsk),
    /// Ask where to save, then write the differences and their manifest.
    Export(ExportFormat),
    /// Look the order up in the Deposits or Payouts tab by its merchant order ID.
    SearchOrder(OrderKind, String),
    /// Check the order's text, as received, in the signature workbench.
    CheckSignature(String),
}

/// One run as the operator described it.
#[derive(Clone, Debug)]
pub struct RunInput {
    pub kind: OrderKind,
    pub from_date: Date,
    pub to_date: Date,
    pub period: Period,
    pub mapping: Mapping,
    pub ledger: LedgerFile,
}

/// A page to read from a finished run's work file.
#[derive(Debug)]
pub struct PageAsk {
    pub workfile: Arc<Mutex<Workfile>>,
    pub key: TableKey,
    pub page: u64,
}

/// A finished reconciliation: its report and the work file its tables are read from.
#[derive(Debug)]
pub struct Finished {
    pub report: Report,
    pub workfile: Arc<Mutex<Workfile>>,
    /// The command line that re-runs it, without `--out` and `--format`.
    pub command: String,
    /// Why the mapping could not be remembered, if it could not.
    pub remember_error: Option<String>,
}

/// A run under way.
pub struct Running {
    pub reply: Reply<Finished>,
    pub progress: mpsc::Receiver<Stage>,
    pub stage: Option<Stage>,
    pub abort: tokio::task::AbortHandle,
    pub started: Instant,
}

/// What an export of the differences wrote, in words, and the command that re-runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub summary: String,
    pub command: String,
}

pub struct ReconcilePanel {
    pub kind: OrderKind,
    pub from_date: Date,
    pub to_date: Date,
    pub ledger: Option<LedgerFile>,
    pub opening: Option<Reply<Option<LedgerFile>>>,
    pub open_error: Option<String>,
    pub form: MappingForm,
    /// Where the mapping shown came from (remembered, suggested, or to be chosen).
    pub mapping_note: Option<String>,
    pub mapping_loading: Option<Reply<Option<Mapping>>>,
    pub running: Option<Running>,
    /// Cancel was pressed on the run under way.
    cancelled: bool,
    /// Why the last run failed (or that it was cancelled).
    pub run_error: Option<String>,
    pub finished: Option<Finished>,
    /// The class whose rows are shown, and their filter.
    pub class: Option<Class>,
    pub filter: String,
    pub cache: PageCache,
    page_replies: Vec<(TableKey, u64, Reply<PageRead>)>,
    pub page_error: Option<String>,
    /// The row whose two sides are shown, by its index in the table.
    pub selected: Option<(u64, paydesk::domain::reconcile::Difference)>,
    pub exporting: Option<Reply<Option<Exported>>>,
    pub export_result: Option<Result<Exported, String>>,
    /// Opens or folds the inputs once, when a run starts or finishes: a finished run folds
    /// them so that its class tables have the window's height.
    inputs_open: Option<bool>,
}

impl Default for ReconcilePanel {
    fn default() -> Self {
        let today = jiff::Zoned::now().date();
        let yesterday = today.yesterday().unwrap_or(today);
        ReconcilePanel {
            kind: OrderKind::Deposit,
            from_date: yesterday,
            to_date: yesterday,
            ledger: None,
            opening: None,
            open_error: None,
            form: MappingForm::default(),
            mapping_note: None,
            mapping_loading: None,
            running: None,
            cancelled: false,
            run_error: None,
            finished: None,
            class: None,
            filter: String::new(),
            cache: PageCache::default(),
            page_replies: Vec::new(),
            page_error: None,
            selected: None,
            exporting: None,
            export_result: None,
            inputs_open: None,
        }
    }
}

impl ReconcilePanel {
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Waits for the ledger file asked for.
    pub fn begin_open(&mut self, reply: Reply<Option<LedgerFile>>) {
        self.opening = Some(reply);
        self.open_error = None;
    }

    pub fn begin_mapping(&mut self, reply: Reply<Option<Mapping>>) {
        self.mapping_loading = Some(reply);
    }

    /// Waits for a run; what the last one found is dropped (its work file is replaced).
    pub fn begin_run(&mut self, running: Running) {
        self.running = Some(running);
        self.cancelled = false;
        self.run_error = None;
        self.finished = None;
        self.selected = None;
        self.class = None;
        self.cache.reset(TableKey::default());
        self.page_replies.clear();
        self.export_result = None;
    }

    pub fn run_refused(&mut self, why: String) {
        self.run_error = Some(why);
    }

    pub fn begin_page(&mut self, key: TableKey, page: u64, reply: Reply<PageRead>) {
        self.page_replies.push((key, page, reply));
    }

    pub fn begin_export(&mut self, reply: Reply<Option<Exported>>) {
        self.exporting = Some(reply);
        self.export_result = None;
    }

    pub fn export_refused(&mut self, why: String) {
        self.export_result = Some(Err(why));
    }

    /// Stops the run under way; the tab stays as it was before it started.
    pub fn cancel(&mut self) {
        if let Some(running) = &self.running {
            running.abort.abort();
            self.cancelled = true;
        }
    }

    /// Takes in what the tab's tasks replied; returns what that asks of the app next.
    pub fn poll(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(opened) = self.opening.as_mut().and_then(take_reply) {
            self.opening = None;
            match opened {
                Ok(Some(file)) => {
                    // What the last file found is not this one's: it goes.
                    self.finished = None;
                    self.run_error = None;
                    self.class = None;
                    self.selected = None;
                    self.export_result = None;
                    self.cache.reset(TableKey::default());
                    self.inputs_open = Some(true);
                    self.ledger = Some(file);
                    actions.push(Action::LoadMapping(self.kind));
                }
                Ok(None) => {}
                Err(e) => self.open_error = Some(e),
            }
        }
        if let Some(loaded) = self.mapping_loading.as_mut().and_then(take_reply) {
            self.mapping_loading = None;
            self.mapping_loaded(loaded);
        }
        self.poll_run();
        let mut replies = std::mem::take(&mut self.page_replies);
        replies.retain_mut(|(key, page, reply)| match take_reply(reply) {
            None => true,
            Some(Ok(read)) => {
                self.cache.take(read);
                false
            }
            Some(Err(e)) => {
                self.cache.failed(key, *page);
                self.page_error = Some(e);
                false
            }
        });
        self.page_replies = replies;
        if let Some(done) = self.exporting.as_mut().and_then(take_reply) {
            self.exporting = None;
            match done {
                Ok(Some(exported)) => self.export_result = Some(Ok(exported)),
                Ok(None) => {}
                Err(e) => self.export_result = Some(Err(e)),
            }
        }
        actions
    }

    fn poll_run(&mut self) {
        let Some(running) = &mut self.running else {
            return;
        };
        while let Ok(stage) = running.progress.try_recv() {
            running.stage = Some(stage);
        }
        let Some(outcome) = take_reply(&mut running.reply) else {
            return;
        };
        self.running = None;
        match outcome {
            Ok(finished) => {
                self.finished = Some(finished);
                self.inputs_open = Some(false);
                self.cache.reset(TableKey::default());
            }
            Err(_) if self.cancelled => {
                self.run_error = Some("Cancelled: nothing was reconciled".to_owned());
            }
            Err(e) => self.run_error = Some(e),
        }
        self.cancelled = false;
    }

    fn mapping_loaded(&mut self, loaded: Result<Option<Mapping>, String>) {
        let headers = self
            .ledger
            .as_ref()
            .map(|f| f.headers.clone())
            .unwrap_or_default();
        let what = form::kind_label(self.kind).to_lowercase();
        match loaded {
            Ok(Some(mapping)) => {
                self.form = MappingForm::from_mapping(&mapping);
                self.mapping_note =
                    Some(format!("The mapping remembered for this profile's {what}"));
            }
            other => {
                let why = match other {
                    Err(e) => format!("The remembered mapping could not be read ({e}). "),
                    _ => String::new(),
                };
                if let Some(mapping) = Mapping::suggest(&headers) {
                    self.form = MappingForm::from_mapping(&mapping);
                    self.mapping_note = Some(format!(
                        "{why}Suggested from the column names: check each one before running"
                    ));
                } else {
                    self.form = MappingForm::default();
                    self.mapping_note =
                        Some(format!("{why}Choose the column that holds each field"));
                }
            }
        }
    }

    /// The run the inputs describe, the days read in `cx.tz`, or why there is none.
    pub fn run_input(&self, cx: &ConsoleContext) -> Result<RunInput, String> {
        let Some(ledger) = self.ledger.clone() else {
            return Err("Open the ledger file first".to_owned());
        };
        if self.from_date > self.to_date {
            return Err("The first day is after the last day".to_owned());
        }
        if let Some(problem) = self.form.problem(&ledger.headers) {
            return Err(format!(
                "The column mapping does not fit the ledger: {problem}"
            ));
        }
        let tz = cx.tz.zone();
        let bound = |d: Date, b| parse_bound(&d.to_string(), &tz, b).map_err(|e| e.to_string());
        let period = Period {
            from_secs: bound(self.from_date, Bound::Start)?,
            to_secs: bound(self.to_date, Bound::End)?,
        };
        Ok(RunInput {
            kind: self.kind,
            from_date: self.from_date,
            to_date: self.to_date,
            period,
            mapping: self.form.mapping(),
            ledger,
        })
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<Action> {
        let mut actions = Vec::new();
        ui.heading("Reconcile the ledger with the gateway");
        let ledger = self.ledger.as_ref().map_or_else(
            || "no ledger".to_owned(),
            |l| paydesk::domain::text::shown(&l.name).0.into_owned(),
        );
        let title = format!(
            "Ledger, period and mapping: {} from {} to {}, {ledger}",
            self.kind.plural(),
            self.from_date,
            self.to_date
        );
        egui::CollapsingHeader::new(title)
            .id_salt("reconcile_inputs_fold")
            .default_open(true)
            .open(self.inputs_open.take())
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("reconcile_inputs")
                    .max_height((ui.available_height() * 0.45).max(160.0))
                    .show(ui, |ui| self.inputs_ui(ui, cx, &mut actions));
            });
        ui.separator();
        self.run_ui(ui, cx, &mut actions);
        if self.finished.is_some() {
            ui.separator();
            // With a class open, the totals give way to its rows.
            let share = if self.class.is_some() { 0.3 } else { 0.6 };
            let max = (ui.available_height() * share).max(100.0);
            egui::ScrollArea::vertical()
                .id_salt("reconcile_totals")
                .max_height(max)
                .show(ui, |ui| self.totals_ui(ui));
            self.export_ui(ui, &mut actions);
            self.table_ui(ui, cx, &mut actions);
        }
        actions
    }

    fn run_ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext, actions: &mut Vec<Action>) {
        let mut cancel = false;
        ui.horizontal_wrapped(|ui| {
            if let Some(running) = &self.running {
                ui.spinner();
                ui.label(stage_text(running.stage.as_ref(), running.started));
                cancel = ui.button("Cancel").clicked();
                return;
            }
            let input = self.run_input(cx);
            let connected = cx.profile.is_some();
            let why_not = match (&input, connected) {
                (_, false) => Some("Not connected to a gateway".to_owned()),
                (Err(e), _) => Some(e.clone()),
                (Ok(_), true) => None,
            };
            let button = ui
                .add_enabled(why_not.is_none(), egui::Button::new("Run reconciliation"))
                .on_disabled_hover_text(why_not.clone().unwrap_or_default());
            if button.clicked()
                && let Ok(input) = input
            {
                actions.push(Action::Run(Box::new(input)));
            }
            if let Some(why) = why_not
                && self.ledger.is_some()
            {
                ui.label(RichText::new(why).weak());
            }
        });
        if cancel {
            self.cancel();
        }
        if let Some(e) = &self.run_error {
            ui.colored_label(widgets::error(ui), "The reconciliation did not finish");
            egui::ScrollArea::vertical()
                .id_salt("reconcile_error")
                .max_height(140.0)
                .show(ui, |ui| {
                    for line in e.lines() {
                        ui.add(
                            egui::Label::new(RichText::new(line).color(widgets::error(ui))).wrap(),
                        );
                    }
                });
        }
    }
}

/// "Fetching the gateway's orders: window 3 of 12 (40 s)".
fn stage_text(stage: Option<&Stage>, started: Instant) -> String {
    let secs = started.elapsed().as_secs();
    let what = match stage {
        None => "Starting…".to_owned(),
        Some(Stage::ReadingLedger { rows }) => format!("Reading the ledger: {rows} rows"),
        Some(Stage::FetchingGateway { done, total }) => {
            format!("Fetching the gateway's orders: window {done} of {total}")
        }
        Some(Stage::Classifying) => "Classifying every merchant order ID…".to_owned(),
    };
    format!("{what} ({secs} s)")
}

#[cfg(test)]
mod tests;
