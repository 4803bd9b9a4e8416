//! GatePay payouts by date: the sub-order search by creation time over every page, for
//! finding a payout without its batch ID; the results export with their batch and audit status.

use eframe::egui;
use egui::{Align, Layout, RichText};
use egui_extras::DatePickerButton;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use paydesk::domain::batches::{StatusTotal, status_totals};
use paydesk::domain::dates::{Bound, Shortcut, format_ms, parse_bound, zone_short};
use paydesk::gateway::gatepay::AuditStatus;
use paydesk::gateway::gatepay::search::{FoundSubOrder, status_filter};
use tokio::sync::mpsc;

use crate::console::context::{ConsoleContext, Reply, take_reply};

use super::gatepay::status_totals_ui;
use super::orders::received;
use super::widgets::{ERROR, WARN, field_label};

/// The sub-order statuses a search can ask for, then the audit statuses.
const STATUSES: [&str; 6] = ["INIT", "PENDING", "PROCESSING", "CHECK", "DONE", "FAIL"];

/// One search as GatePay gets it: exact millisecond bounds and the two filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubOrderSearch {
    pub from_ms: i64,
    pub to_ms: i64,
    pub status: Option<String>,
    pub audit_status: Option<String>,
}

/// What the panel asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Search(SubOrderSearch),
    /// Export the sub-orders found.
    Export,
}

/// Sub-orders found so far and GatePay's total when it says one.
pub type SearchProgress = (usize, Option<u64>);

pub struct SubOrdersPanel {
    pub from_date: Date,
    pub to_date: Date,
    /// A sub-order or audit status; empty: every one.
    pub status: String,
    pub loading: Option<Reply<Vec<FoundSubOrder>>>,
    pub progress: Option<mpsc::Receiver<SearchProgress>>,
    pub done: SearchProgress,
    pub found: Vec<FoundSubOrder>,
    /// The found sub-orders' totals per status and currency.
    pub totals: Vec<StatusTotal>,
    /// What the rows shown are (the search that found them).
    pub shown: Option<String>,
    /// The days the rows shown were searched for, to tell when the filter changed.
    pub searched_days: Option<(Date, Date)>,
    pub error: Option<String>,
}

impl Default for SubOrdersPanel {
    fn default() -> Self {
        let today = jiff::Zoned::now().date();
        SubOrdersPanel {
            from_date: today.saturating_sub(jiff::Span::new().days(7)),
            to_date: today,
            status: String::new(),
            loading: None,
            progress: None,
            done: (0, None),
            found: Vec::new(),
            totals: Vec::new(),
            shown: None,
            searched_days: None,
            error: None,
        }
    }
}

impl SubOrdersPanel {
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// The search the filter describes, its days read in `tz`, or why there is none.
    pub fn search(&self, tz: &TimeZone) -> Result<SubOrderSearch, String> {
        if self.from_date > self.to_date {
            return Err("The start date is after the end date".to_owned());
        }
        let bound = |d: Date, b| parse_bound(&d.to_string(), tz, b).map_err(|e| e.to_string());
        let from_ms = bound(self.from_date, Bound::Start)? * 1000;
        // The end day's last second, to its last millisecond.
        let to_ms = bound(self.to_date, Bound::End)? * 1000 + 999;
        let (status, audit_status) = status_filter(Some(&self.status));
        Ok(SubOrderSearch {
            from_ms,
            to_ms,
            status,
            audit_status,
        })
    }

    pub fn begin(
        &mut self,
        reply: Reply<Vec<FoundSubOrder>>,
        progress: mpsc::Receiver<SearchProgress>,
        what: String,
    ) {
        self.loading = Some(reply);
        self.progress = Some(progress);
        self.done = (0, None);
        self.error = None;
        self.shown = Some(what);
    }

    /// Takes in progress and the search's outcome.
    pub fn poll(&mut self) {
        if let Some(rx) = self.progress.as_mut() {
            while let Ok(p) = rx.try_recv() {
                self.done = p;
            }
        }
        let Some(reply) = self.loading.as_mut().and_then(take_reply) else {
            return;
        };
        self.loading = None;
        self.progress = None;
        match reply {
            Ok(found) => self.found = found,
            Err(e) => {
                self.found.clear();
                self.error = Some(e);
            }
        }
        let subs: Vec<_> = self.found.iter().map(|f| f.sub.clone()).collect();
        self.totals = status_totals(&subs);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<Action> {
        let mut actions = Vec::new();
        ui.heading("GatePay payouts by date");
        if !cx.has_gatepay {
            ui.colored_label(
                ERROR,
                "This profile has no GatePay credentials: add them in Profiles to search payouts",
            );
        }
        ui.horizontal(|ui| {
            field_label(ui, "From");
            ui.add(
                DatePickerButton::new(&mut self.from_date)
                    .show_icon(false)
                    .id_salt("suborders_from"),
            );
            field_label(ui, "To");
            ui.add(
                DatePickerButton::new(&mut self.to_date)
                    .show_icon(false)
                    .id_salt("suborders_to"),
            );
            let id = field_label(ui, "Status");
            let shown = if self.status.is_empty() {
                "every status"
            } else {
                self.status.as_str()
            };
            egui::ComboBox::from_id_salt("suborders_status")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.status, String::new(), "every status");
                    for s in STATUSES.into_iter().chain(AuditStatus::KNOWN) {
                        ui.selectable_value(&mut self.status, s.to_owned(), s);
                    }
                })
                .response
                .labelled_by(id);
            let can = cx.has_gatepay && !self.is_loading();
            let why_not = if cx.has_gatepay {
                "A search is running"
            } else {
                "This profile has no GatePay credentials: add them in Profiles"
            };
            if ui
                .add_enabled(can, egui::Button::new("Search all pages"))
                .on_disabled_hover_text(why_not)
                .clicked()
            {
                match self.search(&cx.tz.zone()) {
                    Ok(search) => {
                        self.searched_days = Some((self.from_date, self.to_date));
                        actions.push(Action::Search(search));
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            if ui
                .add_enabled(
                    !self.found.is_empty() && !self.is_loading(),
                    egui::Button::new("Export…"),
                )
                .on_disabled_hover_text(if self.is_loading() {
                    "A search is running"
                } else {
                    "Nothing found to export: search first"
                })
                .clicked()
            {
                actions.push(Action::Export);
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Days in {}", cx.tz.label())).weak());
            for shortcut in Shortcut::ALL {
                if ui
                    .small_button(shortcut.label())
                    .on_hover_text(format!("{} in {}", shortcut.label(), cx.tz.label()))
                    .clicked()
                {
                    let (from, to) = shortcut.days_at(jiff::Timestamp::now(), &cx.tz.zone());
                    self.from_date = from;
                    self.to_date = to;
                }
            }
        });
        if self.is_loading() {
            ui.horizontal(|ui| {
                ui.spinner();
                let (done, total) = self.done;
                ui.label(match total {
                    Some(t) => format!("{done} of {t} sub-orders…"),
                    None => format!("{done} sub-orders…"),
                });
            });
        } else if let Some(what) = &self.shown
            && self.error.is_none()
        {
            ui.label(format!("{} sub-order(s) {what}", self.found.len()));
        }
        if let Some(e) = &self.error {
            ui.colored_label(ERROR, e);
        }
        if !self.is_loading() && self.error.is_none() {
            match &self.shown {
                None => {
                    ui.label(
                        RichText::new("No search yet: choose the days and press Search all pages")
                            .weak(),
                    );
                }
                Some(_) if self.found.is_empty() => {
                    ui.label(RichText::new("No sub-orders were created on these days").strong());
                }
                Some(_) => {}
            }
            if self.shown.is_some()
                && self
                    .searched_days
                    .is_some_and(|d| d != (self.from_date, self.to_date))
            {
                ui.colored_label(WARN, "Filter changed — press Search all pages");
            }
        }
        // Room kept beneath the rows for the totals, so a long list does not push them away.
        let totals_height = 60.0 + 24.0 * self.totals.len() as f32;
        let rows_height = (ui.available_height() - totals_height).max(120.0);
        table(ui, &self.found, &cx.tz.zone(), rows_height);
        if !self.totals.is_empty() {
            status_totals_ui(ui, "suborders_totals", &self.totals);
        }
        actions
    }
}

fn table(ui: &mut egui::Ui, found: &[FoundSubOrder], tz: &TimeZone, max_height: f32) {
    let amount = |a: &Option<paydesk::money::CryptoAmount>| {
        a.as_ref()
            .map_or_else(|| "?".to_owned(), ToString::to_string)
    };
    let right = |ui: &mut egui::Ui, text: String| {
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            ui.label(RichText::new(text).monospace())
        });
    };
    let created = format!("Created ({})", zone_short(tz, jiff::Timestamp::now()));
    egui::ScrollArea::both()
        .max_height(max_height)
        .show(ui, |ui| {
            egui::Grid::new("suborders_found")
                .num_columns(9)
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        created.as_str(),
                        "Batch",
                        "Merchant withdraw ID",
                        "Currency",
                        "Chain",
                        "Amount",
                        "Fee",
                        "Status",
                        "Audit",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for f in found {
                        let s = &f.sub;
                        ui.label(
                            s.create_time_ms
                                .map(|t| format_ms(t, tz))
                                .unwrap_or_default(),
                        );
                        for text in [&f.batch_id, &s.merchant_withdraw_id, &s.currency, &s.chain] {
                            ui.horizontal(|ui| received(ui, text, false));
                        }
                        right(ui, amount(&s.amount));
                        right(ui, amount(&s.fee));
                        ui.label(format!("{} ({})", s.status.as_str(), s.status.meaning()));
                        ui.label(
                            f.audit_status
                                .as_ref()
                                .map(|a| format!("{} ({})", a.as_str(), a.meaning()))
                                .unwrap_or_default(),
                        );
                        ui.end_row();
                    }
                });
        });
}

#[cfg(test)]
mod tests;
