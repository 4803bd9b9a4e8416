//! The bank list the CNY gateway pays out to; it lives in the domain, this is its old address.

pub use crate::domain::banks::{Bank, default_banks, find_bank, parse_banks};
