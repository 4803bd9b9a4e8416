//! The charts above an orders table: the overview of every loaded row (all pages when they
//! were loaded), made once per result and zone, and the chart's narrowing of the table.

use std::sync::Arc;

use eframe::egui;
use jiff::tz::TimeZone;
use paydesk::domain::overview::{OrderFacts, Overview, Pick};
use paydesk::gateway::cny::wire::OrderKind;

use super::super::charts::{ChartAction, Charts, pick_chip_ui};
use super::{Action, OrdersPanel, Row};
use crate::console::context::ConsoleContext;

/// The charts' state in an orders panel.
#[derive(Default)]
pub struct Charted {
    pub charts: Charts,
    /// The bar the table is narrowed to.
    pub pick: Option<Pick>,
    /// The overview of the rows shown, with the rows (by address) and zone it is made for,
    /// and how many rows it holds so far.
    cache: Option<(usize, TimeZone, Overview, usize)>,
}

/// Rows added to the overview per frame: a million loaded rows are charted over a few dozen
/// frames with a progress line, never in one frame that would freeze the window.
const ROWS_PER_FRAME: usize = 50_000;

/// Adds `rows` to `overview`.
fn add_rows(overview: &mut Overview, rows: &[Row], kind: OrderKind) {
    for r in rows {
        overview.add(&OrderFacts {
            create_time_secs: r.created(),
            class: r.status(kind).class(),
            channel: &r.channel,
            amount: r.amount(),
            fee: r.fee(),
        });
    }
}

impl OrdersPanel {
    /// The charts toggle, the chip of a chart's filter and, when open, the charts.
    pub(super) fn charts_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &ConsoleContext,
        actions: &mut Vec<Action>,
    ) {
        let mut clear = false;
        ui.horizontal(|ui| {
            self.charted.charts.toggle_ui(ui);
            if let Some(pick) = &self.charted.pick {
                clear = pick_chip_ui(ui, &pick.describe());
            }
        });
        if clear {
            self.charted.pick = None;
            self.view_dirty = true;
        }
        if !self.charted.charts.open {
            return;
        }
        let Some(page) = self.result.shown() else {
            ui.label("No orders to chart: search, or load all pages");
            return;
        };
        let scope = if let Some(matching) = page.beyond_limit {
            format!(
                "Charts of the {} loaded orders of {matching} matching: export them for the rest",
                page.rows.len()
            )
        } else if page.all_pages {
            format!("Charts of all {} matching orders", page.rows.len())
        } else {
            format!(
                "Charts of this page's {} orders: Load all pages to chart every matching order",
                page.rows.len()
            )
        };
        ui.label(egui::RichText::new(scope).weak());
        let zone = cx.tz.zone();
        let key = Arc::as_ptr(&page.rows) as usize;
        if self
            .charted
            .cache
            .as_ref()
            .is_none_or(|(k, z, _, _)| *k != key || *z != zone)
        {
            // A day picked in another zone is the same calendar day in the new one.
            if let Some(Pick::Day { date, class, .. }) = self.charted.pick {
                self.charted.pick = Pick::day(date, &zone, class);
                self.view_dirty = true;
            }
            self.charted.cache = Some((key, zone.clone(), Overview::new(zone), 0));
        }
        let Charted { charts, cache, .. } = &mut self.charted;
        let Some((_, _, overview, done)) = cache else {
            return;
        };
        if *done < page.rows.len() {
            let end = (*done + ROWS_PER_FRAME).min(page.rows.len());
            add_rows(overview, &page.rows[*done..end], self.kind);
            *done = end;
            if end < page.rows.len() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Charting… {end} of {} orders", page.rows.len()));
                });
                ui.ctx().request_repaint();
                return;
            }
        }
        let salt = self.kind.plural();
        let picked = egui::ScrollArea::vertical()
            .id_salt(("charts", salt))
            .max_height(ui.available_height() * 0.6)
            .show(ui, |ui| charts.orders_ui(ui, overview, salt))
            .inner;
        for action in picked {
            match action {
                ChartAction::Pick(pick) => {
                    self.charted.pick = Some(pick);
                    self.view_dirty = true;
                }
                ChartAction::SaveCsv {
                    suggested_name,
                    text,
                } => actions.push(Action::SaveChart {
                    suggested_name,
                    text,
                }),
            }
        }
    }

    /// Whether a row is in the bar the table is narrowed to (every row when none is).
    pub(super) fn in_pick(&self, r: &Row) -> bool {
        self.charted
            .pick
            .as_ref()
            .is_none_or(|p| p.matches(r.created(), r.status(self.kind).class(), &r.channel))
    }
}
