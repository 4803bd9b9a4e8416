//! Drawing the new batch form, its review, and the batches sent from this machine.

use super::super::payouts::HeldReview;
use super::super::widgets::{ERROR, WARN, field_label, journal_state_color};
use super::{NewBatchAction, NewBatchForm};
use crate::console::context::ConsoleContext;
use eframe::egui;
use egui::RichText;
use paydesk::domain::batches::{BatchEntry, currency_totals, describe_totals, new_batch_id};
use paydesk::domain::dates::{format_secs, zone_short};
use paydesk::domain::journal::State;

impl NewBatchForm {
    /// `blocked` says why nothing can be sent right now (no credentials, journal opening);
    /// rows can still be typed, imported and checked.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<NewBatchAction> {
        let blocked = cx.gatepay_blocked.as_deref();
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            let label = field_label(ui, "Batch ID");
            ui.add(egui::TextEdit::singleline(&mut self.batch_id).desired_width(240.0))
                .labelled_by(label);
            if ui.button("New ID").clicked() {
                self.batch_id = new_batch_id();
            }
            ui.separator();
            if ui
                .add_enabled(!self.is_sending(), egui::Button::new("Import sub-orders from a file…"))
                .on_disabled_hover_text("A batch is being sent")
                .on_hover_text("CSV or XLSX (or drop the file on this window): merchant_withdraw_id, currency, amount, chain, address, memo, fee_type")
                .clicked()
            {
                actions.push(NewBatchAction::OpenFile);
            }
            if let Some(n) = &self.file_name {
                ui.label(format!("from {n}"));
            }
        });
        if !self.file_errors.is_empty() {
            ui.colored_label(
                ERROR,
                format!(
                    "{} problem(s) in the file; nothing was taken from it:",
                    self.file_errors.len()
                ),
            );
            egui::ScrollArea::vertical()
                .id_salt("batch_file_errors")
                .max_height(120.0)
                .show(ui, |ui| {
                    for e in &self.file_errors {
                        ui.colored_label(ERROR, e.to_string());
                    }
                });
        }
        // A grid cell offers a field only its column's width of the last frame, so a desired
        // width alone left every field as narrow as its header ("Address": four characters
        // of a 34-character address). A minimum size is kept whatever the column had.
        let mut remove = None;
        egui::ScrollArea::vertical()
            .id_salt("batch_rows")
            .max_height(280.0)
            .show_rows(ui, 24.0, self.items.len() + 1, |ui, range| {
                egui::Grid::new("batch_items")
                    .num_columns(9)
                    .show(ui, |ui| {
                        for h in [
                            "#",
                            "Merchant withdraw ID",
                            "Currency",
                            "Amount",
                            "Chain",
                            "Address",
                            "Memo",
                            "Fee from balance",
                            "",
                        ] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for i in range.start..range.end.min(self.items.len()) {
                            let f = &mut self.items[i];
                            let n = i + 1;
                            // Named for screen readers and tests: no label sits beside them.
                            let name = |column: &str| format!("{column}, row {n}");
                            ui.label(n.to_string());
                            ui.add(
                                egui::TextEdit::singleline(&mut f.merchant_withdraw_id)
                                    .min_size(egui::vec2(150.0, 0.0)),
                            )
                            .accessible_name(name("Merchant withdraw ID"));
                            ui.add(
                                egui::TextEdit::singleline(&mut f.currency)
                                    .min_size(egui::vec2(50.0, 0.0)),
                            )
                            .accessible_name(name("Currency"));
                            ui.add(
                                egui::TextEdit::singleline(&mut f.amount)
                                    .min_size(egui::vec2(90.0, 0.0))
                                    .hint_text("0.00"),
                            )
                            .accessible_name(name("Amount"));
                            ui.add(
                                egui::TextEdit::singleline(&mut f.chain)
                                    .min_size(egui::vec2(50.0, 0.0)),
                            )
                            .accessible_name(name("Chain"));
                            let address = ui
                                .add(
                                    egui::TextEdit::singleline(&mut f.address)
                                        .min_size(egui::vec2(ADDRESS_WIDTH, 0.0))
                                        .font(egui::TextStyle::Monospace),
                                )
                                .accessible_name(name("Address"));
                            // The whole address on hover, whatever the column shows.
                            if !f.address.is_empty() {
                                address.on_hover_text(
                                    paydesk::domain::text::shown(&f.address).0.into_owned(),
                                );
                            }
                            ui.add(
                                egui::TextEdit::singleline(&mut f.memo)
                                    .min_size(egui::vec2(80.0, 0.0)),
                            )
                            .accessible_name(name("Memo"));
                            let mut from_balance = f.fee_from_balance();
                            if ui
                                .checkbox(&mut from_balance, "")
                                .accessible_name(name("Fee from balance"))
                                .changed()
                            {
                                if from_balance { "1" } else { "0" }.clone_into(&mut f.fee_type);
                            }
                            if ui.small_button("Remove").clicked() {
                                remove = Some(i);
                            }
                            ui.end_row();
                        }
                    });
            });
        if let Some(i) = remove {
            self.items.remove(i);
        }
        if ui.button("Add sub-order").clicked() {
            let n = self.items.len() + 1;
            self.items.push(super::blank_item(n));
        }
        let checked = self.check();
        // A fresh form is not wrong yet: red "required" lines before anything was typed read
        // as a mistake the operator made.
        let untouched = self
            .items
            .iter()
            .all(|r| r.amount.trim().is_empty() && r.address.trim().is_empty());
        match &checked {
            Err(_) if untouched => {
                ui.label(
                    RichText::new("Type each sub-order's amount and address, or import a file")
                        .weak(),
                );
            }
            Ok(r) => {
                ui.label(format!(
                    "{} sub-order(s): {}",
                    r.withdraw_list.len(),
                    describe_totals(&currency_totals(&r.withdraw_list))
                ));
            }
            Err(problems) => {
                for p in problems.iter().take(8) {
                    ui.colored_label(ERROR, p);
                }
                if problems.len() > 8 {
                    ui.colored_label(ERROR, format!("… and {} more", problems.len() - 8));
                }
            }
        }
        // Why sending is off shows beside the button, so the form above never moves when
        // it changes (the journal opening as the operator clicks).
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    blocked.is_none() && checked.is_ok() && !self.is_sending(),
                    egui::Button::new("Review batch…"),
                )
                .on_disabled_hover_text(match (&blocked, &checked) {
                    (Some(why), _) => why.to_string(),
                    (None, Err(_)) if untouched => {
                        "Type each sub-order's amount and address first".to_owned()
                    }
                    (None, Err(_)) => "Fix the problems listed above first".to_owned(),
                    (None, Ok(_)) => "A batch is being sent".to_owned(),
                })
                .clicked()
                && let Ok(request) = checked
            {
                actions.push(NewBatchAction::CheckDuplicates(Box::new(request.clone())));
                self.review = Some((request, HeldReview::default()));
            }
            if let Some(why) = blocked {
                super::super::payouts::blocked_label(ui, why);
            }
        });
        if self.is_sending() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Sending the batch…");
            });
        }
        match &self.result {
            Some(Ok(e)) => {
                let color = journal_state_color(e.state);
                // It quotes what GatePay said: escaped, as all received text is.
                ui.colored_label(color, paydesk::domain::text::shown(&e.describe()).0);
                if ui.button("Open in batch detail").clicked() {
                    actions.push(NewBatchAction::Show(e.batch_id.clone()));
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ERROR, e);
            }
            None => {}
        }
        if let Some(m) = &self.message {
            ui.colored_label(WARN, m);
        }
        self.review_ui(ui, &mut actions);
        actions
    }

    fn review_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<NewBatchAction>) {
        let Some((request, held)) = &mut self.review else {
            return;
        };
        let mut close = false;
        let mut send = false;
        let id = egui::Id::unique("batch_review");
        // Wide enough for whole addresses (the default area clipped their ends); a narrow
        // window still holds it, since the area is kept inside the window.
        let area = egui::Modal::default_area(id).default_width(REVIEW_WIDTH);
        egui::Modal::new(id).area(area).show(ui.ctx(), |ui| {
            ui.heading(if held.held_for_approval() {
                "Record this batch for approval?"
            } else {
                "Send this batch?"
            });
            ui.label(format!("Batch ID {}", request.batch_id));
            ui.label(format!("{} sub-order(s)", request.withdraw_list.len()));
            egui::Grid::new("review_totals")
                .striped(true)
                .show(ui, |ui| {
                    ui.label(RichText::new("Currency").strong());
                    ui.label(RichText::new("Sub-orders").strong());
                    ui.label(RichText::new("Total").strong());
                    ui.end_row();
                    for (c, n, a) in currency_totals(&request.withdraw_list) {
                        ui.label(c);
                        ui.label(n.to_string());
                        ui.label(RichText::new(a.to_string()).monospace().strong());
                        ui.end_row();
                    }
                });
            // Every row with its address: the review is where a wrong address is caught.
            egui::ScrollArea::both()
                .id_salt("review_rows")
                .max_height(260.0)
                .show(ui, |ui| {
                    egui::Grid::new("review_rows_grid")
                        .striped(true)
                        .num_columns(6)
                        .show(ui, |ui| {
                            for h in ["#", "Merchant withdraw ID", "Amount", "Currency", "Chain", "Address"] {
                                ui.label(RichText::new(h).strong());
                            }
                            ui.end_row();
                            for (i, w) in request.withdraw_list.iter().enumerate() {
                                let text = paydesk::domain::text::shown;
                                ui.label((i + 1).to_string());
                                ui.label(text(&w.merchant_withdraw_id).0.as_ref());
                                ui.with_layout(
                                    egui::Layout::right_to_left(egui::Align::Center),
                                    |ui| {
                                        ui.label(RichText::new(w.amount.to_string()).monospace());
                                    },
                                );
                                ui.label(text(&w.currency).0.as_ref());
                                ui.label(text(&w.chain).0.as_ref());
                                let (address, flagged) = text(&w.address);
                                let label = ui.label(RichText::new(address.as_ref()).monospace());
                                if flagged {
                                    label.on_hover_text(
                                        "contains hidden or right-to-left characters, shown escaped",
                                    );
                                }
                                ui.end_row();
                            }
                        });
                });
            if !held.held_for_approval() {
                ui.label(
                    "The batch is recorded in the journal before it is sent; if the answer is lost, \
                     Paydesk asks GatePay for the batch instead of sending it again.",
                );
            }
            held.ui(ui, "batch_held", super::super::payouts::Matching::SubOrders);
            ui.horizontal(|ui| {
                if held.send_button(ui, "Send batch") {
                    send = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if send {
            if let Some((r, held)) = self.review.take() {
                self.result = None;
                actions.push(NewBatchAction::Submit(Box::new(r), held.confirmation()));
            }
        } else if close {
            self.review = None;
        }
    }
}

/// The batch review's width when the window has room: a row of the longest addresses.
const REVIEW_WIDTH: f32 = 960.0;

/// The batches sent from this machine, with "Send again" for those GatePay never created.
pub fn sent_batches_ui(
    ui: &mut egui::Ui,
    sent: &[BatchEntry],
    cx: &ConsoleContext,
) -> Vec<NewBatchAction> {
    let tz = &cx.tz.zone();
    let mut actions = Vec::new();
    // On a team journal the list is the team's: every operator's batches of this client.
    if cx.team_role.is_some() {
        ui.heading("Batches of this GatePay client in the team journal");
    } else {
        ui.heading("Batches sent from this computer");
    }
    if sent.is_empty() {
        ui.label(RichText::new("No batches recorded for this profile yet").weak());
        return actions;
    }
    egui::ScrollArea::both()
        .id_salt("sent_batches")
        .max_height(220.0)
        .show(ui, |ui| {
            // Whole cells, and the Open buttons reachable: a narrow window scrolls sideways.
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            egui::Grid::new("sent_batches_grid")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    let created = format!("Created ({})", zone_short(tz, jiff::Timestamp::now()));
                    for h in [
                        "Batch ID",
                        created.as_str(),
                        "Sub-orders",
                        "Where it stands",
                        "",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for e in sent {
                        ui.label(RichText::new(&e.batch_id).monospace());
                        ui.label(format_secs(e.created_at, tz));
                        ui.label(format!("{} · {}", e.sub_orders, e.totals));
                        // The colour and first word from the domain's outcome: an accepted
                        // batch GatePay failed is never green.
                        let outcome = e.outcome();
                        let who = e
                            .team
                            .as_ref()
                            .map(|t| format!(" · recorded by {}", t.created_by))
                            .unwrap_or_default();
                        ui.colored_label(
                            super::super::payouts::outcome_color(outcome),
                            format!(
                                "{}: {}{who}",
                                outcome.label(),
                                paydesk::domain::text::shown(&e.describe()).0
                            ),
                        );
                        ui.horizontal(|ui| {
                            if ui.small_button("Open").clicked() {
                                actions.push(NewBatchAction::Show(e.batch_id.clone()));
                            }
                            if e.state == State::NotCreated
                                && ui.small_button("Send again").clicked()
                            {
                                actions.push(NewBatchAction::Retry(e.batch_id.clone()));
                            }
                        });
                        ui.end_row();
                    }
                });
        });
    actions
}

/// Room for a whole 42-character (EVM) address in monospace, so the operator can read the
/// address they are about to pay.
const ADDRESS_WIDTH: f32 = 340.0;

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;

    #[test]
    fn what_gatepay_said_about_a_sent_batch_is_shown_escaped() {
        let entry = BatchEntry {
            merchant: "c1".into(),
            batch_id: "b1".into(),
            body_sha256: String::new(),
            sub_orders: 1,
            totals: String::new(),
            state: State::Unknown,
            batch_status: None,
            reject_code: None,
            reject_meaning: None,
            reject_message: None,
            unknown_why: Some("GatePay answered HTTP 502: \u{202e}gnp.exe".into()),
            is_final: false,
            attempts: 1,
            checks: 0,
            next_check_at: None,
            last_sent_at: None,
            created_at: 0,
            updated_at: 0,
            origin: None,
            team: None,
            body: String::new(),
        };
        let form = NewBatchForm {
            result: Some(Ok(entry)),
            ..NewBatchForm::default()
        };
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 700.0))
            .build_ui_state(
                |ui, f: &mut NewBatchForm| {
                    let _ = f.ui(ui, &ConsoleContext::default());
                },
                form,
            );
        h.step();
        assert!(h.query_by_label_contains("\\u{202e}gnp.exe").is_some());
        assert!(h.query_by_label_contains("\u{202e}").is_none());
    }

    /// Each sub-order row's fields and its tick box are found by name: "Amount, row 1".
    /// The harness's accessibility check runs once the form has settled.
    #[test]
    fn a_new_batch_rows_fields_are_found_by_their_names() {
        let mut h = Harness::builder()
            .with_size(egui::vec2(1200.0, 700.0))
            .build_ui_state(
                |ui, f: &mut NewBatchForm| {
                    let _ = f.ui(ui, &ConsoleContext::default());
                },
                NewBatchForm::default(),
            );
        h.run();
        h.get_by_label("Amount, row 1").focus();
        h.run();
        h.get_by_label("Amount, row 1").type_text("12.5");
        h.run();
        h.get_by_label("Address, row 1").focus();
        h.run();
        h.get_by_label("Address, row 1").type_text("TXYZ");
        h.run();
        h.get_by_label("Fee from balance, row 1").click();
        h.run();
        for column in ["Merchant withdraw ID", "Currency", "Chain", "Memo"] {
            assert!(
                h.query_by_label(&format!("{column}, row 1")).is_some(),
                "{column}"
            );
        }
        let row = &h.state().items[0];
        assert_eq!(
            (
                row.amount.as_str(),
                row.address.as_str(),
                row.fee_type.as_str()
            ),
            ("12.5", "TXYZ", "1")
        );
    }
}
