//! What the CNY payout desk and the GatePay batch desk share: the journal, the clock, who
//! the audit log names, and which gateway address the desk's client reaches.

use std::sync::{Arc, Mutex};

use reqwest::Url;

use super::journal::{Actor, Journal, JournalError, gateway_origin};
use super::payouts::NOT_FOUND_GRACE_SECS;
use crate::clock::Clock;
use crate::gateway::cny::client::CnyError;
use crate::gateway::gatepay::client::GatePayClientError;
use crate::lock_unpoisoned as lock;

/// A gateway client a desk sends through.
pub trait DeskClient {
    /// The merchant the journal files this client's work under, and where this client
    /// reaches its gateway.
    fn identity(&self) -> (String, &Url);
}

/// What a gateway client's errors are: the one kind a desk's error carries beside the
/// journal's and its own refusals.
pub trait GatewayFailure: std::error::Error {}

impl GatewayFailure for CnyError {}
impl GatewayFailure for GatePayClientError {}

/// Why a desk did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DeskError<G> {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Gateway(G),
    #[error("{0}")]
    NotAllowed(String),
}

impl<G: GatewayFailure> From<G> for DeskError<G> {
    fn from(err: G) -> DeskError<G> {
        DeskError::Gateway(err)
    }
}

/// A journal and a gateway client for one merchant.
#[derive(Clone)]
pub struct Desk<C> {
    pub journal: Arc<Mutex<Journal>>,
    pub client: C,
    pub merchant: String,
    /// The gateway origin of `client`: only work sent there (or from before origins were
    /// kept) is looked up, settled or sent again by this desk.
    pub origin: String,
    pub clock: Arc<dyn Clock>,
    pub not_found_grace_secs: i64,
    /// Who the audit log names for what this desk sends.
    pub actor: Actor,
}

impl<C: DeskClient> Desk<C> {
    pub fn new(journal: Arc<Mutex<Journal>>, client: C, clock: Arc<dyn Clock>) -> Desk<C> {
        let (merchant, base_url) = client.identity();
        let origin = gateway_origin(base_url);
        Desk {
            merchant,
            origin,
            journal,
            client,
            clock,
            not_found_grace_secs: NOT_FOUND_GRACE_SECS,
            actor: Actor::current(),
        }
    }
}

impl<C> Desk<C> {
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Appends to the audit log in the desk's name.
    pub(crate) fn audit(&self, action: &str, detail: &str) -> Result<(), JournalError> {
        lock(&self.journal).audit(self.actor.as_str(), action, detail, self.now())
    }

    /// Writes the audit record of a send in the desk's name; a failure joins the send's
    /// bookkeeping error rather than replace its outcome.
    pub(crate) fn audit_send(&self, action: &str, detail: &str, bookkeeping: &mut Option<String>) {
        self.actor
            .audit_send(&self.journal, action, detail, self.now(), bookkeeping);
    }
}
