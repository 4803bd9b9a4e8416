//! The CNY gateway's wire: order kinds and statuses, error codes, queries, payout requests,
//! and the pure steps that build requests and read replies.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::{Map, Value};

use super::sign::{
    Canonical, ExactError, ExactObject, ExactValue, SignOptions, Verdict, Verification,
    exact_entries, exact_items, parse_exact, verify_exact,
};
use crate::gateway::http::snippet;
use crate::money::Fen;
use crate::secret::Secret;

pub const DEPOSITS_PATH: &str = "gateway/api/v1/payments";
pub const PAYOUTS_PATH: &str = "gateway/api/v2/payouts";
pub const BALANCE_PATH: &str = "gateway/api/v1/platforms/balance";
/// The service of a bank-card payout (seed 004).
pub const PAYOUT_SERVICE_ID: &str = "SVC0004";
/// The gateway's cap on a query page.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 25;

/// Deposits (payments) or payouts: the same query with different names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    Deposit,
    Payout,
}

impl OrderKind {
    pub fn path(self) -> &'static str {
        match self {
            OrderKind::Deposit => DEPOSITS_PATH,
            OrderKind::Payout => PAYOUTS_PATH,
        }
    }

    /// The field of the system order ID (`payment_id` / `payout_id`).
    pub fn system_id_field(self) -> &'static str {
        match self {
            OrderKind::Deposit => "payment_id",
            OrderKind::Payout => "payout_id",
        }
    }

    /// The field of the merchant order ID (`payment_cl_id` / `payout_cl_id`).
    pub fn merchant_id_field(self) -> &'static str {
        match self {
            OrderKind::Deposit => "payment_cl_id",
            OrderKind::Payout => "payout_cl_id",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            OrderKind::Deposit => "deposits",
            OrderKind::Payout => "payouts",
        }
    }
}

/// Where an order stands, in the terms that matter for money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusClass {
    /// Not final yet.
    InProgress,
    Success,
    Cancelled,
    Failed,
    /// A value the status list does not have.
    Unknown,
}

impl StatusClass {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StatusClass::Success | StatusClass::Cancelled | StatusClass::Failed
        )
    }
}

/// An order's status code with the meaning of the status list (「订单状态列表」).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderStatus {
    pub kind: OrderKind,
    pub code: Option<i64>,
}

impl OrderStatus {
    pub fn new(kind: OrderKind, code: i64) -> OrderStatus {
        OrderStatus {
            kind,
            code: Some(code),
        }
    }

    fn entry(self) -> Option<(&'static str, &'static str, StatusClass)> {
        use StatusClass::{Cancelled, Failed, InProgress, Success};
        let code = self.code?;
        Some(match (self.kind, code) {
            (OrderKind::Deposit, 0) => ("pending", "待处理", InProgress),
            (OrderKind::Deposit, 1) => ("processing", "处理中", InProgress),
            (OrderKind::Deposit, 2) => ("success", "成功", Success),
            (OrderKind::Deposit, 3) => ("cancelled", "取消", Cancelled),
            (OrderKind::Deposit, 4) => ("failed", "失败", Failed),
            (OrderKind::Payout, 0) => ("scheduled", "预约中", InProgress),
            (OrderKind::Payout, 1) => ("pending", "待处理", InProgress),
            (OrderKind::Payout, 2) => ("processing", "处理中", InProgress),
            (OrderKind::Payout, 3) => ("success", "成功", Success),
            (OrderKind::Payout, 4) => ("cancelled", "取消", Cancelled),
            (OrderKind::Payout, 5) => ("failed", "失败", Failed),
            (OrderKind::Payout, 6) => ("under review", "审核中", InProgress),
            _ => return None,
        })
    }

    /// `success`, `processing`, … or `unknown (9)`.
    pub fn label(self) -> String {
        match (self.entry(), self.code) {
            (Some((en, _, _)), _) => en.to_owned(),
            (None, Some(code)) => format!("unknown ({code})"),
            (None, None) => "unknown (missing)".to_owned(),
        }
    }

    /// The Chinese name the gateway's back office uses, when the value is known.
    pub fn label_zh(self) -> Option<&'static str> {
        self.entry().map(|(_, zh, _)| zh)
    }

    pub fn class(self) -> StatusClass {
        self.entry().map_or(StatusClass::Unknown, |(_, _, c)| c)
    }

    /// Every known code of a kind, for filters and legends.
    pub fn all(kind: OrderKind) -> Vec<OrderStatus> {
        let max = match kind {
            OrderKind::Deposit => 4,
            OrderKind::Payout => 6,
        };
        (0..=max).map(|c| OrderStatus::new(kind, c)).collect()
    }
}

/// The published error codes (「全局错误码」) with their meaning.
pub const ERROR_CODES: &[(&str, &str)] = &[
    ("0000", "success"),
    ("0001", "network delay"),
    ("0002", "invalid request parameters"),
    ("0003", "service closed"),
    ("0004", "signature verification failed"),
    ("0005", "Authorization missing"),
    ("0006", "invalid Authorization"),
    ("0007", "deposit record not found"),
    ("0008", "bank card not found"),
    ("0009", "wrong service_id"),
    ("0010", "service not enabled for this merchant"),
    ("0011", "no card available"),
    ("0012", "this gateway does not support that bank"),
    ("0013", "create deposit failed"),
    ("0014", "duplicate merchant order number"),
    ("0015", "channel not found"),
    ("0016", "unknown fee type"),
    ("0017", "create payout failed"),
    ("0018", "insufficient balance"),
    ("0019", "platform_channel_id required"),
    ("0020", "wrong API version"),
    ("0021", "invalid JSON"),
    ("0022", "unsupported content type"),
    ("0023", "unsupported method"),
    ("0024", "update deposit failed"),
    ("0025", "update channel failed"),
    ("0026", "last_number required"),
    ("0027", "host not allowed"),
    ("0028", "amount below the minimum"),
    ("0029", "amount above the maximum"),
];

/// The meaning of an error code, or a plain statement that the code is not in the list.
pub fn error_meaning(code: &str) -> &'static str {
    ERROR_CODES.iter().find(|(c, _)| *c == code).map_or(
        "an error code not in the gateway's published list",
        |(_, m)| m,
    )
}

/// The gateway answered with one of its own error codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[error(
    "gateway error {code}: {}{}",
    error_meaning(code),
    said_beyond(error_meaning(code), message, "the gateway said")
)]
pub struct GatewayError {
    pub code: String,
    /// The gateway's `error_msg`, as it sent it.
    pub message: String,
}

impl GatewayError {
    pub fn meaning(&self) -> &'static str {
        error_meaning(&self.code)
    }
}

/// What a gateway's own message adds to the meaning of its code, if anything.
pub(crate) fn said_beyond(meaning: &str, message: &str, who: &str) -> String {
    let m = message.trim();
    let rest = if m.len() >= meaning.len()
        && m.is_char_boundary(meaning.len())
        && m[..meaning.len()].eq_ignore_ascii_case(meaning)
    {
        m[meaning.len()..].trim_start_matches([':', ' ', '!', '.'])
    } else {
        m
    };
    if rest.is_empty() {
        String::new()
    } else {
        format!(" ({who}: {rest})")
    }
}

/// A creation-time range; the gateway applies it only when both bounds are sent, so the type
/// only exists with both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    pub from_secs: i64,
    pub to_secs: i64,
}

/// What to ask for in one page query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderQuery {
    pub offset: u64,
    pub limit: u32,
    pub system_id: Option<String>,
    pub merchant_id: Option<String>,
    pub created: Option<TimeRange>,
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery {
            offset: 0,
            limit: DEFAULT_LIMIT,
            system_id: None,
            merchant_id: None,
            created: None,
        }
    }
}

/// A query the console refuses to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the page size must be between 1 and {MAX_LIMIT} (got {0})")]
    Limit(u32),
    #[error("the start of the time range is after its end")]
    RangeReversed,
    #[error("{0} must be at most 32 characters")]
    IdTooLong(&'static str),
}

impl OrderQuery {
    pub fn validate(&self) -> Result<(), QueryError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(QueryError::Limit(self.limit));
        }
        if let Some(r) = self.created
            && r.from_secs > r.to_secs
        {
            return Err(QueryError::RangeReversed);
        }
        if self
            .merchant_id
            .as_deref()
            .is_some_and(|s| s.chars().count() > 32)
        {
            return Err(QueryError::IdTooLong("the merchant order ID"));
        }
        Ok(())
    }

    /// The query string's pairs, in the seed's order; empty IDs are not sent.
    pub fn pairs(&self, kind: OrderKind) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("offset", self.offset.to_string()),
            ("limit", self.limit.to_string()),
        ];
        if let Some(id) = self
            .system_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            pairs.push((kind.system_id_field(), id.to_owned()));
        }
        if let Some(id) = self
            .merchant_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            pairs.push((kind.merchant_id_field(), id.to_owned()));
        }
        if let Some(r) = self.created {
            pairs.push(("create_time__gte", r.from_secs.to_string()));
            pairs.push(("create_time__lte", r.to_secs.to_string()));
        }
        pairs
    }
}

/// The outcome of checking one order's `sign`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    Checked(Verification),
    /// No MD5 key was available.
    Unchecked,
}

impl SignatureCheck {
    /// `valid`, `invalid` or `unchecked`, as the CLI and exports print it.
    pub fn word(&self) -> &'static str {
        match self {
            SignatureCheck::Checked(v) if v.verdict == Verdict::Valid => "valid",
            SignatureCheck::Checked(_) => "invalid",
            SignatureCheck::Unchecked => "unchecked",
        }
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, SignatureCheck::Checked(v) if v.verdict != Verdict::Valid)
    }
}

/// One deposit or payout order as received: every raw field, a typed view of the ones the
/// console works with, and the verdict on its signature.
#[derive(Clone, Debug)]
pub struct Order {
    pub kind: OrderKind,
    pub raw: Map<String, Value>,
    pub system_id: String,
    pub merchant_id: String,
    /// `payment_cl_name` (deposits only).
    pub depositor_name: Option<String>,
    pub platform_id: String,
    pub channel_id: String,
    pub amount: Option<Fen>,
    pub real_amount: Option<Fen>,
    pub fee: Option<Fen>,
    pub status: OrderStatus,
    pub memo: String,
    pub create_time_secs: Option<i64>,
    pub update_time_secs: Option<i64>,
    pub signature: SignatureCheck,
    /// The order as its text carried it, which is what `sign` covers; an error when the
    /// text cannot be read one way only (a repeated key), and then nothing can be verified.
    pub exact: Result<ExactObject, ExactError>,
}

/// The text of a scalar field: strings as they are, numbers as their raw text.
pub fn field_text(raw: &Map<String, Value>, key: &str) -> String {
    match raw.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// An integer field sent as a number or as a string of digits (seed 004 sends strings).
pub fn field_int(raw: &Map<String, Value>, key: &str) -> Option<i64> {
    match raw.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Order {
    /// Reads one order object, checking its `sign` when a key is given. For an order that
    /// arrived as text, [`Order::from_exact`] checks the text as carried.
    pub fn from_raw(
        kind: OrderKind,
        raw: Map<String, Value>,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Order {
        let exact = Ok(ExactObject::from_map(&raw));
        Order::from_exact(kind, raw, exact, key, options)
    }

    /// Reads one order: the typed view from `raw`, the signature from `exact`, the order as
    /// its text carried it. An order that cannot be read exactly is never valid.
    pub fn from_exact(
        kind: OrderKind,
        raw: Map<String, Value>,
        exact: Result<ExactObject, ExactError>,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Order {
        let signature = match (key, &exact) {
            (Some(k), Ok(e)) => SignatureCheck::Checked(verify_exact(e, k, options)),
            (Some(_), Err(why)) => SignatureCheck::Checked(Verification::unreadable(why)),
            (None, _) => SignatureCheck::Unchecked,
        };
        Order {
            kind,
            system_id: field_text(&raw, kind.system_id_field()),
            merchant_id: field_text(&raw, kind.merchant_id_field()),
            depositor_name: raw
                .get("payment_cl_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            platform_id: field_text(&raw, "platform_id"),
            channel_id: field_text(&raw, "platform_channel_id"),
            amount: field_int(&raw, "amount").map(Fen::from_fen),
            real_amount: field_int(&raw, "real_amount").map(Fen::from_fen),
            fee: field_int(&raw, "fee").map(Fen::from_fen),
            status: OrderStatus {
                kind,
                code: field_int(&raw, "status"),
            },
            memo: field_text(&raw, "memo"),
            create_time_secs: field_int(&raw, "create_time"),
            update_time_secs: field_int(&raw, "update_time"),
            signature,
            raw,
            exact,
        }
    }

    /// The canonical signing string (key masked), whether or not a key was at hand.
    pub fn canonical_masked(&self, options: SignOptions) -> String {
        match &self.exact {
            Ok(exact) => Canonical::of_exact(exact, options).masked(options),
            Err(why) => format!("(none: {why})"),
        }
    }
}

/// One page of a query.
#[derive(Clone, Debug)]
pub struct QueryPage {
    pub kind: OrderKind,
    pub orders: Vec<Order>,
    /// The count of all matching orders, as the gateway reported it.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

impl QueryPage {
    pub fn invalid_signatures(&self) -> usize {
        self.orders
            .iter()
            .filter(|o| o.signature.is_invalid())
            .count()
    }
}

/// Why a reply could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the gateway's reply is not what the API describes: {0}")]
    Malformed(String),
    #[error("the gateway answered HTTP {status}: {snippet}")]
    Http { status: u16, snippet: String },
}

/// Reads the envelope `{"error_code": …}` shared by every reply; anything but `0000`
/// becomes the gateway's error.
fn envelope(status: u16, body: &[u8]) -> Result<Map<String, Value>, ReplyError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let Ok(Value::Object(map)) = parsed else {
        return Err(if (200..300).contains(&status) {
            ReplyError::Malformed(format!("not a JSON object: {}", snippet(body)))
        } else {
            ReplyError::Http {
                status,
                snippet: snippet(body),
            }
        });
    };
    let code = map
        .get("error_code")
        .map(|_| field_text(&map, "error_code"));
    match code {
        Some(code) if code == "0000" => Ok(map),
        Some(code) if !code.is_empty() => Err(ReplyError::Gateway(GatewayError {
            code,
            message: field_text(&map, "error_msg"),
        })),
        _ if !(200..300).contains(&status) => Err(ReplyError::Http {
            status,
            snippet: snippet(body),
        }),
        _ => Err(ReplyError::Malformed("no error_code".to_owned())),
    }
}

/// Reads a query reply and checks the signature of every order in it.
pub fn parse_query_reply(
    kind: OrderKind,
    query: &OrderQuery,
    status: u16,
    body: &[u8],
    key: Option<&Secret>,
    options: SignOptions,
) -> Result<QueryPage, ReplyError> {
    let mut map = envelope(status, body)?;
    let total = match map.get("total") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        None => None,
        _ => None,
    }
    .ok_or_else(|| ReplyError::Malformed("total is missing or not a count".to_owned()))?;
    let data = match map.remove("data") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err(ReplyError::Malformed("data is not a list".to_owned())),
    };
    let exact = exact_orders(body, data.len())?;
    let mut orders = Vec::with_capacity(data.len());
    for (i, (item, exact)) in data.into_iter().zip(exact).enumerate() {
        match item {
            Value::Object(raw) => orders.push(Order::from_exact(kind, raw, exact, key, options)),
            _ => {
                return Err(ReplyError::Malformed(format!(
                    "order {} of the page is not an object",
                    i + 1
                )));
            }
        }
    }
    Ok(QueryPage {
        kind,
        orders,
        total,
        offset: query.offset,
        limit: query.limit,
    })
}

/// The text of the reply's `data`: `None` when the reply has none (or `null`).
fn exact_data(body: &[u8]) -> Result<Option<&str>, ReplyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ReplyError::Malformed("the reply is not UTF-8 text".to_owned()))?;
    let entries = exact_entries(text).map_err(|e| ReplyError::Malformed(e.to_string()))?;
    Ok(entries
        .into_iter()
        .find(|(k, _)| k == "data")
        .map(|(_, raw)| raw)
        .filter(|raw| *raw != "null"))
}

/// Each order of `data` read exactly, one by one: a repeated key makes that order unreadable
/// (never valid) and leaves the others alone; a repeated key in the envelope refuses the reply.
fn exact_orders(
    body: &[u8],
    count: usize,
) -> Result<Vec<Result<ExactObject, ExactError>>, ReplyError> {
    let Some(data) = exact_data(body)? else {
        return Ok(Vec::new());
    };
    let items = exact_items(data).map_err(|e| ReplyError::Malformed(e.to_string()))?;
    if items.len() != count {
        return Err(ReplyError::Malformed(
            "the orders of the reply could not be read exactly".to_owned(),
        ));
    }
    Ok(items.into_iter().map(exact_object).collect())
}

fn exact_object(text: &str) -> Result<ExactObject, ExactError> {
    match parse_exact(text)? {
        ExactValue::Object(o) => Ok(o),
        _ => Err(ExactError::Syntax("not an object".to_owned())),
    }
}

/// A CNY bank-card payout as the operator asked for it (seed 004).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PayoutRequest {
    pub payout_cl_id: String,
    pub amount: Fen,
    /// The exact `bank_name` text the gateway expects (from the bank list).
    pub bank_name: String,
    pub name: String,
    pub number: String,
    pub bank_branch: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub notify_url: Option<String>,
}

/// A field of a payout request that cannot be sent, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl PayoutRequest {
    /// Checks the seed's field limits and that no field carries a control, bidi or zero-width
    /// character; every problem is listed, not just the first (one per field).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let opt = |o: &Option<String>| o.as_deref().unwrap_or("").to_owned();
        let texts = [
            ("payout_cl_id", self.payout_cl_id.clone()),
            ("bank_name", self.bank_name.clone()),
            ("name", self.name.clone()),
            ("number", self.number.clone()),
            ("bank_branch", opt(&self.bank_branch)),
            ("province", opt(&self.province)),
            ("city", opt(&self.city)),
            ("notify_url", opt(&self.notify_url)),
        ];
        let mut dirty = Vec::new();
        for (field, text) in texts {
            if let Err(e) = crate::domain::text::check_clean(&text) {
                errors.push(FieldError {
                    field,
                    reason: e.to_string(),
                });
                dirty.push(field);
            }
        }
        let mut bad = |field: &'static str, reason: &str| {
            if !dirty.contains(&field) {
                errors.push(FieldError {
                    field,
                    reason: reason.to_owned(),
                });
            }
        };
        let id = &self.payout_cl_id;
        if id.is_empty() {
            bad("payout_cl_id", "the merchant order ID is required");
        } else if id.len() > 32 {
            bad("payout_cl_id", "at most 32 characters");
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            bad("payout_cl_id", "only letters, digits, '_' and '-'");
        }
        if self.amount.fen() <= 0 {
            bad("amount", "the amount must be more than zero");
        } else if self.amount.fen() > 9_999_999_999 {
            bad("amount", "the amount does not fit the gateway's 10 digits");
        }
        if self.bank_name.trim().is_empty() {
            bad("bank_name", "choose a bank");
        }
        if self.name.trim().is_empty() {
            bad("name", "the recipient's name is required");
        }
        let digits: String = self.number.chars().filter(|c| !c.is_whitespace()).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            bad("number", "the account number may contain only digits");
        } else if !(12..=30).contains(&digits.len()) {
            bad("number", "the account number must have 12 to 30 digits");
        }
        if let Some(url) = self.notify_url.as_deref().filter(|u| !u.is_empty()) {
            if url.len() > 256 {
                bad("notify_url", "at most 256 characters");
            } else if !(url.starts_with("https://") || url.starts_with("http://")) {
                bad("notify_url", "must be an http(s) URL");
            }
        }
        errors
    }
}

/// Builds the signed JSON body of a payout, as the exact bytes to send.
pub fn build_payout_body(
    request: &PayoutRequest,
    platform_id: &str,
    key: &Secret,
    options: SignOptions,
    request_time_secs: i64,
) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("amount".into(), Value::from(request.amount.fen()));
    body.insert("bank_name".into(), Value::from(request.bank_name.trim()));
    let optional = [
        ("bank_branch", &request.bank_branch),
        ("city", &request.city),
        ("notify_url", &request.notify_url),
        ("province", &request.province),
    ];
    for (field, value) in optional {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            body.insert(field.into(), Value::from(v));
        }
    }
    body.insert("name".into(), Value::from(request.name.trim()));
    let number: String = request
        .number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    body.insert("number".into(), Value::from(number));
    body.insert(
        "payout_cl_id".into(),
        Value::from(request.payout_cl_id.as_str()),
    );
    body.insert("platform_id".into(), Value::from(platform_id));
    body.insert("request_time".into(), Value::from(request_time_secs));
    body.insert("service_id".into(), Value::from(PAYOUT_SERVICE_ID));
    body.sort_keys();
    let sign = Canonical::of(&body, options).sign(key, options);
    body.insert("sign".into(), Value::from(sign));
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

/// What became of a payout request. Only *accepted* and *rejected* are known; everything
/// else is *unknown* and must be reconciled by querying the merchant order ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum CreateOutcome {
    /// The gateway took the order (which says nothing yet about the money moving).
    Accepted { payout_id: String },
    /// The gateway refused it with one of its codes; nothing was created.
    Rejected {
        code: String,
        meaning: String,
        message: String,
    },
    /// The request may or may not have created an order.
    Unknown { why: String },
}

impl CreateOutcome {
    fn rejected(e: GatewayError) -> CreateOutcome {
        CreateOutcome::Rejected {
            meaning: e.meaning().to_owned(),
            code: e.code,
            message: e.message,
        }
    }
}

/// Maps a create reply to its outcome. A 5xx, an empty or unreadable body, or a
/// `0001 network delay` leaves the outcome unknown (seed 004's warning).
pub fn parse_create_reply(status: u16, body: &[u8]) -> CreateOutcome {
    if status >= 500 {
        return CreateOutcome::Unknown {
            why: format!("the gateway answered HTTP {status}: {}", snippet(body)),
        };
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return CreateOutcome::Unknown {
            why: format!("the gateway answered HTTP {status} with an empty body"),
        };
    }
    match envelope(status, body) {
        Ok(map) => match map
            .get("data")
            .and_then(|d| d.get("payout_id"))
            .and_then(Value::as_str)
        {
            Some(id) if !id.is_empty() => CreateOutcome::Accepted {
                payout_id: id.to_owned(),
            },
            _ => CreateOutcome::Unknown {
                why: "the gateway said 0000 but sent no payout_id".to_owned(),
            },
        },
        Err(ReplyError::Gateway(e)) if e.code == "0001" => CreateOutcome::Unknown {
            why: format!("{e}: the order may still be created"),
        },
        Err(ReplyError::Gateway(e)) => CreateOutcome::rejected(e),
        Err(other) => CreateOutcome::Unknown {
            why: other.to_string(),
        },
    }
}

/// One channel's balance entry; each carries its own `sign`.
#[derive(Clone, Debug)]
pub struct ChannelBalance {
    pub raw: Map<String, Value>,
    pub channel_id: String,
    pub balance: Option<Fen>,
    pub signature: SignatureCheck,
}

/// The merchant's balance; the outer `sign` covers the scalar fields.
#[derive(Clone, Debug)]
pub struct Balance {
    pub raw: Map<String, Value>,
    pub balance: Option<Fen>,
    pub signature: SignatureCheck,
    pub channels: Vec<ChannelBalance>,
}

pub fn parse_balance_reply(
    status: u16,
    body: &[u8],
    key: Option<&Secret>,
    options: SignOptions,
) -> Result<Balance, ReplyError> {
    let map = envelope(status, body)?;
    let Some(Value::Object(data)) = map.get("data") else {
        return Err(ReplyError::Malformed("data is not an object".to_owned()));
    };
    // The signatures are checked on the text as carried; a repeated key anywhere in `data`
    // leaves the balance and every channel unreadable, never valid.
    let exact = exact_data(body)?
        .ok_or_else(|| ReplyError::Malformed("data is not an object".to_owned()))
        .map(exact_object)?;
    let check = |exact: Result<&ExactObject, &ExactError>| match (key, exact) {
        (Some(k), Ok(e)) => SignatureCheck::Checked(verify_exact(e, k, options)),
        (Some(_), Err(why)) => SignatureCheck::Checked(Verification::unreadable(why)),
        (None, _) => SignatureCheck::Unchecked,
    };
    let exact_channels: Vec<&ExactObject> = match exact.as_ref().map(|d| d.get("platform_channels"))
    {
        Ok(Some(ExactValue::Array(items))) => items
            .iter()
            .filter_map(|v| match v {
                ExactValue::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let channels = match data.get("platform_channels") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .enumerate()
            .map(|(i, raw)| ChannelBalance {
                channel_id: field_text(raw, "platform_channel_id"),
                balance: field_int(raw, "balance").map(Fen::from_fen),
                signature: match (&exact, exact_channels.get(i)) {
                    (Err(why), _) => check(Err(why)),
                    (Ok(_), Some(e)) => check(Ok(*e)),
                    (Ok(_), None) => check(Err(&ExactError::Syntax(
                        "the channel could not be read exactly".to_owned(),
                    ))),
                },
                raw: raw.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Balance {
        balance: field_int(data, "balance").map(Fen::from_fen),
        signature: check(exact.as_ref()),
        channels,
        raw: data.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::cny::sign::{sign_object, verify_object};

    const SEED_000: &str = r#"{"error_code":"0000","data":[{"amount":30000,"real_amount":0,"fee":0,"payout_id":"POT00000145","payout_cl_id":"xinxin_1596380261_10","platform_id":"PF0060","platform_channel_id":"PFC00000142","status":3,"memo":"","create_time":1596425140,"update_time":1596425770,"sign":"b02a19324cfb696e939f933777d75f58"},{"amount":30000,"real_amount":0,"fee":0,"payout_id":"POT00000144","payout_cl_id":"xinxin_1596380261_11","platform_id":"PF0060","platform_channel_id":"PFC00000142","status":3,"memo":"","create_time":1596424960,"update_time":1596425590,"sign":"151ed70de39dc222f3444bc84947975a"}],"total":2}"#;

    #[test]
    fn reads_the_seed_page_and_flags_the_bad_signature() {
        let key = Secret::new("2I9Q4nExEddsH6zo");
        let page = parse_query_reply(
            OrderKind::Payout,
            &OrderQuery::default(),
            200,
            SEED_000.as_bytes(),
            Some(&key),
            SignOptions::default(),
        )
        .unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(page.orders[0].signature.word(), "valid");
        // The seed's own second sign was made with a key we do not have.
        assert_eq!(page.orders[1].signature.word(), "invalid");
        assert_eq!(page.orders[0].status.label(), "success");
        assert_eq!(page.orders[0].amount, Some(Fen::from_fen(30000)));
        assert_eq!(page.invalid_signatures(), 1);
    }

    #[test]
    fn gateway_errors_carry_their_meaning() {
        let err = parse_query_reply(
            OrderKind::Deposit,
            &OrderQuery::default(),
            200,
            br#"{"error_code":"0006","error_msg":"Invalid Authorization!"}"#,
            None,
            SignOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "gateway error 0006: invalid Authorization");
        let extra = GatewayError {
            code: "0002".into(),
            message: "invalid request parameters: limit must be at least 1".into(),
        };
        assert_eq!(
            extra.to_string(),
            "gateway error 0002: invalid request parameters (the gateway said: limit must be at least 1)"
        );
        assert_eq!(ERROR_CODES.len(), 30);
        assert_eq!(
            error_meaning("0012"),
            "this gateway does not support that bank"
        );
        assert!(error_meaning("9999").contains("not in"));
    }

    #[test]
    fn unknown_statuses_say_so() {
        assert_eq!(
            OrderStatus::new(OrderKind::Payout, 9).label(),
            "unknown (9)"
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Deposit, 5).class(),
            StatusClass::Unknown
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Deposit, 2).class(),
            StatusClass::Success
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Payout, 2).class(),
            StatusClass::InProgress
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Payout, 3).class(),
            StatusClass::Success
        );
        assert_eq!(
            OrderStatus {
                kind: OrderKind::Payout,
                code: None
            }
            .label(),
            "unknown (missing)"
        );
    }

    #[test]
    fn query_pairs_send_the_range_only_as_a_pair() {
        let q = OrderQuery {
            offset: 50,
            limit: 500,
            system_id: Some(" ".into()),
            merchant_id: Some("M1".into()),
            created: Some(TimeRange {
                from_secs: 1,
                to_secs: 2,
            }),
        };
        assert_eq!(
            q.pairs(OrderKind::Payout),
            vec![
                ("offset", "50".to_owned()),
                ("limit", "500".to_owned()),
                ("payout_cl_id", "M1".to_owned()),
                ("create_time__gte", "1".to_owned()),
                ("create_time__lte", "2".to_owned()),
            ]
        );
        assert_eq!(
            OrderQuery {
                limit: 501,
                ..q.clone()
            }
            .validate(),
            Err(QueryError::Limit(501))
        );
        assert_eq!(
            OrderQuery {
                limit: 0,
                ..q.clone()
            }
            .validate(),
            Err(QueryError::Limit(0))
        );
        assert_eq!(
            OrderQuery {
                created: Some(TimeRange {
                    from_secs: 3,
                    to_secs: 2
                }),
                ..q
            }
            .validate(),
            Err(QueryError::RangeReversed)
        );
    }

    #[test]
    fn payout_body_is_signed_over_what_is_sent() {
        let key = Secret::new("2I9Q4nExEddsH6zo");
        let req = PayoutRequest {
            payout_cl_id: "test_gateway_1707220674".into(),
            amount: Fen::from_fen(100_000),
            bank_name: "中国农业银行".into(),
            name: "王小头".into(),
            number: "6216 6674 5167 4374".into(),
            bank_branch: None,
            province: Some(String::new()),
            city: None,
            notify_url: Some("http://localhost:52630/gateway/test-notification".into()),
        };
        assert!(req.validate().is_empty());
        let body = build_payout_body(&req, "PF0001", &key, SignOptions::default(), 1_707_220_674);
        let sent: Map<String, Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["number"], "6216667451674374");
        assert_eq!(sent["service_id"], PAYOUT_SERVICE_ID);
        assert!(sent.get("province").is_none());
        assert_eq!(
            sent["sign"].as_str().unwrap(),
            sign_object(&sent, &key, SignOptions::default())
        );
        assert_eq!(
            verify_object(&sent, &key, SignOptions::default()).verdict,
            Verdict::Valid
        );
    }

    #[test]
    fn finding_10_payout_text_with_control_bidi_or_zero_width_is_refused() {
        let req = PayoutRequest {
            payout_cl_id: "pd_1".into(),
            amount: Fen::from_fen(100),
            bank_name: "中国农业银行".into(),
            name: "王\u{202E}小头".into(),
            number: "6216667451674374\u{200B}".into(),
            bank_branch: Some("朝阳\n支行".into()),
            province: None,
            city: Some("北京\0".into()),
            notify_url: None,
        };
        let errs: Vec<String> = req.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "name: character 2 is U+202E RIGHT-TO-LEFT OVERRIDE",
                "number: character 17 is U+200B ZERO WIDTH SPACE",
                "bank_branch: character 3 is U+000A LINE FEED (new line)",
                "city: character 3 is U+0000 NULL",
            ]
        );
    }

    #[test]
    fn payout_validation_lists_every_problem() {
        let req = PayoutRequest {
            payout_cl_id: "x".repeat(33),
            amount: Fen::ZERO,
            bank_name: String::new(),
            name: " ".into(),
            number: "12ab".into(),
            bank_branch: None,
            province: None,
            city: None,
            notify_url: Some("ftp://x".into()),
        };
        let fields: Vec<_> = req.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "payout_cl_id",
                "amount",
                "bank_name",
                "name",
                "number",
                "notify_url"
            ]
        );
    }

    #[test]
    fn create_outcomes_never_guess() {
        let accepted =
            parse_create_reply(200, br#"{"error_code":"0000","data":{"payout_id":"POT1"}}"#);
        assert_eq!(
            accepted,
            CreateOutcome::Accepted {
                payout_id: "POT1".into()
            }
        );
        let rejected = parse_create_reply(200, br#"{"error_code":"0014","error_msg":"dup"}"#);
        assert!(matches!(rejected, CreateOutcome::Rejected { ref code, .. } if code == "0014"));
        for (status, body) in [
            (500, &br#"{"error_code":"0017"}"#[..]),
            (502, b"<html>bad gateway</html>"),
            (200, b""),
            (200, b"{\"error_code\":"),
            (200, br#"{"error_code":"0000"}"#),
            (200, br#"{"error_code":"0001","error_msg":"network delay"}"#),
            (404, b"not found"),
            (200, b"[]"),
        ] {
            assert!(
                matches!(
                    parse_create_reply(status, body),
                    CreateOutcome::Unknown { .. }
                ),
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
