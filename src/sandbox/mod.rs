//! The sandbox gateway: both gateways served on 127.0.0.1 with axum, faithful to the gateways'
//! published APIs, seeded with deterministic data and able to inject faults. The console's demo
//! mode, the tests and `paydesk sandbox` all run this same server.
//!
//! It shares the gateway core's signing and wire constants, so both sides hold one truth.

// Handlers return a finished reply as their error; it is built once per request, so boxing
// it would buy nothing.
#![allow(clippy::result_large_err)]

mod cny;
pub mod data;
mod faults;
mod gatepay;
pub mod ledger;
mod notify;
mod orders;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use data::HOSTILE_NAMES;
pub use faults::{FaultKind, Faults, FaultsFired, FaultsParseError, FiredFault};

use crate::clock::{Clock, SystemClock};
use crate::gateway::cny::banks::{Bank, default_banks};
use crate::gateway::cny::brand::{Brand, relative};
use crate::gateway::cny::sign::{SignOptions, sign_object};
use crate::gateway::cny::wire::OrderKind;
use crate::gateway::gatepay::search::SUBORDER_QUERY_PATH;
use crate::gateway::gatepay::wire as gp;
use crate::secret::Secret;
use data::{SeedSpec, StoredBatch};
use orders::{OrderList, Renderer};

/// How the sandbox behaves.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub seed: u64,
    pub deposits: usize,
    pub payouts: usize,
    /// Seconds from a payout's creation to its final status.
    pub settle_secs: u64,
    pub latency_ms: u64,
    pub faults: Faults,
    /// How long a "timeout" fault holds the reply.
    pub stall_ms: u64,
    /// Pause between withdraw-notification attempts.
    pub notify_retry_ms: u64,
    /// New deposits and payouts created per second while running (0: none).
    pub arrivals_per_sec: u32,
    /// The newest seeded creation time; `None`: now.
    pub anchor_secs: Option<i64>,
    /// The merchant's starting balance in fen.
    pub balance_fen: i64,
    /// Which brand of the CNY platform the sandbox behaves as.
    pub brand: SandboxBrand,
    /// Where GatePay payout callbacks go when a batch finishes (none: not sent).
    pub gatepay_notify_url: Option<String>,
}

/// The CNY brand variants the sandbox can play. Every variant accepts `bank_name`,
/// `bank_code` and `bank_id`, and sends `total_balance`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SandboxBrand {
    /// The seeds' behaviour.
    #[default]
    Seed,
    /// A brand whose clients name banks by code; its balance reply carries only
    /// `total_balance` and no outer `sign`.
    BankCode,
    /// Payout queries at `gateway/api/v1/payouts`, amounts as decimal strings of yuan
    /// (`"50000.000000"`) and times as ISO 8601.
    V1Paths,
}

impl SandboxBrand {
    pub const ALL: [SandboxBrand; 3] = [
        SandboxBrand::Seed,
        SandboxBrand::BankCode,
        SandboxBrand::V1Paths,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SandboxBrand::Seed => "seed",
            SandboxBrand::BankCode => "bank-code",
            SandboxBrand::V1Paths => "v1-paths",
        }
    }

    pub fn parse(text: &str) -> Option<SandboxBrand> {
        SandboxBrand::ALL
            .into_iter()
            .find(|b| b.name() == text.trim())
    }

    /// The profile settings a client of this brand uses (the preset of the same name).
    pub fn client_brand(self) -> Brand {
        Brand::preset(self.name()).unwrap_or_default()
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            seed: 7,
            deposits: 3_000,
            payouts: 2_000,
            settle_secs: 4,
            latency_ms: 0,
            faults: Faults::default(),
            stall_ms: 30_000,
            notify_retry_ms: 1_000,
            arrivals_per_sec: 0,
            anchor_secs: None,
            balance_fen: 500_000_000,
            brand: SandboxBrand::Seed,
            gatepay_notify_url: None,
        }
    }
}

/// The credentials the sandbox accepts, printed on start.
#[derive(Clone, Debug, Serialize)]
pub struct CnyCredentials {
    pub platform_id: String,
    #[serde(serialize_with = "expose")]
    pub auth_token: Secret,
    #[serde(serialize_with = "expose")]
    pub md5_key: Secret,
}

#[derive(Clone, Debug, Serialize)]
pub struct GatePayCredentials {
    pub client_id: String,
    #[serde(serialize_with = "expose")]
    pub secret: Secret,
    pub on_behalf_of: String,
}

/// The sandbox's own demo credentials are printed for the operator to use; real secrets
/// never pass through here.
fn expose<S: serde::Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// The one line `paydesk sandbox` prints on start.
#[derive(Clone, Debug, Serialize)]
pub struct SandboxInfo {
    pub base_url: String,
    pub cny: CnyCredentials,
    pub gatepay: GatePayCredentials,
}

/// The CNY gateway's mutable state.
pub(crate) struct CnyState {
    /// In the order they came in (oldest first); queries walk them backwards.
    pub deposits: OrderList,
    pub payouts: OrderList,
    pub payout_index: HashMap<String, usize>,
    pub balance_fen: i64,
    pub next_deposit_seq: usize,
    pub next_payout_seq: usize,
    /// Signed create requests per merchant order ID (duplicates included), for tests.
    pub create_requests: HashMap<String, usize>,
    /// Payouts created through the API, in order, as their requests carried them.
    pub created: Vec<CreatedPayout>,
}

/// A payout created through the API, with the text its request carried: what the chaos test
/// checks against the rows it meant to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedPayout {
    pub payout_cl_id: String,
    pub amount_fen: i64,
    pub number: String,
    pub name: String,
    /// The list's name of the bank the request named, whichever field named it.
    pub bank_name: String,
    /// The bank fields the request carried (`bank_name`, `bank_code`, `bank_id`).
    pub bank_fields: Vec<String>,
}

pub(crate) struct GatePayState {
    pub batches: Vec<StoredBatch>,
    pub nonces: HashMap<String, i64>,
    pub next_sub_id: i64,
    /// Available balance per currency, exact decimal text.
    pub balances: HashMap<String, rust_decimal::Decimal>,
    /// Where payout callbacks go.
    pub notify_url: Option<String>,
}

pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub info: SandboxInfo,
    pub sign_options: SignOptions,
    /// Writes and signs orders as the brand serves them.
    pub render: Renderer,
    pub banks: Vec<Bank>,
    pub clock: Arc<dyn Clock>,
    pub cny: Mutex<CnyState>,
    pub gatepay: Mutex<GatePayState>,
    pub rng: Mutex<ChaCha8Rng>,
    pub notifier: reqwest::Client,
    /// The faults in force; starts as `config.faults`, changeable while running.
    pub faults: Mutex<Faults>,
    /// Every fault injected so far, so a test can tell that the fault it asked for happened.
    pub fired: Mutex<FaultsFired>,
}

pub(crate) use crate::lock_unpoisoned as lock;

impl Shared {
    pub fn md5_key(&self) -> &Secret {
        &self.info.cny.md5_key
    }

    pub fn sign(&self, fields: &serde_json::Map<String, serde_json::Value>) -> String {
        sign_object(fields, self.md5_key(), self.sign_options)
    }

    /// Draws the fault (if any) that this request (`method` to `path`) suffers, deterministic
    /// under the seed, and records it with the merchant order ID the request named.
    pub fn draw_fault(
        &self,
        method: &'static str,
        path: &'static str,
        order_id: Option<String>,
    ) -> Option<FaultKind> {
        let faults = *lock(&self.faults);
        if faults.is_empty() {
            return None;
        }
        let roll: f64 = lock(&self.rng).random();
        let kind = faults.pick(roll)?;
        lock(&self.fired).requests.push(FiredFault {
            kind,
            method,
            path,
            order_id,
        });
        Some(kind)
    }

    pub fn draw_bad_sign(&self) -> bool {
        let p = lock(&self.faults).bad_sign;
        let fired = p > 0.0 && lock(&self.rng).random_bool(p.min(1.0));
        if fired {
            lock(&self.fired).bad_signs += 1;
        }
        fired
    }

    pub fn random_u64(&self) -> u64 {
        lock(&self.rng).random()
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct SandboxHandle {
    pub info: SandboxInfo,
    pub addr: SocketAddr,
    /// How long generating the seeded orders took.
    pub seeded_in: Duration,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SandboxHandle {
    pub fn base_url(&self) -> &str {
        &self.info.base_url
    }

    /// Changes the injected faults while the sandbox runs (a test turns them off to
    /// reconcile what they left unknown).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Every fault injected since the start, in order.
    pub fn faults_fired(&self) -> FaultsFired {
        lock(&self.shared.fired).clone()
    }

    /// Every payout created through the API so far (seeded and arriving orders are not).
    pub fn created_payouts(&self) -> Vec<CreatedPayout> {
        lock(&self.shared.cny).created.clone()
    }

    /// How many signed payout create requests reached the sandbox per merchant order ID,
    /// those refused as duplicates (`0014`) included: a test of "never sent twice" counts them.
    pub fn payout_create_requests(&self) -> HashMap<String, usize> {
        lock(&self.shared.cny).create_requests.clone()
    }

    /// Where GatePay payout callbacks go from now on (none: not sent).
    pub fn set_gatepay_notify_url(&self, url: Option<String>) {
        lock(&self.shared.gatepay).notify_url = url;
    }

    /// Sends the withdraw notification of a payout as it stands to `url`, `copies` times
    /// (duplicates, as the gateway's retries make them), changed after signing when
    /// `tampered`; whether each copy was acknowledged. `None`: no such payout.
    pub async fn send_payout_notification(
        &self,
        payout_cl_id: &str,
        url: &str,
        copies: usize,
        tampered: bool,
    ) -> Option<Vec<bool>> {
        let mut note = notify::cny_note(&self.shared, payout_cl_id)?;
        if tampered {
            notify::tamper(&mut note);
        }
        let note = notify::Note {
            kind: notify::NoteKind::Cny,
            body: serde_json::to_vec(&note).ok()?,
            tampered: None,
        };
        let mut acks = Vec::with_capacity(copies);
        for _ in 0..copies {
            acks.push(notify::post_once(&self.shared, url, &note).await);
        }
        Some(acks)
    }

    /// Sends the payout callback of a batch as it stands to `url`, `copies` times, with
    /// its amounts changed after signing when `tampered`; whether each copy was
    /// acknowledged. `None`: no such batch.
    pub async fn send_batch_callback(
        &self,
        batch_id: &str,
        url: &str,
        copies: usize,
        tampered: bool,
    ) -> Option<Vec<bool>> {
        let body = notify::callback_body(&self.shared, batch_id)?;
        let altered = tampered.then(|| {
            String::from_utf8_lossy(&body)
                .replacen("\"status\":\"FAIL\"", "\"status\":\"DONE\"", 1)
                .replacen("\"amount\":", "\"amount\":1", 1)
                .into_bytes()
        });
        let note = notify::Note {
            kind: notify::NoteKind::GatePay,
            body,
            tampered: altered,
        };
        let mut acks = Vec::with_capacity(copies);
        for _ in 0..copies {
            acks.push(notify::post_once(&self.shared, url, &note).await);
        }
        Some(acks)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Stalled replies (the timeout fault) would hold a graceful stop for long.
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
}

fn credentials(seed: u64) -> (CnyCredentials, GatePayCredentials) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x5851_f42d_4c95_7f2d));
    let mut alnum = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
            .collect()
    };
    let cny = CnyCredentials {
        platform_id: "PF0060".to_owned(),
        auth_token: Secret::new(format!("sbx-{}", alnum(28))),
        md5_key: Secret::new(alnum(16)),
    };
    let gatepay = GatePayCredentials {
        client_id: format!("sbx-{}", alnum(12)),
        secret: Secret::new(alnum(32)),
        on_behalf_of: "2124538349".to_owned(),
    };
    (cny, gatepay)
}

/// How many seeded orders are rendered at a time.
const SEED_CHUNK: usize = 8_192;

/// Starts the sandbox on 127.0.0.1 on the current tokio runtime.
pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| SandboxError::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        port: config.port,
        source,
    })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (cny_creds, gp_creds) = credentials(config.seed);
    let info = SandboxInfo {
        base_url: format!("http://{addr}"),
        cny: cny_creds,
        gatepay: gp_creds,
    };
    let sign_options = SignOptions::default();
    let anchor_secs = config.anchor_secs.unwrap_or_else(|| clock.now_secs());
    let spec = SeedSpec {
        seed: config.seed,
        deposits: config.deposits,
        payouts: config.payouts,
        platform_id: info.cny.platform_id.clone(),
        anchor_secs,
    };
    let key = info.cny.md5_key.clone();
    let render = Renderer::new(config.brand, key.clone(), sign_options);
    let seeding = Instant::now();
    let mut deposits = OrderList::with_capacity(config.deposits);
    let mut payouts = OrderList::with_capacity(config.payouts);
    let mut payout_index = HashMap::with_capacity(config.payouts);
    let mut kept = Vec::with_capacity(SEED_CHUNK);
    let mut kept_deposits = true;
    let mut flush = |deposit: bool, chunk: Vec<_>| {
        if deposit {
            for entry in orders::render_many(&render, OrderKind::Deposit, chunk) {
                deposits.push(entry);
            }
        } else {
            for entry in orders::render_many(&render, OrderKind::Payout, chunk) {
                let id = entry.merchant_id();
                let index = payouts.push(entry);
                if let Some(id) = id {
                    payout_index.insert(id, index);
                }
            }
        }
    };
    data::seed_orders(
        &spec,
        &|fields| sign_object(fields, &key, sign_options),
        &mut |deposit, fields, sign_override| {
            if deposit != kept_deposits || kept.len() == SEED_CHUNK {
                flush(kept_deposits, std::mem::take(&mut kept));
                kept_deposits = deposit;
            }
            kept.push((fields, sign_override));
        },
    );
    flush(kept_deposits, kept);
    let seeded_in = seeding.elapsed();
    let batches = data::seed_batches(config.seed, anchor_secs * 1000);
    let balances = [
        ("USDT", "250000"),
        ("USDC", "80000"),
        ("BTC", "3.5"),
        ("ETH", "120"),
    ]
    .into_iter()
    .filter_map(|(c, a)| a.parse().ok().map(|d| (c.to_owned(), d)))
    .collect();
    let shared = Arc::new(Shared {
        sign_options,
        render,
        banks: default_banks(),
        clock,
        cny: Mutex::new(CnyState {
            next_deposit_seq: deposits.len() + 1,
            next_payout_seq: payouts.len() + 1,
            deposits,
            payouts,
            payout_index,
            balance_fen: config.balance_fen,
            create_requests: HashMap::new(),
            created: Vec::new(),
        }),
        gatepay: Mutex::new(GatePayState {
            batches,
            nonces: HashMap::new(),
            next_sub_id: 700_000,
            balances,
            notify_url: config.gatepay_notify_url.clone(),
        }),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ 0xfa17)),
        notifier: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default(),
        info: info.clone(),
        faults: Mutex::new(config.faults),
        fired: Mutex::new(FaultsFired::default()),
        config,
    });

    // The brand's paths, as its clients' profiles hold them.
    let paths = shared.config.brand.client_brand().paths;
    let route = |p: &str| format!("/{}", relative(p));
    let mut app = Router::new()
        .route(
            &route(&paths.payments_query),
            get(cny::query_deposits).fallback(cny::unsupported_method),
        )
        .route(
            &route(&paths.balance),
            get(cny::balance).fallback(cny::unsupported_method),
        );
    app = if paths.payouts_query == paths.payout_create {
        app.route(
            &route(&paths.payouts_query),
            get(cny::query_payouts)
                .post(cny::create_payout)
                .fallback(cny::unsupported_method),
        )
    } else {
        app.route(
            &route(&paths.payouts_query),
            get(cny::query_payouts).fallback(cny::unsupported_method),
        )
        .route(
            &route(&paths.payout_create),
            post(cny::create_payout).fallback(cny::unsupported_method),
        )
    };
    let app = app
        .route(&format!("/{}", gp::DETAIL_PATH), post(gatepay::detail))
        .route(&format!("/{}", gp::CREATE_PATH), post(gatepay::create))
        .route(&format!("/{}", gp::BALANCE_PATH), post(gatepay::balance))
        .route(
            &format!("/{}", gp::CHAINS_PATH),
            get(gatepay::currency_chains),
        )
        .route(
            &format!("/{}", gp::WITHDRAW_STATUS_PATH),
            get(gatepay::withdraw_status),
        )
        .route(
            &format!("/{SUBORDER_QUERY_PATH}"),
            get(gatepay::suborder_query),
        )
        .fallback(cny::not_found)
        .with_state(Arc::clone(&shared));

    if shared.config.arrivals_per_sec > 0 {
        tokio::spawn(cny::arrivals(Arc::downgrade(&shared)));
    }

    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SandboxHandle {
        info,
        addr,
        seeded_in,
        shared,
        shutdown: Some(tx),
        task: Some(task),
    })
}
