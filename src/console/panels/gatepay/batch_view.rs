//! Drawing the batch panel: the batch picker, its totals and the sub-order table.

use super::super::widgets::{ERROR, WARN, chip, field_label};
use super::{BatchAction, BatchPanel};
use crate::console::context::ConsoleContext;
use eframe::egui;
use egui::{Align, Color32, Layout, RichText, Sense};
use egui_extras::{Column, TableBuilder};
use paydesk::domain::batches::StatusTotal;
use paydesk::domain::dates::format_ms;
use paydesk::gateway::gatepay::wire::DetailStatus;
use paydesk::money::CryptoAmount;

impl BatchPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<BatchAction> {
        let (tz, tz_name) = (&cx.tz.zone(), cx.tz.label());
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            let label = field_label(ui, "Batch ID");
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.batch_id).desired_width(220.0))
                .labelled_by(label);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                actions.push(BatchAction::Load);
            }
            let mut picked = None;
            egui::ComboBox::from_id_salt("recent_batches")
                .selected_text("Recent batches")
                .width(160.0)
                .show_ui(ui, |ui| {
                    for e in &self.sent {
                        let text = format!("{} · {}", e.batch_id, e.state_words());
                        if ui.selectable_label(false, text).clicked() {
                            picked = Some(e.batch_id.clone());
                        }
                    }
                    for b in &self.recent {
                        if self.sent.iter().any(|e| &e.batch_id == b) {
                            continue;
                        }
                        if ui.selectable_label(false, b).clicked() {
                            picked = Some(b.clone());
                        }
                    }
                    if self.sent.is_empty() && self.recent.is_empty() {
                        ui.label("No batches yet");
                    }
                });
            if let Some(b) = picked {
                self.batch_id = b;
                actions.push(BatchAction::Load);
            }
            if ui
                .add_enabled(
                    !self.batch_id.trim().is_empty(),
                    egui::Button::new("Refresh"),
                )
                .on_disabled_hover_text("Type a batch ID first")
                .clicked()
            {
                actions.push(BatchAction::Load);
            }
            if self.is_loading() {
                ui.spinner();
            }
            ui.separator();
            ui.checkbox(&mut self.auto_refresh, "Refresh every");
            ui.add(
                egui::DragValue::new(&mut self.refresh_secs)
                    .range(5..=600)
                    .suffix(" s"),
            );
            ui.label("while not final");
            ui.separator();
            let label = field_label(ui, "Stuck after");
            let r = ui
                .add(
                    egui::DragValue::new(&mut self.stuck_minutes)
                        .range(1..=10_080)
                        .suffix(" min"),
                )
                .labelled_by(label);
            if r.changed() {
                self.rebuild(tz);
            }
        });
        ui.horizontal(|ui| {
            ui.label("Sub-orders:");
            for status in DetailStatus::ALL_VALUES {
                let text = match status {
                    DetailStatus::All => "All",
                    DetailStatus::Init => "Init",
                    DetailStatus::Pending => "Pending",
                    DetailStatus::Processing => "Processing",
                    DetailStatus::Check => "Check",
                    DetailStatus::Fail => "Fail",
                    DetailStatus::Done => "Done",
                };
                if ui.selectable_label(self.filter == status, text).clicked()
                    && self.filter != status
                {
                    self.filter = status;
                    if !self.batch_id.trim().is_empty() {
                        actions.push(BatchAction::Load);
                    }
                }
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ERROR, e);
        }
        if let Some(w) = &self.clock_warning {
            ui.colored_label(WARN, format!("Clock: {w}"));
        }
        let Some(detail) = &self.detail else {
            ui.add_space(8.0);
            ui.label(
                "Type a batch ID (or pick a recent one) and press Enter. On the sandbox, try M57143269144.",
            );
            return actions;
        };
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Batch {}", detail.batch_id)).strong());
            status_chip(ui, detail.status.as_str(), detail.status.meaning());
            ui.label(detail.status.meaning());
            ui.separator();
            ui.label(format!("merchant {}", detail.merchant_id));
            ui.label(format!("client {}", detail.client_id));
            if let Some(t) = detail.create_time_ms {
                ui.label(format!("created {} ({tz_name})", format_ms(t, tz)));
            }
            let channel = if detail.channel_id.is_empty() {
                "default"
            } else {
                &detail.channel_id
            };
            ui.label(format!("channel {channel}"));
            ui.separator();
            ui.label(format!(
                "{} sub-order(s) in {}",
                detail.withdraw_list.len(),
                self.filter.as_str()
            ));
            if ui.button("Export…").on_hover_text("Ctrl+E").clicked() {
                actions.push(BatchAction::Export);
            }
        });
        status_totals_ui(ui, "batch_totals", &self.totals);
        self.charts_ui(ui, &mut actions);
        let stuck = self.stuck_count();
        if stuck > 0 {
            ui.horizontal(|ui| {
                ui.colored_label(
                    WARN,
                    format!(
                        "{stuck} sub-order(s) stuck: in CHECK or PROCESSING for more than {} min",
                        self.stuck_minutes
                    ),
                );
                ui.checkbox(&mut self.only_stuck, "Only stuck");
            });
        } else {
            self.only_stuck = false;
        }
        if let Some(c) = &self.copied {
            ui.label(RichText::new(format!("Copied {c}")).weak());
        }
        self.table_ui(ui);
        actions
    }

    fn table_ui(&mut self, ui: &mut egui::Ui) {
        let view: Vec<usize> = (0..self.rows.len())
            .filter(|i| !self.only_stuck || self.rows[*i].stuck.is_some())
            .filter(|i| self.charted.keeps(&self.rows[*i]))
            .collect();
        let columns: [(&str, f32); 14] = [
            ("Merchant withdraw ID", 130.0),
            ("Sub-order ID", 130.0),
            ("Currency", 60.0),
            ("Chain", 50.0),
            ("Address", 220.0),
            ("Amount", 90.0),
            ("Fee", 60.0),
            ("Done amount", 90.0),
            ("Status", 110.0),
            ("Tx ID", 140.0),
            ("Error", 160.0),
            ("Created", 126.0),
            ("Updated", 126.0),
            ("Finished", 126.0),
        ];
        let mut copy = None;
        ui.style_mut().interaction.selectable_labels = false;
        egui::ScrollArea::horizontal()
            .id_salt("batch_hscroll")
            .show(ui, |ui| {
                let mut table = TableBuilder::new(ui)
                    .id_salt("batch_table")
                    .striped(true)
                    .resizable(true)
                    .sense(Sense::click())
                    .cell_layout(Layout::left_to_right(Align::Center))
                    .min_scrolled_height(0.0);
                for (_, width) in columns {
                    table = table.column(Column::initial(width).at_least(40.0).clip(true));
                }
                table
                    .header(22.0, |mut header| {
                        for (label, _) in columns {
                            header.col(|ui| {
                                ui.label(RichText::new(label).strong());
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(20.0, view.len(), |mut row| {
                            let r = &self.rows[view[row.index()]];
                            let s = &r.sub;
                            row.col(|ui| {
                                ui.label(RichText::new(&s.merchant_withdraw_id).monospace());
                            });
                            row.col(|ui| {
                                ui.label(RichText::new(&s.suborder_id).monospace());
                            });
                            row.col(|ui| {
                                ui.label(&s.currency);
                            });
                            row.col(|ui| {
                                ui.label(&s.chain);
                            });
                            row.col(|ui| {
                                if ui
                                    .add(
                                        egui::Label::new(RichText::new(&s.address).monospace())
                                            .sense(Sense::click()),
                                    )
                                    .on_hover_text("Click to copy the address")
                                    .clicked()
                                {
                                    copy = Some(s.address.clone());
                                }
                            });
                            for a in [s.amount, s.fee, s.done_amount] {
                                row.col(|ui| {
                                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                        ui.label(RichText::new(amount(a)).monospace())
                                    });
                                });
                            }
                            row.col(|ui| {
                                status_chip(ui, s.status.as_str(), s.status.meaning());
                                if let Some(d) = &r.stuck {
                                    chip(ui, "STUCK", WARN)
                                        .on_hover_text(format!("in {} for {d}", s.status));
                                }
                            });
                            row.col(|ui| {
                                if ui
                                    .add(
                                        egui::Label::new(RichText::new(&s.tx_id).monospace())
                                            .sense(Sense::click()),
                                    )
                                    .clicked()
                                    && !s.tx_id.is_empty()
                                {
                                    copy = Some(s.tx_id.clone());
                                }
                            });
                            row.col(|ui| {
                                if !s.err_msg.is_empty() {
                                    ui.colored_label(ERROR, &s.err_msg);
                                }
                            });
                            for t in [&r.created, &r.updated, &r.finished] {
                                row.col(|ui| {
                                    ui.label(t);
                                });
                            }
                        });
                    });
            });
        if let Some(text) = copy {
            ui.ctx().copy_text(text.clone());
            self.copied = Some(text);
        }
    }
}

pub fn gatepay_status_color(status: &str) -> Color32 {
    match status {
        "DONE" | "SUCCESS" => Color32::from_rgb(46, 140, 80),
        "FAIL" => Color32::from_rgb(190, 50, 50),
        "PARTIAL" => Color32::from_rgb(200, 130, 20),
        "INIT" => Color32::from_rgb(120, 120, 120),
        _ => Color32::from_rgb(60, 110, 180),
    }
}

/// The totals per status and currency beneath a list of sub-orders (a batch, or those found by
/// date), amounts right-aligned so their decimals line up.
pub(crate) fn status_totals_ui(ui: &mut egui::Ui, id: &str, totals: &[StatusTotal]) {
    egui::CollapsingHeader::new("Totals per status and currency")
        .id_salt(id)
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new(id)
                .striped(true)
                .num_columns(6)
                .show(ui, |ui| {
                    for h in [
                        "Status",
                        "Currency",
                        "Count",
                        "Amount",
                        "Fee",
                        "Done amount",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for t in totals {
                        status_chip(ui, t.status.as_str(), t.status.meaning());
                        ui.label(&t.currency);
                        ui.label(t.count.to_string());
                        for a in [t.amount, t.fee, t.done_amount] {
                            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                ui.label(RichText::new(a.to_string()).monospace())
                            });
                        }
                        if t.unreadable > 0 {
                            ui.colored_label(
                                ERROR,
                                format!("{} with unreadable amounts", t.unreadable),
                            );
                        }
                        ui.end_row();
                    }
                });
        });
}

fn status_chip(ui: &mut egui::Ui, status: &str, meaning: &str) {
    chip(ui, status, gatepay_status_color(status)).on_hover_text(meaning);
}

fn amount(a: Option<CryptoAmount>) -> String {
    a.map_or_else(|| "unreadable".to_owned(), |a| a.to_string())
}
