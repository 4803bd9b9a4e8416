//! The CNY gateway's wire: order kinds and statuses, error codes, queries, payout requests,
//! and the pure steps that build requests and read replies.
#![deny(clippy::float_arithmetic)]

mod balance;
mod errors;
mod fields;
mod order;
mod payout;
mod query;
mod status;

pub use balance::{Balance, ChannelBalance, parse_balance_reply};
pub(crate) use errors::said_beyond;
pub use errors::{ERROR_CODES, GatewayError, ReplyError, error_meaning};
pub use fields::{field_fen, field_int, field_text, field_time, parse_fen_text};
pub use order::{Order, QueryPage, SignatureCheck, parse_query_reply};
pub use payout::{CreateOutcome, FieldError, PayoutRequest, build_payout_body, parse_create_reply};
pub use query::{OrderQuery, QueryError, TimeRange};
pub use status::{OrderKind, OrderStatus, StatusClass};

pub const DEPOSITS_PATH: &str = "gateway/api/v1/payments";
pub const PAYOUTS_PATH: &str = "gateway/api/v2/payouts";
pub const BALANCE_PATH: &str = "gateway/api/v1/platforms/balance";
/// The fixed `service_id` of a bank-card payout, as the create API publishes it.
pub const PAYOUT_SERVICE_ID: &str = "SVC0004";
/// The gateway's cap on a query page.
pub const MAX_LIMIT: u32 = 500;
pub const DEFAULT_LIMIT: u32 = 25;
