//! A hand-made gateway whose counts lie: an export ends with a clear error in bounded time
//! instead of planning windows and pages for counts no gateway holds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::routing::get;
use paydesk::clock::SystemClock;
use paydesk::domain::search::{StreamOptions, stream_orders};
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::cny::wire::{OrderKind, OrderQuery, PAYOUTS_PATH, TimeRange};
use paydesk::gateway::cny::{CnyClient, CnyConfig};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const KEY: &str = "lying-key";
const BASE: i64 = 1_700_000_000;
const ORDERS: i64 = 200;

#[derive(Clone, Copy)]
enum Lie {
    /// Every count is true.
    Nothing,
    /// Reads `create_time__gte` one second early, so neighbouring windows share a second.
    WiderBound,
    /// Every reply says `total` is this.
    Total(u64),
    /// The whole range's count is true; every narrower window claims this many.
    Windows(u64),
    /// Every count is this many times the orders there are: consistent, so nothing adds up
    /// wrong, but the pages past the real orders come back empty.
    Padded(u64),
}

#[derive(Clone)]
struct Fake {
    lie: Lie,
    served: Arc<AtomicUsize>,
}

fn order(i: i64) -> Value {
    let mut o = Map::new();
    o.insert("payout_id".into(), json!(format!("POT{i:08}")));
    o.insert("payout_cl_id".into(), json!(format!("cl{i}")));
    o.insert("platform_id".into(), json!("PF0060"));
    o.insert("amount".into(), json!(30_000));
    o.insert("status".into(), json!(3));
    o.insert("create_time".into(), json!(BASE + i));
    o.insert("update_time".into(), json!(BASE + i));
    let sign = sign_object(&o, &Secret::new(KEY), SignOptions::default());
    o.insert("sign".into(), json!(sign));
    Value::Object(o)
}

async fn page(
    AxumState(fake): AxumState<Fake>,
    Query(q): Query<HashMap<String, String>>,
) -> String {
    fake.served.fetch_add(1, Ordering::Relaxed);
    let lie = fake.lie;
    let num = |k: &str, d: i64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (mut gte, lte) = (
        num("create_time__gte", 0),
        num("create_time__lte", i64::MAX),
    );
    if matches!(lie, Lie::WiderBound) {
        gte -= 1;
    }
    let (offset, limit) = (num("offset", 0), num("limit", 25));
    let matching: Vec<i64> = (0..ORDERS)
        .rev()
        .filter(|i| (gte..=lte).contains(&(BASE + i)))
        .collect();
    let data: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(offset).unwrap())
        .take(usize::try_from(limit).unwrap())
        .map(|i| order(*i))
        .collect();
    let total = match lie {
        Lie::Total(t) => t,
        Lie::Windows(t) if matching.len() < usize::try_from(ORDERS).unwrap() => t,
        Lie::Padded(factor) => matching.len() as u64 * factor,
        Lie::Windows(_) | Lie::Nothing | Lie::WiderBound => matching.len() as u64,
    };
    json!({"error_code": "0000", "data": data, "total": total}).to_string()
}

/// The orders handed on, and how many distinct IDs they hold.
async fn export_from(lie: Lie) -> Result<(u64, usize), String> {
    export_counting(lie).await.0
}

/// As [`export_from`], with the number of requests the gateway served.
async fn export_counting(lie: Lie) -> (Result<(u64, usize), String>, usize) {
    let served = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(&format!("/{PAYOUTS_PATH}"), get(page))
        .with_state(Fake {
            lie,
            served: Arc::clone(&served),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = CnyClient::new(
        CnyConfig {
            base_url: parse_base_url(&format!("http://{addr}")).unwrap(),
            platform_id: "PF0060".to_owned(),
            auth_token: Secret::new("lying-token"),
            md5_key: Some(Secret::new(KEY)),
            sign_options: SignOptions::default(),
            brand: paydesk::gateway::cny::Brand::default(),
            banks: paydesk::domain::banks::default_banks(),
            http: HttpSettings {
                connect_timeout_secs: 2,
                timeout_secs: 5,
            },
        },
        Arc::new(SystemClock),
    )
    .unwrap();
    let filter = OrderQuery {
        created: Some(TimeRange {
            from_secs: BASE - 10,
            to_secs: BASE + 1_000,
        }),
        ..OrderQuery::default()
    };
    let options = StreamOptions {
        window_pages: 2,
        page_size: 10,
        concurrency: 4,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<paydesk::gateway::cny::wire::Order>>(4);
    let drain = tokio::spawn(async move {
        let mut ids = std::collections::HashSet::new();
        while let Some(page) = rx.recv().await {
            ids.extend(page.into_iter().map(|o| o.system_id));
        }
        ids.len()
    });
    let now = BASE + 100_000;
    let run = stream_orders(
        &client,
        OrderKind::Payout,
        &filter,
        now,
        options,
        |_, _| {},
        &tx,
    );
    let Ok(outcome) = tokio::time::timeout(Duration::from_secs(30), run).await else {
        return (
            Err("the export did not end within 30 s".to_owned()),
            served.load(Ordering::Relaxed),
        );
    };
    drop(tx);
    let distinct = drain.await.unwrap();
    (
        outcome
            .map(|s| (s.rows, distinct))
            .map_err(|e| e.to_string()),
        served.load(Ordering::Relaxed),
    )
}

#[tokio::test]
async fn a_gateway_reporting_an_absurd_total_is_refused_at_once() {
    for total in [1_000_000_000_000, u64::MAX] {
        let err = export_from(Lie::Total(total)).await.unwrap_err();
        assert!(err.contains("more than one export reads"), "{err}");
    }
}

#[tokio::test]
async fn windows_that_claim_more_than_the_whole_range_end_the_export_with_an_error() {
    let err = export_from(Lie::Windows(10_000_000)).await.unwrap_err();
    assert!(err.contains("add up to more than the 200 orders"), "{err}");
}

#[tokio::test]
async fn an_honest_gateway_of_the_same_shape_exports_every_order() {
    assert_eq!(export_from(Lie::Nothing).await, Ok((200, 200)));
}

#[tokio::test]
async fn an_order_served_in_two_neighbouring_windows_is_handed_on_once() {
    assert_eq!(export_from(Lie::WiderBound).await, Ok((200, 200)));
}

#[tokio::test]
async fn a_total_below_the_rows_a_page_carries_still_reads_them_and_so_says_so() {
    // `total` 0 with a full first page: reading nothing would match the count and look
    // complete; the page is read, and rows against `total` make the count note.
    assert_eq!(export_from(Lie::Total(0)).await, Ok((10, 10)));
}

#[tokio::test]
async fn a_window_that_ends_early_asks_for_no_more_pages() {
    // Counts a hundred times the orders there are: 20,000 pages promised for 200 orders.
    let (outcome, served) = export_counting(Lie::Padded(100)).await;
    assert_eq!(outcome, Ok((200, 200)));
    // The range is cut down to single seconds (each claims 100 orders), so about a thousand
    // requests go to counting. Reading every page the counts promise adds 2,000 more
    // (2,312 in all, measured); stopping each window at its first short page adds ~100.
    assert!(served < 1_500, "{served} requests served");
}
