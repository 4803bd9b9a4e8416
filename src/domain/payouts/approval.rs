//! Four-eyes approval on a team journal: a payout the team's rule holds back waits for an
//! operator other than the one who recorded it; once approved, the approver's Paydesk sends
//! it at once (under its own merchant order ID, claimed like any send); once rejected, it is
//! never sent. The database refuses the rest (see `journal::team`): this only asks and shows.

use super::{PayoutDesk, PayoutError, Sent};
use crate::domain::journal::team::PendingApproval;
use crate::domain::journal::{Entry, JournalError, State};
use crate::lock_unpoisoned as lock;

/// Why approval cannot be asked of a desktop journal.
pub const NO_TEAM: &str = "approval needs a team journal: this profile keeps its payouts in \
     the journal of this desktop (set a team journal on the profile)";

impl PayoutDesk {
    /// Whether the team's rule will hold this payout back for a second operator, in words
    /// (`None`: it will not, or there is no team journal). A forecast for the review: the
    /// database decides when the payout is recorded, over the same amount.
    pub fn approval_forecast(
        &self,
        request: &crate::gateway::cny::wire::PayoutRequest,
    ) -> Result<Option<String>, PayoutError> {
        let journal = lock(&self.journal);
        let Some(team) = journal.team() else {
            return Ok(None);
        };
        let rule = team
            .approval_rule(&self.merchant)
            .map_err(JournalError::from)?;
        Ok(rule.filter(|r| request.amount >= r.threshold).map(|r| {
            if r.threshold.fen() == 0 {
                "every payout of this merchant needs approval by a second operator".to_owned()
            } else {
                format!(
                    "payouts of {} and more need approval by a second operator",
                    r.threshold
                )
            }
        }))
    }

    /// The payouts of this merchant waiting for a second operator, oldest first, each with the
    /// team's payouts to the same account for the same amount.
    pub fn pending_approvals(&self) -> Result<Vec<PendingApproval>, PayoutError> {
        let journal = lock(&self.journal);
        let team = journal
            .team()
            .ok_or_else(|| PayoutError::NotAllowed(NO_TEAM.into()))?;
        Ok(team
            .pending_approvals(&self.merchant)
            .map_err(JournalError::from)?)
    }

    /// Approves a payout another operator recorded, then sends it (or, for a payout recorded
    /// for another gateway address, leaves it to that address's profile).
    pub async fn approve(&self, cl_id: &str, reason: Option<&str>) -> Result<Sent, PayoutError> {
        let entry = {
            let journal = lock(&self.journal);
            let team = journal
                .team()
                .ok_or_else(|| PayoutError::NotAllowed(NO_TEAM.into()))?;
            team.approve(&self.merchant, cl_id, reason)
                .map_err(JournalError::from)?
        };
        if let Some(why) = self.elsewhere(&entry) {
            return Err(PayoutError::NotAllowed(format!("approved; {why}")));
        }
        if entry.state != State::Queued {
            // Carried over from a desktop journal after a send (refused, unknown, not
            // created): approved, it is sent again as a retry would (an unknown one is looked
            // up first).
            return self.retry(cl_id).await;
        }
        let sent = self.send_owned(&entry.request, &[State::Queued]).await?;
        Ok(self.audited(sent, "payout sent after approval"))
    }

    /// Rejects a payout another operator recorded, with the reason: it is never sent.
    pub fn reject(&self, cl_id: &str, reason: &str) -> Result<Entry, PayoutError> {
        let journal = lock(&self.journal);
        let team = journal
            .team()
            .ok_or_else(|| PayoutError::NotAllowed(NO_TEAM.into()))?;
        Ok(team
            .reject(&self.merchant, cl_id, reason)
            .map_err(JournalError::from)?)
    }
}
