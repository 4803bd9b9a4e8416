//! Domain services on top of the gateway core: profiles and credentials, and verification
//! of pasted or saved gateway data. Never imports any UI.

pub mod banks;
pub mod batches;
pub mod bulk;
pub mod connection;
pub mod credentials;
pub mod dates;
pub mod desk;
pub mod duplicates;
pub mod export;
pub mod filter;
pub mod journal;
pub mod listener;
pub mod overview;
pub mod payouts;
pub mod profiles;
pub mod reconcile;
pub mod search;
pub mod sheet;
pub mod text;
pub mod verify;
