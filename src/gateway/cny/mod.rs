//! The CNY bank-card gateway: deposit and payout queries, payout creation, balance, and the
//! signed withdraw notification.

pub mod banks;
pub mod brand;
pub mod client;
pub mod sign;
pub mod wire;

pub use brand::{BankField, Brand, CnyPaths};
pub use client::{CnyClient, CnyConfig, CnyError, PreparedPayout};
pub use sign::{SignOptions, Verdict, Verification};
pub use wire::{CreateOutcome, Order, OrderKind, OrderQuery, PayoutRequest, QueryPage, TimeRange};
