//! Every order matching a filter as a stream of pages, newest first, each order once, in
//! memory that does not grow with the number of orders: the pinned range is cut into time
//! windows (so offsets stay shallow), each window counted, its pages fetched in parallel at a
//! polite adaptive pace and handed on in order through a bounded reorder buffer.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::pace::Pace;
use super::reorder::Reorder;
use super::{PAGE_ATTEMPTS, transient, windows};
use crate::gateway::cny::client::{CnyClient, CnyError};
use crate::gateway::cny::wire::{MAX_LIMIT, Order, OrderKind, OrderQuery, QueryPage, TimeRange};
use crate::gateway::http::TransportError;

/// Pages a window aims at: offsets never go deeper than this many pages.
pub const WINDOW_PAGES: u32 = 20;

/// The most orders one stream reads: a gateway reporting more is refused with an error rather
/// than planned for, since the plan (windows and pages) grows with the count it reports.
pub const MAX_ORDERS: u64 = 100_000_000;

/// Notes on count mismatches kept in full; the rest are counted.
const MAX_NOTES: usize = 5;

/// How the stream cuts and paces its work.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// Pages a window aims at (tests make it small so that there are many windows).
    pub window_pages: u32,
    /// Orders a page asks for.
    pub page_size: u32,
    /// The most requests at once (the profile's limit); the stream starts at
    /// [`super::pace::START`] or this, when lower.
    pub concurrency: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            window_pages: WINDOW_PAGES,
            page_size: MAX_LIMIT,
            concurrency: super::pace::START,
        }
    }
}

/// What a stream handed on and how it compares with what the gateway said.
#[derive(Clone, Debug)]
pub struct StreamSummary {
    /// The query as actually run (with the pinned range).
    pub query: OrderQuery,
    /// `total` of the whole range, as its first page reported it.
    pub total_reported: u64,
    /// Orders handed on.
    pub rows: u64,
    /// Orders seen twice (offsets shifted under us) and dropped.
    pub duplicates_dropped: usize,
    /// Orders whose signature did not verify.
    pub invalid_signatures: usize,
    /// Time windows read.
    pub windows: usize,
    /// Where a window's rows, or the sum of the windows' counts, differ from the gateway's.
    pub notes: Vec<String>,
}

impl StreamSummary {
    /// `None` when every count agrees; otherwise what differs, for an operator.
    pub fn count_note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.rows != self.total_reported {
            parts.push(format!(
                "fetched {} orders but the gateway reported {} matching",
                self.rows, self.total_reported
            ));
        }
        parts.extend(self.notes.iter().cloned());
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The query with its upper time bound pinned to the last whole second before `now_secs`
/// (or the operator's, when earlier): orders created in the current second would still
/// arrive between pages.
pub fn pinned_query(filter: &OrderQuery, now_secs: i64) -> OrderQuery {
    let mut query = OrderQuery {
        offset: 0,
        limit: MAX_LIMIT,
        ..filter.clone()
    };
    let pinned_to = now_secs - 1;
    match &mut query.created {
        None => {
            query.created = Some(TimeRange {
                from_secs: 0,
                to_secs: pinned_to,
            });
        }
        Some(range) if range.to_secs > pinned_to => range.to_secs = pinned_to,
        Some(_) => {}
    }
    query
}

/// One request's outcome and how often the gateway pushed back before it.
struct Fetched {
    index: usize,
    page: Result<QueryPage, CnyError>,
    push_backs: u32,
}

fn pushes_back(e: &CnyError) -> bool {
    use crate::gateway::cny::wire::ReplyError;
    match e {
        CnyError::Reply(ReplyError::Http { status, .. }) => *status >= 500 || *status == 429,
        CnyError::Reply(ReplyError::Gateway(g)) => g.code == "0001",
        _ => false,
    }
}

/// A page with retries and backoff, counting the replies that asked us to slow down.
async fn fetch(client: CnyClient, kind: OrderKind, query: OrderQuery, index: usize) -> Fetched {
    let mut delay = std::time::Duration::from_millis(200);
    let mut push_backs = 0;
    let mut attempt = 1;
    loop {
        match client.query(kind, &query).await {
            Ok(page) => {
                return Fetched {
                    index,
                    page: Ok(page),
                    push_backs,
                };
            }
            Err(e) if transient(&e) && attempt < PAGE_ATTEMPTS => {
                push_backs += u32::from(pushes_back(&e));
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => {
                return Fetched {
                    index,
                    page: Err(e),
                    push_backs,
                };
            }
        }
    }
}

fn joined(r: Result<Fetched, tokio::task::JoinError>) -> Result<Fetched, CnyError> {
    r.map_err(|e| CnyError::Transport(TransportError::Other(e.to_string())))
}

/// The next finished request with its page, the gateway's push-backs and success told to
/// `pace`; `None` when no request is running.
async fn next_done(
    tasks: &mut JoinSet<Fetched>,
    pace: &mut Pace,
) -> Option<Result<(usize, QueryPage), CnyError>> {
    let done = match joined(tasks.join_next().await?) {
        Ok(done) => done,
        Err(e) => return Some(Err(e)),
    };
    for _ in 0..done.push_backs {
        pace.push_back();
    }
    Some(done.page.map(|page| {
        pace.success();
        (done.index, page)
    }))
}

/// A window's count as the gateway gave it, or the rows its reply carries when more: a
/// `total` below them would leave the window unread and the file short without a word.
fn at_least_the_rows(reply: &QueryPage) -> u64 {
    reply.total.max(reply.orders.len() as u64)
}

fn lying(what: String) -> CnyError {
    CnyError::Reply(crate::gateway::cny::wire::ReplyError::Malformed(what))
}

fn window_query(query: &OrderQuery, window: TimeRange, offset: u64, limit: u32) -> OrderQuery {
    OrderQuery {
        offset,
        limit,
        created: Some(window),
        ..query.clone()
    }
}

/// Counts each window (a one-order page gives its `total`), cutting again those too deep
/// (from the density of their own newest page, or into equal spans when that cannot help),
/// with at most `pace.limit()` requests at once. Returns the windows newest first with their
/// counts. Disjoint windows of the pinned range cannot hold more than the whole range's
/// `total`: a gateway whose windows claim more is refused, since cutting by such counts need
/// never end.
async fn count_windows(
    client: &CnyClient,
    kind: OrderKind,
    query: &OrderQuery,
    planned: Vec<TimeRange>,
    (aim, window_rows, page_size, total): (u64, u64, u32, u64),
    pace: &mut Pace,
) -> Result<Vec<(TimeRange, u64)>, CnyError> {
    // Orders claimed by the disjoint windows known so far (counted, or counted and awaiting a
    // cut); a little slack for an order recorded late into the range.
    let mut claimed = 0u64;
    let claim = |claimed: &mut u64, count: u64| {
        *claimed = claimed.saturating_add(count);
        if *claimed > total.saturating_add(window_rows) {
            return Err(lying(format!(
                "its time windows' counts add up to more than the {total} orders it reported \
                 for the whole range"
            )));
        }
        Ok(())
    };
    // A window to count, or (with its count) one whose newest page is wanted for its density.
    let mut waiting: Vec<(TimeRange, Option<u64>)> =
        planned.into_iter().map(|w| (w, None)).collect();
    let mut asked: Vec<(TimeRange, Option<u64>)> = Vec::new();
    let mut counted = Vec::new();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < pace.limit()
            && let Some((w, count)) = waiting.pop()
        {
            asked.push((w, count));
            let limit = if count.is_some() { page_size } else { 1 };
            tasks.spawn(fetch(
                client.clone(),
                kind,
                window_query(query, w, 0, limit),
                asked.len() - 1,
            ));
        }
        let Some(done) = next_done(&mut tasks, pace).await else {
            break;
        };
        let (index, reply) = done?;
        let count = at_least_the_rows(&reply);
        let (window, density) = asked[index];
        if let Some(count) = density {
            claimed = claimed.saturating_sub(count);
        }
        let parts = if density.is_some() {
            let times: Vec<i64> = reply
                .orders
                .iter()
                .filter_map(|o| o.create_time_secs)
                .collect();
            let parts = windows::plan(
                window,
                count,
                times.iter().copied().max().unwrap_or(window.to_secs),
                times.iter().copied().min().unwrap_or(window.from_secs),
                times.len() as u64,
                aim,
            );
            if parts.len() > 1 {
                parts
            } else {
                windows::split(window, count, window_rows)
            }
        } else if count > window_rows
            && window.from_secs < window.to_secs
            && counted.len() + waiting.len() + tasks.len() < windows::MAX_WINDOWS
        {
            claim(&mut claimed, count)?;
            waiting.push((window, Some(count)));
            continue;
        } else {
            vec![window]
        };
        if parts.len() > 1 && counted.len() + waiting.len() + parts.len() <= windows::MAX_WINDOWS {
            waiting.extend(parts.into_iter().map(|w| (w, None)));
        } else {
            claim(&mut claimed, count)?;
            counted.push((window, count));
        }
    }
    counted.sort_by_key(|(w, _)| std::cmp::Reverse(w.to_secs));
    Ok(counted)
}

/// A compact key for an order's system ID: the set of keys seen in a window stays small.
fn id_key(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Streams every order matching `filter` (the upper bound pinned at `now_secs`) into `pages`,
/// newest first, each once, in pages of up to `options.page_size`; `progress(done, total)` as
/// pages are handed on. At most `options.concurrency` requests at once (starting at 4, fewer when the
/// gateway pushes back) and at most twice that many pages between the gateway and `pages`, so
/// memory does not grow with the number of orders. Ends with an error when a page cannot be
/// fetched or the receiver of `pages` is gone: then what was handed on is incomplete.
#[allow(clippy::too_many_lines)]
pub async fn stream_orders(
    client: &CnyClient,
    kind: OrderKind,
    filter: &OrderQuery,
    now_secs: i64,
    options: StreamOptions,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
    pages: &mpsc::Sender<Vec<Order>>,
) -> Result<StreamSummary, CnyError> {
    let query = pinned_query(filter, now_secs);
    let page_size = options.page_size.clamp(1, MAX_LIMIT);
    let window_rows = u64::from(options.window_pages.max(1)) * u64::from(page_size);
    // Aim below the limit: a density estimated from one page is a few percent off, and a
    // window just over the limit would cost a split (more requests, more windows).
    let aim = (window_rows * 3 / 4).max(1);
    let mut pace = Pace::new(options.concurrency);
    let whole = query.created.unwrap_or(TimeRange {
        from_secs: 0,
        to_secs: now_secs - 1,
    });
    let probe =
        super::page_with_retries(client, kind, &window_query(&query, whole, 0, page_size)).await?;
    let total = probe.total;
    if total > MAX_ORDERS {
        return Err(lying(format!(
            "it reports {total} matching orders, more than one export reads ({MAX_ORDERS}): \
             narrow the time range"
        )));
    }
    progress(0, total);
    let times: Vec<i64> = probe
        .orders
        .iter()
        .filter_map(|o| o.create_time_secs)
        .collect();
    let newest = times.iter().copied().max().unwrap_or(whole.to_secs);
    let oldest = times.iter().copied().min().unwrap_or(whole.from_secs);
    let windows: Vec<(TimeRange, u64)> = if total <= window_rows {
        vec![(whole, at_least_the_rows(&probe))]
    } else {
        let planned = windows::plan(whole, total, newest, oldest, times.len() as u64, aim);
        drop(probe);
        count_windows(
            client,
            kind,
            &query,
            planned,
            (aim, window_rows, page_size, total),
            &mut pace,
        )
        .await?
    };
    let mut notes = Vec::new();
    let mut more_notes = 0usize;
    let mut note = |n: String| {
        if notes.len() < MAX_NOTES {
            notes.push(n);
        } else {
            more_notes += 1;
        }
    };
    let counted: u64 = windows.iter().map(|(_, c)| c).sum();
    if counted != total {
        note(format!(
            "the time windows' counts add up to {counted}, not the {total} reported for the whole range"
        ));
    }
    // The pages to fetch, newest first, found one at a time from a cursor (window, offset):
    // a gateway's count is not trusted to size anything held in memory.
    let pages_of = |w: usize| windows[w].1.div_ceil(u64::from(page_size));
    let mut cursor = (0usize, 0u64);
    let mut in_flight: HashMap<usize, (usize, u64)> = HashMap::new();
    // Windows found to end early (a page shorter than asked for before the window's count):
    // their remaining pages are not asked for.
    let mut ended: HashSet<usize> = HashSet::new();
    let mut reorder = Reorder::new(pace.cap() * 2);
    let mut tasks = JoinSet::new();
    let mut next = 0usize;
    let mut seen: HashSet<u64> = HashSet::new();
    let mut seen_before: HashSet<u64> = HashSet::new();
    let mut current_window = usize::MAX;
    let mut window_rows_got = 0u64;
    let mut summary = StreamSummary {
        query: query.clone(),
        total_reported: total,
        rows: 0,
        duplicates_dropped: 0,
        invalid_signatures: 0,
        windows: windows.len(),
        notes: Vec::new(),
    };
    let close_window = |w: usize, got: u64, note: &mut dyn FnMut(String)| {
        if let Some((range, count)) = windows.get(w)
            && got != *count
        {
            note(format!(
                "{} to {} (unix seconds): {got} orders fetched but the gateway counted {count}",
                range.from_secs, range.to_secs
            ));
        }
    };
    loop {
        loop {
            while cursor.0 < windows.len()
                && (ended.contains(&cursor.0) || cursor.1 >= pages_of(cursor.0))
            {
                cursor = (cursor.0 + 1, 0);
            }
            if cursor.0 >= windows.len() || tasks.len() >= pace.limit() || !reorder.may_start(next)
            {
                break;
            }
            let (w, nth) = cursor;
            cursor.1 += 1;
            let offset = nth * u64::from(page_size);
            in_flight.insert(next, (w, offset));
            tasks.spawn(fetch(
                client.clone(),
                kind,
                window_query(&query, windows[w].0, offset, page_size),
                next,
            ));
            next += 1;
        }
        let Some(done) = next_done(&mut tasks, &mut pace).await else {
            break;
        };
        let (index, reply) = done?;
        let (w, offset) = in_flight.remove(&index).ok_or_else(|| {
            CnyError::Transport(TransportError::Other("a page out of turn".to_owned()))
        })?;
        if (reply.orders.len() as u64) < u64::from(page_size)
            && offset + (reply.orders.len() as u64) < windows[w].1
        {
            // The window holds fewer orders than its count said: the pages after this one
            // would be empty. The difference is said when the window closes.
            ended.insert(w);
        }
        if at_least_the_rows(&reply) != windows[w].1 {
            note(format!(
                "{} to {} (unix seconds): the gateway's count changed from {} to {} while reading",
                windows[w].0.from_secs, windows[w].0.to_secs, windows[w].1, reply.total
            ));
        }
        reorder.put(index, (w, reply.orders));
        while let Some((w, mut orders)) = reorder.pop() {
            if w != current_window {
                if current_window != usize::MAX {
                    close_window(current_window, window_rows_got, &mut note);
                }
                // Windows are disjoint in creation time, so an order seen twice is seen
                // twice within one window, or (a gateway that reads a bound one second wider,
                // or rounds times) in two neighbouring ones: the IDs of this window and the
                // one before are kept, not all of them.
                seen_before = std::mem::take(&mut seen);
                current_window = w;
                window_rows_got = 0;
            }
            let before = orders.len();
            orders.retain(|o| {
                let key = id_key(&o.system_id);
                !seen_before.contains(&key) && seen.insert(key)
            });
            summary.duplicates_dropped += before - orders.len();
            summary.invalid_signatures +=
                orders.iter().filter(|o| o.signature.is_invalid()).count();
            window_rows_got += orders.len() as u64;
            summary.rows += orders.len() as u64;
            progress(summary.rows, total);
            if !orders.is_empty() && pages.send(orders).await.is_err() {
                return Err(CnyError::Transport(TransportError::Other(
                    "the reader of the pages stopped".to_owned(),
                )));
            }
        }
    }
    if current_window != usize::MAX {
        close_window(current_window, window_rows_got, &mut note);
    }
    if more_notes > 0 {
        notes.push(format!("and {more_notes} more such differences"));
    }
    summary.notes = notes;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upper_bound_is_pinned_to_the_last_whole_second_or_kept_when_earlier() {
        let q = pinned_query(&OrderQuery::default(), 1_000);
        assert_eq!(
            q.created,
            Some(TimeRange {
                from_secs: 0,
                to_secs: 999
            })
        );
        assert_eq!(q.limit, MAX_LIMIT);
        let earlier = OrderQuery {
            created: Some(TimeRange {
                from_secs: 10,
                to_secs: 500,
            }),
            ..OrderQuery::default()
        };
        assert_eq!(pinned_query(&earlier, 1_000).created, earlier.created);
        let later = OrderQuery {
            created: Some(TimeRange {
                from_secs: 10,
                to_secs: 5_000,
            }),
            ..OrderQuery::default()
        };
        assert_eq!(
            pinned_query(&later, 1_000).created.map(|r| r.to_secs),
            Some(999)
        );
    }

    #[test]
    fn every_difference_in_the_counts_is_said() {
        let mut s = StreamSummary {
            query: OrderQuery::default(),
            total_reported: 10,
            rows: 10,
            duplicates_dropped: 0,
            invalid_signatures: 0,
            windows: 2,
            notes: Vec::new(),
        };
        assert_eq!(s.count_note(), None);
        s.notes
            .push("0 to 5 (unix seconds): 3 orders fetched but the gateway counted 4".into());
        assert!(s.count_note().is_some_and(|n| n.contains("counted 4")));
        s.rows = 9;
        let note = s.count_note().unwrap_or_default();
        assert!(
            note.starts_with("fetched 9 orders but the gateway reported 10"),
            "{note}"
        );
        assert!(note.contains("counted 4"), "{note}");
    }
}
