//! What became of a sent payout in one word an operator can act on: the journal's state and
//! the gateway's status read together, so a payout the gateway failed is never shown as
//! "accepted" and every view (list, filter, colour) agrees.

use super::{Entry, State};
use crate::gateway::cny::wire::{OrderKind, OrderStatus, StatusClass};

/// A sent payout's outcome, from the journal's state and the gateway's last trusted status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The gateway reports the money paid out.
    Paid,
    /// The gateway took the payout and then failed or cancelled it: nothing was paid.
    Failed,
    /// A GatePay batch finished with some sub-orders paid and some failed.
    Partial,
    /// The gateway took the payout and has not finished it (or its status is not in yet).
    InProgress,
    /// Whether the gateway took the payout is not known yet: it is being checked.
    Unknown,
    /// The gateway refused the request: nothing was created.
    Refused,
    /// Not sent, or known not to be created: can be sent with the same ID.
    NotSent,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Paid,
        Outcome::Failed,
        Outcome::Partial,
        Outcome::InProgress,
        Outcome::Unknown,
        Outcome::Refused,
        Outcome::NotSent,
    ];

    /// The word shown in lists.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Paid => "paid",
            Outcome::Failed => "failed",
            Outcome::Partial => "partly paid",
            Outcome::InProgress => "in progress",
            Outcome::Unknown => "unknown",
            Outcome::Refused => "refused",
            Outcome::NotSent => "not sent",
        }
    }

    /// Whether the console keeps asking the gateway about it.
    pub fn unsettled(self) -> bool {
        matches!(self, Outcome::InProgress | Outcome::Unknown)
    }

    /// Whether it ended with money not paid (a partly paid batch included).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Refused | Outcome::Partial)
    }
}

impl Entry {
    /// This payout's outcome: an accepted payout is only as good as its gateway status.
    pub fn outcome(&self) -> Outcome {
        match self.state {
            State::Queued | State::NotCreated => Outcome::NotSent,
            State::Sending | State::Unknown => Outcome::Unknown,
            State::Rejected => Outcome::Refused,
            State::Accepted => match self
                .gateway_status
                .map(|code| OrderStatus::new(OrderKind::Payout, code).class())
            {
                Some(StatusClass::Success) => Outcome::Paid,
                Some(StatusClass::Failed | StatusClass::Cancelled) => Outcome::Failed,
                _ => Outcome::InProgress,
            },
        }
    }
}

/// The gateway-status filter of a list of sent payouts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutcomeFilter {
    #[default]
    All,
    /// Still being followed: in progress or unknown.
    Unsettled,
    Paid,
    /// Failed at the gateway or refused by it.
    Failed,
    Unknown,
}

impl OutcomeFilter {
    pub const ALL: [OutcomeFilter; 5] = [
        OutcomeFilter::All,
        OutcomeFilter::Unsettled,
        OutcomeFilter::Paid,
        OutcomeFilter::Failed,
        OutcomeFilter::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OutcomeFilter::All => "all",
            OutcomeFilter::Unsettled => "unsettled",
            OutcomeFilter::Paid => "success",
            OutcomeFilter::Failed => "failed",
            OutcomeFilter::Unknown => "unknown",
        }
    }

    pub fn matches(self, outcome: Outcome) -> bool {
        match self {
            OutcomeFilter::All => true,
            OutcomeFilter::Unsettled => outcome.unsettled(),
            OutcomeFilter::Paid => outcome == Outcome::Paid,
            OutcomeFilter::Failed => outcome.is_failure(),
            OutcomeFilter::Unknown => outcome == Outcome::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: State, status: Option<i64>) -> Entry {
        Entry {
            id: 1,
            merchant: "PF1".into(),
            payout_cl_id: "c1".into(),
            amount: crate::money::Fen::from_fen(100),
            bank_name: String::new(),
            recipient_name: String::new(),
            account_masked: String::new(),
            state,
            payout_id: None,
            reject_code: None,
            reject_meaning: None,
            reject_message: None,
            unknown_why: None,
            gateway_status: status,
            gateway_status_label: None,
            is_final: false,
            final_at: None,
            attempts: 1,
            checks: 0,
            next_check_at: None,
            last_sent_at: None,
            body_sha256: None,
            import_id: None,
            import_row: None,
            created_at: 0,
            updated_at: 0,
            unverified_at: None,
            origin: None,
            team: None,
            request: crate::gateway::cny::wire::PayoutRequest {
                payout_cl_id: "c1".into(),
                amount: crate::money::Fen::from_fen(100),
                bank_name: String::new(),
                name: String::new(),
                number: String::new(),
                bank_branch: None,
                province: None,
                city: None,
                notify_url: None,
            },
        }
    }

    #[test]
    fn an_accepted_payout_the_gateway_failed_is_failed_not_accepted() {
        assert_eq!(entry(State::Accepted, Some(5)).outcome(), Outcome::Failed);
        assert_eq!(entry(State::Accepted, Some(4)).outcome(), Outcome::Failed);
        assert_eq!(entry(State::Accepted, Some(3)).outcome(), Outcome::Paid);
        assert_eq!(
            entry(State::Accepted, Some(2)).outcome(),
            Outcome::InProgress
        );
        assert_eq!(entry(State::Accepted, None).outcome(), Outcome::InProgress);
        assert_eq!(entry(State::Unknown, Some(3)).outcome(), Outcome::Unknown);
        assert_eq!(entry(State::Rejected, None).outcome(), Outcome::Refused);
    }

    #[test]
    fn every_state_and_status_pair_keeps_the_invariants() {
        let states = [
            State::Queued,
            State::Sending,
            State::Accepted,
            State::Rejected,
            State::Unknown,
            State::NotCreated,
        ];
        let statuses = std::iter::once(None).chain((-1..=12).map(Some));
        for status in statuses {
            for state in states {
                let outcome = entry(state, status).outcome();
                let class = status.map(|c| OrderStatus::new(OrderKind::Payout, c).class());
                // Paid only on the gateway's word that an accepted payout succeeded.
                assert_eq!(
                    outcome == Outcome::Paid,
                    state == State::Accepted && class == Some(StatusClass::Success),
                    "{state:?} {status:?}"
                );
                // A payout whose fate is open is never shown, filtered or coloured as failed.
                if matches!(state, State::Sending | State::Unknown) {
                    assert_eq!(outcome, Outcome::Unknown, "{state:?} {status:?}");
                    assert!(!outcome.is_failure() && !OutcomeFilter::Failed.matches(outcome));
                }
                if outcome.is_failure() {
                    assert!(matches!(state, State::Accepted | State::Rejected));
                }
            }
        }
    }

    #[test]
    fn the_status_filter_groups_outcomes() {
        assert!(OutcomeFilter::Unsettled.matches(Outcome::InProgress));
        assert!(OutcomeFilter::Unsettled.matches(Outcome::Unknown));
        assert!(!OutcomeFilter::Unsettled.matches(Outcome::Paid));
        assert!(OutcomeFilter::Failed.matches(Outcome::Refused));
        assert!(OutcomeFilter::Failed.matches(Outcome::Failed));
        assert!(!OutcomeFilter::Paid.matches(Outcome::Failed));
    }
}
