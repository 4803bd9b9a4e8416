//! The payout form, bulk payouts from a file, and the Payouts sent panel over the
//! journal. Nothing is sent without a confirmation that shows what will be sent.

use crate::console::context::{Reply, take_reply};
use paydesk::domain::payouts::{ReconcileReport, Sent};
use std::collections::HashSet;
use tokio::sync::mpsc;

use paydesk::domain::bulk::{BulkPlan, RowError};
use paydesk::domain::duplicates::{Confirmation, DuplicateReport};
use paydesk::domain::journal::{Entry, OutcomeFilter, State};
use paydesk::gateway::cny::banks::Bank;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::money::{Fen, Zero};

mod sent;
mod view;

#[cfg(test)]
mod tests;

pub use sent::{PayoutHistory, outcome_color, read_history};
pub use view::blocked_label;

/// What the payout form asks of the app.
#[derive(Debug)]
pub enum PayoutAction {
    /// Look for likely duplicates of a checked payout.
    CheckDuplicates(Box<PayoutRequest>),
    /// Send a payout with its likely duplicates ticked "Send anyway" (bound to what was shown).
    Submit(Box<PayoutRequest>, Confirmation),
}

/// What the bulk import asks of the app.
#[derive(Debug)]
pub enum BulkAction {
    /// Pick a file in the dialog.
    OpenFile,
    /// Send a checked file with the held rows the operator confirmed.
    Send(Box<BulkPlan>, Confirmation),
    Stop,
}

impl PayoutsSent {
    pub fn is_checking(&self) -> bool {
        self.check.is_some()
    }
}

/// What the list of sent payouts asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum SentAction {
    /// "Check with the gateway now": every unknown and unfinished payout at once.
    CheckNow,
    Retry(String),
    /// Open one payout's details: its audit entries are read from the journal.
    Details(String),
}

/// The single payout being typed.
#[derive(Default)]
pub struct PayoutForm {
    pub cl_id: String,
    pub amount: String,
    pub bank_search: String,
    pub bank: Option<Bank>,
    /// The bank list was opened: its "choose a bank" shows only from then on.
    pub bank_touched: bool,
    /// The list scrolls to the chosen bank (or the first match) on its next frame: when it
    /// opens and while the search changes, so a click lands on the bank the search found.
    bank_scroll: bool,
    pub name: String,
    pub number: String,
    pub branch: String,
    pub province: String,
    pub city: String,
    pub notify_url: String,
    /// The request under review in the confirmation, and its likely duplicates.
    pub review: Option<(PayoutRequest, HeldReview)>,
    /// The payout being sent; its outcome lands in `result`.
    pub sending: Option<Reply<Box<Sent>>>,
    pub result: Option<Result<Entry, String>>,
}

/// Per-field problems, shown beside each field.
#[derive(Default)]
struct Problems {
    cl_id: Option<String>,
    amount: Option<String>,
    bank: Option<String>,
    name: Option<String>,
    number: Option<String>,
    notify_url: Option<String>,
}

impl PayoutForm {
    /// A fresh form with a fresh merchant order ID; a payout being sent stays awaited, so
    /// its outcome still shows.
    pub fn reset(&mut self) {
        *self = PayoutForm {
            cl_id: paydesk::domain::payouts::new_payout_cl_id(),
            sending: self.sending.take(),
            ..PayoutForm::default()
        };
    }

    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    /// The request, or the reason each field cannot be sent.
    fn check(&self) -> (Option<PayoutRequest>, Problems) {
        let mut p = Problems::default();
        let amount = match Fen::parse_yuan(&self.amount, Zero::Refused) {
            Ok(a) => Some(a),
            Err(e) => {
                p.amount = Some(e.to_string());
                None
            }
        };
        if self.bank.is_none() {
            p.bank = Some("choose a bank from the list".into());
        }
        let request = PayoutRequest {
            payout_cl_id: self.cl_id.trim().to_owned(),
            amount: amount.unwrap_or(Fen::from_fen(1)),
            bank_name: self
                .bank
                .as_ref()
                .map(|b| b.bank_name.clone())
                .unwrap_or_default(),
            name: self.name.trim().to_owned(),
            number: self.number.clone(),
            bank_branch: Some(self.branch.trim().to_owned()).filter(|s| !s.is_empty()),
            province: Some(self.province.trim().to_owned()).filter(|s| !s.is_empty()),
            city: Some(self.city.trim().to_owned()).filter(|s| !s.is_empty()),
            notify_url: Some(self.notify_url.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        for e in request.validate() {
            let slot = match e.field {
                "payout_cl_id" => &mut p.cl_id,
                "name" => &mut p.name,
                "number" => &mut p.number,
                "notify_url" => &mut p.notify_url,
                _ => continue,
            };
            slot.get_or_insert(e.reason);
        }
        let ok = amount.is_some()
            && p.cl_id.is_none()
            && p.bank.is_none()
            && p.name.is_none()
            && p.number.is_none()
            && p.notify_url.is_none();
        (ok.then_some(request), p)
    }
}

/// Which duplicate rule a review applies, so its "nothing held" line names that rule: a
/// GatePay batch told of "the same account" read as if its sub-orders were never compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matching {
    /// CNY payouts: the same account and amount.
    Payouts,
    /// GatePay sub-orders: the same merchant withdraw ID, or address, currency and amount.
    SubOrders,
}

impl Matching {
    fn nothing_held(self, days: u32) -> String {
        match self {
            Matching::Payouts => format!(
                "No likely duplicate: no payout to the same account for the same amount in the last {days} day(s)"
            ),
            Matching::SubOrders => format!(
                "No likely duplicate: no sub-order of an earlier batch in the last {days} day(s) has the same \
                 merchant withdraw ID, or the same address, currency and amount"
            ),
        }
    }
}

/// The likely duplicates found for a review (a payout, a file, a GatePay batch) and the
/// held rows the operator ticked "Send anyway". Sending waits until every held row is ticked.
#[derive(Debug, Default)]
pub struct HeldReview {
    /// `None` while the journal is being searched.
    pub report: Option<Result<DuplicateReport, String>>,
    /// The search of the journal under way; a new review drops it with its reply.
    pub search: Option<Reply<DuplicateReport>>,
    pub ticked: HashSet<String>,
    /// For held rows beyond those listed one by one.
    pub unlisted_ticked: bool,
    /// The team's approval rule that will hold it back for a second operator (in words), or
    /// why the rule could not be read; `None`: no rule holds it (or a desktop journal).
    pub approval: Option<Result<String, String>>,
    /// The reading of the team's rule under way.
    pub approval_check: Option<Reply<Option<String>>>,
}

impl HeldReview {
    /// Takes in the search's report and the approval forecast, if they have come.
    pub fn poll(&mut self) {
        if let Some(report) = self.search.as_mut().and_then(take_reply) {
            self.search = None;
            self.report = Some(report);
        }
        if let Some(forecast) = self.approval_check.as_mut().and_then(take_reply) {
            self.approval_check = None;
            self.approval = forecast.transpose();
        }
    }

    /// Whether what is reviewed will wait for a second operator rather than be sent.
    pub fn held_for_approval(&self) -> bool {
        matches!(self.approval, Some(Ok(_)))
    }

    /// Every held row is ticked (or none is held).
    pub fn ready(&self) -> bool {
        match &self.report {
            Some(Ok(r)) => {
                r.held.iter().all(|h| self.ticked.contains(&h.id))
                    && (r.held_total == r.held.len() || self.unlisted_ticked)
            }
            _ => false,
        }
    }

    /// Why sending waits on the ticks, in the operator's words: `None` once every held row
    /// is ticked, or while the report is not in (that shows its own line).
    pub fn waiting_for(&self) -> Option<String> {
        let Some(Ok(r)) = &self.report else {
            return None;
        };
        if self.ready() {
            return None;
        }
        let ticked = self.confirmed_count();
        Some(format!(
            "{ticked} of {} held row(s) ticked “Send anyway”: tick every one to send",
            r.held_total
        ))
    }

    /// How many held rows the operator confirmed.
    pub fn confirmed_count(&self) -> usize {
        match &self.report {
            Some(Ok(r)) => {
                let listed = r
                    .held
                    .iter()
                    .filter(|h| self.ticked.contains(&h.id))
                    .count();
                let unlisted = if self.unlisted_ticked {
                    r.held_total - r.held.len()
                } else {
                    0
                };
                listed + unlisted
            }
            _ => 0,
        }
    }

    pub fn any_held(&self) -> bool {
        matches!(&self.report, Some(Ok(r)) if r.held_total > 0)
    }

    /// The rows ticked, each bound to the matches this review showed: the domain checks
    /// again at the send and holds a row whose matches now include one not shown here.
    pub fn confirmation(&self) -> Confirmation {
        match &self.report {
            Some(Ok(r)) => {
                Confirmation::reviewed(r, |id| self.ticked.contains(id), self.unlisted_ticked)
            }
            _ => Confirmation::Nothing,
        }
    }
}

/// A bulk import: the file, its check, and its sending.
#[derive(Default)]
pub struct BulkImport {
    pub file_name: Option<String>,
    pub plan: Option<Result<BulkPlan, Vec<RowError>>>,
    /// Its likely duplicates and the held rows ticked to send anyway.
    pub held: HeldReview,
    /// The file being opened and checked: `None` in the reply when the dialog was cancelled.
    pub import: Option<Reply<Option<Planned>>>,
    /// Rows sent of the file's rows.
    pub progress: Option<(usize, usize)>,
    progress_rx: Option<mpsc::Receiver<(usize, usize)>>,
    /// The file being sent; its reply is how it ended.
    sending: Option<Reply<BulkEnd>>,
    pub summary: Option<String>,
}

/// How sending a file ended.
#[derive(Debug)]
pub enum BulkEnd {
    /// What was sent, or why nothing was.
    Summary(String),
    /// Held at the send by likely duplicates the review did not show (or not ticked): what
    /// the send found, to review again.
    Held(Box<DuplicateReport>),
}

/// A file opened and checked: its name and its plan, or what is wrong with its rows.
pub type Planned = (String, Result<BulkPlan, Vec<RowError>>);

impl BulkImport {
    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    /// Waits for the file's sending and its progress.
    pub fn begin_sending(&mut self, rx: Reply<BulkEnd>, progress: mpsc::Receiver<(usize, usize)>) {
        self.sending = Some(rx);
        self.progress_rx = Some(progress);
    }

    /// Takes in the sending's progress, then its summary when it has ended. Held again at
    /// the send, the review becomes what the send found: the new matches are listed, and a
    /// row stays ticked only while its matches are those it was ticked against.
    pub fn poll_sending(&mut self) -> Option<String> {
        if let Some(rx) = &mut self.progress_rx {
            while let Ok(p) = rx.try_recv() {
                self.progress = Some(p);
            }
        }
        let summary = self.sending.as_mut().and_then(take_reply)?;
        self.sending = None;
        self.progress_rx = None;
        Some(match summary {
            Ok(BulkEnd::Summary(s)) | Err(s) => s,
            Ok(BulkEnd::Held(report)) => {
                let said = report.refusal();
                let confirmed: HashSet<&str> = report
                    .held
                    .iter()
                    .filter(|h| h.confirmed)
                    .map(|h| h.id.as_str())
                    .collect();
                self.held
                    .ticked
                    .retain(|id| confirmed.contains(id.as_str()));
                self.held.search = None;
                self.held.report = Some(Ok(*report));
                said
            }
        })
    }
}

/// The journal as a list, with its reconciliation state.
#[derive(Default)]
pub struct PayoutsSent {
    pub entries: Vec<Entry>,
    pub state_filter: Option<State>,
    /// The gateway-status filter: the domain's outcome of each payout.
    pub outcome_filter: OutcomeFilter,
    pub text: String,
    pub message: Option<String>,
    /// The check with the gateway under way.
    pub check: Option<Reply<ReconcileReport>>,
    /// What the last check with the gateway did.
    pub last_report: Option<ReconcileReport>,
    /// When that check ended: the background check and "Check with the gateway now" both
    /// report here, so the time says which one the line is.
    pub last_checked_ms: Option<i64>,
    /// The gateway origin of the active profile: rows sent through another are marked.
    pub origin: Option<String>,
    /// The payout whose details are open, by merchant order ID.
    pub details: Option<String>,
    /// Its attempts and audit entries: `None` while they are read.
    pub details_history: Option<Result<PayoutHistory, String>>,
    /// The read of those under way.
    pub details_reading: Option<Reply<PayoutHistory>>,
}
