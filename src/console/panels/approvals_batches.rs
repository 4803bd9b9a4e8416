//! The GatePay half of "Awaiting approval": a batch another operator recorded that the team's
//! batch rule holds back, with its totals, who recorded it, the sub-orders that look like
//! earlier ones in the team journal, and the same decision as a payout's.

use eframe::egui;
use egui::RichText;
use paydesk::domain::batches::{PendingBatch, SUB_ORDERS_LISTED};
use paydesk::domain::dates::format_secs;

use super::approvals::{ApprovalAction, Decision, decision_ui};
use super::widgets::{ERROR, WARN};
use crate::console::context::ConsoleContext;

/// Likely-duplicate sub-orders listed per batch before the rest are only counted.
const SHOWN: usize = 10;

/// One batch awaiting approval.
pub(super) fn pending_batch_ui(
    ui: &mut egui::Ui,
    p: &PendingBatch,
    cx: &ConsoleContext,
    tz: &jiff::tz::TimeZone,
    zone: &str,
    decision: Decision<'_>,
    actions: &mut Vec<ApprovalAction>,
) {
    let b = &p.batch;
    let recorded_by = b.team.as_ref().map_or("", |t| t.created_by.as_str());
    egui::Grid::new(("batch approval", &b.batch_id))
        .num_columns(2)
        .show(ui, |ui| {
            let rows = [
                ("Batch ID", b.batch_id.clone()),
                ("Sub-orders", b.sub_orders.to_string()),
                ("Totals", b.totals.clone()),
                (
                    "Recorded",
                    format!(
                        "by {recorded_by} at {} {zone}",
                        format_secs(b.created_at, tz)
                    ),
                ),
            ];
            for (label, value) in rows {
                ui.label(RichText::new(label).strong());
                ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
                ui.end_row();
            }
            // Carried over from a desktop journal after a send: where it stands.
            if b.state != paydesk::domain::journal::State::Queued {
                ui.label(RichText::new("Now").strong());
                ui.add(egui::Label::new(RichText::new(b.describe()).monospace()).wrap());
                ui.end_row();
            }
        });
    sub_orders_ui(ui, p);
    match &p.duplicates {
        Err(why) => {
            ui.colored_label(
                ERROR,
                format!("Its likely duplicates could not be looked for: {why}"),
            );
        }
        Ok(report) if report.held_total == 0 => {
            ui.label(
                RichText::new(format!(
                    "No sub-order like one of an earlier batch in the team journal (last {} days)",
                    report.window_days
                ))
                .weak(),
            );
        }
        Ok(report) => {
            ui.colored_label(
                WARN,
                format!(
                    "{} sub-order(s) like one of an earlier batch in the team journal (last {} days)",
                    report.held_total, report.window_days
                ),
            );
            for h in report.held.iter().take(SHOWN) {
                let earlier: Vec<String> = h
                    .earlier
                    .iter()
                    .map(paydesk::domain::duplicates::Earlier::describe)
                    .collect();
                ui.add(
                    egui::Label::new(
                        RichText::new(format!(
                            "    {} ({}) looks like: {}",
                            h.id,
                            h.what,
                            earlier.join("; ")
                        ))
                        .color(WARN),
                    )
                    .wrap(),
                );
            }
            if report.held_total > SHOWN {
                ui.colored_label(WARN, format!("    and {} more", report.held_total - SHOWN));
            }
        }
    }
    decision_ui(
        ui,
        &b.batch_id,
        recorded_by,
        cx.gatepay_blocked.as_deref(),
        decision,
        actions,
        |id, reason| ApprovalAction::ApproveBatch {
            batch_id: id,
            reason,
        },
        |id, reason| ApprovalAction::RejectBatch {
            batch_id: id,
            reason,
        },
    );
}

/// What the batch pays, sub-order by sub-order: where each amount goes is what an approver
/// approves. Open by default; the first [`SUB_ORDERS_LISTED`] are listed, the rest counted.
fn sub_orders_ui(ui: &mut egui::Ui, p: &PendingBatch) {
    let b = &p.batch;
    if p.sub_orders.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("What {} pays, sub-order by sub-order", b.batch_id))
        .id_salt(("batch sub-orders", &b.batch_id))
        .default_open(true)
        .show(ui, |ui| {
            egui::ScrollArea::both()
                .id_salt(("batch sub-orders scroll", &b.batch_id))
                .max_height(220.0)
                .show(ui, |ui| {
                    // Whole addresses and memos: a narrow window scrolls sideways.
                    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                    egui::Grid::new(("batch sub-orders grid", &b.batch_id))
                        .num_columns(5)
                        .striped(true)
                        .show(ui, |ui| {
                            for h in ["Merchant withdraw ID", "Amount", "Chain", "Address", "Memo"]
                            {
                                ui.label(RichText::new(h).strong());
                            }
                            ui.end_row();
                            for item in &p.sub_orders {
                                ui.label(RichText::new(&item.merchant_withdraw_id).monospace());
                                ui.label(
                                    RichText::new(format!(
                                        "{} {}",
                                        item.amount,
                                        item.currency.trim().to_uppercase()
                                    ))
                                    .monospace(),
                                );
                                ui.label(RichText::new(&item.chain).monospace());
                                ui.label(RichText::new(&item.address).monospace());
                                ui.label(RichText::new(&item.memo).monospace());
                                ui.end_row();
                            }
                        });
                });
            let total = usize::try_from(b.sub_orders).unwrap_or(0);
            if total > p.sub_orders.len() {
                ui.label(
                    RichText::new(format!(
                        "and {} more (the first {SUB_ORDERS_LISTED} are listed; \
                         `paydesk gatepay pending --format json` lists every one)",
                        total - p.sub_orders.len()
                    ))
                    .weak(),
                );
            }
        });
}
