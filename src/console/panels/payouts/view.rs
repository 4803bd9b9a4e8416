//! Drawing the payout form, the held-duplicates review, the bulk import and the list of
//! payouts sent.

use super::super::widgets::{ERROR, WARN, field_label, journal_state_color};
use super::{BulkAction, BulkImport, HeldReview, Matching, PayoutAction, PayoutForm};
use crate::console::context::ConsoleContext;
use eframe::egui;
use egui::RichText;
use paydesk::domain::banks::{Bank, search_banks};
use paydesk::domain::journal::{Entry, State, mask_account};
use paydesk::domain::text::shown;
use paydesk::money::{Fen, Zero};

impl PayoutForm {
    /// `blocked` says why nothing can be sent right now (no key, journal still opening).
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<PayoutAction> {
        let (banks, blocked) = (cx.banks.as_slice(), cx.cny_blocked.as_deref());
        let mut actions = Vec::new();
        let (request, problems) = self.check();
        // A field's problem shows once something was typed there (the ID always).
        let (amount_typed, name_typed, number_typed) = (
            !self.amount.trim().is_empty(),
            !self.name.trim().is_empty(),
            !self.number.trim().is_empty(),
        );
        egui::Grid::new("payout_form")
            .num_columns(3)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                let row = |ui: &mut egui::Ui,
                           label: &str,
                           value: &mut String,
                           problem: Option<&String>,
                           show: bool| {
                    let id = field_label(ui, label);
                    ui.add(egui::TextEdit::singleline(value).desired_width(320.0))
                        .labelled_by(id);
                    match problem.filter(|_| show) {
                        Some(p) => ui.colored_label(ERROR, p),
                        None => ui.label(""),
                    };
                    ui.end_row();
                };
                row(
                    ui,
                    "Merchant order ID",
                    &mut self.cl_id,
                    problems.cl_id.as_ref(),
                    true,
                );
                row(
                    ui,
                    "Amount (yuan)",
                    &mut self.amount,
                    problems.amount.as_ref(),
                    amount_typed,
                );
                ui.label("");
                match Fen::parse_yuan(&self.amount, Zero::Refused) {
                    Ok(a) => ui.label(
                        RichText::new(format!("{a} = {} fen = {}", a.fen(), a.capital_numerals()))
                            .strong(),
                    ),
                    Err(_) => ui.label(
                        RichText::new("the amount in fen and in capital numerals shows here")
                            .weak(),
                    ),
                };
                ui.label("");
                ui.end_row();
                let id = field_label(ui, "Bank");
                let selected = self
                    .bank
                    .as_ref()
                    .map_or_else(|| "Choose a bank".to_owned(), bank_label);
                let search_id = ui.make_persistent_id("payout_bank_search");
                // A click inside the list must not close it, or the search field could never
                // be clicked into; choosing a bank closes it instead.
                let picker = egui::ComboBox::from_id_salt("payout_bank")
                    .width(320.0)
                    .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside)
                    .selected_text(selected)
                    .show_ui(ui, |ui| {
                        // The list keeps its full height: sized to a narrowed search, it would
                        // show one bank once the search is cleared.
                        ui.set_min_height(ui.spacing().combo_height);
                        let sid = field_label(ui, "Search banks");
                        let search = ui
                            .add(
                                egui::TextEdit::singleline(&mut self.bank_search)
                                    .id(search_id)
                                    .hint_text("ID, code, name, 中文名 or another name"),
                            )
                            .labelled_by(sid);
                        if search.changed() {
                            self.bank_scroll = true;
                        }
                        let found = search_banks(banks, &self.bank_search);
                        if found.is_empty() {
                            ui.label(RichText::new("No bank has that name").weak());
                        }
                        // Enter on a search that found one bank picks it, as a click would.
                        let enter =
                            search.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        if let [only] = found.as_slice()
                            && enter
                        {
                            self.bank = Some((*only).clone());
                            ui.close();
                        }
                        // The chosen bank if the search shows it, else the first match.
                        let target = found
                            .iter()
                            .position(|b| self.bank.as_ref() == Some(*b))
                            .unwrap_or(0);
                        for (i, b) in found.into_iter().enumerate() {
                            let item =
                                ui.selectable_label(self.bank.as_ref() == Some(b), bank_label(b));
                            if i == target && std::mem::take(&mut self.bank_scroll) {
                                item.scroll_to_me(Some(egui::Align::Center));
                            }
                            if item.clicked() {
                                self.bank = Some(b.clone());
                                ui.close();
                            }
                        }
                    });
                // Typing right after opening the list searches it.
                if picker.response.clicked() {
                    ui.memory_mut(|m| m.request_focus(search_id));
                    self.bank_touched = true;
                    self.bank_scroll = true;
                }
                picker.response.labelled_by(id);
                match problems.bank.as_ref().filter(|_| self.bank_touched) {
                    Some(p) => ui.colored_label(ERROR, p),
                    None => ui.label(""),
                };
                ui.end_row();
                row(
                    ui,
                    "Recipient name",
                    &mut self.name,
                    problems.name.as_ref(),
                    name_typed,
                );
                row(
                    ui,
                    "Account number",
                    &mut self.number,
                    problems.number.as_ref(),
                    number_typed,
                );
                row(ui, "Branch (optional)", &mut self.branch, None, false);
                row(ui, "Province (optional)", &mut self.province, None, false);
                row(ui, "City (optional)", &mut self.city, None, false);
                row(
                    ui,
                    "Notify URL (optional)",
                    &mut self.notify_url,
                    problems.notify_url.as_ref(),
                    true,
                );
            });
        ui.horizontal(|ui| {
            let ready = request.is_some() && blocked.is_none() && !self.is_sending();
            let why_off = blocked.map_or_else(
                || {
                    if self.is_sending() {
                        "A payout is being sent".to_owned()
                    } else {
                        "Fill in every field without a problem beside it, and choose a bank"
                            .to_owned()
                    }
                },
                str::to_owned,
            );
            if ui
                .add_enabled(ready, egui::Button::new("Review payout…"))
                .on_disabled_hover_text(why_off)
                .clicked()
                && let Some(r) = request.clone()
            {
                actions.push(PayoutAction::CheckDuplicates(Box::new(r.clone())));
                self.review = Some((r, HeldReview::default()));
            }
            if ui.button("Clear").clicked() {
                self.reset();
            }
            if let Some(why) = blocked {
                blocked_label(ui, why);
            }
            if self.is_sending() {
                ui.spinner();
                ui.label("Sending…");
            }
        });
        match &self.result {
            Some(Ok(e)) => {
                let color = journal_state_color(e.state);
                ui.colored_label(
                    color,
                    format!("{}: {}{}", e.payout_cl_id, e.describe(), outcome_detail(e)),
                );
            }
            Some(Err(err)) => {
                ui.colored_label(ERROR, err);
            }
            None => {}
        }
        self.review_ui(ui, &mut actions);
        actions
    }

    fn review_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<PayoutAction>) {
        let Some((request, held)) = &mut self.review else {
            return;
        };
        // The code and ID too: a brand that names the bank by code or ID is sent one of them.
        let bank = self
            .bank
            .as_ref()
            .filter(|b| b.bank_name == request.bank_name)
            .map_or_else(|| request.bank_name.clone(), bank_label);
        let mut close = false;
        let mut send = false;
        let modal = egui::Modal::new(egui::Id::unique("payout_review")).show(ui.ctx(), |ui| {
            ui.heading(if held.held_for_approval() {
                "Record this payout for approval?"
            } else {
                "Send this payout?"
            });
            egui::Grid::new("review_grid")
                .num_columns(2)
                .show(ui, |ui| {
                    for (k, v) in [
                        ("Merchant order ID", request.payout_cl_id.clone()),
                        (
                            "Amount",
                            format!("{} = {} fen", request.amount, request.amount.fen()),
                        ),
                        ("In words", request.amount.capital_numerals()),
                        ("Bank", bank),
                        ("Recipient", request.name.clone()),
                        ("Account", mask_account(&request.number)),
                    ] {
                        ui.label(k);
                        ui.label(RichText::new(v).strong());
                        ui.end_row();
                    }
                    // Every optional field typed is sent, so it is reviewed too; and where
                    // the gateway will report the outcome.
                    for (k, v) in [
                        ("Branch", &request.bank_branch),
                        ("Province", &request.province),
                        ("City", &request.city),
                        ("Notify URL", &request.notify_url),
                    ] {
                        if let Some(v) = v {
                            ui.label(k);
                            ui.label(RichText::new(v).strong());
                            ui.end_row();
                        }
                    }
                });
            held.ui(ui, "payout_held", Matching::Payouts);
            ui.horizontal(|ui| {
                if held.send_button(ui, "Send payout") {
                    send = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        // Escape or a click outside cancels too.
        close |= modal.should_close();
        if send {
            if let Some((r, held)) = self.review.take() {
                self.result = None;
                actions.push(PayoutAction::Submit(Box::new(r), held.confirmation()));
            }
        } else if close {
            self.review = None;
        }
    }
}

impl HeldReview {
    /// The review's send button: `label` when nothing is held; when a likely duplicate is
    /// held, another button ("… despite likely duplicate"), on only once every held row was
    /// ticked, so a duplicate is never sent by the click that sends a normal payout. `true`
    /// when clicked.
    pub fn send_button(&self, ui: &mut egui::Ui, label: &str) -> bool {
        let why_off = match &self.report {
            None => Some("Waiting for the search for likely duplicates".to_owned()),
            Some(Err(_)) => {
                Some("Likely duplicates cannot be checked, so nothing can be sent".to_owned())
            }
            Some(Ok(_)) => self.waiting_for(),
        };
        // What a rule holds for a second operator is recorded, not sent: the button says so.
        let label = if self.held_for_approval() {
            "Record for approval"
        } else {
            label
        };
        let text = if self.any_held() {
            format!("{label} despite likely duplicate")
        } else {
            label.to_owned()
        };
        let why_off = why_off.or_else(|| {
            self.approval_check
                .is_some()
                .then(|| "Reading the team's approval rule".to_owned())
        });
        let ready = self.ready() && self.approval_check.is_none();
        ui.add_enabled(ready, egui::Button::new(text))
            .on_disabled_hover_text(why_off.unwrap_or_default())
            .clicked()
    }

    /// The matches, each held row with its own "Send anyway: ID" tick box; `matching` says
    /// which rule found them, for the line shown when nothing is held.
    pub fn ui(&mut self, ui: &mut egui::Ui, salt: &str, matching: Matching) {
        match &self.approval {
            Some(Ok(rule)) => {
                ui.colored_label(
                    WARN,
                    format!(
                        "Needs approval: {rule}. It is recorded, not sent: another operator \
                         approves it in Awaiting approval (then it is sent)"
                    ),
                );
            }
            Some(Err(e)) => {
                ui.colored_label(
                    WARN,
                    format!(
                        "The team's approval rule could not be read ({e}): the team journal \
                         decides when it is recorded"
                    ),
                );
            }
            None => {}
        }
        let report = match &self.report {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Looking for likely duplicates…");
                });
                return;
            }
            Some(Err(e)) => {
                ui.colored_label(
                    ERROR,
                    format!("Likely duplicates cannot be checked, so nothing can be sent: {e}"),
                );
                return;
            }
            Some(Ok(r)) => r,
        };
        if report.held_total == 0 {
            ui.label(matching.nothing_held(report.window_days));
            return;
        }
        ui.colored_label(
            WARN,
            format!(
                "{} likely duplicate(s) held back: each is sent only if you tick “Send anyway”; \
                 until every one is ticked, nothing is sent",
                report.held_total
            ),
        );
        egui::ScrollArea::vertical()
            .id_salt(salt)
            .max_height(240.0)
            .show(ui, |ui| {
                for h in &report.held {
                    let mut on = self.ticked.contains(&h.id);
                    ui.horizontal(|ui| {
                        if ui
                            .checkbox(&mut on, format!("Send anyway: {}", h.id))
                            .on_hover_text("I have checked this is not a duplicate")
                            .changed()
                        {
                            if on {
                                self.ticked.insert(h.id.clone());
                            } else {
                                self.ticked.remove(&h.id);
                            }
                        }
                        let row = h.row.map(|r| format!("row {r}, ")).unwrap_or_default();
                        ui.label(RichText::new(format!("{row}{}", h.what)).strong());
                    });
                    for e in &h.earlier {
                        ui.colored_label(WARN, format!("    likely duplicate of {}", e.describe()));
                    }
                    if h.more_earlier > 0 {
                        ui.colored_label(WARN, format!("    and {} more", h.more_earlier));
                    }
                }
            });
        let unlisted = report.held_total - report.held.len();
        if unlisted > 0 {
            ui.checkbox(
                &mut self.unlisted_ticked,
                format!("Send anyway: the {unlisted} held row(s) not listed"),
            );
        }
    }
}

impl BulkImport {
    /// `blocked` says why nothing can be sent right now (no key, a damaged journal).
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<BulkAction> {
        let blocked = cx.cny_blocked.as_deref();
        let can_send = blocked.is_none();
        let mut actions = Vec::new();
        let sending = self.is_sending();
        ui.horizontal(|ui| {
            // Checking a file needs the journal (rows already in it are resumed, not sent
            // again): without one, the click used to do nothing at all.
            if ui
                .add_enabled(
                    !sending && can_send,
                    egui::Button::new("Import payouts from a file…"),
                )
                .on_disabled_hover_text(blocked.unwrap_or("A file is being sent"))
                .clicked()
            {
                actions.push(BulkAction::OpenFile);
            }
            ui.label(RichText::new("CSV or XLSX (or drop the file on this window): merchant order ID (optional), amount, bank, name, number, branch, province, city").weak());
        });
        if self.plan.is_none()
            && let Some(why) = blocked
        {
            blocked_label(ui, why);
        }
        if let Some(name) = &self.file_name {
            ui.label(format!("File {name}"));
        }
        match &self.plan {
            Some(Err(errors)) => {
                ui.colored_label(
                    ERROR,
                    format!(
                        "{} problem(s); nothing will be sent until the file is fixed",
                        errors.len()
                    ),
                );
                egui::ScrollArea::vertical()
                    .id_salt("bulk_errors")
                    .max_height(160.0)
                    .show(ui, |ui| {
                        for e in errors {
                            ui.label(RichText::new(e.to_string()).color(ERROR));
                        }
                    });
            }
            Some(Ok(plan)) => {
                ui.label(
                    RichText::new(format!(
                        "{} payouts, total {} ({})",
                        plan.len(),
                        plan.total,
                        plan.total.capital_numerals()
                    ))
                    .strong(),
                );
                // Once sending began, "held back … nothing is sent" no longer holds: say what
                // became of the held rows instead of leaving the warning up.
                if sending || self.progress.is_some() {
                    if self.held.any_held() {
                        ui.label(format!(
                            "{} likely duplicate(s) confirmed “Send anyway”",
                            self.held.confirmed_count()
                        ));
                    }
                } else {
                    self.held.ui(ui, "bulk_held", Matching::Payouts);
                }
                ui.horizontal(|ui| {
                    // A held row sends only through a button of its own, after its tick.
                    let label = if self.held.any_held() {
                        format!("Send {} payouts despite likely duplicate", plan.len())
                    } else {
                        format!("Send {} payouts", plan.len())
                    };
                    if ui
                        .add_enabled(
                            can_send && !sending && self.held.ready(),
                            egui::Button::new(label),
                        )
                        .on_disabled_hover_text(if sending {
                            "The file is being sent".to_owned()
                        } else if let Some(why) = blocked {
                            why.to_owned()
                        } else {
                            self.held.waiting_for().map_or_else(
                                || "Waiting for the search for likely duplicates".to_owned(),
                                |why| format!("{why}, or fix the file"),
                            )
                        })
                        .clicked()
                    {
                        self.summary = None;
                        actions.push(BulkAction::Send(
                            Box::new(plan.clone()),
                            self.held.confirmation(),
                        ));
                    }
                    if sending && ui.button("Stop after this payout").clicked() {
                        actions.push(BulkAction::Stop);
                    }
                    // Why the button is off, beside it: a greyed button alone leaves the
                    // operator guessing.
                    if !sending {
                        if let Some(why) = blocked {
                            blocked_label(ui, why);
                        } else if let Some(why) = self.held.waiting_for() {
                            let why = format!("{why}, or fix the file");
                            ui.add(egui::Label::new(RichText::new(why).color(WARN)).wrap());
                        }
                    }
                });
            }
            None => {}
        }
        if let Some((done, total)) = self.progress {
            let fraction = if total == 0 {
                1.0
            } else {
                done as f32 / total as f32
            };
            ui.add(egui::ProgressBar::new(fraction).text(format!("{done} of {total} sent")));
        }
        if let Some(s) = &self.summary {
            ui.label(s);
        }
        actions
    }
}

pub(super) fn outcome_detail(e: &Entry) -> String {
    match e.state {
        State::Accepted => format!(" (payout ID {})", e.payout_id.as_deref().unwrap_or("")),
        State::Rejected => format!(
            " ({} {}{})",
            e.reject_code.as_deref().unwrap_or(""),
            e.reject_meaning.as_deref().unwrap_or(""),
            e.reject_message
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(|m| format!(": {}", shown(m).0))
                .unwrap_or_default()
        ),
        // Both quote what the gateway sent: escaped, as all received text is.
        State::Unknown => format!(" ({})", shown(e.unknown_why.as_deref().unwrap_or("")).0),
        _ => String::new(),
    }
}

/// Why sending is off, beside the send button: wrapped in the room left of the row, since
/// the way out (a damaged journal's restore command) comes at the end of a long message.
pub fn blocked_label(ui: &mut egui::Ui, why: &str) {
    ui.add(egui::Label::new(RichText::new(why).color(WARN)).wrap());
}

/// A bank as the picker shows it: Chinese name, code, English name, and the gateway's ID
/// where it has one.
fn bank_label(b: &Bank) -> String {
    let mut label = format!("{} · {} · {}", b.bank_name, b.code, b.display_name);
    if !b.id.is_empty() {
        label.push_str(" · ");
        label.push_str(&b.id);
    }
    label
}
