//! The chart above a GatePay batch's sub-orders: how many sub-orders per currency, stacked by
//! status, each bar's exact totals (GatePay's decimals) on hover; a click narrows the table to
//! that currency and status.

use std::fmt::Write as _;

use eframe::egui;
use paydesk::domain::overview::{batch_csv, batch_currencies};

use super::super::charts::{BATCH, ChartAction, Charts, pick_chip_ui};
use super::batch_view::gatepay_status_color;
use super::{BatchAction, BatchPanel, SubRow};

/// The chart's state in the batch panel.
#[derive(Default)]
pub struct BatchCharted {
    pub charts: Charts,
    /// The (currency, status) the table is narrowed to.
    pub pick: Option<(String, String)>,
}

impl BatchCharted {
    /// Whether a sub-order is in the bar picked (every one when none is).
    pub fn keeps(&self, r: &SubRow) -> bool {
        self.pick
            .as_ref()
            .is_none_or(|(c, s)| r.sub.currency == *c && r.sub.status.as_str() == s)
    }
}

impl BatchPanel {
    pub(super) fn charts_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<BatchAction>) {
        let mut clear = false;
        ui.horizontal(|ui| {
            self.charted.charts.toggle_ui(ui);
            if let Some((c, s)) = &self.charted.pick {
                clear = pick_chip_ui(ui, &format!("{c} · {s}"));
            }
        });
        if clear {
            self.charted.pick = None;
        }
        if !self.charted.charts.open {
            return;
        }
        let charts: &mut Charts = &mut self.charted.charts;
        charts.shots.poll(ui.ctx());
        let totals = &self.totals;
        if totals.is_empty() {
            ui.label("No sub-orders to chart");
            return;
        }
        let currencies = batch_currencies(totals);
        let mut statuses: Vec<String> = Vec::new();
        for t in totals {
            if !statuses.iter().any(|s| s == t.status.as_str()) {
                statuses.push(t.status.as_str().to_owned());
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let stacks: Vec<Vec<f64>> = currencies
            .iter()
            .map(|c| {
                statuses
                    .iter()
                    .map(|s| {
                        totals
                            .iter()
                            .find(|t| t.currency == *c && t.status.as_str() == s)
                            .map_or(0.0, |t| t.count as f64)
                    })
                    .collect()
            })
            .collect();
        let segments: Vec<_> = statuses
            .iter()
            .map(|s| (s.clone(), gatepay_status_color(s)))
            .collect();
        let tip = |i: usize, s: usize| {
            let (c, st) = (&currencies[i], &statuses[s]);
            totals
                .iter()
                .find(|t| t.currency == *c && t.status.as_str() == st)
                .map_or_else(String::new, |t| {
                    let mut text = format!(
                        "{c} · {st}\n{} sub-order(s)\namount {} · fee {} · done {}",
                        t.count, t.amount, t.fee, t.done_amount
                    );
                    if t.unreadable > 0 {
                        let _ = write!(text, "\n{} with unreadable amounts", t.unreadable);
                    }
                    text
                })
        };
        ui.label(egui::RichText::new(BATCH).strong());
        let picked = charts.segments_ui(ui, BATCH, "batch", &currencies, stacks, &segments, &tip);
        let batch_id = self
            .detail
            .as_ref()
            .map(|d| d.batch_id.clone())
            .unwrap_or_default();
        let mut chart_actions = Vec::new();
        charts.buttons_ui(
            ui,
            BATCH,
            &format!("batch-{batch_id}"),
            || batch_csv(&batch_id, totals),
            &mut chart_actions,
        );
        if let Some((i, s)) = picked {
            self.charted.pick = Some((currencies[i].clone(), statuses[s].clone()));
        }
        for action in chart_actions {
            match action {
                ChartAction::SaveCsv {
                    suggested_name,
                    text,
                } => actions.push(BatchAction::SaveChart {
                    suggested_name,
                    text,
                }),
                ChartAction::Pick(_) => {}
            }
        }
    }
}
