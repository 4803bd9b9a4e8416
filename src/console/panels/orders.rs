//! The Deposits and Payouts panels (seeds 000 and 001): filters, paging, a virtualized table
//! that stays smooth with 100,000 rows, a quick filter and sorting over the loaded rows, and
//! the order details side panel.

use std::cmp::Ordering;

use eframe::egui;
use egui::{Align, Key, Layout, Modifiers, RichText, Sense};
use egui_extras::{Column, DatePickerButton, TableBuilder};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use paydesk::domain::dates::{Bound, format_secs, parse_bound};
use paydesk::domain::search::FetchedAll;
use paydesk::gateway::cny::sign::SignOptions;
use paydesk::gateway::cny::wire::{
    Order, OrderKind, OrderQuery, QueryPage, SignatureCheck, TimeRange,
};
use paydesk::money::Fen;
use serde::{Deserialize, Serialize};

use super::widgets::{self, ERROR, WARN, field_label};
use crate::console::context::{Requested, TzChoice};

pub const PAGE_SIZES: [u32; 5] = [25, 50, 100, 200, 500];

/// What an orders panel asks of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Query the page the panel is on with its filter.
    Search,
    /// Fetch every page matching the filter.
    LoadAll,
    /// Open the export dialog for this panel's orders.
    Export,
}

/// The filter as stored between runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PersistedFilter {
    pub use_range: bool,
    pub from_date: String,
    pub from_time: String,
    pub to_date: String,
    pub to_time: String,
    pub tz: TzChoice,
    pub system_id: String,
    pub merchant_id: String,
    pub page_size: u32,
}

impl Default for PersistedFilter {
    fn default() -> Self {
        let today = jiff::Zoned::now()
            .with_time_zone(TzChoice::Gateway.zone())
            .date();
        PersistedFilter {
            use_range: false,
            from_date: today.saturating_sub(jiff::Span::new().days(6)).to_string(),
            from_time: "00:00:00".to_owned(),
            to_date: today.to_string(),
            to_time: "23:59:59".to_owned(),
            tz: TzChoice::Gateway,
            system_id: String::new(),
            merchant_id: String::new(),
            page_size: 25,
        }
    }
}

/// The live filter; dates are `jiff` dates for the date picker.
#[derive(Clone, Debug)]
pub struct Filter {
    pub use_range: bool,
    pub from_date: Date,
    pub from_time: String,
    pub to_date: Date,
    pub to_time: String,
    pub tz: TzChoice,
    pub system_id: String,
    pub merchant_id: String,
    pub page_size: u32,
}

impl Filter {
    fn from_persisted(p: &PersistedFilter) -> Filter {
        let fallback = PersistedFilter::default();
        let date = |s: &str, f: &str| {
            s.parse::<Date>()
                .or_else(|_| f.parse::<Date>())
                .unwrap_or_default()
        };
        Filter {
            use_range: p.use_range,
            from_date: date(&p.from_date, &fallback.from_date),
            from_time: p.from_time.clone(),
            to_date: date(&p.to_date, &fallback.to_date),
            to_time: p.to_time.clone(),
            tz: p.tz,
            system_id: p.system_id.clone(),
            merchant_id: p.merchant_id.clone(),
            page_size: if PAGE_SIZES.contains(&p.page_size) {
                p.page_size
            } else {
                25
            },
        }
    }

    fn persisted(&self) -> PersistedFilter {
        PersistedFilter {
            use_range: self.use_range,
            from_date: self.from_date.to_string(),
            from_time: self.from_time.clone(),
            to_date: self.to_date.to_string(),
            to_time: self.to_time.clone(),
            tz: self.tz,
            system_id: self.system_id.clone(),
            merchant_id: self.merchant_id.clone(),
            page_size: self.page_size,
        }
    }

    /// The exact Unix bounds the gateway will get, or why there are none.
    pub fn range(&self) -> Result<Option<TimeRange>, String> {
        if !self.use_range {
            return Ok(None);
        }
        let tz = self.tz.zone();
        let bound = |date: Date, time: &str, which: &str| -> Result<i64, String> {
            let t: Time = time
                .trim()
                .parse()
                .map_err(|_| format!("the {which} time “{time}” is not HH:MM or HH:MM:SS"))?;
            parse_bound(&format!("{date} {t}"), &tz, Bound::Start).map_err(|e| e.to_string())
        };
        let from = bound(self.from_date, &self.from_time, "start")?;
        let to = bound(self.to_date, &self.to_time, "end")?;
        if from > to {
            return Err("the start of the range is after its end".to_owned());
        }
        Ok(Some(TimeRange {
            from_secs: from,
            to_secs: to,
        }))
    }
}

/// One order with its display text worked out once, not every frame.
pub struct Row {
    pub order: Order,
    pub created: String,
    pub updated: String,
    pub amount: String,
    pub real: String,
    pub fee: String,
    pub status: String,
    /// Lower-case text the quick filter searches.
    haystack: String,
}

fn yuan(f: Option<Fen>) -> String {
    f.map_or_else(|| "?".to_owned(), Fen::yuan_grouped)
}

impl Row {
    fn new(order: Order, tz: &TimeZone) -> Row {
        let created = order
            .create_time_secs
            .map(|t| format_secs(t, tz))
            .unwrap_or_default();
        let updated = order
            .update_time_secs
            .map(|t| format_secs(t, tz))
            .unwrap_or_default();
        let status = order.status.label();
        let haystack = format!(
            "{} {} {} {} {} {} {} {}",
            order.system_id,
            order.merchant_id,
            order.depositor_name.as_deref().unwrap_or(""),
            order.channel_id,
            order.memo,
            status,
            order.amount.map(Fen::yuan_plain).unwrap_or_default(),
            if order.signature.is_invalid() {
                "invalid"
            } else {
                order.signature.word()
            }
        )
        .to_lowercase();
        Row {
            amount: yuan(order.amount),
            real: yuan(order.real_amount),
            fee: yuan(order.fee),
            created,
            updated,
            status,
            haystack,
            order,
        }
    }
}

/// What a search brought back.
pub struct LoadedPage {
    pub rows: Vec<Row>,
    pub total: u64,
    /// Every matching order, not one page.
    pub all_pages: bool,
    pub note: Option<String>,
}

impl LoadedPage {
    pub fn from_page(page: QueryPage, tz: &TimeZone) -> LoadedPage {
        LoadedPage {
            rows: page.orders.into_iter().map(|o| Row::new(o, tz)).collect(),
            total: page.total,
            all_pages: false,
            note: None,
        }
    }

    pub fn from_all(all: FetchedAll, tz: &TimeZone) -> LoadedPage {
        let mut notes = Vec::new();
        if let Some(m) = all.count_mismatch() {
            notes.push(m);
        }
        if all.duplicates_dropped > 0 {
            notes.push(format!(
                "{} orders seen twice while paging were counted once",
                all.duplicates_dropped
            ));
        }
        LoadedPage {
            total: all.total_reported,
            all_pages: true,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            rows: all.orders.into_iter().map(|o| Row::new(o, tz)).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    SystemId,
    MerchantId,
    Depositor,
    Amount,
    Real,
    Fee,
    Status,
    Channel,
    Memo,
    Signature,
}

fn compare(a: &Row, b: &Row, key: SortKey) -> Ordering {
    let (x, y) = (&a.order, &b.order);
    match key {
        SortKey::Created => x.create_time_secs.cmp(&y.create_time_secs),
        SortKey::Updated => x.update_time_secs.cmp(&y.update_time_secs),
        SortKey::SystemId => x.system_id.cmp(&y.system_id),
        SortKey::MerchantId => x.merchant_id.cmp(&y.merchant_id),
        SortKey::Depositor => x.depositor_name.cmp(&y.depositor_name),
        SortKey::Amount => x.amount.cmp(&y.amount),
        SortKey::Real => x.real_amount.cmp(&y.real_amount),
        SortKey::Fee => x.fee.cmp(&y.fee),
        SortKey::Status => x.status.code.cmp(&y.status.code),
        SortKey::Channel => x.channel_id.cmp(&y.channel_id),
        SortKey::Memo => x.memo.cmp(&y.memo),
        SortKey::Signature => x.signature.word().cmp(y.signature.word()),
    }
}

/// The loaded rows as the operator narrowed and ordered them.
#[derive(Default)]
struct View {
    indices: Vec<usize>,
    sum: Option<Fen>,
    invalid: usize,
}

pub struct OrdersPanel {
    pub kind: OrderKind,
    pub filter: Filter,
    /// Zero-based page.
    pub page: u64,
    pub quick_filter: String,
    pub only_invalid: bool,
    pub sort: Option<(SortKey, bool)>,
    pub result: Requested<LoadedPage>,
    pub generation: u64,
    pub progress: Option<(u64, u64)>,
    pub selected: Option<usize>,
    view: View,
    view_dirty: bool,
    wants_all_pages: bool,
}

impl OrdersPanel {
    pub fn new(kind: OrderKind, persisted: &PersistedFilter) -> OrdersPanel {
        OrdersPanel {
            kind,
            filter: Filter::from_persisted(persisted),
            page: 0,
            quick_filter: String::new(),
            only_invalid: false,
            sort: None,
            result: Requested::NotYetRequested,
            generation: 0,
            progress: None,
            selected: None,
            view: View::default(),
            view_dirty: false,
            wants_all_pages: false,
        }
    }

    pub fn persisted(&self) -> PersistedFilter {
        self.filter.persisted()
    }

    pub fn clear(&mut self) {
        self.result = Requested::NotYetRequested;
        self.selected = None;
        self.page = 0;
        self.view = View::default();
    }

    pub fn query(&self) -> Result<OrderQuery, String> {
        let query = OrderQuery {
            offset: self.page * u64::from(self.filter.page_size),
            limit: self.filter.page_size,
            system_id: Some(self.filter.system_id.trim().to_owned()).filter(|s| !s.is_empty()),
            merchant_id: Some(self.filter.merchant_id.trim().to_owned()).filter(|s| !s.is_empty()),
            created: self.filter.range()?,
        };
        query.validate().map_err(|e| e.to_string())?;
        Ok(query)
    }

    pub fn begin_request(&mut self, all_pages: bool) -> u64 {
        self.generation += 1;
        self.wants_all_pages = all_pages;
        self.progress = None;
        self.result.begin();
        self.generation
    }

    pub fn invalid_filter(&mut self, err: String) {
        self.result.fail(err);
    }

    pub fn no_connection(&mut self, status: String) {
        let why = if status.is_empty() {
            "No CNY gateway profile is active: choose one under Profiles".to_owned()
        } else {
            status
        };
        self.result.fail(why);
    }

    /// Takes in a reply; a reply to a superseded request is dropped.
    pub fn receive(&mut self, generation: u64, result: Result<LoadedPage, String>) {
        if generation != self.generation {
            return;
        }
        self.progress = None;
        match result {
            Ok(page) => {
                self.result = Requested::Completed(page);
                self.selected = None;
                self.view_dirty = true;
            }
            Err(e) => self.result.fail(e),
        }
    }

    /// The rows as shown: filtered and sorted.
    #[cfg(test)]
    pub fn visible_rows(&self) -> impl Iterator<Item = &Row> {
        let rows = self.result.shown().map_or(&[][..], |p| &p.rows[..]);
        self.view.indices.iter().filter_map(move |i| rows.get(*i))
    }

    pub fn selected_order(&self) -> Option<&Row> {
        self.result.shown().and_then(|p| p.rows.get(self.selected?))
    }

    fn rebuild_view(&mut self) {
        self.view_dirty = false;
        let Some(page) = self.result.shown() else {
            self.view = View::default();
            return;
        };
        let needle = self.quick_filter.trim().to_lowercase();
        let mut indices: Vec<usize> = page
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| needle.is_empty() || r.haystack.contains(&needle))
            .filter(|(_, r)| !self.only_invalid || r.order.signature.is_invalid())
            .map(|(i, _)| i)
            .collect();
        if let Some((key, ascending)) = self.sort {
            indices.sort_by(|a, b| {
                let o = compare(&page.rows[*a], &page.rows[*b], key);
                if ascending { o } else { o.reverse() }
            });
        }
        self.view = View {
            sum: Fen::checked_sum(indices.iter().filter_map(|i| page.rows[*i].order.amount)),
            invalid: indices
                .iter()
                .filter(|i| page.rows[**i].order.signature.is_invalid())
                .count(),
            indices,
        };
    }

    fn pages(&self) -> Option<(u64, u64)> {
        let page = self.result.shown()?;
        let size = u64::from(self.filter.page_size);
        let count = page.total.div_ceil(size).max(1);
        Some((self.page + 1, count))
    }

    /// Draws the panel; returns the actions it queued.
    pub fn ui(&mut self, ui: &mut egui::Ui, details_open: &mut bool) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut search = false;
        let mut goto: Option<u64> = None;
        let quick_filter_id = egui::Id::unique(("quick_filter", self.kind));

        // Keyboard: Ctrl+F focuses the quick filter, PageUp/PageDown page.
        if ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::F)) {
            ui.memory_mut(|m| m.request_focus(quick_filter_id));
        }
        let (page_no, page_count) = self.pages().unwrap_or((1, 1));
        let paged = !self.result.shown().is_some_and(|p| p.all_pages);
        if paged
            && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::PageDown))
            && page_no < page_count
        {
            goto = Some(page_no);
        }
        if paged && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::PageUp)) && page_no > 1 {
            goto = Some(page_no - 2);
        }

        ui.horizontal_wrapped(|ui| {
            let entered = |r: &egui::Response, ui: &egui::Ui| r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let label = field_label(ui, "System order ID");
            let r = ui.add(egui::TextEdit::singleline(&mut self.filter.system_id).desired_width(130.0)).labelled_by(label);
            search |= entered(&r, ui);
            let label = field_label(ui, "Merchant order ID");
            let r = ui.add(egui::TextEdit::singleline(&mut self.filter.merchant_id).desired_width(170.0)).labelled_by(label);
            search |= entered(&r, ui);
            ui.separator();
            ui.checkbox(&mut self.filter.use_range, "Date range");
            ui.add_enabled_ui(self.filter.use_range, |ui| {
                ui.label("From");
                ui.add(DatePickerButton::new(&mut self.filter.from_date).show_icon(false).id_salt(if self.kind == OrderKind::Deposit { "dep_from" } else { "pay_from" }));
                let label = field_label(ui, "Start time");
                let r = ui.add(egui::TextEdit::singleline(&mut self.filter.from_time).desired_width(64.0)).labelled_by(label);
                search |= entered(&r, ui);
                ui.label("to");
                ui.add(DatePickerButton::new(&mut self.filter.to_date).show_icon(false).id_salt(if self.kind == OrderKind::Deposit { "dep_to" } else { "pay_to" }));
                let label = field_label(ui, "End time");
                let r = ui.add(egui::TextEdit::singleline(&mut self.filter.to_time).desired_width(64.0)).labelled_by(label);
                search |= entered(&r, ui);
            });
            let label = field_label(ui, "Time zone");
            egui::ComboBox::from_id_salt(("tz", self.kind))
                .selected_text(self.filter.tz.label())
                .show_ui(ui, |ui| {
                    for tz in [TzChoice::Gateway, TzChoice::Local, TzChoice::Utc] {
                        ui.selectable_value(&mut self.filter.tz, tz, tz.label());
                    }
                })
                .response
                .labelled_by(label);
            let label = field_label(ui, "Page size");
            egui::ComboBox::from_id_salt(("page_size", self.kind))
                .selected_text(self.filter.page_size.to_string())
                .show_ui(ui, |ui| {
                    for size in PAGE_SIZES {
                        if ui.selectable_value(&mut self.filter.page_size, size, size.to_string()).changed() {
                            search = true;
                        }
                    }
                })
                .response
                .labelled_by(label);
            if ui.button("Search").clicked() {
                search = true;
            }
            if ui
                .button("Load all pages")
                .on_hover_text("Fetch every order matching the filter (500 a page, 4 at a time) to filter and sort them all here")
                .clicked()
            {
                self.page = 0;
                actions.push(Action::LoadAll);
            }
            if ui
                .button("Export…")
                .on_hover_text("Ctrl+E: this page or every order matching the filter, to CSV, XLSX or JSON Lines")
                .clicked()
            {
                actions.push(Action::Export);
            }
        });
        // The exact bounds the gateway will get.
        match self.filter.range() {
            Ok(Some(r)) => {
                ui.label(
                    RichText::new(format!(
                        "create_time__gte={} · create_time__lte={} (UTC {} – {})",
                        r.from_secs,
                        r.to_secs,
                        format_secs(r.from_secs, &TimeZone::UTC),
                        format_secs(r.to_secs, &TimeZone::UTC)
                    ))
                    .monospace()
                    .weak(),
                );
            }
            Ok(None) => {
                ui.label(RichText::new("All dates: no time range is sent").weak());
            }
            Err(e) => {
                ui.colored_label(ERROR, e);
            }
        }
        if search {
            self.page = 0;
        }
        if let Some(p) = goto {
            self.page = p;
            search = true;
        }
        if search {
            actions.push(Action::Search);
        }

        ui.separator();
        self.status_ui(ui, &mut actions);

        ui.horizontal(|ui| {
            let label = field_label(ui, "Quick filter");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.quick_filter)
                        .id(quick_filter_id)
                        .hint_text("Ctrl+F: narrow the loaded rows")
                        .desired_width(220.0),
                )
                .labelled_by(label);
            if r.changed() {
                self.view_dirty = true;
            }
            if ui
                .checkbox(&mut self.only_invalid, "Only invalid signatures")
                .changed()
            {
                self.view_dirty = true;
            }
        });
        if self.view_dirty {
            self.rebuild_view();
        }
        self.summary_ui(ui);
        if self.result.shown().is_some() {
            self.table_ui(ui, details_open);
        }
        actions
    }

    fn status_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            let paged = !self.result.shown().is_some_and(|p| p.all_pages);
            if let Some((page_no, page_count)) = self.pages().filter(|_| paged) {
                let mut go = |page: u64, this: &mut OrdersPanel| {
                    this.page = page;
                    actions.push(Action::Search);
                };
                if ui
                    .add_enabled(page_no > 1, egui::Button::new("First"))
                    .clicked()
                {
                    go(0, self);
                }
                if ui
                    .add_enabled(page_no > 1, egui::Button::new("Previous"))
                    .on_hover_text("PageUp")
                    .clicked()
                {
                    go(page_no - 2, self);
                }
                ui.label(format!("page {page_no} of {page_count}"));
                if ui
                    .add_enabled(page_no < page_count, egui::Button::new("Next"))
                    .on_hover_text("PageDown")
                    .clicked()
                {
                    go(page_no, self);
                }
                if ui
                    .add_enabled(page_no < page_count, egui::Button::new("Last"))
                    .clicked()
                {
                    go(page_count - 1, self);
                }
            }
            if let Some(page) = self.result.shown() {
                let text = if page.all_pages {
                    format!("all {} matching orders loaded", page.rows.len())
                } else {
                    format!("gateway total {}", page.total)
                };
                ui.label(RichText::new(text).strong());
            }
            if self.result.is_pending() {
                ui.spinner();
                match self.progress {
                    Some((done, total)) if self.wants_all_pages => {
                        ui.add(
                            egui::ProgressBar::new(if total == 0 {
                                1.0
                            } else {
                                done as f32 / total as f32
                            })
                            .desired_width(160.0)
                            .text(format!("{done} of {total}")),
                        );
                    }
                    _ => {
                        ui.label("Loading…");
                    }
                }
            }
        });
        if let Some(err) = self.result.error() {
            ui.colored_label(ERROR, err);
        }
        if let Some(note) = self.result.shown().and_then(|p| p.note.as_deref()) {
            ui.colored_label(WARN, note);
        }
    }

    fn summary_ui(&self, ui: &mut egui::Ui) {
        let Some(page) = self.result.shown() else {
            return;
        };
        let shown = self.view.indices.len();
        let sum = self
            .view
            .sum
            .map_or_else(|| "too large to add up".to_owned(), |s| s.to_string());
        let text = format!(
            "{shown} of {} loaded orders shown · sum of amounts {sum} · {} invalid signature{}",
            page.rows.len(),
            self.view.invalid,
            if self.view.invalid == 1 { "" } else { "s" }
        );
        if self.view.invalid > 0 {
            ui.label(RichText::new(text).color(ERROR));
        } else {
            ui.label(text);
        }
    }

    fn table_ui(&mut self, ui: &mut egui::Ui, details_open: &mut bool) {
        let Some(page) = self.result.shown() else {
            return;
        };
        let deposit = self.kind == OrderKind::Deposit;
        let mut columns: Vec<(&str, SortKey, f32)> = vec![
            ("Created", SortKey::Created, 126.0),
            ("Updated", SortKey::Updated, 126.0),
            ("System ID", SortKey::SystemId, 92.0),
            ("Merchant ID", SortKey::MerchantId, 150.0),
        ];
        if deposit {
            columns.push(("Depositor", SortKey::Depositor, 76.0));
        }
        columns.extend([
            ("Amount", SortKey::Amount, 84.0),
            ("Real amount", SortKey::Real, 84.0),
            ("Fee", SortKey::Fee, 58.0),
            ("Status", SortKey::Status, 74.0),
            ("Channel", SortKey::Channel, 92.0),
            ("Memo", SortKey::Memo, 70.0),
            ("Signature", SortKey::Signature, 72.0),
        ]);
        let mut sort_clicked = None;
        let mut row_clicked = None;
        // A click anywhere on a row selects it; selectable text would take the click.
        ui.style_mut().interaction.selectable_labels = false;
        // Narrow windows scroll sideways instead of cutting columns off.
        egui::ScrollArea::horizontal()
            .id_salt(("orders_hscroll", self.kind))
            .show(ui, |ui| {
                let mut table = TableBuilder::new(ui)
                    .id_salt(("orders_table", self.kind))
                    .striped(true)
                    .resizable(true)
                    .sense(Sense::click())
                    .cell_layout(Layout::left_to_right(Align::Center))
                    .min_scrolled_height(0.0);
                for (i, (_, _, width)) in columns.iter().enumerate() {
                    let c = Column::initial(*width).at_least(40.0).clip(true);
                    table = table.column(if i + 1 == columns.len() {
                        c.resizable(false)
                    } else {
                        c
                    });
                }
                let sort = self.sort;
                let selected = self.selected;
                let view = &self.view.indices;
                table
                    .header(22.0, |mut header| {
                        for (label, key, _) in &columns {
                            header.col(|ui| {
                                if ui
                                    .button(RichText::new(*label).strong())
                                    .on_hover_text("Sort")
                                    .clicked()
                                {
                                    sort_clicked = Some(*key);
                                }
                                // The arrows exist in the monospace font (Hack) only.
                                let arrow = match sort {
                                    Some((k, true)) if k == *key => "↑",
                                    Some((k, false)) if k == *key => "↓",
                                    _ => "",
                                };
                                if !arrow.is_empty() {
                                    ui.label(RichText::new(arrow).monospace());
                                }
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(20.0, view.len(), |mut row| {
                            let index = view[row.index()];
                            let r = &page.rows[index];
                            row.set_selected(selected == Some(index));
                            row.col(|ui| {
                                ui.label(&r.created);
                            });
                            row.col(|ui| {
                                ui.label(&r.updated);
                            });
                            row.col(|ui| {
                                ui.label(RichText::new(&r.order.system_id).monospace());
                            });
                            row.col(|ui| {
                                ui.label(RichText::new(&r.order.merchant_id).monospace());
                            });
                            if deposit {
                                row.col(|ui| {
                                    ui.label(r.order.depositor_name.as_deref().unwrap_or(""));
                                });
                            }
                            for text in [&r.amount, &r.real, &r.fee] {
                                row.col(|ui| {
                                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                        ui.label(RichText::new(text).monospace())
                                    });
                                });
                            }
                            row.col(|ui| widgets::status_chip(ui, r.order.status, &r.status));
                            row.col(|ui| {
                                ui.label(&r.order.channel_id);
                            });
                            row.col(|ui| {
                                ui.label(&r.order.memo);
                            });
                            row.col(|ui| widgets::signature_badge(ui, &r.order.signature));
                            if row.response().clicked() {
                                row_clicked = Some(index);
                            }
                        });
                    });
            });
        if let Some(key) = sort_clicked {
            self.sort = match self.sort {
                Some((k, asc)) if k == key => Some((key, !asc)),
                _ => Some((key, true)),
            };
            self.rebuild_view();
        }
        if let Some(i) = row_clicked {
            self.selected = Some(i);
            *details_open = true;
        }
    }

    /// The details side panel of the selected order.
    pub fn details_ui(&mut self, ui: &mut egui::Ui, options: SignOptions, open: &mut bool) {
        let tz = self.filter.tz.zone();
        let tz_label = self.filter.tz.label();
        let Some(row) = self.selected_order() else {
            return;
        };
        let order = &row.order;
        ui.horizontal(|ui| {
            ui.heading("Order details");
            if ui.button("Close").clicked() {
                *open = false;
            }
        });
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label("Signature");
                widgets::signature_badge(ui, &order.signature);
            });
            egui::Grid::new("details_ids")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for (label, value) in [
                        ("System order ID", &order.system_id),
                        ("Merchant order ID", &order.merchant_id),
                    ] {
                        ui.label(label);
                        ui.label(RichText::new(value).monospace());
                        if ui
                            .small_button("Copy")
                            .on_hover_text(format!("Copy the {}", label.to_lowercase()))
                            .clicked()
                        {
                            ui.ctx().copy_text(value.clone());
                        }
                        ui.end_row();
                    }
                    for (label, secs) in [
                        ("Created", order.create_time_secs),
                        ("Updated", order.update_time_secs),
                    ] {
                        if let Some(t) = secs {
                            ui.label(label);
                            ui.label(format!(
                                "{} ({tz_label})\n{} UTC",
                                format_secs(t, &tz),
                                format_secs(t, &TimeZone::UTC)
                            ));
                            ui.label("");
                            ui.end_row();
                        }
                    }
                });
            ui.add_space(6.0);
            ui.label(RichText::new("Every field as received").strong());
            egui::Grid::new("details_raw")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    for (key, value) in &order.raw {
                        ui.label(RichText::new(key).monospace());
                        let text = match value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        ui.label(RichText::new(text).monospace());
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.label(RichText::new("Signed text (key masked)").strong());
            let canonical = match &order.signature {
                SignatureCheck::Checked(v) => v.canonical_masked.clone(),
                SignatureCheck::Unchecked => order.canonical_masked(options),
            };
            ui.add(egui::Label::new(RichText::new(canonical).monospace()).wrap());
            if let SignatureCheck::Checked(v) = &order.signature {
                ui.label(v.verdict.describe());
                for (field, why) in &v.omitted {
                    ui.label(RichText::new(format!("left out: {field} — {}", why.reason())).weak());
                }
            }
        });
    }
}
