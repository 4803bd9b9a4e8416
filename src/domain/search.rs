//! Search across pages: every order matching a filter, fetched with bounded concurrency,
//! each once. The list is newest first and grows while we read it, so offsets shift; the
//! upper time bound is pinned when the operator gave none, orders are de-duplicated by system
//! ID, and the count is checked against the gateway's `total`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::gateway::cny::client::{CnyClient, CnyError};
use crate::gateway::cny::wire::{MAX_LIMIT, Order, OrderKind, OrderQuery, ReplyError, TimeRange};
use crate::gateway::http::TransportError;

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

/// Fetches every matching order. `progress(done, total)` is called as pages arrive.
pub async fn fetch_all(
    client: &CnyClient,
    kind: OrderKind,
    filter: &OrderQuery,
    now_secs: i64,
    concurrency: usize,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<FetchedAll, CnyError> {
    let mut query = OrderQuery {
        offset: 0,
        limit: MAX_LIMIT,
        ..filter.clone()
    };
    // The list grows at its newest end: orders created in the current second would still
    // arrive between pages. Pin the upper bound to the last whole second before the start
    // (or keep the operator's, when it is earlier).
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
    let first = page_with_retries(client, kind, &query).await?;
    let total = first.total;
    let progress = Arc::new(progress);
    progress(first.orders.len() as u64, total);
    let mut orders = first.orders;
    let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut offset = u64::from(MAX_LIMIT);
    while offset < total {
        let (client, q, sem) = (
            client.clone(),
            OrderQuery {
                offset,
                ..query.clone()
            },
            Arc::clone(&semaphore),
        );
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            page_with_retries(&client, kind, &q)
                .await
                .map(|p| (q.offset, p.orders))
        });
        offset += u64::from(MAX_LIMIT);
    }
    let mut pages: Vec<(u64, Vec<Order>)> = Vec::new();
    let mut done = orders.len() as u64;
    while let Some(joined) = tasks.join_next().await {
        let (offset, page) =
            joined.map_err(|e| CnyError::Transport(TransportError::Other(e.to_string())))??;
        done += page.len() as u64;
        progress(done, total);
        pages.push((offset, page));
    }
    pages.sort_by_key(|(o, _)| *o);
    orders.extend(pages.into_iter().flat_map(|(_, p)| p));
    let mut seen = HashSet::with_capacity(orders.len());
    let before = orders.len();
    orders.retain(|o| seen.insert(o.system_id.clone()));
    Ok(FetchedAll {
        duplicates_dropped: before - orders.len(),
        orders,
        total_reported: total,
        query,
    })
}
