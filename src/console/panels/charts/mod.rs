//! Overview charts above a table: daily count and amount stacked by status, success rate by
//! channel, fees per day (for the Deposits and Payouts tables), and a GatePay batch's totals
//! per currency and status. The numbers come from the domain's `overview` (exact fen and
//! decimals); floats exist here only as bar heights. Hovering a bar shows its exact values,
//! clicking one asks the table to narrow to it, and every chart can be copied as an image or
//! exported as its numbers (CSV).

mod shots;

use std::collections::HashMap;
use std::fmt::Write as _;

use eframe::egui;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Legend, Plot, PlotTransform};
use paydesk::domain::overview::{CLASSES, ChannelRate, Overview, Pick, Tally, class_word};
use paydesk::gateway::cny::wire::StatusClass;
use paydesk::money::Fen;

use super::widgets::status_color;
pub use shots::Shots;

/// The width of a bar, in steps of the argument axis.
pub const BAR_WIDTH: f64 = 0.7;
const PLOT_HEIGHT: f32 = 160.0;

/// What a chart asks of its table or of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChartAction {
    /// Narrow the table to the bar clicked.
    Pick(Pick),
    /// Ask where to save, then write this text (a chart's numbers).
    SaveCsv {
        suggested_name: String,
        text: String,
    },
}

/// What the daily chart's bars measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Metric {
    #[default]
    Count,
    Amount,
}

/// Where a chart was last drawn: its plot's rect and transform (to crop its image, and for
/// tests to find a bar), and what its bars hold (to tell which one a click hit).
#[derive(Clone, Debug)]
pub struct Drawn {
    pub rect: egui::Rect,
    pub transform: PlotTransform,
    /// Per argument, the stacked heights of its segments.
    pub stacks: Vec<Vec<f64>>,
}

impl Drawn {
    /// The screen point at the middle of segment `segment` of bar `bar` (where a test clicks).
    #[cfg(test)]
    pub fn bar_center(&self, bar: usize, segment: usize) -> Option<egui::Pos2> {
        let heights = self.stacks.get(bar)?;
        let base: f64 = heights.iter().take(segment).sum();
        let h = *heights.get(segment)?;
        #[allow(clippy::cast_precision_loss)]
        let x = bar as f64;
        Some(
            self.transform
                .position_from_point(&egui_plot::PlotPoint::new(x, base + h / 2.0)),
        )
    }
}

/// Which bar and segment a plot point falls in: bars stand at 0, 1, 2, … each
/// [`BAR_WIDTH`] wide, their segments stacked from zero in order.
pub fn hit(stacks: &[Vec<f64>], x: f64, y: f64) -> Option<(usize, usize)> {
    let index = x.round();
    if index < 0.0 || (x - index).abs() > BAR_WIDTH / 2.0 {
        return None;
    }
    let bar = index as usize;
    let mut base = 0.0;
    for (segment, h) in stacks.get(bar)?.iter().enumerate() {
        if *h > 0.0 && y >= base && y <= base + h {
            return Some((bar, segment));
        }
        base += h;
    }
    None
}

/// The charts' state beside one table.
#[derive(Default)]
pub struct Charts {
    pub open: bool,
    pub metric: Metric,
    /// Where each chart was drawn last, by its title.
    pub drawn: HashMap<&'static str, Drawn>,
    pub shots: Shots,
}

pub const DAILY: &str = "Daily orders by status";
pub const CHANNELS: &str = "Success rate by channel";
pub const FEES: &str = "Fees per day";
pub const BATCH: &str = "Sub-orders per currency and status";

fn class_color(class: StatusClass) -> Color32 {
    status_color(class)
}

#[allow(clippy::cast_precision_loss)]
fn fen_height(f: Fen) -> f64 {
    // Yuan for the bar's height only; the label beside it is exact.
    f.fen() as f64 / 100.0
}

impl Charts {
    /// The header line: a toggle that shows or hides the charts.
    pub fn toggle_ui(&mut self, ui: &mut egui::Ui) {
        let text = if self.open { "Hide charts" } else { "Charts" };
        if ui
            .selectable_label(self.open, text)
            .on_hover_text("Daily orders and amounts by status, success rate by channel, fees")
            .clicked()
        {
            self.open = !self.open;
        }
    }

    /// The charts of an order table's overview.
    pub fn orders_ui(
        &mut self,
        ui: &mut egui::Ui,
        overview: &Overview,
        salt: &str,
    ) -> Vec<ChartAction> {
        let mut actions = Vec::new();
        self.shots.poll(ui.ctx());
        for note in overview.notes() {
            ui.label(RichText::new(note).weak());
        }
        if overview.days().next().is_none() && overview.channels().next().is_none() {
            ui.label("No orders to chart: search, or load all pages");
            return actions;
        }
        let days: Vec<_> = overview.days().collect();
        let zone = overview.zone().clone();
        ui.horizontal(|ui| {
            ui.label(RichText::new(DAILY).strong());
            ui.selectable_value(&mut self.metric, Metric::Count, "Count");
            ui.selectable_value(&mut self.metric, Metric::Amount, "Amount");
        });
        let metric = self.metric;
        let stacks: Vec<Vec<f64>> = days
            .iter()
            .map(|(_, t)| {
                t.iter()
                    .map(|t| match metric {
                        #[allow(clippy::cast_precision_loss)]
                        Metric::Count => t.count as f64,
                        Metric::Amount => fen_height(t.amount),
                    })
                    .collect()
            })
            .collect();
        let labels: Vec<String> = days.iter().map(|(d, _)| d.to_string()).collect();
        let tips = |i: usize, c: usize| -> String {
            let (day, tallies) = &days[i];
            tally_text(&format!("{day} · {}", class_word(CLASSES[c])), &tallies[c])
        };
        if let Some((i, c)) = self.stacked_ui(ui, DAILY, salt, &labels, stacks, &tips)
            && let Some(p) = Pick::day(days[i].0, &zone, CLASSES[c])
        {
            actions.push(ChartAction::Pick(p));
        }
        self.buttons_ui(ui, DAILY, salt, || overview.daily_csv(), &mut actions);

        ui.label(RichText::new(CHANNELS).strong());
        let channels: Vec<(&str, &ChannelRate)> = overview.channels().collect();
        let labels: Vec<String> = channels.iter().map(|(c, _)| (*c).to_owned()).collect();
        let stacks: Vec<Vec<f64>> = channels
            .iter()
            .map(|(_, r)| vec![r.ratio().map_or(0.0, |x| x * 100.0)])
            .collect();
        let tip = |i: usize, _: usize| {
            let (c, r) = channels[i];
            format!(
                "channel {c}\n{} · {} of {} final orders succeeded ({} orders)",
                r.percent_text(),
                r.successes,
                r.finals,
                r.orders
            )
        };
        if let Some((i, _)) = self.stacked_ui(ui, CHANNELS, salt, &labels, stacks, &tip) {
            actions.push(ChartAction::Pick(Pick::Channel(channels[i].0.to_owned())));
        }
        self.buttons_ui(ui, CHANNELS, salt, || overview.channels_csv(), &mut actions);

        ui.label(RichText::new(FEES).strong());
        let labels: Vec<String> = days.iter().map(|(d, _)| d.to_string()).collect();
        let stacks: Vec<Vec<f64>> = days
            .iter()
            .map(|(_, t)| t.iter().map(|t| fen_height(t.fee)).collect())
            .collect();
        let tip = |i: usize, c: usize| {
            let (day, tallies) = &days[i];
            let t = &tallies[c];
            let total = overview
                .day_fee(*day)
                .map_or_else(|| "too large to add up".to_owned(), |f| f.to_string());
            format!(
                "{day} · {}\nfees {} over {} order(s)\nall fees that day {total}",
                class_word(CLASSES[c]),
                t.fee,
                t.count
            )
        };
        if let Some((i, c)) = self.stacked_ui(ui, FEES, salt, &labels, stacks, &tip)
            && let Some(p) = Pick::day(days[i].0, &zone, CLASSES[c])
        {
            actions.push(ChartAction::Pick(p));
        }
        self.buttons_ui(ui, FEES, salt, || overview.fees_csv(), &mut actions);
        actions
    }

    /// One bar chart: a bar per label, stacked in [`CLASSES`] colours when it has more than
    /// one segment. Returns the bar and segment clicked.
    pub fn stacked_ui(
        &mut self,
        ui: &mut egui::Ui,
        title: &'static str,
        salt: &str,
        labels: &[String],
        stacks: Vec<Vec<f64>>,
        tip: &dyn Fn(usize, usize) -> String,
    ) -> Option<(usize, usize)> {
        let segments: Vec<(String, Color32)> = if stacks.iter().any(|s| s.len() > 1) {
            CLASSES
                .iter()
                .map(|c| (class_word(*c).to_owned(), class_color(*c)))
                .collect()
        } else {
            vec![(title.to_owned(), Color32::from_rgb(60, 110, 180))]
        };
        self.segments_ui(ui, title, salt, labels, stacks, &segments, tip)
    }

    /// A bar chart whose segments are named and coloured by `segments`.
    #[allow(clippy::too_many_arguments)]
    pub fn segments_ui(
        &mut self,
        ui: &mut egui::Ui,
        title: &'static str,
        salt: &str,
        labels: &[String],
        stacks: Vec<Vec<f64>>,
        segments: &[(String, Color32)],
        tip: &dyn Fn(usize, usize) -> String,
    ) -> Option<(usize, usize)> {
        let mut charts: Vec<BarChart> = Vec::new();
        for (s, (name, color)) in segments.iter().enumerate() {
            let bars: Vec<Bar> = stacks
                .iter()
                .enumerate()
                .map(|(i, heights)| {
                    #[allow(clippy::cast_precision_loss)]
                    let x = i as f64;
                    Bar::new(x, heights.get(s).copied().unwrap_or(0.0))
                        .width(BAR_WIDTH)
                        .name(tip(i, s))
                })
                .collect();
            let mut chart = BarChart::new(name.clone(), bars)
                .color(*color)
                // The exact values show in the tooltip below, not beside the bar.
                .element_formatter(Box::new(|_, _| String::new()));
            let below: Vec<&BarChart> = charts.iter().collect();
            if !below.is_empty() {
                chart = chart.stack_on(&below);
            }
            charts.push(chart);
        }
        let names = labels.to_vec();
        let response = Plot::new((salt, title))
            .height(PLOT_HEIGHT)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .allow_double_click_reset(false)
            .show_x(false)
            .show_y(false)
            .include_y(0.0)
            .legend(Legend::default())
            .x_axis_formatter(move |mark, _| {
                let i = mark.value.round();
                if (mark.value - i).abs() > f64::EPSILON || i < 0.0 {
                    return String::new();
                }
                names.get(i as usize).cloned().unwrap_or_default()
            })
            .show(ui, |plot| {
                for chart in charts {
                    plot.bar_chart(chart);
                }
            });
        let drawn = Drawn {
            rect: response.response.rect,
            transform: response.transform,
            stacks,
        };
        // A click is read against the bars as drawn, in the plot's own coordinates.
        let clicked = response
            .response
            .clicked()
            .then(|| response.response.interact_pointer_pos())
            .flatten()
            .and_then(|pos| {
                let p = drawn.transform.value_from_position(pos);
                hit(&drawn.stacks, p.x, p.y)
            });
        let hovered = response.response.hover_pos().and_then(|pos| {
            let p = drawn.transform.value_from_position(pos);
            hit(&drawn.stacks, p.x, p.y)
        });
        if let Some((i, s)) = hovered {
            response.response.on_hover_text_at_pointer(tip(i, s));
        }
        self.drawn.insert(title, drawn);
        clicked
    }

    /// "Copy as image" and "Export numbers (CSV)…" under a chart.
    pub fn buttons_ui(
        &mut self,
        ui: &mut egui::Ui,
        title: &'static str,
        salt: &str,
        csv: impl FnOnce() -> String,
        actions: &mut Vec<ChartAction>,
    ) {
        ui.horizontal(|ui| {
            if ui
                .small_button(format!("Copy {} as PNG", title.to_lowercase()))
                .on_hover_text("Put this chart on the clipboard as an image")
                .clicked()
                && let Some(d) = self.drawn.get(title)
            {
                self.shots.request(ui.ctx(), d.rect);
            }
            if ui
                .small_button(format!("Export {} numbers (CSV)…", title.to_lowercase()))
                .on_hover_text("The exact numbers behind this chart, to a CSV file")
                .clicked()
            {
                let slug: String = title
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                actions.push(ChartAction::SaveCsv {
                    suggested_name: format!("{salt}-{slug}.csv"),
                    text: csv(),
                });
            }
        });
    }
}

/// A day and class's exact numbers, for a bar's hover text.
fn tally_text(head: &str, t: &Tally) -> String {
    let mut text = format!("{head}\n{} order(s) · {}", t.count, t.amount);
    if t.fee != Fen::ZERO {
        let _ = write!(text, " · fees {}", t.fee);
    }
    if t.unsummed_amount > 0 {
        let _ = write!(text, "\n{} without a readable amount", t.unsummed_amount);
    }
    text
}

/// The chip that says the table is narrowed by a chart; `true` when its × was clicked.
pub fn pick_chip_ui(ui: &mut egui::Ui, what: &str) -> bool {
    let mut clear = false;
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("Filtered by chart: {what}"))
                .background_color(ui.visuals().selection.bg_fill.gamma_multiply(0.4)),
        );
        clear = ui
            .small_button("×")
            .on_hover_text("Clear the chart's filter")
            .clicked();
    });
    clear
}

#[cfg(test)]
mod tests {
    use super::hit;

    #[test]
    fn a_point_hits_the_segment_under_it() {
        let stacks = vec![vec![2.0, 1.0], vec![0.0, 3.0]];
        assert_eq!(hit(&stacks, 0.1, 1.0), Some((0, 0)));
        assert_eq!(hit(&stacks, -0.2, 2.5), Some((0, 1)));
        assert_eq!(hit(&stacks, 1.0, 0.5), Some((1, 1)));
        assert_eq!(hit(&stacks, 0.5, 1.0), None);
        assert_eq!(hit(&stacks, 0.0, 3.5), None);
        assert_eq!(hit(&stacks, 2.0, 0.5), None);
        assert_eq!(hit(&stacks, -1.0, 0.5), None);
    }
}
