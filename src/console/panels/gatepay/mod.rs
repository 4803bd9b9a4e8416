//! GatePay batch payouts: the batch detail panel (status filter buttons, header, totals per
//! status and currency, sub-orders with stuck ones flagged, refresh on demand or every N
//! seconds while the batch is not final) and the batch creation form (a few rows typed, or a
//! CSV/XLSX file), reviewed with totals per currency before it is sent through the journal.

use jiff::tz::TimeZone;
use paydesk::domain::batches::{
    BatchEntry, DEFAULT_STUCK_MINUTES, StatusTotal, TypedRow, batch_from_rows, is_stuck,
    new_batch_id, status_totals, stuck_for,
};
use paydesk::domain::bulk::RowError;
use paydesk::domain::dates::format_ms;
use paydesk::gateway::gatepay::wire::{BatchDetail, BatchRequest, DetailStatus, SubOrder};

use crate::console::context::{Reply, take_reply};
use paydesk::domain::duplicates::Confirmation;

use super::payouts::HeldReview;

mod batch_view;
mod charted;
mod new_batch_view;

pub(crate) use batch_view::status_totals_ui;
pub use new_batch_view::sent_batches_ui;

/// How many batch IDs the picker remembers.
const RECENT_LIMIT: usize = 20;

/// A sub-order as the table shows it.
/// What the batch panel asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchAction {
    /// Read the batch with its status filter.
    Load,
    /// Open the export dialog for the batch's sub-orders.
    Export,
    /// Ask where to save, then write a chart's numbers (CSV text).
    SaveChart {
        suggested_name: String,
        text: String,
    },
}

/// What the new batch form and the list of sent batches ask of the app.
#[derive(Debug)]
pub enum NewBatchAction {
    /// Pick a file of sub-orders in the dialog.
    OpenFile,
    /// Look for likely duplicates of a batch under review.
    CheckDuplicates(Box<BatchRequest>),
    Submit(Box<BatchRequest>, Confirmation),
    /// Show a batch in the batch panel.
    Show(String),
    Retry(String),
}

pub struct SubRow {
    pub sub: SubOrder,
    pub created: String,
    pub updated: String,
    pub finished: String,
    pub stuck: Option<String>,
}

/// A file of sub-orders opened and checked: its name and the batch, or what is wrong with
/// its rows.
pub type PlannedBatch = (String, Result<BatchRequest, Vec<RowError>>);

/// A problem with the whole file (it could not be read), as a row error the form lists.
pub fn whole_file(message: String) -> RowError {
    RowError {
        row: 0,
        column: "the file".to_owned(),
        message,
    }
}

/// The batch detail panel.
pub struct BatchPanel {
    pub batch_id: String,
    pub filter: DetailStatus,
    pub detail: Option<BatchDetail>,
    pub rows: Vec<SubRow>,
    pub totals: Vec<StatusTotal>,
    pub loaded_at_ms: i64,
    /// The lookup under way; a newer one drops it with its reply.
    load: Option<Reply<(BatchDetail, Option<String>)>>,
    pub error: Option<String>,
    pub clock_warning: Option<String>,
    pub auto_refresh: bool,
    pub refresh_secs: u32,
    pub stuck_minutes: i64,
    pub only_stuck: bool,
    pub last_refresh: Option<std::time::Instant>,
    /// Batch IDs looked at, newest first (never a secret).
    pub recent: Vec<String>,
    /// Batches sent from this machine (the journal).
    pub sent: Vec<BatchEntry>,
    pub copied: Option<String>,
    /// The chart of the batch's totals and the bar that narrows the table.
    pub charted: charted::BatchCharted,
}

impl Default for BatchPanel {
    fn default() -> Self {
        BatchPanel {
            batch_id: String::new(),
            filter: DetailStatus::All,
            detail: None,
            rows: Vec::new(),
            totals: Vec::new(),
            loaded_at_ms: 0,
            load: None,
            error: None,
            clock_warning: None,
            auto_refresh: true,
            refresh_secs: 15,
            stuck_minutes: DEFAULT_STUCK_MINUTES,
            only_stuck: false,
            last_refresh: None,
            recent: Vec::new(),
            sent: Vec::new(),
            copied: None,
            charted: charted::BatchCharted::default(),
        }
    }
}

impl BatchPanel {
    /// The panel as a restart finds it: the batches looked at and the stuck threshold.
    pub fn restored(recent: Vec<String>, stuck_minutes: i64) -> BatchPanel {
        BatchPanel {
            stuck_minutes,
            recent,
            ..BatchPanel::default()
        }
    }

    /// Waits for a new lookup of the batch.
    pub fn begin(&mut self, rx: Reply<(BatchDetail, Option<String>)>) {
        self.load = Some(rx);
        self.error = None;
        self.last_refresh = Some(std::time::Instant::now());
    }

    pub fn is_loading(&self) -> bool {
        self.load.is_some()
    }

    /// Takes in the lookup's reply, if it has come.
    pub fn poll(&mut self, now_ms: i64, tz: &TimeZone) {
        let Some(result) = self.load.as_mut().and_then(take_reply) else {
            return;
        };
        self.load = None;
        match result {
            Ok((detail, warning)) => {
                self.clock_warning = warning;
                self.remember(&detail.batch_id);
                self.loaded_at_ms = now_ms;
                self.detail = Some(detail);
                self.rebuild(tz);
            }
            // The previous results stay on screen beside the error.
            Err(e) => self.error = Some(e),
        }
    }

    /// Recomputes rows, times and stuck flags (after a load, or a threshold change).
    pub fn rebuild(&mut self, tz: &TimeZone) {
        let Some(detail) = &self.detail else {
            return;
        };
        let threshold = self.stuck_minutes.max(1) * 60_000;
        let now = self.loaded_at_ms;
        let time = |t: Option<i64>| t.map(|t| format_ms(t, tz)).unwrap_or_default();
        self.rows = detail
            .withdraw_list
            .iter()
            .map(|s| SubRow {
                created: time(s.create_time_ms),
                updated: time(s.update_time_ms),
                finished: time(s.finish_time_ms),
                stuck: is_stuck(s, now, threshold).then(|| stuck_for(s, now)),
                sub: s.clone(),
            })
            .collect();
        self.totals = status_totals(&detail.withdraw_list);
    }

    fn remember(&mut self, batch_id: &str) {
        if batch_id.is_empty() {
            return;
        }
        self.recent.retain(|b| b != batch_id);
        self.recent.insert(0, batch_id.to_owned());
        self.recent.truncate(RECENT_LIMIT);
    }

    /// Whether an automatic refresh is due: on, not loading, the batch not final.
    pub fn refresh_due(&self) -> bool {
        self.auto_refresh
            && !self.is_loading()
            && self.detail.as_ref().is_some_and(|d| !d.status.is_final())
            && self
                .last_refresh
                .is_some_and(|t| t.elapsed().as_secs() >= u64::from(self.refresh_secs.max(5)))
    }

    pub fn stuck_count(&self) -> usize {
        self.rows.iter().filter(|r| r.stuck.is_some()).count()
    }
}

/// A new sub-order row as the form first shows it: a fresh ID, USDT on TRON.
fn blank_item(n: usize) -> TypedRow {
    TypedRow {
        row: n,
        merchant_withdraw_id: format!("w{}_{n}", jiff::Timestamp::now().as_second()),
        currency: "USDT".into(),
        chain: "TRX".into(),
        fee_type: "0".into(),
        ..TypedRow::default()
    }
}

/// The batch creation form.
pub struct NewBatchForm {
    pub batch_id: String,
    /// The sub-orders as typed.
    pub items: Vec<TypedRow>,
    pub file_name: Option<String>,
    pub file_errors: Vec<RowError>,
    /// The batch under review and its likely duplicates.
    pub review: Option<(BatchRequest, HeldReview)>,
    /// The file being opened and checked: `None` in the reply when the dialog was cancelled.
    pub import: Option<Reply<Option<PlannedBatch>>>,
    /// The batch being sent; its outcome lands in `result`.
    pub sending: Option<Reply<Box<BatchEntry>>>,
    pub result: Option<Result<BatchEntry, String>>,
    pub message: Option<String>,
}

impl Default for NewBatchForm {
    fn default() -> Self {
        NewBatchForm {
            batch_id: new_batch_id(),
            items: vec![blank_item(1)],
            file_name: None,
            file_errors: Vec::new(),
            review: None,
            import: None,
            sending: None,
            result: None,
            message: None,
        }
    }
}

impl NewBatchForm {
    /// An empty form; a batch being sent stays awaited, so its outcome still shows.
    pub fn reset(&mut self) {
        *self = NewBatchForm {
            sending: self.sending.take(),
            ..NewBatchForm::default()
        };
    }

    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    /// Takes in the file being opened, if it has come.
    pub fn poll_import(&mut self) {
        let Some(import) = self.import.as_mut().and_then(take_reply) else {
            return;
        };
        self.import = None;
        match import {
            Ok(Some((name, planned))) => self.file_planned(name, planned),
            // The dialog was cancelled.
            Ok(None) => {}
            Err(message) => self.file_planned(String::new(), Err(vec![whole_file(message)])),
        }
    }

    /// Fills the form from a checked file (rows stay editable).
    pub fn file_planned(&mut self, name: String, planned: Result<BatchRequest, Vec<RowError>>) {
        self.file_name = Some(name);
        self.result = None;
        match planned {
            Ok(request) => {
                self.file_errors.clear();
                self.items = request
                    .withdraw_list
                    .iter()
                    .enumerate()
                    .map(|(i, item)| TypedRow::of_item(i + 1, item))
                    .collect();
            }
            Err(errors) => self.file_errors = errors,
        }
    }

    /// The request, or every problem by row and field.
    pub fn check(&self) -> Result<BatchRequest, Vec<String>> {
        let rows = self
            .items
            .iter()
            .enumerate()
            // Numbered as shown now: rows may have been removed since they were added.
            .map(|(i, f)| TypedRow {
                row: i + 1,
                ..f.clone()
            })
            .collect();
        let (request, errors) = batch_from_rows(&self.batch_id, rows);
        if errors.is_empty() {
            return Ok(request);
        }
        // Row 0 is the batch itself: its field alone names it.
        Err(errors
            .iter()
            .map(|e| match e.row {
                0 => format!("{}: {}", e.column, e.message),
                _ => e.to_string(),
            })
            .collect())
    }
}
