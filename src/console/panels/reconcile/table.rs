//! One class's rows, virtualized: only the rows in view are drawn and only their pages read
//! from the work file; a filter narrows them; a row opens its ledger row and gateway order
//! side by side.

use eframe::egui;
use egui::{Align, Layout, RichText, Sense};
use egui_extras::{Column, TableBuilder};
use jiff::tz::TimeZone;
use paydesk::domain::dates::format_secs;
use paydesk::domain::reconcile::{Difference, GatewaySide, LedgerRow};
use paydesk::money::Fen;

use crate::console::context::ConsoleContext;
use crate::console::panels::orders::received;
use crate::console::panels::widgets::{self, field_label};

use super::totals::signed;
use super::{Action, PageAsk, ReconcilePanel};

const ROW_HEIGHT: f32 = 20.0;

fn yuan(fen: Option<Fen>) -> String {
    fen.map_or_else(String::new, |f| f.to_string())
}

impl ReconcilePanel {
    pub(super) fn table_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &ConsoleContext,
        actions: &mut Vec<Action>,
    ) {
        let Some(class) = self.class else {
            ui.label(RichText::new("Click a class to see its rows").weak());
            return;
        };
        let Some((workfile, kind)) = self
            .finished
            .as_ref()
            .map(|f| (f.workfile.clone(), f.report.kind))
        else {
            return;
        };
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(class.label()).strong());
            match self.cache.total() {
                Some(n) => ui.label(format!("{n} row(s)")),
                None => ui.label("counting…"),
            };
            let id = field_label(ui, "Filter rows");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.filter)
                        .hint_text("order ID, system ID or detail")
                        .desired_width(240.0),
                )
                .labelled_by(id);
            if edit.changed() {
                self.open_class(Some(class));
            }
            if ui.small_button("Close").clicked() {
                self.class = None;
                self.selected = None;
            }
        });
        if let Some(e) = &self.page_error {
            ui.colored_label(
                widgets::error(ui),
                format!("The rows could not be read: {e}"),
            );
        }
        let tz = cx.tz.zone();
        // The row opened shows above the rows, so that it is in view however long they are.
        if let Some((_, d)) = &self.selected {
            let d = d.clone();
            egui::Frame::group(ui.style()).show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("reconcile_detail")
                    .max_height(200.0)
                    .show(ui, |ui| detail_ui(ui, &d, kind, &tz, actions));
            });
        }
        let height = (ui.available_height() - 30.0).max(120.0);
        let total = self.cache.total().unwrap_or(0);
        let mut seen: Option<(u64, u64)> = None;
        let mut clicked: Option<u64> = None;
        let selected = self.selected.as_ref().map(|(i, _)| *i);
        let cache = &self.cache;
        TableBuilder::new(ui)
            .id_salt("reconcile_rows")
            .striped(true)
            .resizable(true)
            .sense(Sense::click())
            .cell_layout(Layout::left_to_right(Align::Center))
            .max_scroll_height(height)
            .min_scrolled_height(0.0)
            .columns(Column::initial(150.0).at_least(40.0).clip(true), 9)
            .column(Column::remainder().at_least(80.0).clip(true))
            .header(22.0, |mut header| {
                for h in [
                    "Merchant order ID",
                    "Ledger row",
                    "Ledger amount",
                    "Ledger status",
                    "Gateway system ID",
                    "Gateway amount",
                    "Gateway status",
                    "Signature",
                    "Contribution",
                    "Why",
                ] {
                    header.col(|ui| {
                        ui.label(RichText::new(h).strong());
                    });
                }
            })
            .body(|body| {
                body.rows(
                    ROW_HEIGHT,
                    usize::try_from(total).unwrap_or(0),
                    |mut row| {
                        let index = row.index() as u64;
                        seen = Some(
                            seen.map_or((index, index), |(a, b)| (a.min(index), b.max(index))),
                        );
                        row.set_selected(selected == Some(index));
                        let Some(d) = cache.row(index) else {
                            row.col(|ui| {
                                ui.label(RichText::new("…").weak());
                            });
                            return;
                        };
                        let id_clicked = difference_cells(&mut row, d);
                        if id_clicked || row.response().clicked() {
                            clicked = Some(index);
                        }
                    },
                );
            });
        let (first, last) = seen.unwrap_or((0, 0));
        for page in self.cache.wanted(first, last) {
            actions.push(Action::ReadPage(PageAsk {
                workfile: workfile.clone(),
                key: self.cache.key().clone(),
                page,
            }));
        }
        if let Some(index) = clicked
            && let Some(d) = self.cache.row(index)
        {
            self.selected = Some((index, d.clone()));
        }
    }

    /// The key of the rows shown, for a test.
    #[cfg(test)]
    pub fn shown_key(&self) -> &super::TableKey {
        self.cache.key()
    }
}

/// Draws one row's cells; `true` when its order ID was clicked (which opens it too).
fn difference_cells(row: &mut egui_extras::TableRow<'_, '_>, d: &Difference) -> bool {
    let mut id_clicked = false;
    let right = |ui: &mut egui::Ui, text: String| {
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            ui.label(RichText::new(text).monospace());
        });
    };
    row.col(|ui| {
        let (id, _) = paydesk::domain::text::shown(&d.order_id);
        id_clicked = ui
            .add(egui::Button::new(RichText::new(id.as_ref()).monospace()).frame(false))
            .on_hover_text("Open this row's two sides")
            .clicked();
    });
    let ledger = d.ledger.as_ref();
    let gateway = d.gateway.as_ref();
    row.col(|ui| {
        ui.label(ledger.map_or_else(String::new, |l| l.row.to_string()));
    });
    row.col(|ui| right(ui, yuan(ledger.map(|l| l.amount))));
    row.col(|ui| {
        received(ui, ledger.map_or("", |l| l.status_text.as_str()), false);
    });
    row.col(|ui| {
        received(ui, gateway.map_or("", |g| g.system_id.as_str()), true);
    });
    row.col(|ui| right(ui, yuan(gateway.and_then(|g| g.amount))));
    row.col(|ui| {
        if let Some(g) = gateway {
            widgets::status_chip(ui, g.status, &g.status.label());
        }
    });
    row.col(|ui| {
        if let Some(g) = gateway {
            signature_label(ui, g.signature_valid);
        }
    });
    row.col(|ui| right(ui, signed(d.difference)));
    row.col(|ui| {
        received(ui, &d.detail, false);
    });
    id_clicked
}

fn signature_label(ui: &mut egui::Ui, valid: bool) {
    if valid {
        ui.label(RichText::new("valid").color(widgets::ok(ui)));
    } else {
        ui.label(RichText::new("INVALID").color(widgets::error(ui)).strong());
    }
}

/// The ledger row and the gateway order of one difference, side by side.
fn detail_ui(
    ui: &mut egui::Ui,
    d: &Difference,
    kind: paydesk::gateway::cny::wire::OrderKind,
    tz: &TimeZone,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Order").strong());
        received(ui, &d.order_id, true);
        ui.label(RichText::new(d.class.label()).color(widgets::warn(ui)));
        received(ui, &d.detail, false);
        if ui
            .button("Search this order")
            .on_hover_text("Look this merchant order ID up at the gateway, every date")
            .clicked()
        {
            actions.push(Action::SearchOrder(kind, d.order_id.clone()));
        }
        if let Some(g) = &d.gateway
            && ui
                .button("Check signature")
                .on_hover_text("Open the order as received in the signature workbench")
                .clicked()
        {
            actions.push(Action::CheckSignature(g.text.clone()));
        }
    });
    ui.columns(2, |cols| {
        cols[0].label(RichText::new("Ledger").strong());
        match &d.ledger {
            Some(l) => ledger_ui(&mut cols[0], l, tz),
            None => {
                cols[0].label(RichText::new("Not in the ledger").weak());
            }
        }
        cols[1].label(RichText::new("Gateway").strong());
        match &d.gateway {
            Some(g) => gateway_ui(&mut cols[1], g, tz),
            None => {
                cols[1].label(RichText::new("Not at the gateway").weak());
            }
        }
    });
}

fn ledger_ui(ui: &mut egui::Ui, l: &LedgerRow, tz: &TimeZone) {
    egui::Grid::new("reconcile_ledger_row")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Row");
            ui.label(l.row.to_string());
            ui.end_row();
            ui.label("Merchant order ID");
            received(ui, &l.order_id, true);
            ui.end_row();
            ui.label("Amount");
            ui.label(RichText::new(l.amount.to_string()).monospace());
            ui.end_row();
            ui.label("Status");
            ui.horizontal(|ui| {
                received(ui, &l.status_text, false);
                ui.label(RichText::new(format!("({})", l.status.label())).weak());
            });
            ui.end_row();
            ui.label("Time");
            ui.label(format_secs(l.time_secs, tz));
            ui.end_row();
            ui.label("Fee");
            ui.label(yuan(l.fee));
            ui.end_row();
        });
}

fn gateway_ui(ui: &mut egui::Ui, g: &GatewaySide, tz: &TimeZone) {
    let time = |t: Option<i64>| t.map(|s| format_secs(s, tz)).unwrap_or_default();
    egui::Grid::new("reconcile_gateway_order")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("System ID");
            received(ui, &g.system_id, true);
            ui.end_row();
            ui.label("Amount");
            ui.label(RichText::new(yuan(g.amount)).monospace());
            ui.end_row();
            ui.label("Real amount");
            ui.label(RichText::new(yuan(g.real_amount)).monospace());
            ui.end_row();
            ui.label("Fee");
            ui.label(RichText::new(yuan(g.fee)).monospace());
            ui.end_row();
            ui.label("Status");
            widgets::status_chip(ui, g.status, &g.status.label());
            ui.end_row();
            ui.label("Created");
            ui.label(time(g.create_time_secs));
            ui.end_row();
            ui.label("Updated");
            ui.label(time(g.update_time_secs));
            ui.end_row();
            ui.label("Signature");
            signature_label(ui, g.signature_valid);
            ui.end_row();
        });
    ui.label(RichText::new("As received").weak());
    egui::ScrollArea::vertical()
        .id_salt("reconcile_raw_json")
        .max_height(120.0)
        .show(ui, |ui| {
            received(ui, &g.text, true);
        });
}
