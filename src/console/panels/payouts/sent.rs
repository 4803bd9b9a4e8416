//! Drawing the list of payouts sent: each row's outcome in one word and colour from the
//! domain, a gateway-status filter, and a details view of one payout.

use super::super::widgets::{ERROR, WARN, field_label};
use super::view::outcome_detail;
use super::{PayoutsSent, SentAction};
use crate::console::context::ConsoleContext;
use eframe::egui;
use egui::{Color32, RichText};
use paydesk::domain::journal::team::Approval;
use paydesk::domain::journal::{
    Attempt, AuditRecord, Entry, Journal, Outcome, OutcomeFilter, SEND, State, UNVERIFIED_MEANING,
    same_origin,
};
use paydesk::domain::text::shown;

impl PayoutsSent {
    /// A check writes what it learns to the journal: off while the journal cannot be
    /// trusted (`cx.journal_damage`), as the send buttons are.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<SentAction> {
        let tz = &cx.tz.zone();
        let damaged = cx.journal_damage.as_deref();
        let mut actions = Vec::new();
        // Wraps on a narrow window, so the check button is never cut off.
        ui.horizontal_wrapped(|ui| {
            let id = field_label(ui, "State");
            egui::ComboBox::from_id_salt("sent_state")
                .selected_text(self.state_filter.map_or("All", State::as_str))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.state_filter, None, "All");
                    for s in State::ALL {
                        ui.selectable_value(&mut self.state_filter, Some(s), s.as_str());
                    }
                })
                .response
                .labelled_by(id);
            let id = field_label(ui, "Gateway status");
            egui::ComboBox::from_id_salt("sent_outcome")
                .selected_text(self.outcome_filter.label())
                .show_ui(ui, |ui| {
                    for f in OutcomeFilter::ALL {
                        ui.selectable_value(&mut self.outcome_filter, f, f.label());
                    }
                })
                .response
                .labelled_by(id);
            let id = field_label(ui, "Find");
            ui.add(
                egui::TextEdit::singleline(&mut self.text)
                    .hint_text("order ID, name or payout ID")
                    .desired_width(220.0),
            )
            .labelled_by(id);
            if ui
                .add_enabled(
                    !self.is_checking() && damaged.is_none(),
                    egui::Button::new("Check with the gateway now"),
                )
                .on_disabled_hover_text(damaged.unwrap_or("A check is running"))
                .clicked()
            {
                actions.push(SentAction::CheckNow);
            }
            if self.is_checking() {
                ui.spinner();
            }
        })
        .response
        .on_hover_text(
            "Checks every payout whose outcome is unknown or whose status is not final, at once",
        );
        // Every message kept here is a problem (a failed check, a damaged journal, a
        // bookkeeping error beside an outcome): shown as one, not in the weak body colour.
        if let Some(m) = &self.message {
            ui.colored_label(ERROR, m);
        }
        let unknown = self
            .entries
            .iter()
            .filter(|e| e.outcome() == Outcome::Unknown)
            .count();
        if unknown > 0 {
            ui.colored_label(WARN, format!("{unknown} payout(s) with an unknown outcome are being checked with the gateway; none is shown as failed or sent again under another ID"));
        }
        let unverified = self.entries.iter().filter(|e| e.unverified()).count();
        if unverified > 0 {
            ui.colored_label(
                UNVERIFIED_RED,
                format!("{unverified} payout(s): {UNVERIFIED_MEANING}. Nothing was settled from those replies; they are checked again"),
            );
        }
        if let Some(r) = &self.last_report {
            let at = self
                .last_checked_ms
                .map(|ms| paydesk::domain::dates::format_ms(ms, tz))
                .map(|t| format!(" at {}, {}", t.get(11..19).unwrap_or(&t), cx.tz.label()))
                .unwrap_or_default();
            last_check_ui(ui, r, &at);
        }
        let needle = self.text.trim().to_lowercase();
        let shown_rows: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| self.state_filter.is_none_or(|s| s == e.state))
            .filter(|e| self.outcome_filter.matches(e.outcome()))
            .filter(|e| {
                needle.is_empty()
                    || e.payout_cl_id.to_lowercase().contains(&needle)
                    || e.recipient_name.to_lowercase().contains(&needle)
                    || e.payout_id
                        .as_deref()
                        .is_some_and(|p| p.to_lowercase().contains(&needle))
            })
            .collect();
        if self.entries.is_empty() {
            ui.label(RichText::new("No payouts sent from this profile yet").weak());
            return actions;
        }
        ui.label(format!(
            "{} of {} payouts (double-click a row or press Enter on its ID for details)",
            shown_rows.len(),
            self.entries.len()
        ));
        if shown_rows.is_empty() {
            ui.label(RichText::new("No payout matches these filters").weak());
        }
        let origin = self.origin.as_deref();
        egui::ScrollArea::both().id_salt("sent_list").show(ui, |ui| {
            // Cells keep their whole text (an outcome, a payout ID): a narrow window scrolls
            // sideways rather than cutting them off.
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            egui::Grid::new("sent_grid").striped(true).num_columns(9).show(ui, |ui| {
                // The column names its zone, as the order tables do.
                let created = format!("Created ({})", paydesk::domain::dates::zone_short(tz, jiff::Timestamp::now()));
                for h in [created.as_str(), "Merchant order ID", "Amount", "Recipient", "Account", "Outcome", "Payout ID", "Gateway status", ""] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for e in shown_rows {
                    ui.label(paydesk::domain::dates::format_secs(e.created_at, tz));
                    let id = ui.selectable_label(false, RichText::new(&e.payout_cl_id).monospace());
                    if id.double_clicked() || (id.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))) {
                        actions.push(SentAction::Details(e.payout_cl_id.clone()));
                    }
                    // Money lines up on the right, where its digits compare.
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.label(RichText::new(e.amount.yuan_grouped()).monospace());
                    });
                    let (name, flagged) = shown(&e.recipient_name);
                    let name = ui.label(name.as_ref());
                    if flagged {
                        name.on_hover_text("contains hidden or right-to-left characters, shown escaped");
                    }
                    ui.label(&e.account_masked);
                    outcome_label(ui, e);
                    ui.label(e.payout_id.as_deref().unwrap_or(""));
                    let status = e.gateway_status_label.as_deref().unwrap_or("");
                    if origin.is_some_and(|o| !same_origin(e.origin.as_deref(), o)) {
                        ui.label(RichText::new(format!("{status} (other address)")).weak())
                            .on_hover_text(format!(
                                "Sent through another gateway address ({}): not checked from this profile",
                                e.origin.as_deref().unwrap_or("")
                            ));
                    } else {
                        ui.label(status);
                    }
                    if matches!(e.state, State::NotCreated | State::Rejected)
                        && ui.small_button("Send again").on_hover_text("Same merchant order ID: the gateway refuses a second payout").clicked()
                    {
                        actions.push(SentAction::Retry(e.payout_cl_id.clone()));
                    } else {
                        ui.label("");
                    }
                    ui.end_row();
                }
            });
        });
        self.details_ui(ui, tz);
        actions
    }

    /// One payout opened: what the journal holds of its sending and its audit entries.
    fn details_ui(&mut self, ui: &mut egui::Ui, tz: &jiff::tz::TimeZone) {
        let Some(cl_id) = self.details.clone() else {
            return;
        };
        let Some(e) = self.entries.iter().find(|e| e.payout_cl_id == cl_id) else {
            self.details = None;
            return;
        };
        let zone = paydesk::domain::dates::zone_short(tz, jiff::Timestamp::now());
        let time = |secs: Option<i64>| {
            secs.map_or_else(String::new, |s| {
                format!("{} ({zone})", paydesk::domain::dates::format_secs(s, tz))
            })
        };
        // A blank "Next check" read as a check that was forgotten.
        let next_check = match (e.next_check_at, e.final_at) {
            (None, Some(_)) => "none: the outcome is final".to_owned(),
            (at, _) => time(at),
        };
        let mut open = true;
        egui::Window::new(format!("Payout {cl_id}"))
            .id(egui::Id::unique("sent_details"))
            .open(&mut open)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                egui::Grid::new("sent_details_grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let rows = [
                            (
                                "Outcome",
                                format!(
                                    "{} ({}{})",
                                    outcome_word(e),
                                    e.describe(),
                                    outcome_detail(e)
                                ),
                            ),
                            ("Amount", format!("{} = {} fen", e.amount, e.amount.fen())),
                            ("Bank", e.bank_name.clone()),
                            ("Recipient", shown(&e.recipient_name).0.into_owned()),
                            ("Account", e.account_masked.clone()),
                            ("Payout ID", e.payout_id.clone().unwrap_or_default()),
                            (
                                "Gateway status",
                                e.gateway_status_label.clone().unwrap_or_default(),
                            ),
                            ("Created", time(Some(e.created_at))),
                            ("Attempts", e.attempts.to_string()),
                            ("Last sent", time(e.last_sent_at)),
                            (
                                "Body hash (SHA-256)",
                                e.body_sha256.clone().unwrap_or_default(),
                            ),
                            ("Checks with the gateway", e.checks.to_string()),
                            ("Next check", next_check),
                            ("Final since", time(e.final_at)),
                            ("Gateway address", e.origin.clone().unwrap_or_default()),
                        ];
                        for (k, v) in rows {
                            ui.label(k);
                            ui.label(RichText::new(v).monospace());
                            ui.end_row();
                        }
                    });
                ui.separator();
                ui.label(RichText::new("Attempts and checks").strong());
                match &self.details_history {
                    None => {
                        ui.spinner();
                    }
                    Some(Err(err)) => {
                        ui.colored_label(
                            ERROR,
                            format!("The attempts and audit log could not be read: {err}"),
                        );
                    }
                    Some(Ok(history)) => attempts_ui(ui, &history.attempts, tz),
                }
                ui.separator();
                ui.label(RichText::new("Audit log").strong());
                match self
                    .details_history
                    .as_ref()
                    .map(|h| h.as_ref().map(|h| &h.audit))
                {
                    None => {
                        ui.spinner();
                    }
                    Some(Err(_)) => {}
                    Some(Ok(records)) if records.is_empty() => {
                        ui.label(RichText::new("No audit entry names this payout").weak());
                    }
                    Some(Ok(records)) => {
                        egui::ScrollArea::vertical()
                            .max_height(240.0)
                            .show(ui, |ui| {
                                for r in records {
                                    ui.label(format!(
                                        "{}  {}  {}: {}",
                                        paydesk::domain::dates::format_secs(r.at, tz),
                                        r.actor,
                                        r.action,
                                        shown(&r.detail).0
                                    ));
                                }
                            });
                    }
                }
            });
        if !open {
            self.details = None;
            self.details_history = None;
        }
    }
}

/// What the journal holds of one payout besides its row: every send and check, and the audit
/// entries naming it.
#[derive(Clone, Debug, Default)]
pub struct PayoutHistory {
    pub attempts: Vec<Attempt>,
    pub audit: Vec<AuditRecord>,
}

/// Reads a payout's history (its attempts only when its merchant is known).
pub fn read_history(
    journal: &Journal,
    merchant: Option<&str>,
    cl_id: &str,
) -> Result<PayoutHistory, String> {
    let attempts = match merchant {
        Some(m) => journal.attempts(m, cl_id).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let audit = journal
        .audit_naming(cl_id, 200)
        .map_err(|e| e.to_string())?;
    Ok(PayoutHistory { attempts, audit })
}

/// Every send and check of a payout, oldest first: time (console zone), body hash (short,
/// in full on hover, copied on click), HTTP status, gateway code and its meaning, outcome.
fn attempts_ui(ui: &mut egui::Ui, attempts: &[Attempt], tz: &jiff::tz::TimeZone) {
    if attempts.is_empty() {
        ui.label(RichText::new("No attempt recorded for this payout").weak());
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("sent_details_attempts")
        .max_height(220.0)
        .show(ui, |ui| {
            egui::Grid::new("sent_details_attempts_grid")
                .striped(true)
                .num_columns(7)
                .show(ui, |ui| {
                    for head in ["#", "What", "Time", "Body hash", "HTTP", "Code", "Outcome"] {
                        ui.label(RichText::new(head).strong());
                    }
                    ui.end_row();
                    for a in attempts {
                        attempt_row(ui, a, tz);
                    }
                });
        });
}

fn attempt_row(ui: &mut egui::Ui, a: &Attempt, tz: &jiff::tz::TimeZone) {
    ui.label(a.number.to_string());
    let what = if a.kind == SEND { "send" } else { "check" };
    if a.reconstructed {
        ui.label(format!("{what} (rebuilt)")).on_hover_text(
            "Rebuilt from the payout as it stood when Paydesk began keeping every attempt: \
             earlier attempts are not known",
        );
    } else {
        ui.label(what);
    }
    ui.label(paydesk::domain::dates::format_secs(a.started_at, tz));
    match &a.body_sha256 {
        Some(hash) => {
            let short: String = hash.chars().take(12).collect();
            let r = ui
                .add(
                    egui::Label::new(RichText::new(format!("{short}…")).monospace())
                        .sense(egui::Sense::click()),
                )
                .on_hover_text(format!("{hash}\nClick to copy"));
            if r.clicked() {
                ui.ctx().copy_text(hash.clone());
                crate::console::feedback::success(ui.ctx(), "Copied the body hash");
            }
        }
        None => {
            ui.label("");
        }
    }
    ui.label(a.http_status.map(|s| s.to_string()).unwrap_or_default());
    let code = match (&a.gateway_code, &a.code_meaning) {
        (Some(c), Some(m)) => format!("{c} {}", shown(m).0),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => shown(m).0.into_owned(),
        (None, None) => String::new(),
    };
    ui.label(code);
    let outcome = a
        .outcome
        .clone()
        .unwrap_or_else(|| "no reply recorded".to_owned());
    let r = ui.label(outcome);
    if let Some(summary) = &a.summary {
        let when = a.finished_at.map_or_else(String::new, |f| {
            format!(" (at {})", paydesk::domain::dates::format_secs(f, tz))
        });
        r.on_hover_text(format!("{}{when}", shown(summary).0));
    }
    ui.end_row();
}

/// A row's outcome: one word and one colour, both from the domain's reading of the journal
/// state and the gateway status together.
fn outcome_label(ui: &mut egui::Ui, e: &Entry) {
    let outcome = e.outcome();
    let hover = format!("{}{}", e.describe(), outcome_detail(e));
    if e.held_for_approval() {
        ui.label(RichText::new(outcome_word(e)).color(WARN).strong())
            .on_hover_text(hover);
    } else if e.unverified() {
        ui.label(
            RichText::new(format!("{} · unverified", outcome.label()))
                .color(UNVERIFIED_RED)
                .strong(),
        )
        .on_hover_text(format!("{hover}: {UNVERIFIED_MEANING}"));
    } else {
        ui.label(
            RichText::new(outcome.label())
                .color(outcome_color(outcome))
                .strong(),
        )
        .on_hover_text(hover);
    }
}

/// A row's outcome in a word or two: a payout a second operator holds back says so.
fn outcome_word(e: &Entry) -> &'static str {
    match e.team.as_ref().map(|t| t.approval) {
        Some(Approval::Pending) if e.held_for_approval() => "awaiting approval",
        Some(Approval::Rejected) if e.held_for_approval() => "rejected by approver",
        _ => e.outcome().label(),
    }
}

/// The red of a payout the gateway answered about only with a badly signed reply.
const UNVERIFIED_RED: Color32 = Color32::from_rgb(200, 30, 30);

/// The colour of an outcome, for every list of sent work.
pub fn outcome_color(outcome: Outcome) -> Color32 {
    match outcome {
        Outcome::Paid => Color32::from_rgb(46, 140, 80),
        Outcome::Failed | Outcome::Refused => Color32::from_rgb(190, 50, 50),
        Outcome::Partial => Color32::from_rgb(200, 90, 30),
        Outcome::Unknown | Outcome::InProgress => Color32::from_rgb(200, 140, 20),
        Outcome::NotSent => Color32::from_rgb(90, 90, 140),
    }
}

/// The last check with the gateway in words: "0 checked" alone reads as if nothing
/// happened, and its failures and unsigned replies were not shown at all.
fn last_check_ui(ui: &mut egui::Ui, r: &paydesk::domain::payouts::ReconcileReport, at: &str) {
    if r.checked == 0 && r.errors.is_empty() {
        ui.label(format!(
            "Last check{at}: nothing was waiting on the gateway (no payout sent is unknown or \
             unfinished)"
        ));
    } else {
        ui.label(format!(
            "Last check{at}: {} checked, {} found, {} not created, {} status changes, {} still unknown",
            r.checked, r.found, r.not_created, r.status_updates, r.still_unknown
        ));
    }
    if r.unverified > 0 {
        ui.colored_label(
            UNVERIFIED_RED,
            format!(
                "{} reply(ies) in that check: {UNVERIFIED_MEANING}",
                r.unverified
            ),
        );
    }
    // A few name the problem; a burst of the same failure would push the list off screen.
    for e in r.errors.iter().take(5) {
        ui.colored_label(ERROR, format!("Not checked: {e}"));
    }
    if r.errors.len() > 5 {
        ui.colored_label(
            ERROR,
            format!("and {} more not checked", r.errors.len() - 5),
        );
    }
}
