//! `PayoutDesk`'s submit and check state machine, one transition per test, against a small
//! scripted gateway: each create and lookup reply is chosen by the test, and the gateway notes
//! what the journal said about the payout at the moment each request arrived.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use paydesk::clock::SystemClock;
use paydesk::domain::journal::{Journal, State, journal_path};
use paydesk::domain::payouts::{EXISTS_WHY, PayoutDesk, TAKEN_MEANING};
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::cny::wire::{PAYOUTS_PATH, PayoutRequest};
use paydesk::gateway::cny::{CnyClient, CnyConfig};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::money::Fen;
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

const KEY: &str = "desk-test-md5-key";
const CL_ID: &str = "desk_1";
const AMOUNT_FEN: i64 = 25_000;

/// A reply the scripted gateway gives.
#[derive(Clone, Debug)]
enum Reply {
    /// This HTTP status and body, as they are.
    Raw(u16, String),
    /// A lookup page with one order under `CL_ID`: its payout ID, amount and status, signed
    /// with the profile's key (or not, when `signed` is false).
    Order {
        payout_id: &'static str,
        amount_fen: i64,
        status: i64,
        signed: bool,
    },
    /// A lookup page with no order.
    Empty,
}

/// What the gateway saw: the request (`create` or `lookup`), the merchant order ID it named,
/// and the payout's journal state when it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    request: &'static str,
    cl_id: String,
    state: Option<State>,
}

struct Gateway {
    journal: Arc<Mutex<Journal>>,
    merchant: Mutex<String>,
    creates: Mutex<VecDeque<Reply>>,
    lookups: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

impl Gateway {
    fn note(&self, request: &'static str, cl_id: String) {
        let merchant = self.merchant.lock().unwrap().clone();
        let state = self
            .journal
            .lock()
            .unwrap()
            .get(&merchant, &cl_id)
            .unwrap()
            .map(|e| e.state);
        self.seen.lock().unwrap().push(Seen {
            request,
            cl_id,
            state,
        });
    }

    fn seen(&self, request: &str) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|s| s.request == request)
            .cloned()
            .collect()
    }
}

fn respond(reply: Option<Reply>) -> Response {
    let (status, body) = match reply {
        Some(Reply::Raw(status, body)) => (status, body),
        Some(Reply::Order {
            payout_id,
            amount_fen,
            status,
            signed,
        }) => {
            // Created now: an order older than the intent would be someone else's.
            let now = jiff::Timestamp::now().as_second();
            let mut order: Map<String, Value> = json!({
                "amount": amount_fen,
                "fee": 0,
                "payout_id": payout_id,
                "payout_cl_id": CL_ID,
                "platform_id": "PF0060",
                "platform_channel_id": "PFC00000142",
                "status": status,
                "create_time": now,
                "update_time": now + 60,
            })
            .as_object()
            .cloned()
            .unwrap();
            let key = Secret::new(if signed { KEY } else { "another key" });
            let sign = sign_object(&order, &key, SignOptions::default());
            order.insert("sign".into(), Value::from(sign));
            let page = json!({"error_code": "0000", "total": 1, "data": [order]});
            (200, page.to_string())
        }
        Some(Reply::Empty) => (
            200,
            json!({"error_code": "0000", "total": 0, "data": []}).to_string(),
        ),
        None => (500, "the test scripted no more replies".to_owned()),
    };
    (StatusCode::from_u16(status).unwrap(), body).into_response()
}

async fn create(AxumState(gw): AxumState<Arc<Gateway>>, body: Bytes) -> Response {
    let sent: Value = serde_json::from_slice(&body).unwrap();
    gw.note("create", sent["payout_cl_id"].as_str().unwrap().to_owned());
    let reply = gw.creates.lock().unwrap().pop_front();
    respond(reply)
}

async fn lookup(
    AxumState(gw): AxumState<Arc<Gateway>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let cl_id = pairs
        .iter()
        .find(|(k, _)| k == "payout_cl_id")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    gw.note("lookup", cl_id);
    let reply = gw.lookups.lock().unwrap().pop_front();
    respond(reply)
}

/// A desk whose gateway answers creates and lookups with the scripted replies, in order.
async fn desk_with(
    creates: Vec<Reply>,
    lookups: Vec<Reply>,
) -> (PayoutDesk, Arc<Gateway>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Mutex::new(
        Journal::open(&journal_path(dir.path())).unwrap(),
    ));
    let gw = Arc::new(Gateway {
        journal: Arc::clone(&journal),
        merchant: Mutex::new(String::new()),
        creates: Mutex::new(creates.into()),
        lookups: Mutex::new(lookups.into()),
        seen: Mutex::default(),
    });
    let app = Router::new()
        .route(&format!("/{PAYOUTS_PATH}"), get(lookup).post(create))
        .with_state(Arc::clone(&gw));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = CnyClient::new(
        CnyConfig {
            base_url: parse_base_url(&format!("http://{addr}")).unwrap(),
            platform_id: "PF0060".to_owned(),
            auth_token: Secret::new("desk-test-token"),
            md5_key: Some(Secret::new(KEY)),
            sign_options: SignOptions::default(),
            http: HttpSettings {
                connect_timeout_secs: 2,
                timeout_secs: 5,
            },
        },
        Arc::new(SystemClock),
    )
    .unwrap();
    let mut desk = PayoutDesk::new(journal, client, Arc::new(SystemClock));
    desk.not_found_grace_secs = 0;
    gw.merchant.lock().unwrap().clone_from(&desk.merchant);
    (desk, gw, dir)
}

fn request() -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: CL_ID.to_owned(),
        amount: Fen::from_fen(AMOUNT_FEN),
        bank_name: "中国工商银行".to_owned(),
        name: "张伟".to_owned(),
        number: "6222020312345678".to_owned(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

fn accepted(payout_id: &str) -> Reply {
    Reply::Raw(
        200,
        json!({"error_code": "0000", "data": {"payout_id": payout_id}}).to_string(),
    )
}

fn refused(code: &str, message: &str) -> Reply {
    Reply::Raw(
        200,
        json!({"error_code": code, "error_msg": message}).to_string(),
    )
}

fn found(payout_id: &'static str, amount_fen: i64) -> Reply {
    Reply::Order {
        payout_id,
        amount_fen,
        status: 3,
        signed: true,
    }
}

fn server_error() -> Reply {
    Reply::Raw(500, "Internal Server Error".to_owned())
}

fn sending(request: &'static str) -> Seen {
    Seen {
        request,
        cl_id: CL_ID.to_owned(),
        state: Some(State::Sending),
    }
}

fn unknown(request: &'static str) -> Seen {
    Seen {
        state: Some(State::Unknown),
        ..sending(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_queued_then_sending_then_accepted() {
    let (desk, gw, _dir) = desk_with(vec![accepted("POT1")], vec![]).await;
    let sent = desk.submit(&request()).await.unwrap();
    // Recorded before anything left, and claimed as being sent while the request was out.
    assert_eq!(gw.seen("create"), [sending("create")]);
    assert_eq!(sent.state, State::Accepted);
    assert_eq!(sent.payout_id.as_deref(), Some("POT1"));
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.unknown_why, None);
    assert!(
        gw.seen("lookup").is_empty(),
        "an acceptance needs no lookup"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_a_refusal_is_rejected_with_its_code_and_nothing_looked_up() {
    let (desk, gw, _dir) = desk_with(vec![refused("0018", "insufficient balance")], vec![]).await;
    let sent = desk.submit(&request()).await.unwrap();
    assert_eq!(gw.seen("create"), [sending("create")]);
    assert_eq!(sent.state, State::Rejected);
    assert_eq!(sent.reject_code.as_deref(), Some("0018"));
    assert_eq!(sent.reject_meaning.as_deref(), Some("insufficient balance"));
    assert_eq!(sent.payout_id, None);
    assert!(
        gw.seen("lookup").is_empty(),
        "a refusal is known: no lookup"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_no_answer_is_unknown_until_a_lookup_finds_the_order() {
    let (desk, gw, _dir) = desk_with(
        vec![server_error()],
        vec![server_error(), found("POT7", AMOUNT_FEN)],
    )
    .await;
    let sent = desk.submit(&request()).await.unwrap();
    // The quick first look failed too: the outcome stays unknown, never failed.
    assert_eq!(sent.state, State::Unknown);
    assert!(sent.unknown_why.as_deref().unwrap().contains("HTTP 500"));
    assert_eq!(sent.reject_code, None);
    assert_eq!(gw.seen("lookup"), [unknown("lookup")]);
    let report = desk.reconcile_now(false).await.unwrap();
    assert_eq!(report.found, 1, "{report:?}");
    let entry = desk
        .journal
        .lock()
        .unwrap()
        .get(&desk.merchant, CL_ID)
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, State::Accepted);
    assert_eq!(entry.payout_id.as_deref(), Some("POT7"));
    assert_eq!(entry.gateway_status, Some(3));
    assert!(entry.is_final);
    assert_eq!(
        gw.seen("create").len(),
        1,
        "settled by lookup, never re-sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_unknown_then_absent_is_not_created_and_sent_again_under_its_own_id() {
    let (desk, gw, _dir) =
        desk_with(vec![server_error(), accepted("POT9")], vec![Reply::Empty]).await;
    let sent = desk.submit(&request()).await.unwrap();
    assert_eq!(gw.seen("lookup"), [unknown("lookup")]);
    assert_eq!(sent.state, State::NotCreated, "{:?}", sent.entry);
    let again = desk.retry(CL_ID).await.unwrap();
    assert_eq!(again.state, State::Accepted);
    assert_eq!(again.payout_id.as_deref(), Some("POT9"));
    assert_eq!(again.attempts, 2);
    assert_eq!(
        gw.seen("create"),
        [sending("create"), sending("create")],
        "the same merchant order ID both times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_absent_within_the_grace_period_stays_unknown() {
    let (mut desk, gw, _dir) = desk_with(vec![server_error()], vec![Reply::Empty]).await;
    desk.not_found_grace_secs = 3_600;
    let sent = desk.submit(&request()).await.unwrap();
    assert_eq!(gw.seen("lookup").len(), 1);
    assert_eq!(
        sent.state,
        State::Unknown,
        "an order may show up late: not yet 'never created'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_0014_means_it_exists_and_the_lookup_accepts_it() {
    let (desk, gw, _dir) = desk_with(
        vec![refused("0014", "duplicate merchant order number")],
        vec![found("POT3", AMOUNT_FEN)],
    )
    .await;
    let sent = desk.submit(&request()).await.unwrap();
    // 0014 is read as "exists, look it up": the lookup found the payout as unknown.
    let lookups = gw.seen("lookup");
    assert_eq!(lookups, [unknown("lookup")]);
    assert_eq!(sent.state, State::Accepted, "{:?}", sent.entry);
    assert_eq!(sent.payout_id.as_deref(), Some("POT3"));
    assert_eq!(sent.reject_code, None, "never shown as refused");
    assert_eq!(gw.seen("create").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_0014_left_unknown_is_never_called_not_created() {
    let (desk, gw, _dir) = desk_with(
        vec![refused("0014", "duplicate merchant order number")],
        vec![Reply::Empty],
    )
    .await;
    let sent = desk.submit(&request()).await.unwrap();
    assert_eq!(gw.seen("lookup").len(), 1);
    assert_eq!(sent.state, State::Unknown, "{:?}", sent.entry);
    assert_eq!(sent.unknown_why.as_deref(), Some(EXISTS_WHY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_0014_for_another_amount_is_refused_as_taken() {
    let (desk, _gw, _dir) = desk_with(
        vec![refused("0014", "duplicate merchant order number")],
        vec![found("POT4", AMOUNT_FEN + 1)],
    )
    .await;
    let sent = desk.submit(&request()).await.unwrap();
    assert_eq!(sent.state, State::Rejected, "{:?}", sent.entry);
    assert_eq!(sent.reject_code.as_deref(), Some("0014"));
    assert_eq!(sent.reject_meaning.as_deref(), Some(TAKEN_MEANING));
    assert_eq!(
        sent.payout_id, None,
        "another payout's ID is never shown as ours"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_a_badly_signed_lookup_settles_nothing() {
    let (desk, _gw, _dir) = desk_with(
        vec![server_error()],
        vec![
            Reply::Order {
                payout_id: "POT5",
                amount_fen: AMOUNT_FEN,
                status: 3,
                signed: false,
            },
            found("POT5", AMOUNT_FEN),
        ],
    )
    .await;
    let sent = desk.submit(&request()).await.unwrap();
    assert_eq!(sent.state, State::Unknown, "{:?}", sent.entry);
    assert_eq!(sent.payout_id, None);
    assert!(sent.unverified());
    let report = desk.reconcile_now(false).await.unwrap();
    assert_eq!(report.found, 1, "{report:?}");
    let entry = desk
        .journal
        .lock()
        .unwrap()
        .get(&desk.merchant, CL_ID)
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, State::Accepted);
    assert_eq!(entry.payout_id.as_deref(), Some("POT5"));
    assert!(!entry.unverified());
}
