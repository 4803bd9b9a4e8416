//! The runner of GatePay's operations: signs each request over the exact bytes it sends,
//! with a fresh nonce and a timestamp corrected by the offset measured from GatePay's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Url};

use serde_json::{Map, Value};

use super::search::{
    FoundSubOrder, SUBORDER_PAGE_MAX, SUBORDER_QUERY_PATH, SubOrderPage, SubOrderQuery,
    parse_suborder_page, parse_wallet_list,
};
use super::sign::signature;
use super::wire::{
    BALANCE_PATH, BatchDetail, BatchFieldError, BatchRequest, CHAINS_PATH, CREATE_PATH,
    CreateBatchOutcome, DETAIL_PATH, DetailStatus, GpReplyError, HEADER_CLIENT_ID, HEADER_NONCE,
    HEADER_ON_BEHALF_OF, HEADER_SIGNATURE, HEADER_TIMESTAMP, WITHDRAW_STATUS_PATH,
    build_create_body, parse_create_reply, parse_detail_reply,
};
use crate::clock::{Clock, NonceSource};
use crate::gateway::http::{self, HttpSettings, RawReply, TransportError, endpoint};
use crate::secret::Secret;

/// Offsets below this are the `Date` header's one-second resolution, not a wrong clock.
const OFFSET_NOISE_MS: i64 = 1_500;
/// Past this the operator is warned that the machine's clock is off.
pub const OFFSET_WARN_MS: i64 = 5_000;

#[derive(Clone, Debug)]
pub struct GatePayConfig {
    pub base_url: Url,
    pub client_id: String,
    pub secret: Secret,
    pub on_behalf_of: String,
    pub http: HttpSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatePayClientError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Reply(#[from] GpReplyError),
    #[error("the batch is not valid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidBatch(Vec<BatchFieldError>),
    #[error("'{0}' is not a valid batch ID: 1 to 32 letters, digits or '_'")]
    InvalidBatchId(String),
    #[error("the start of the time range is after its end")]
    ReversedRange,
    #[error(
        "the sub-order search was still sending full pages after {SUBORDER_PAGES_MAX} pages; \
         nothing is shown: search a shorter time range"
    )]
    TooManyPages,
}

/// The most pages one sub-order search reads (500 each): a reply that never ends stops here.
pub const SUBORDER_PAGES_MAX: u32 = 2_000;

impl GatePayClientError {
    pub fn gateway_code(&self) -> Option<&str> {
        match self {
            GatePayClientError::Reply(GpReplyError::Gateway(e)) => Some(&e.code),
            _ => None,
        }
    }

    /// GatePay found no order under the IDs asked about (see [`super::wire::GatePayError::is_not_found`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, GatePayClientError::Reply(GpReplyError::Gateway(e)) if e.is_not_found())
    }
}

/// A batch ready to send, as the exact bytes (so a journal can hash them first).
#[derive(Clone, Debug)]
pub struct PreparedBatch {
    pub batch_id: String,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct GatePayClient {
    http: reqwest::Client,
    config: GatePayConfig,
    clock: Arc<dyn Clock>,
    nonces: Arc<dyn NonceSource>,
    /// GatePay's clock minus ours, in ms, from the latest reply's `Date` header.
    offset_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for GatePayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatePayClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Parses an HTTP `Date` header (`Sun, 22 Nov 2026 04:07:02 GMT`) to Unix milliseconds.
pub fn parse_http_date_ms(text: &str) -> Option<i64> {
    jiff::fmt::rfc2822::parse(text.trim())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

impl GatePayClient {
    pub fn new(
        config: GatePayConfig,
        clock: Arc<dyn Clock>,
        nonces: Arc<dyn NonceSource>,
    ) -> Result<GatePayClient, GatePayClientError> {
        Ok(GatePayClient {
            http: http::build_client(config.http)?,
            config,
            clock,
            nonces,
            offset_ms: Arc::new(AtomicI64::new(0)),
        })
    }

    pub fn config(&self) -> &GatePayConfig {
        &self.config
    }

    /// GatePay's clock minus this machine's, as last measured (0 until a reply arrives
    /// or while the difference is within the `Date` header's resolution).
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Whether the operator should be told the machine's clock is off.
    pub fn clock_warning(&self) -> Option<String> {
        let offset = self.clock_offset_ms();
        (offset.abs() > OFFSET_WARN_MS).then(|| {
            format!(
                "this computer's clock is {:.1} s {} GatePay's; Paydesk corrects request times by it, but fix the clock",
                offset.unsigned_abs() as f64 / 1000.0,
                if offset > 0 { "behind" } else { "ahead of" }
            )
        })
    }

    fn record_offset(&self, reply: &RawReply, sent_at_ms: i64) {
        let Some(server_ms) = reply.date.as_deref().and_then(parse_http_date_ms) else {
            return;
        };
        // The header is truncated to the second: its middle is 500 ms later.
        let received_ms = self.clock.now_ms();
        let local_mid = sent_at_ms + (received_ms - sent_at_ms) / 2;
        let measured = server_ms + 500 - local_mid;
        let offset = if measured.abs() < OFFSET_NOISE_MS {
            0
        } else {
            measured
        };
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Vec<u8>,
        order_id: &str,
    ) -> Result<RawReply, TransportError> {
        let sent_at_ms = self.clock.now_ms();
        let timestamp = (sent_at_ms + self.clock_offset_ms()).to_string();
        let nonce = self.nonces.nonce();
        let sig = signature(&self.config.secret, &timestamp, &nonce, &body);
        let mut url = endpoint(&self.config.base_url, path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let request = self
            .http
            .request(method.clone(), url)
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_CLIENT_ID, &self.config.client_id)
            .header(HEADER_TIMESTAMP, timestamp)
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, sig)
            .header(HEADER_ON_BEHALF_OF, &self.config.on_behalf_of)
            .body(body);
        let call = http::CallLog {
            gateway: "gatepay",
            method: method_name(&method),
            path,
            order_id,
            code_field: "code",
            meaning: super::wire::error_meaning,
        };
        let reply = http::send_logged(request, call).await?;
        self.record_offset(&reply, sent_at_ms);
        Ok(reply)
    }

    /// Sends a call; if GatePay refuses its timestamp (400003) and the clock offset was
    /// just corrected by that very reply, sends it once more with the corrected time.
    async fn call_with_time_retry(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
        order_id: &str,
    ) -> Result<RawReply, TransportError> {
        self.call_query_with_time_retry(method, path, &[], body, order_id)
            .await
    }

    async fn call_query_with_time_retry(
        &self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: &[u8],
        order_id: &str,
    ) -> Result<RawReply, TransportError> {
        let before = self.clock_offset_ms();
        let reply = self
            .call(method.clone(), path, query, body.to_vec(), order_id)
            .await?;
        let expired = matches!(
            super::wire::envelope(reply.status, &reply.body),
            Err(GpReplyError::Gateway(ref e)) if e.code == "400003"
        );
        if expired && self.clock_offset_ms() != before {
            return self
                .call(method, path, query, body.to_vec(), order_id)
                .await;
        }
        Ok(reply)
    }

    /// A batch and its sub-orders in the given status.
    pub async fn batch_detail(
        &self,
        batch_id: &str,
        status: DetailStatus,
    ) -> Result<BatchDetail, GatePayClientError> {
        if !super::wire::is_valid_batch_id(batch_id) {
            return Err(GatePayClientError::InvalidBatchId(batch_id.to_owned()));
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "batch_id": batch_id,
            "detail_status": status.as_str(),
        }))
        .unwrap_or_default();
        let reply = self
            .call_with_time_retry(Method::POST, DETAIL_PATH, &body, batch_id)
            .await?;
        Ok(parse_detail_reply(reply.status, &reply.body)?)
    }

    /// One page of the sub-order search by time.
    pub async fn suborder_page(
        &self,
        query: &SubOrderQuery,
    ) -> Result<SubOrderPage, GatePayClientError> {
        let reply = self
            .call_query_with_time_retry(Method::GET, SUBORDER_QUERY_PATH, &query.pairs(), b"", "")
            .await?;
        Ok(parse_suborder_page(reply.status, &reply.body)?)
    }

    /// Every sub-order of the search, page by page (500 a page) until GatePay's total is
    /// reached, a page comes back short, or a full page brings nothing new. A sub-order seen
    /// on two pages (the list shifted while it was read) is listed once, as last seen.
    pub async fn search_suborders(
        &self,
        from_ms: i64,
        to_ms: i64,
        status: Option<String>,
        audit_status: Option<String>,
    ) -> Result<Vec<FoundSubOrder>, GatePayClientError> {
        self.search_suborders_with_progress(from_ms, to_ms, status, audit_status, |_, _| {})
            .await
    }

    /// As [`GatePayClient::search_suborders`], telling `progress` after each page how many
    /// sub-orders have arrived and GatePay's total when it says one.
    pub async fn search_suborders_with_progress(
        &self,
        from_ms: i64,
        to_ms: i64,
        status: Option<String>,
        audit_status: Option<String>,
        progress: impl Fn(usize, Option<u64>) + Send,
    ) -> Result<Vec<FoundSubOrder>, GatePayClientError> {
        if from_ms > to_ms {
            return Err(GatePayClientError::ReversedRange);
        }
        let mut all: Vec<FoundSubOrder> = Vec::new();
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut query = SubOrderQuery {
            from_ms,
            to_ms,
            status,
            audit_status,
            page: 1,
            page_size: SUBORDER_PAGE_MAX,
        };
        loop {
            let page = self.suborder_page(&query).await?;
            let short = page.items.len() < SUBORDER_PAGE_MAX as usize;
            let mut fresh = 0;
            for item in page.items {
                let key = suborder_key(&item);
                if let Some(&at) = seen.get(&key) {
                    all[at] = item;
                } else {
                    seen.insert(key, all.len());
                    all.push(item);
                    fresh += 1;
                }
            }
            progress(all.len(), page.total);
            let reached = page.total.is_some_and(|t| all.len() as u64 >= t);
            // A full page of nothing new: a gateway that ignores `page` would repeat it for ever.
            if short || reached || fresh == 0 {
                return Ok(all);
            }
            if query.page >= SUBORDER_PAGES_MAX {
                return Err(GatePayClientError::TooManyPages);
            }
            query.page += 1;
        }
    }

    /// The available balance of each currency asked for (`data.balanceList` or a list).
    pub async fn balance(
        &self,
        currencies: &[String],
    ) -> Result<Vec<Map<String, Value>>, GatePayClientError> {
        let body = serde_json::to_vec(currencies).unwrap_or_default();
        let reply = self
            .call_with_time_retry(Method::POST, BALANCE_PATH, &body, "")
            .await?;
        Ok(parse_wallet_list(reply.status, &reply.body)?)
    }

    /// The chains a currency can be paid out on.
    pub async fn currency_chains(
        &self,
        currency: &str,
    ) -> Result<Vec<Map<String, Value>>, GatePayClientError> {
        let query = [("currency", currency.to_owned())];
        let reply = self
            .call_query_with_time_retry(Method::GET, CHAINS_PATH, &query, b"", "")
            .await?;
        Ok(parse_wallet_list(reply.status, &reply.body)?)
    }

    /// A currency's payout fees and limits.
    pub async fn withdraw_status(
        &self,
        currency: &str,
    ) -> Result<Vec<Map<String, Value>>, GatePayClientError> {
        let query = [("currency", currency.to_owned())];
        let reply = self
            .call_query_with_time_retry(Method::GET, WITHDRAW_STATUS_PATH, &query, b"", "")
            .await?;
        Ok(parse_wallet_list(reply.status, &reply.body)?)
    }

    pub fn prepare_batch(
        &self,
        request: &BatchRequest,
    ) -> Result<PreparedBatch, GatePayClientError> {
        let errors = request.validate();
        if !errors.is_empty() {
            return Err(GatePayClientError::InvalidBatch(errors));
        }
        Ok(PreparedBatch {
            batch_id: request.batch_id.clone(),
            body: build_create_body(request),
        })
    }

    /// Sends a prepared batch. A transport failure is an *unknown* outcome, settled by
    /// asking for the batch's detail; `550245` means the batch exists already.
    pub async fn send_batch(&self, prepared: &PreparedBatch) -> CreateBatchOutcome {
        match self
            .call_with_time_retry(
                Method::POST,
                CREATE_PATH,
                &prepared.body,
                &prepared.batch_id,
            )
            .await
        {
            Ok(reply) => parse_create_reply(&prepared.batch_id, reply.status, &reply.body),
            Err(e) => CreateBatchOutcome::Unknown { why: e.to_string() },
        }
    }
}

/// The method's name for the operations log.
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// What makes two rows of the sub-order search one sub-order: GatePay's sub-order ID, else
/// the batch and the merchant's withdraw ID, else the row's whole text.
fn suborder_key(found: &FoundSubOrder) -> String {
    let sub = &found.sub;
    if !sub.suborder_id.is_empty() {
        format!("id\u{0}{}", sub.suborder_id)
    } else if !sub.merchant_withdraw_id.is_empty() {
        format!("m\u{0}{}\u{0}{}", found.batch_id, sub.merchant_withdraw_id)
    } else {
        format!("raw\u{0}{}", Value::Object(sub.raw.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_http_dates() {
        assert_eq!(
            parse_http_date_ms("Thu, 01 Jan 1970 00:00:10 GMT"),
            Some(10_000)
        );
        assert_eq!(
            parse_http_date_ms("Sun, 22 Nov 2026 04:07:02 GMT"),
            Some(1_795_320_422_000)
        );
        assert_eq!(parse_http_date_ms("yesterday"), None);
    }
}
