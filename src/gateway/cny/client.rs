//! The runner of the CNY gateway's operations: the only part that does I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use super::brand::{BankField, Brand, relative};
use super::sign::SignOptions;
use super::wire::{
    Balance, CreateOutcome, OrderKind, OrderQuery, PayoutRequest, QueryError, QueryPage,
    ReplyError, build_payout_body, parse_balance_reply, parse_create_reply, parse_query_reply,
};
use crate::clock::Clock;
use crate::domain::banks::{Bank, find_bank};
use crate::gateway::gatepay::client::parse_http_date_ms;
use crate::gateway::http::{self, HttpSettings, RawReply, TransportError, endpoint};
use crate::secret::Secret;

/// What one CNY gateway profile needs to talk to its gateway.
#[derive(Clone, Debug)]
pub struct CnyConfig {
    pub base_url: Url,
    pub platform_id: String,
    pub auth_token: Secret,
    /// Without it, queries still work but signatures are left unchecked and payouts refused.
    pub md5_key: Option<Secret>,
    pub sign_options: SignOptions,
    /// The bank field sent and each API path.
    pub brand: Brand,
    /// The bank list a payout's bank is looked up in, for the code or ID it sends.
    pub banks: Vec<Bank>,
    pub http: HttpSettings,
}

/// Why a call produced no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CnyError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Reply(#[from] ReplyError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("this profile has no MD5 key, which signing a payout needs")]
    MissingKey,
    #[error("the payout is not valid: {0}")]
    InvalidPayout(String),
}

impl CnyError {
    /// The gateway's own code, when it gave one.
    pub fn gateway_code(&self) -> Option<&str> {
        match self {
            CnyError::Reply(ReplyError::Gateway(e)) => Some(&e.code),
            _ => None,
        }
    }
}

/// A payout ready to send: the exact bytes, so a journal can record their hash first.
#[derive(Clone, Debug)]
pub struct PreparedPayout {
    pub payout_cl_id: String,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct CnyClient {
    http: reqwest::Client,
    config: CnyConfig,
    clock: Arc<dyn Clock>,
    /// The gateway's clock minus ours, in ms, from the latest reply's `Date` header: an
    /// order's creation time is the gateway's, a journal's times are this machine's.
    offset_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for CnyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CnyClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CnyClient {
    pub fn new(config: CnyConfig, clock: Arc<dyn Clock>) -> Result<CnyClient, CnyError> {
        Ok(CnyClient {
            http: http::build_client(config.http)?,
            config,
            clock,
            offset_ms: Arc::new(AtomicI64::new(0)),
        })
    }

    pub fn config(&self) -> &CnyConfig {
        &self.config
    }

    /// The gateway's clock minus this machine's, as last measured (0 until a reply with a
    /// `Date` header arrives).
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    fn record_offset(&self, reply: &RawReply, sent_at_ms: i64) {
        let Some(server_ms) = reply.date.as_deref().and_then(parse_http_date_ms) else {
            return;
        };
        // The header is truncated to the second: its middle is 500 ms later.
        let received_ms = self.clock.now_ms();
        let local_mid = sent_at_ms + (received_ms - sent_at_ms) / 2;
        self.offset_ms
            .store(server_ms + 500 - local_mid, Ordering::Relaxed);
    }

    /// One page of deposits or payouts, every order's `sign` checked.
    pub async fn query(&self, kind: OrderKind, query: &OrderQuery) -> Result<QueryPage, CnyError> {
        query.validate()?;
        let paths = &self.config.brand.paths;
        let path = match kind {
            OrderKind::Deposit => &paths.payments_query,
            OrderKind::Payout => &paths.payouts_query,
        };
        let mut url = endpoint(&self.config.base_url, relative(path));
        url.query_pairs_mut().extend_pairs(query.pairs(kind));
        let sent_at_ms = self.clock.now_ms();
        let reply = http::send_logged(
            self.http
                .get(url)
                .header(AUTHORIZATION, self.config.auth_token.expose()),
            call("GET", path, query.merchant_id.as_deref().unwrap_or("")),
        )
        .await?;
        self.record_offset(&reply, sent_at_ms);
        Ok(parse_query_reply(
            kind,
            query,
            reply.status,
            &reply.body,
            self.config.md5_key.as_ref(),
            self.config.sign_options,
        )?)
    }

    /// Validates, signs and serialises a payout with `request_time` from the clock.
    pub fn prepare_payout(&self, request: &PayoutRequest) -> Result<PreparedPayout, CnyError> {
        let errors = request.validate();
        if !errors.is_empty() {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(CnyError::InvalidPayout(text.join("; ")));
        }
        let key = self.config.md5_key.as_ref().ok_or(CnyError::MissingKey)?;
        let field = self.config.brand.bank_field;
        let bank = self.bank_value(field, &request.bank_name)?;
        Ok(PreparedPayout {
            payout_cl_id: request.payout_cl_id.clone(),
            body: build_payout_body(
                request,
                (field.key(), &bank),
                &self.config.platform_id,
                key,
                self.config.sign_options,
                self.clock.now_secs(),
            ),
        })
    }

    /// What the profile's bank field carries for the bank the request names: the list's text,
    /// code or ID. A name the list does not hold is sent as it is only as `bank_name` (a
    /// per-profile list may spell it so); a code or ID is never guessed.
    fn bank_value(&self, field: BankField, named: &str) -> Result<String, CnyError> {
        match find_bank(&self.config.banks, named) {
            Some(bank) => field.value_of(bank).map(str::to_owned).ok_or_else(|| {
                CnyError::InvalidPayout(format!(
                    "{}: the bank list has no {} for {}",
                    field.key(),
                    match field {
                        BankField::BankId => "ID",
                        BankField::BankCode => "code",
                        BankField::BankName => "name",
                    },
                    bank.bank_name
                ))
            }),
            None if field == BankField::BankName => Ok(named.trim().to_owned()),
            None => Err(CnyError::InvalidPayout(format!(
                "{}: “{}” is not in the bank list",
                field.key(),
                named.trim()
            ))),
        }
    }

    /// Sends a prepared payout. Never an error: a failure to get an answer is an *unknown*
    /// outcome, to be settled by querying `payout_cl_id`.
    pub async fn send_payout(&self, prepared: &PreparedPayout) -> CreateOutcome {
        let path = &self.config.brand.paths.payout_create;
        let request = self
            .http
            .post(endpoint(&self.config.base_url, relative(path)))
            .header(CONTENT_TYPE, "application/json;charset=utf-8")
            .body(prepared.body.clone());
        match http::send_logged(request, call("POST", path, &prepared.payout_cl_id)).await {
            Ok(reply) => parse_create_reply(reply.status, &reply.body),
            Err(e) => CreateOutcome::Unknown { why: e.to_string() },
        }
    }

    /// Looks a payout up by its merchant order ID: the way to settle an unknown outcome.
    pub async fn find_payout(&self, payout_cl_id: &str) -> Result<QueryPage, CnyError> {
        let query = OrderQuery {
            merchant_id: Some(payout_cl_id.to_owned()),
            limit: 25,
            ..OrderQuery::default()
        };
        self.query(OrderKind::Payout, &query).await
    }

    /// The merchant's balance, with each channel's.
    pub async fn balance(&self) -> Result<Balance, CnyError> {
        let path = &self.config.brand.paths.balance;
        let reply = http::send_logged(
            self.http
                .get(endpoint(&self.config.base_url, relative(path)))
                .header(AUTHORIZATION, self.config.auth_token.expose()),
            call("GET", path, ""),
        )
        .await?;
        Ok(parse_balance_reply(
            reply.status,
            &reply.body,
            self.config.md5_key.as_ref(),
            self.config.sign_options,
        )?)
    }
}

/// How the operations log names a CNY gateway request.
fn call<'a>(method: &'static str, path: &'a str, order_id: &'a str) -> http::CallLog<'a> {
    http::CallLog {
        gateway: "cny",
        method,
        path,
        order_id,
        code_field: "error_code",
        meaning: super::wire::error_meaning,
    }
}
