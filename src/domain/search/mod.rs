//! Search across pages: every order matching a filter, each once. The list is newest first
//! and grows while we read it, so offsets shift; the upper time bound is pinned at the start,
//! the range cut into time windows read in parallel, orders de-duplicated by system ID, and
//! the counts checked against the gateway's `total`s.

mod pace;
mod reorder;
mod stream;
mod windows;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::gateway::cny::client::{CnyClient, CnyError};
use crate::gateway::cny::wire::{Order, OrderKind, OrderQuery, ReplyError};

pub use pace::Pace;
pub use reorder::Reorder;
pub use stream::{StreamOptions, StreamSummary, WINDOW_PAGES, pinned_query, stream_orders};
pub use windows::{plan as plan_windows, split as split_window};

/// How many attempts a page gets before the search gives up.
pub const PAGE_ATTEMPTS: u32 = 4;

/// Every matching order (or what the caller kept of each), and how that compares with what
/// the gateway said.
#[derive(Clone, Debug)]
pub struct FetchedAll<T = Order> {
    pub orders: Vec<T>,
    /// `total` as the first page reported it.
    pub total_reported: u64,
    /// Orders seen twice (offsets shifted under us) and dropped.
    pub duplicates_dropped: usize,
    /// The query as actually run (with the pinned range, if one was added).
    pub query: OrderQuery,
    /// Where a window's count differs from the gateway's, besides the whole count.
    pub window_notes: Vec<String>,
    /// Set when more orders matched than the caller would keep: the reading stopped there,
    /// and this is how many the gateway said match.
    pub beyond_limit: Option<u64>,
}

impl<T> FetchedAll<T> {
    /// Where the row count differs from the gateway's total (or a window's count from its
    /// own), in words; `None` when every count agrees or the reading stopped at a limit.
    pub fn count_mismatch(&self) -> Option<String> {
        if self.beyond_limit.is_some() {
            return None;
        }
        let got = self.orders.len() as u64;
        let mut parts = Vec::new();
        if got != self.total_reported {
            parts.push(format!(
                "fetched {got} orders but the gateway reported {} matching",
                self.total_reported
            ));
        }
        parts.extend(self.window_notes.iter().cloned());
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn transient(e: &CnyError) -> bool {
    match e {
        CnyError::Transport(_) => true,
        CnyError::Reply(ReplyError::Http { status, .. }) => *status >= 500 || *status == 429,
        CnyError::Reply(ReplyError::Malformed(_)) => true,
        CnyError::Reply(ReplyError::Gateway(g)) => g.code == "0001",
        _ => false,
    }
}

/// One page with retries and exponential backoff on transient failures.
pub async fn page_with_retries(
    client: &CnyClient,
    kind: OrderKind,
    query: &OrderQuery,
) -> Result<crate::gateway::cny::wire::QueryPage, CnyError> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match client.query(kind, query).await {
            Ok(page) => return Ok(page),
            Err(e) if transient(&e) && attempt < PAGE_ATTEMPTS => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fetches every matching order, collected from [`stream_orders`]. `progress(done, total)` is
/// called as pages arrive.
pub async fn fetch_all(
    client: &CnyClient,
    kind: OrderKind,
    filter: &OrderQuery,
    now_secs: i64,
    concurrency: usize,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<FetchedAll, CnyError> {
    fetch_all_into(
        client,
        kind,
        filter,
        now_secs,
        concurrency,
        usize::MAX,
        progress,
        |order| order,
    )
    .await
}

/// Fetches every matching order, each turned by `keep` into what the caller holds as its
/// page arrives (so an order's full reading is dropped at once), up to `limit` of them: when
/// more match, the reading stops there and [`FetchedAll::beyond_limit`] says how many match.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_all_into<T: Send>(
    client: &CnyClient,
    kind: OrderKind,
    filter: &OrderQuery,
    now_secs: i64,
    concurrency: usize,
    limit: usize,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
    mut keep: impl FnMut(Order) -> T + Send,
) -> Result<FetchedAll<T>, CnyError> {
    let total_seen = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&total_seen);
    let progress = move |done, total| {
        seen.store(total, Ordering::Relaxed);
        progress(done, total);
    };
    let (tx, mut rx) = mpsc::channel(2);
    let collect = async move {
        let mut kept = Vec::new();
        while let Some(page) = rx.recv().await {
            for order in page {
                if kept.len() >= limit {
                    // Returning drops the receiver, which stops the reading.
                    return (kept, true);
                }
                kept.push(keep(order));
            }
        }
        (kept, false)
    };
    let stream = async move {
        let summary = stream_orders(
            client,
            kind,
            filter,
            now_secs,
            StreamOptions {
                concurrency,
                ..StreamOptions::default()
            },
            progress,
            &tx,
        )
        .await;
        drop(tx);
        summary
    };
    let (summary, (orders, stopped)) = tokio::join!(stream, collect);
    if stopped {
        let total = total_seen.load(Ordering::Relaxed);
        return Ok(FetchedAll {
            beyond_limit: Some(total.max(orders.len() as u64 + 1)),
            total_reported: total,
            orders,
            duplicates_dropped: 0,
            query: pinned_query(filter, now_secs),
            window_notes: Vec::new(),
        });
    }
    let summary = summary?;
    Ok(FetchedAll {
        orders,
        total_reported: summary.total_reported,
        duplicates_dropped: summary.duplicates_dropped,
        query: summary.query,
        window_notes: summary.notes,
        beyond_limit: None,
    })
}
