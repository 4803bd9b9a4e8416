//! The Deposits and Payouts panels: filters, paging, a virtualized table
//! that stays smooth with 100,000 rows, a quick filter and sorting over the loaded rows, and
//! the order details side panel.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::civil::{Date, Time};
use paydesk::domain::dates::{Bound, parse_bound};
use paydesk::domain::filter::OrderFilter;
use paydesk::domain::search::FetchedAll;
use paydesk::gateway::cny::sign::Verification;
use paydesk::gateway::cny::wire::{
    Order, OrderKind, OrderQuery, OrderStatus, QueryPage, TimeRange,
};
use paydesk::money::Fen;
use serde::{Deserialize, Serialize};

use crate::console::context::{Reply, Requested, TzChoice};
use tokio::sync::mpsc;

mod charted;
mod menu;
mod row;
mod view;

pub use menu::received;
use row::Needle;
pub use row::{Reread, Row, RowBuilder};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_daily;

pub const PAGE_SIZES: [u32; 5] = [25, 50, 100, 200, 500];

/// What an orders panel asks of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Query the page the panel is on with its filter.
    Search,
    /// Fetch every page matching the filter.
    LoadAll,
    /// Open the export dialog for this panel's orders.
    Export,
    /// Open the export dialog set to every order matching the filter.
    ExportAll,
    /// Open the export dialog for the selected rows.
    ExportSelection,
    /// Put this order's text, exactly as received, in the workbench and check it.
    OpenInWorkbench(String),
    /// Ask where to save, then write a chart's numbers (CSV text).
    SaveChart {
        suggested_name: String,
        text: String,
    },
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
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Past this many loaded orders the console stops keeping them and offers the export: a
/// million compact rows take about 500 MB (see `paydesk bench console`).
pub const MAX_LOADED_ROWS: usize = 1_000_000;

/// What a search brought back.
pub struct LoadedPage {
    /// Shared with an export of the loaded rows, which reads them off the UI thread.
    pub rows: Arc<Vec<Row>>,
    pub total: u64,
    /// Every matching order, not one page (or as many as the limit let in).
    pub all_pages: bool,
    pub note: Option<String>,
    /// How the rows' orders are read again for the details and exports.
    pub reread: Reread,
    /// The number of matching orders when there were more than the console keeps.
    pub beyond_limit: Option<u64>,
}

impl LoadedPage {
    /// Rows of `orders`, each order dropped as soon as its row is made.
    pub fn from_orders(
        orders: impl IntoIterator<Item = Order>,
        total: u64,
        reread: Reread,
    ) -> LoadedPage {
        let mut builder = RowBuilder::default();
        let rows = orders.into_iter().map(|o| builder.row(&o)).collect();
        LoadedPage {
            rows: Arc::new(rows),
            total,
            all_pages: false,
            note: None,
            reread,
            beyond_limit: None,
        }
    }

    pub fn from_page(page: QueryPage, reread: Reread) -> LoadedPage {
        LoadedPage::from_orders(page.orders, page.total, reread)
    }

    /// Every matching order as rows made while the pages arrived, or the first of them when
    /// more matched than the console keeps.
    pub fn from_all(all: FetchedAll<Row>, reread: Reread) -> LoadedPage {
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
            rows: Arc::new(all.orders),
            total: all.total_reported,
            all_pages: true,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            reread,
            beyond_limit: all.beyond_limit,
        }
    }

    /// Rows made from orders at hand, as [`LoadedPage::from_all`] makes them while pages arrive.
    #[cfg(test)]
    pub fn from_all_orders(all: FetchedAll, reread: Reread, limit: usize) -> LoadedPage {
        let mut builder = RowBuilder::default();
        let beyond =
            (all.orders.len() > limit).then(|| all.total_reported.max(all.orders.len() as u64));
        let FetchedAll {
            orders,
            total_reported,
            duplicates_dropped,
            query,
            window_notes,
            beyond_limit,
        } = all;
        LoadedPage::from_all(
            FetchedAll {
                orders: orders.iter().take(limit).map(|o| builder.row(o)).collect(),
                total_reported,
                duplicates_dropped,
                query,
                window_notes,
                beyond_limit: beyond_limit.or(beyond),
            },
            reread,
        )
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

fn compare(x: &Row, y: &Row, key: SortKey) -> Ordering {
    match key {
        SortKey::Created => x.created().cmp(&y.created()),
        SortKey::Updated => x.updated().cmp(&y.updated()),
        SortKey::SystemId => x.system_id().cmp(y.system_id()),
        SortKey::MerchantId => x.merchant_id().cmp(y.merchant_id()),
        SortKey::Depositor => x.depositor().cmp(&y.depositor()),
        SortKey::Amount => x.amount().cmp(&y.amount()),
        SortKey::Real => x.real_amount().cmp(&y.real_amount()),
        SortKey::Fee => x.fee().cmp(&y.fee()),
        SortKey::Status => x.status_code().cmp(&y.status_code()),
        SortKey::Channel => x.channel.cmp(&y.channel),
        SortKey::Memo => x.memo.cmp(&y.memo),
        SortKey::Signature => x.signature.word().cmp(y.signature.word()),
    }
}

/// The number a column sorts by, for the columns that hold one.
fn number_key(key: SortKey) -> Option<fn(&Row) -> Option<i64>> {
    Some(match key {
        SortKey::Created => Row::created,
        SortKey::Updated => Row::updated,
        SortKey::Amount => |r| r.amount().map(Fen::fen),
        SortKey::Real => |r| r.real_amount().map(Fen::fen),
        SortKey::Fee => |r| r.fee().map(Fen::fen),
        SortKey::Status => Row::status_code,
        _ => return None,
    })
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
    /// Every selected row (Ctrl+click, Shift+click, Ctrl+A), as indices into the loaded rows;
    /// holds `selected` too. Copy and export act on these.
    pub marked: BTreeSet<usize>,
    /// An order the details asked to open in the workbench, handed over as the panel draws.
    to_workbench: Option<String>,
    /// The next export is of the selected rows only (asked from a row menu).
    pub export_selection: bool,
    /// The rows the row menu's export was asked for, with the loaded rows they index.
    export_rows: Option<(Arc<Vec<Row>>, Vec<usize>)>,
    /// The row whose menu the keyboard opened (the menu key or Shift+F10).
    keyboard_menu: Option<usize>,
    /// The filter and zone of the search the rows shown came from, to tell a changed filter.
    searched: Option<(Filter, TzChoice)>,
    /// The selected order read again from its text, while the details show it, with its
    /// verdict explained (when a key checked it): computed once per selection.
    detail: Option<(usize, Order, Option<Verification>)>,
    /// How many orders loading every page keeps at most ([`MAX_LOADED_ROWS`]).
    pub row_limit: usize,
    view: View,
    view_dirty: bool,
    wants_all_pages: bool,
    /// The overview charts and the bar that narrows the table.
    pub charted: charted::Charted,
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
            marked: BTreeSet::new(),
            to_workbench: None,
            export_selection: false,
            export_rows: None,
            keyboard_menu: None,
            searched: None,
            detail: None,
            row_limit: MAX_LOADED_ROWS,
            view: View::default(),
            view_dirty: false,
            wants_all_pages: false,
            charted: charted::Charted::default(),
        }
    }

    pub fn persisted(&self) -> PersistedFilter {
        self.filter.persisted()
    }

    pub fn clear(&mut self) {
        self.result = Requested::NotYetRequested;
        self.selected = None;
        self.marked.clear();
        self.detail = None;
        self.page = 0;
        self.searched = None;
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
                self.marked.clear();
                self.keyboard_menu = None;
                self.detail = None;
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

    /// The selected order in full, read from its kept text once per selection.
    #[cfg(test)]
    pub fn selected_detail(&mut self) -> Option<&Order> {
        self.selected_explained().map(|(o, _)| o)
    }

    /// The selected order in full and the explanation of its verdict (`None` when no key
    /// checked it), both made once per selection: a page's orders carry the verdict alone.
    pub fn selected_explained(&mut self) -> Option<(&Order, Option<&Verification>)> {
        let index = self.selected?;
        if self.detail.as_ref().is_none_or(|(i, _, _)| *i != index) {
            let page = self.result.shown()?;
            let order = page.reread.order(page.rows.get(index)?);
            let verification = page.reread.verification(&order);
            self.detail = Some((index, order, verification));
        }
        self.detail.as_ref().map(|(_, o, v)| (o, v.as_ref()))
    }

    /// Sets the quick filter and the sort and applies them at once (for benchmarks).
    pub fn narrow(&mut self, quick_filter: &str, sort: Option<(SortKey, bool)>) {
        quick_filter.clone_into(&mut self.quick_filter);
        self.sort = sort;
        self.rebuild_view();
    }

    fn rebuild_view(&mut self) {
        self.view_dirty = false;
        let Some(page) = self.result.shown() else {
            self.view = View::default();
            return;
        };
        let needle = Needle::new(&self.quick_filter);
        // A status's words are looked at once per code, not once per row.
        let kind = self.kind;
        let statuses: HashMap<Option<i64>, bool> = OrderStatus::all(kind)
            .into_iter()
            .map(|s| s.code)
            .chain([None])
            .map(|code| (code, needle.found_in(&OrderStatus { kind, code }.label())))
            .collect();
        let status_hit = |code: Option<i64>| {
            statuses
                .get(&code)
                .copied()
                .unwrap_or_else(|| needle.found_in(&OrderStatus { kind, code }.label()))
        };
        let mut indices: Vec<usize> = page
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| needle.is_empty() || r.matches(&needle, status_hit))
            .filter(|(_, r)| !self.only_invalid || r.signature.is_invalid())
            .filter(|(_, r)| self.in_pick(r))
            .map(|(i, _)| i)
            .collect();
        if let Some((key, ascending)) = self.sort {
            let order = |o: Ordering| if ascending { o } else { o.reverse() };
            if let Some(number) = number_key(key) {
                // The keys read once, in row order, then sorted on their own: far fewer
                // cache misses than reaching into a million rows at every comparison.
                let mut keyed: Vec<(Option<i64>, usize)> = indices
                    .iter()
                    .map(|i| (number(&page.rows[*i]), *i))
                    .collect();
                keyed.sort_by(|a, b| order(a.0.cmp(&b.0)));
                indices = keyed.into_iter().map(|(_, i)| i).collect();
            } else {
                indices.sort_by(|a, b| order(compare(&page.rows[*a], &page.rows[*b], key)));
            }
        }
        self.view = View {
            sum: Fen::checked_sum(indices.iter().filter_map(|i| page.rows[*i].amount())),
            invalid: indices
                .iter()
                .filter(|i| page.rows[**i].signature.is_invalid())
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
