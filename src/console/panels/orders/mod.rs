//! The Deposits and Payouts panels: filters, paging, a virtualized table
//! that stays smooth with 100,000 rows, a quick filter and sorting over the loaded rows, and
//! the order details side panel.

use std::cmp::Ordering;

use jiff::civil::{Date, Time};
use paydesk::domain::dates::{Bound, parse_bound};
use paydesk::domain::filter::OrderFilter;
use paydesk::domain::search::FetchedAll;
use paydesk::gateway::cny::wire::{Order, OrderKind, OrderQuery, QueryPage, TimeRange};
use paydesk::money::Fen;
use serde::{Deserialize, Serialize};

use crate::console::context::{Reply, Requested, TzChoice};
use tokio::sync::mpsc;

mod view;

#[cfg(test)]
mod tests;

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
    /// Where the console's time zone was kept before it was one setting for every panel;
    /// read once to carry an operator's choice over, never written.
    #[serde(skip_serializing)]
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
            tz: TzChoice::Gateway,
            system_id: self.system_id.clone(),
            merchant_id: self.merchant_id.clone(),
            page_size: self.page_size,
        }
    }

    /// The filter as the domain takes it; the bounds are exact (a date and a time each).
    pub fn order_filter(&self, tz: TzChoice) -> Result<OrderFilter, String> {
        let mut filter = OrderFilter {
            system_id: self.system_id.clone(),
            merchant_id: self.merchant_id.clone(),
            ..OrderFilter::default()
        };
        if !self.use_range {
            return Ok(filter);
        }
        let tz = tz.zone();
        let bound = |date: Date, time: &str, which: &str| -> Result<i64, String> {
            let t: Time = time
                .trim()
                .parse()
                .map_err(|_| format!("the {which} time “{time}” is not HH:MM or HH:MM:SS"))?;
            parse_bound(&format!("{date} {t}"), &tz, Bound::Start).map_err(|e| e.to_string())
        };
        filter.from_secs = Some(bound(self.from_date, &self.from_time, "start")?);
        filter.to_secs = Some(bound(self.to_date, &self.to_time, "end")?);
        Ok(filter)
    }

    /// The exact Unix bounds the gateway will get, or why there are none; the dates and
    /// times are read in the console's zone `tz`.
    pub fn range(&self, tz: TzChoice) -> Result<Option<TimeRange>, String> {
        self.order_filter(tz)?
            .range(now_secs())
            .map_err(|e| e.to_string())
    }
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// One order with its display text worked out once, not every frame.
pub struct Row {
    pub order: Order,
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
    fn new(order: Order) -> Row {
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
    pub fn from_page(page: QueryPage) -> LoadedPage {
        LoadedPage {
            rows: page.orders.into_iter().map(Row::new).collect(),
            total: page.total,
            all_pages: false,
            note: None,
        }
    }

    pub fn from_all(all: FetchedAll) -> LoadedPage {
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
            rows: all.orders.into_iter().map(Row::new).collect(),
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
    /// How far loading every page got (done, total), while it runs.
    pub progress: Option<(u64, u64)>,
    progress_rx: Option<mpsc::Receiver<(u64, u64)>>,
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
            progress: None,
            progress_rx: None,
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

    /// The query of the page the panel is on, its dates and times read in `tz`.
    pub fn query(&self, tz: TzChoice) -> Result<OrderQuery, String> {
        let offset = self.page * u64::from(self.filter.page_size);
        self.filter
            .order_filter(tz)?
            .query(offset, self.filter.page_size, now_secs())
            .map_err(|e| e.to_string())
    }

    /// Waits for the reply to a new search, and for its progress when it loads every page;
    /// a search still running is dropped with its receivers.
    pub fn begin_request(
        &mut self,
        all_pages: bool,
        rx: Reply<LoadedPage>,
        progress: Option<mpsc::Receiver<(u64, u64)>>,
    ) {
        self.wants_all_pages = all_pages;
        self.progress = None;
        self.progress_rx = progress;
        self.result.request(rx);
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

    /// Takes in what the search reported: its progress, then its reply.
    pub fn poll(&mut self) {
        if let Some(rx) = &mut self.progress_rx {
            while let Ok(p) = rx.try_recv() {
                self.progress = Some(p);
            }
        }
        if self.result.poll() {
            self.progress = None;
            self.progress_rx = None;
            if matches!(self.result, Requested::Completed(_)) {
                self.selected = None;
                self.view_dirty = true;
            }
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
}
