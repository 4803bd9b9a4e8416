//! The finished reconciliation at a glance: the totals per class, the check that the parts
//! add up to the difference of the two sums, and the export of the differences.

use eframe::egui;
use egui::{Align, Layout, RichText};
use paydesk::domain::export::ExportFormat;
use paydesk::domain::reconcile::Class;
use paydesk::money::Fen;

use crate::console::panels::widgets;

use super::{Action, ReconcilePanel, TableKey};

/// `+¥60.00`, `-¥3.00`, `¥0.00`: what a class adds to the difference.
pub(super) fn signed(fen: Fen) -> String {
    if fen.fen() > 0 {
        format!("+{fen}")
    } else {
        fen.to_string()
    }
}

impl ReconcilePanel {
    pub(super) fn totals_ui(&mut self, ui: &mut egui::Ui) {
        let Some(finished) = &self.finished else {
            return;
        };
        let report = &finished.report;
        let mut open: Option<Class> = None;
        ui.horizontal_wrapped(|ui| {
            if report.all_matched() {
                ui.colored_label(widgets::ok(ui), "Everything matched");
            } else {
                ui.colored_label(widgets::warn(ui), "Differences found");
            }
            ui.label(format!(
                "Ledger {} − gateway {} = {}",
                report.ledger_sum,
                report.gateway_sum,
                super::totals::signed(report.difference())
            ));
            ui.label(
                RichText::new(format!(
                    "{} ledger rows, {} gateway orders read",
                    report.ledger_rows, report.gateway_orders
                ))
                .weak(),
            );
        });
        if let Some(note) = &report.count_note {
            ui.colored_label(widgets::warn(ui), note);
        }
        if let Some(e) = &finished.remember_error {
            ui.colored_label(
                widgets::warn(ui),
                format!("The mapping could not be remembered: {e}"),
            );
        }
        egui::Grid::new("reconcile_totals")
            .num_columns(7)
            .striped(true)
            .spacing([16.0, 2.0])
            .show(ui, |ui| {
                for h in [
                    "Class",
                    "IDs",
                    "Ledger rows",
                    "Gateway orders",
                    "Ledger sum",
                    "Gateway sum",
                    "Contribution",
                ] {
                    // Numbers are right-aligned: so are their headings, over them.
                    if h == "Class" {
                        ui.label(RichText::new(h).strong());
                    } else {
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            ui.label(RichText::new(h).strong());
                        });
                    }
                }
                ui.end_row();
                for total in &report.classes {
                    let class = total.class;
                    let flagged = class.is_difference()
                        && (total.count > 0 || total.ledger_rows + total.gateway_orders > 0);
                    let text = if flagged {
                        RichText::new(class.label())
                            .color(widgets::warn(ui))
                            .strong()
                    } else {
                        RichText::new(class.label())
                    };
                    if ui
                        .selectable_label(self.class == Some(class), text)
                        .on_hover_text("Show this class's rows")
                        .clicked()
                    {
                        open = Some(class);
                    }
                    let right = |ui: &mut egui::Ui, text: String| {
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            ui.label(RichText::new(text).monospace());
                        });
                    };
                    right(ui, total.count.to_string());
                    right(ui, total.ledger_rows.to_string());
                    right(ui, total.gateway_orders.to_string());
                    right(ui, total.ledger.to_string());
                    right(ui, total.gateway.to_string());
                    right(ui, signed(total.difference()));
                    ui.end_row();
                }
            });
        for line in report.explanation() {
            ui.label(RichText::new(line).monospace());
        }
        if let Some(class) = open {
            self.open_class(Some(class));
        }
    }

    /// The export of the differences and what the last one wrote: always in view, whatever
    /// the totals' scrolling.
    pub(super) fn export_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            let busy = self.exporting.is_some();
            for (format, label) in [
                (ExportFormat::Csv, "Export differences (CSV)…"),
                (ExportFormat::Xlsx, "Export differences (XLSX)…"),
            ] {
                if ui
                    .add_enabled(!busy, egui::Button::new(label))
                    .on_hover_text("Every row of the classes that are differences, with a manifest")
                    .clicked()
                {
                    actions.push(Action::Export(format));
                }
            }
            if busy {
                ui.spinner();
                ui.label("Writing the differences…");
            }
        });
        match &self.export_result {
            Some(Ok(done)) => {
                ui.colored_label(widgets::ok(ui), &done.summary);
                ui.horizontal_wrapped(|ui| {
                    ui.label("Re-run with");
                    ui.label(RichText::new(&done.command).monospace());
                    if ui.small_button("Copy").clicked() {
                        ui.ctx().copy_text(done.command.clone());
                    }
                });
            }
            Some(Err(e)) => {
                ui.colored_label(widgets::error(ui), format!("Export failed: {e}"));
            }
            None => {}
        }
    }

    /// Shows `class`'s rows (every class's when `None`), from their first page.
    pub fn open_class(&mut self, class: Option<Class>) {
        self.class = class;
        self.selected = None;
        self.page_error = None;
        self.cache.reset(TableKey {
            class,
            filter: self.filter.trim().to_owned(),
        });
    }
}
