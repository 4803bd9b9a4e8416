//! Search across pages: every order matching a filter, each once. The list is newest first
//! and grows while we read it, so offsets shift; the upper time bound is pinned at the start,
//! the range cut into time windows read in parallel, orders de-duplicated by system ID, and
//! the counts checked against the gateway's `total`s.

mod pace;
mod reorder;
mod stream;
mod windows;

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

/// Every order that matched, and how that compares with what the gateway said.
#[derive(Clone, Debug)]
pub struct FetchedAll {
    pub orders: Vec<Order>,
    /// `total` as the first page reported it.
    pub total_reported: u64,
    /// Orders seen twice (offsets shifted under us) and dropped.
    pub duplicates_dropped: usize,
    /// The query as actually run (with the pinned range, if one was added).
    pub query: OrderQuery,
}

impl FetchedAll {
    /// Whether the row count differs from the gateway's total.
    pub fn count_mismatch(&self) -> Option<String> {
        let got = self.orders.len() as u64;
        (got != self.total_reported).then(|| {
            format!(
                "fetched {got} orders but the gateway reported {} matching",
                self.total_reported
            )
        })
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
    let (tx, mut rx) = mpsc::channel(2);
    let collect = async move {
        let mut orders = Vec::new();
        while let Some(page) = rx.recv().await {
            orders.extend(page);
        }
        orders
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
    let (summary, orders) = tokio::join!(stream, collect);
    let summary = summary?;
    Ok(FetchedAll {
        orders,
        total_reported: summary.total_reported,
        duplicates_dropped: summary.duplicates_dropped,
        query: summary.query,
    })
}
