//! GatePay institution crypto payouts: batch detail with status filters, batch creation,
//! HMAC-SHA512 request signing and callback verification.

pub mod client;
pub mod sign;
mod status;
pub mod wire;

pub use client::{GatePayClient, GatePayClientError, GatePayConfig, PreparedBatch};
pub use status::{BatchStatus, SubOrderStatus};
pub use wire::{
    BatchDetail, BatchRequest, CreateBatchOutcome, DetailStatus, SubOrder, WithdrawItem,
};
