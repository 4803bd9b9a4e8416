//! The console's panels, one struct each with its own state, and the widgets they share.
//! A panel draws from a `&ConsoleContext` and returns its own actions; it never names the app.

pub mod approvals;
mod approvals_batches;
pub mod charts;
pub mod export;
pub mod fonts;
pub mod gatepay;
pub mod listener;
pub mod log;
pub mod orders;
pub mod payouts;
pub mod profiles;
pub mod reconcile;
pub mod suborders;
#[cfg(test)]
pub(crate) mod test_support;
pub mod widgets;
pub mod workbench;
