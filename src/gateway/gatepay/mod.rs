//! GatePay institution crypto payouts: batch detail with status filters, batch creation,
//! HMAC-SHA512 request signing and callback verification, payout callbacks read, the
//! sub-order search by time and the wallet calls.

pub mod callback;
pub mod client;
pub mod search;
pub mod sign;
mod status;
pub mod wire;

pub use client::{GatePayClient, GatePayClientError, GatePayConfig, PreparedBatch};
pub use status::{AuditStatus, BatchStatus, SubOrderStatus};
pub use wire::{
    BatchDetail, BatchRequest, CreateBatchOutcome, DetailStatus, SubOrder, WithdrawItem,
};
