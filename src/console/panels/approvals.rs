//! "Awaiting approval": the payouts (a CNY profile) or GatePay batches (a GatePay profile) of
//! a team journal that wait for a second operator, with who recorded them, the team's likely
//! duplicates, and Approve (confirmed, then sent at once) or Reject with a reason. The
//! database decides who may approve; this panel asks and shows.

use std::collections::HashMap;
use std::fmt::Write as _;

use eframe::egui;
use egui::RichText;
use paydesk::domain::batches::{BatchEntry, PendingBatch, SentBatch};
use paydesk::domain::dates::zone_short;
use paydesk::domain::journal::Entry;
use paydesk::domain::journal::team::PendingApproval;
use paydesk::domain::payouts::Sent;
use paydesk::domain::text::shown;

use super::approvals_batches::pending_batch_ui;

use super::widgets::{ERROR, WARN, field_label};
use crate::console::context::{ConsoleContext, Reply, Requested, take_reply};

/// What an operator reads beside a payout they recorded themselves.
pub const OWN_HINT: &str = "recorded by you: another operator approves it";

/// What the panel asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum ApprovalAction {
    /// Read the payouts awaiting approval again.
    Refresh,
    /// Approve (then send) a payout, with the reason if one was written.
    Approve {
        cl_id: String,
        reason: Option<String>,
    },
    /// Reject a payout; the reason is required.
    Reject { cl_id: String, reason: String },
    /// Approve (then send) a GatePay batch.
    ApproveBatch {
        batch_id: String,
        reason: Option<String>,
    },
    /// Reject a GatePay batch; the reason is required.
    RejectBatch { batch_id: String, reason: String },
}

/// What a decision did.
#[derive(Debug)]
pub enum Decided {
    Approved(Box<Sent>),
    Rejected(Box<Entry>),
    BatchApproved(Box<SentBatch>),
    BatchRejected(Box<BatchEntry>),
}

impl Decided {
    /// What it did, in words (the ID first).
    pub fn describe(&self) -> String {
        match self {
            Decided::Approved(sent) => match &sent.bookkeeping_error {
                Some(e) => format!(
                    "{}: approved; {}. Bookkeeping error (the outcome stands): {e}",
                    sent.payout_cl_id,
                    sent.entry.describe()
                ),
                None => format!("{}: approved; {}", sent.payout_cl_id, sent.entry.describe()),
            },
            Decided::Rejected(entry) => format!("{}: {}", entry.payout_cl_id, entry.describe()),
            Decided::BatchApproved(sent) => {
                let mut s = format!("{}: approved; {}", sent.batch_id, sent.describe());
                if let Some(e) = &sent.bookkeeping_error {
                    let _ = write!(s, ". Bookkeeping error (the outcome stands): {e}");
                }
                if let Some(e) = &sent.lookup_error {
                    let _ = write!(s, ". The lookup failed (checked again later): {e}");
                }
                s
            }
            Decided::BatchRejected(entry) => format!("{}: {}", entry.batch_id, entry.describe()),
        }
    }

    /// Whether it ended as the operator meant (sent and accepted, or rejected).
    pub fn went_well(&self) -> bool {
        use paydesk::domain::journal::State;
        match self {
            Decided::Approved(sent) => {
                sent.entry.state == State::Accepted && sent.bookkeeping_error.is_none()
            }
            Decided::BatchApproved(sent) => {
                sent.entry.state == State::Accepted && sent.bookkeeping_error.is_none()
            }
            Decided::Rejected(_) | Decided::BatchRejected(_) => true,
        }
    }
}

#[derive(Default)]
pub struct ApprovalsPanel {
    pub list: Requested<Vec<PendingApproval>>,
    /// The GatePay batches awaiting approval (a GatePay profile).
    pub batches: Requested<Vec<PendingBatch>>,
    /// The reason typed for each payout or batch, by its ID.
    pub reasons: HashMap<String, String>,
    /// The approval asked for and not yet confirmed: the ID.
    pub confirming: Option<String>,
    /// The decision under way: the payout or batch and its reply.
    pub deciding: Option<(String, Reply<Decided>)>,
    /// What the last decision did (or why the database refused it), in words.
    pub result: Option<Result<String, String>>,
}

/// What a row's decision needs from the panel.
pub(super) struct Decision<'a> {
    /// The operator's role: their own payouts and batches are not theirs to decide.
    pub role: &'a str,
    pub busy: bool,
    pub reason: &'a mut String,
    pub confirming: &'a mut Option<String>,
}

impl ApprovalsPanel {
    pub fn is_deciding(&self) -> bool {
        self.deciding.is_some()
    }

    /// Takes in the list and a decision's outcome; `Some` when a decision ended (then the
    /// list and Payouts sent are read again).
    pub fn poll(&mut self) -> Option<Result<Decided, String>> {
        self.list.poll();
        self.batches.poll();
        let (_, rx) = self.deciding.as_mut()?;
        let outcome = take_reply(rx)?;
        let (id, _) = self.deciding.take()?;
        self.result = Some(match &outcome {
            Ok(decided) => {
                self.reasons.remove(&id);
                Ok(decided.describe())
            }
            Err(e) => Err(format!("{id}: {e}")),
        });
        Some(outcome)
    }

    /// Forgets what belonged to another profile's journal.
    pub fn clear(&mut self) {
        *self = ApprovalsPanel::default();
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<ApprovalAction> {
        let mut actions = Vec::new();
        ui.heading("Awaiting approval");
        if let Some(journal) = &cx.journal_in_use {
            ui.label(RichText::new(journal).weak());
        }
        let Some(role) = cx.team_role.as_deref() else {
            // A team journal that did not open says why; a desktop one cannot approve.
            match (&cx.journal_in_use, &cx.journal_damage) {
                (Some(j), Some(why)) if j.starts_with("Team journal") => {
                    ui.colored_label(ERROR, why);
                }
                _ => {
                    ui.label(paydesk::domain::payouts::NO_TEAM);
                }
            }
            return actions;
        };
        let reading = self.list.is_pending() || self.batches.is_pending();
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(!reading, egui::Button::new("Refresh"))
                .clicked()
            {
                actions.push(ApprovalAction::Refresh);
            }
            if reading || self.is_deciding() {
                ui.spinner();
            }
            if let Some(live) = &cx.team_live {
                ui.label(RichText::new(live).weak());
            }
        });
        for (what, err) in [
            ("payouts", self.list.error()),
            ("GatePay batches", self.batches.error()),
        ] {
            if let Some(err) = err {
                ui.colored_label(
                    ERROR,
                    format!("The {what} awaiting approval could not be read: {err}"),
                );
            }
        }
        match &self.result {
            Some(Ok(text)) => {
                ui.label(text);
            }
            Some(Err(text)) => {
                ui.colored_label(ERROR, text);
            }
            None => {}
        }
        let tz = cx.tz.zone();
        let zone = zone_short(&tz, jiff::Timestamp::now());
        let busy = self.is_deciding();
        let (payouts, batches) = (self.list.shown(), self.batches.shown());
        let summary = |n: usize, one: &str, none: &str| match n {
            0 => none.to_owned(),
            n => format!("{n} {one} awaiting approval"),
        };
        // A profile is one gateway's: the list of its kind is read (both in the sandbox).
        if let Some(pending) = payouts {
            ui.label(summary(
                pending.len(),
                "payout(s)",
                "No payout is awaiting approval",
            ));
        }
        if let Some(pending) = batches {
            ui.label(summary(
                pending.len(),
                "GatePay batch(es)",
                "No GatePay batch is awaiting approval",
            ));
        }
        egui::ScrollArea::vertical()
            .id_salt("approvals_list")
            .show(ui, |ui| {
                for p in payouts.into_iter().flatten() {
                    let decision = Decision {
                        role,
                        busy,
                        reason: self
                            .reasons
                            .entry(p.payout.payout_cl_id.clone())
                            .or_default(),
                        confirming: &mut self.confirming,
                    };
                    pending_ui(ui, p, cx, &tz, &zone, decision, &mut actions);
                    ui.separator();
                }
                for p in batches.into_iter().flatten() {
                    let decision = Decision {
                        role,
                        busy,
                        reason: self.reasons.entry(p.batch.batch_id.clone()).or_default(),
                        confirming: &mut self.confirming,
                    };
                    pending_batch_ui(ui, p, cx, &tz, &zone, decision, &mut actions);
                    ui.separator();
                }
            });
        actions
    }
}

/// One payout awaiting approval: what it is, who recorded it, what looks like it, and the
/// decision.
fn pending_ui(
    ui: &mut egui::Ui,
    p: &PendingApproval,
    cx: &ConsoleContext,
    tz: &jiff::tz::TimeZone,
    zone: &str,
    decision: Decision<'_>,
    actions: &mut Vec<ApprovalAction>,
) {
    let e = &p.payout;
    let cl_id = &e.payout_cl_id;
    let recorded_by = e.team.as_ref().map_or("", |t| t.created_by.as_str());
    egui::Grid::new(("approval", cl_id))
        .num_columns(2)
        .show(ui, |ui| {
            let rows = [
                ("Merchant order ID", cl_id.clone()),
                ("Amount", format!("{} = {} fen", e.amount, e.amount.fen())),
                ("Bank", e.bank_name.clone()),
                ("Recipient", shown(&e.recipient_name).0.into_owned()),
                ("Account", e.account_masked.clone()),
                (
                    "Recorded",
                    format!(
                        "by {recorded_by} at {} {zone}",
                        paydesk::domain::dates::format_secs(e.created_at, tz)
                    ),
                ),
            ];
            for (label, value) in rows {
                ui.label(RichText::new(label).strong());
                ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
                ui.end_row();
            }
            // Carried over from a desktop journal after a send: where it stands.
            if e.state != paydesk::domain::journal::State::Queued {
                ui.label(RichText::new("Now").strong());
                ui.add(egui::Label::new(RichText::new(e.describe()).monospace()).wrap());
                ui.end_row();
            }
        });
    if p.likely_duplicates.is_empty() {
        ui.label(RichText::new("No likely duplicate in the team journal").weak());
    } else {
        ui.colored_label(
            WARN,
            format!(
                "{} likely duplicate(s) in the team journal (same account, same amount)",
                p.likely_duplicates.len()
            ),
        );
        for d in &p.likely_duplicates {
            let by = d.team.as_ref().map_or("", |t| t.created_by.as_str());
            ui.add(
                egui::Label::new(
                    RichText::new(format!(
                        "    likely duplicate {} · {} · recorded by {by} at {} {zone} · {}",
                        d.payout_cl_id,
                        d.amount,
                        paydesk::domain::dates::format_secs(d.created_at, tz),
                        d.describe()
                    ))
                    .color(WARN),
                )
                .wrap(),
            );
        }
    }
    decision_ui(
        ui,
        cl_id,
        recorded_by,
        cx.cny_blocked.as_deref(),
        decision,
        actions,
        |cl_id, reason| ApprovalAction::Approve { cl_id, reason },
        |cl_id, reason| ApprovalAction::Reject { cl_id, reason },
    );
}

/// The reason, Approve and Reject of one payout or batch. Approve asks once more ("Approve
/// and send"): an approval sends at once. Wraps on a narrow window.
#[allow(clippy::too_many_arguments)]
pub(super) fn decision_ui(
    ui: &mut egui::Ui,
    id: &str,
    recorded_by: &str,
    blocked: Option<&str>,
    d: Decision<'_>,
    actions: &mut Vec<ApprovalAction>,
    approve: impl FnOnce(String, Option<String>) -> ApprovalAction,
    reject: impl FnOnce(String, String) -> ApprovalAction,
) {
    let own = recorded_by == d.role;
    let why_off = if own {
        Some(OWN_HINT)
    } else if d.busy {
        Some("A decision is being made")
    } else {
        blocked
    };
    let reason = d.reason;
    ui.horizontal_wrapped(|ui| {
        let label = field_label(ui, &format!("Reason for {id}"));
        ui.add(
            egui::TextEdit::singleline(reason)
                .hint_text("reason: kept with the decision, required to reject")
                .desired_width(300.0),
        )
        .labelled_by(label);
        let asked = d.confirming.as_deref() == Some(id);
        let approve_button = ui
            .add_enabled(
                why_off.is_none() && !asked,
                egui::Button::new(format!("Approve {id}")),
            )
            .on_hover_text("Asks once more, then approves it and sends it at once")
            .on_disabled_hover_text(why_off.unwrap_or("Confirm below"));
        if approve_button.clicked() {
            *d.confirming = Some(id.to_owned());
        }
        let no_reason = reason.trim().is_empty();
        let reject_button = ui
            .add_enabled(
                why_off.is_none() && !no_reason,
                egui::Button::new(format!("Reject {id}")),
            )
            .on_hover_text("It is never sent")
            .on_disabled_hover_text(why_off.unwrap_or("Write the reason first"));
        if reject_button.clicked() {
            *d.confirming = None;
            actions.push(reject(id.to_owned(), reason.trim().to_owned()));
        }
        if let Some(why) = why_off {
            ui.add(egui::Label::new(RichText::new(why).weak()).wrap());
        }
    });
    if d.confirming.as_deref() == Some(id) {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(
                WARN,
                format!("Approve {id}? Paydesk sends it to the gateway at once."),
            );
            let send = ui.add_enabled(
                why_off.is_none(),
                egui::Button::new(format!("Approve and send {id}")),
            );
            if send.clicked() {
                *d.confirming = None;
                let reason = reason.trim();
                actions.push(approve(
                    id.to_owned(),
                    (!reason.is_empty()).then(|| reason.to_owned()),
                ));
            }
            if ui.button(format!("Cancel approving {id}")).clicked() {
                *d.confirming = None;
            }
        });
    }
}
