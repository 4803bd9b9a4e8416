//! The gateway core: one folder per gateway, each a chain of pure steps (build, sign, parse,
//! map) with one runner doing the I/O, plus the HTTP safety rules they share.

pub mod cny;
pub mod gatepay;
pub mod http;
