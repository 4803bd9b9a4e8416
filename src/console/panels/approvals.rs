//! "Awaiting approval": the payouts of a team journal that wait for a second operator, with
//! who recorded them, the team's likely duplicates, and Approve (which sends) or Reject with
//! a reason. The database decides who may approve; this panel asks and shows.

use std::collections::HashMap;

use eframe::egui;
use egui::RichText;
use paydesk::domain::journal::Entry;
use paydesk::domain::journal::team::PendingApproval;
use paydesk::domain::payouts::Sent;
use paydesk::domain::text::shown;

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
}

/// What a decision did.
#[derive(Debug)]
pub enum Decided {
    Approved(Box<Sent>),
    Rejected(Box<Entry>),
}

#[derive(Default)]
pub struct ApprovalsPanel {
    pub list: Requested<Vec<PendingApproval>>,
    /// The reason typed for each payout, by merchant order ID.
    pub reasons: HashMap<String, String>,
    /// The decision under way: the payout and its reply.
    pub deciding: Option<(String, Reply<Decided>)>,
    /// What the last decision did (or why the database refused it), in words.
    pub result: Option<Result<String, String>>,
}

impl ApprovalsPanel {
    pub fn is_deciding(&self) -> bool {
        self.deciding.is_some()
    }

    /// Takes in the list and a decision's outcome; `Some` when a decision ended (then the
    /// list and Payouts sent are read again).
    pub fn poll(&mut self) -> Option<Result<Decided, String>> {
        self.list.poll();
        let (_, rx) = self.deciding.as_mut()?;
        let outcome = take_reply(rx)?;
        let (cl_id, _) = self.deciding.take()?;
        self.result = Some(match &outcome {
            Ok(Decided::Approved(sent)) => {
                self.reasons.remove(&cl_id);
                Ok(match &sent.bookkeeping_error {
                    Some(e) => format!(
                        "{cl_id}: approved; {}. Bookkeeping error (the outcome stands): {e}",
                        sent.entry.describe()
                    ),
                    None => format!("{cl_id}: approved; {}", sent.entry.describe()),
                })
            }
            Ok(Decided::Rejected(entry)) => {
                self.reasons.remove(&cl_id);
                Ok(format!("{cl_id}: {}", entry.describe()))
            }
            Err(e) => Err(format!("{cl_id}: {e}")),
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
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.list.is_pending(), egui::Button::new("Refresh"))
                .clicked()
            {
                actions.push(ApprovalAction::Refresh);
            }
            if self.list.is_pending() || self.is_deciding() {
                ui.spinner();
            }
            if let Some(live) = &cx.team_live {
                ui.label(RichText::new(live).weak());
            }
        });
        if let Some(err) = self.list.error() {
            ui.colored_label(
                ERROR,
                format!("The payouts awaiting approval could not be read: {err}"),
            );
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
        let Some(pending) = self.list.shown() else {
            return actions;
        };
        if pending.is_empty() {
            ui.label(RichText::new("No payout is awaiting approval").weak());
            return actions;
        }
        ui.label(format!("{} payout(s) awaiting approval", pending.len()));
        let tz = cx.tz.zone();
        let busy = self.is_deciding();
        egui::ScrollArea::vertical()
            .id_salt("approvals_list")
            .show(ui, |ui| {
                for p in pending {
                    let reason = self
                        .reasons
                        .entry(p.payout.payout_cl_id.clone())
                        .or_default();
                    pending_ui(ui, p, role, cx, &tz, busy, reason, &mut actions);
                    ui.separator();
                }
            });
        actions
    }
}

/// One payout awaiting approval: what it is, who recorded it, what looks like it, and the
/// decision.
#[allow(clippy::too_many_arguments)]
fn pending_ui(
    ui: &mut egui::Ui,
    p: &PendingApproval,
    role: &str,
    cx: &ConsoleContext,
    tz: &jiff::tz::TimeZone,
    busy: bool,
    reason: &mut String,
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
                        "by {recorded_by} at {}",
                        paydesk::domain::dates::format_secs(e.created_at, tz)
                    ),
                ),
            ];
            for (label, value) in rows {
                ui.label(RichText::new(label).strong());
                ui.label(RichText::new(value).monospace());
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
            ui.colored_label(
                WARN,
                format!(
                    "    likely duplicate {} · {} · recorded by {by} at {} · {}",
                    d.payout_cl_id,
                    d.amount,
                    paydesk::domain::dates::format_secs(d.created_at, tz),
                    d.describe()
                ),
            );
        }
    }
    let own = recorded_by == role;
    ui.horizontal(|ui| {
        let id = field_label(ui, &format!("Reason for {cl_id}"));
        ui.add(
            egui::TextEdit::singleline(reason)
                .hint_text("required to reject")
                .desired_width(260.0),
        )
        .labelled_by(id);
        let blocked = cx.cny_blocked.as_deref();
        let why_off = if own {
            Some(OWN_HINT)
        } else if busy {
            Some("A decision is being made")
        } else {
            blocked
        };
        let approve = ui
            .add_enabled(
                why_off.is_none(),
                egui::Button::new(format!("Approve {cl_id}")),
            )
            .on_hover_text("Approves it, then sends it at once")
            .on_disabled_hover_text(why_off.unwrap_or(""));
        if approve.clicked() {
            let reason = reason.trim();
            actions.push(ApprovalAction::Approve {
                cl_id: cl_id.clone(),
                reason: (!reason.is_empty()).then(|| reason.to_owned()),
            });
        }
        let no_reason = reason.trim().is_empty();
        let reject = ui
            .add_enabled(
                why_off.is_none() && !no_reason,
                egui::Button::new(format!("Reject {cl_id}")),
            )
            .on_hover_text("It is never sent")
            .on_disabled_hover_text(why_off.unwrap_or("Write the reason first"));
        if reject.clicked() {
            actions.push(ApprovalAction::Reject {
                cl_id: cl_id.clone(),
                reason: reason.trim().to_owned(),
            });
        }
        if let Some(why) = why_off {
            ui.label(RichText::new(why).weak());
        }
    });
}
