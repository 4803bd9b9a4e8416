//! Four-eyes approval of GatePay batches on a team journal, as for CNY payouts
//! (`payouts::approval`): a batch the team's rule holds back waits for an operator other than
//! the one who recorded it; once approved, the approver's Paydesk sends it at once (under its
//! own batch ID, claimed like any send); once rejected, it is never sent. The database refuses
//! the rest (see `journal::team`): this only asks and shows.

use super::{BatchDesk, BatchEntry, BatchError, SentBatch};
use crate::domain::duplicates::{Confirmation, DuplicateReport, DuplicateWindow};
use crate::domain::journal::JournalError;
use crate::domain::journal::team::{Approval, BatchApprovalRule};
use crate::domain::payouts::approval::NO_TEAM;
use crate::gateway::gatepay::wire::{BatchRequest, WithdrawItem};
use crate::lock_unpoisoned as lock;
use crate::money::CryptoAmount;

/// A batch waiting for a second operator, with what the team's journal holds that looks like
/// its sub-orders (the check `gatepay create` runs before a batch is recorded).
#[derive(Clone, Debug)]
pub struct PendingBatch {
    pub batch: BatchEntry,
    /// What it pays, sub-order by sub-order, as its recorded body says: the first
    /// [`SUB_ORDERS_LISTED`] (`batch.sub_orders` says how many in all); empty when the body
    /// does not read (then `duplicates` says why).
    pub sub_orders: Vec<WithdrawItem>,
    /// Its likely duplicates, or why they could not be looked for.
    pub duplicates: Result<DuplicateReport, String>,
}

/// Sub-orders of a batch awaiting approval listed one by one before the rest are counted.
pub const SUB_ORDERS_LISTED: usize = 200;

/// A recorded batch body read back as the request it sends (its amounts as the exact text
/// sent): for the duplicate check of a batch awaiting approval.
fn recorded_request(body: &str) -> Result<BatchRequest, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("its recorded body is not JSON: {e}"))?;
    let text = |item: &serde_json::Value, key: &str| match item.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let list = v
        .get("withdraw_list")
        .and_then(serde_json::Value::as_array)
        .ok_or("its recorded body has no withdraw_list")?;
    let mut withdraw_list = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let amount = CryptoAmount::parse_wire(&text(item, "amount"))
            .map_err(|e| format!("sub-order {}: its amount does not read: {e}", i + 1))?;
        withdraw_list.push(WithdrawItem {
            merchant_withdraw_id: text(item, "merchant_withdraw_id"),
            currency: text(item, "currency"),
            amount,
            chain: text(item, "chain"),
            address: text(item, "address"),
            memo: text(item, "memo"),
            fee_type: u8::try_from(
                item.get("fee_type")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
            )
            .unwrap_or(0),
        });
    }
    Ok(BatchRequest {
        batch_id: text(&v, "batch_id"),
        withdraw_list,
        channel_id: v
            .get("channel_id")
            .and_then(|c| c.as_str())
            .map(str::to_owned),
    })
}

impl BatchDesk {
    /// The batches waiting for a second operator, oldest first, each with its likely
    /// duplicates among the team's earlier batches within `window`.
    pub fn pending_approvals_checked(
        &self,
        window: DuplicateWindow,
    ) -> Result<Vec<PendingBatch>, BatchError> {
        Ok(self
            .pending_approvals()?
            .into_iter()
            .map(|batch| match recorded_request(&batch.body) {
                Ok(request) => PendingBatch {
                    duplicates: self
                        .duplicates_of_batch(&request, window, &Confirmation::Nothing)
                        .map_err(|e| e.to_string()),
                    sub_orders: request
                        .withdraw_list
                        .into_iter()
                        .take(SUB_ORDERS_LISTED)
                        .collect(),
                    batch,
                },
                Err(why) => PendingBatch {
                    batch,
                    sub_orders: Vec::new(),
                    duplicates: Err(why),
                },
            })
            .collect())
    }

    /// Runs `f` on the team journal, or says approval needs one.
    fn on_team<T>(
        &self,
        f: impl FnOnce(
            &crate::domain::journal::team::TeamJournal,
        ) -> Result<T, crate::domain::journal::team::TeamError>,
    ) -> Result<T, BatchError> {
        let journal = lock(&self.journal);
        let team = journal
            .team()
            .ok_or_else(|| BatchError::NotAllowed(NO_TEAM.into()))?;
        Ok(f(team).map_err(JournalError::from)?)
    }

    /// The batches of this GatePay client waiting for a second operator, oldest first.
    pub fn pending_approvals(&self) -> Result<Vec<BatchEntry>, BatchError> {
        self.on_team(|t| t.pending_batches(&self.merchant))
    }

    /// The team's rules for this client's batches (none on a desktop journal).
    pub fn approval_rules(&self) -> Result<Vec<BatchApprovalRule>, BatchError> {
        if lock(&self.journal).team().is_none() {
            return Ok(Vec::new());
        }
        self.on_team(|t| t.batch_approval_rules(&self.merchant))
    }

    /// Whether the team's rules will hold this batch back for a second operator, in words
    /// (`None`: they will not, or there is no team journal). A forecast for the review: the
    /// database decides when the batch is recorded, over the same totals.
    pub fn approval_forecast(&self, request: &BatchRequest) -> Result<Option<String>, BatchError> {
        let rules = self.approval_rules()?;
        Ok(held_by(
            &rules,
            &super::currency_totals(&request.withdraw_list),
        ))
    }

    /// Approves a batch another operator recorded, then sends it (a batch recorded for
    /// another gateway address is left to that address's profile).
    pub async fn approve(
        &self,
        batch_id: &str,
        reason: Option<&str>,
    ) -> Result<SentBatch, BatchError> {
        let entry =
            self.on_team(|t| t.decide_batch(&self.merchant, batch_id, Approval::Approved, reason))?;
        if let Some(why) = entry.elsewhere(&self.origin) {
            return Err(BatchError::NotAllowed(format!("approved; {why}")));
        }
        let sent = self.send(batch_id, entry.body).await?;
        Ok(self.audited(sent, "gatepay batch sent after approval"))
    }

    /// Rejects a batch another operator recorded, with the reason: it is never sent.
    pub fn reject(&self, batch_id: &str, reason: &str) -> Result<BatchEntry, BatchError> {
        self.on_team(|t| t.decide_batch(&self.merchant, batch_id, Approval::Rejected, Some(reason)))
    }
}

/// The rule (in words) that holds back a batch of these totals, if any.
pub(crate) fn held_by(
    rules: &[BatchApprovalRule],
    totals: &[(String, usize, crate::money::CryptoAmount)],
) -> Option<String> {
    rules.iter().find_map(|rule| match &rule.currency {
        None => Some(rule.describe()),
        Some(c) => {
            let threshold = crate::money::CryptoAmount::parse_wire(&rule.threshold).ok()?;
            totals
                .iter()
                .any(|(currency, _, total)| currency == c && *total >= threshold)
                .then(|| rule.describe())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(currency: Option<&str>, threshold: &str) -> BatchApprovalRule {
        BatchApprovalRule {
            merchant: "c1".into(),
            currency: currency.map(str::to_owned),
            threshold: threshold.into(),
            set_by: "owner".into(),
        }
    }

    fn totals(list: &[(&str, &str)]) -> Vec<(String, usize, CryptoAmount)> {
        list.iter()
            .map(|(c, a)| ((*c).to_owned(), 1, CryptoAmount::parse_wire(a).unwrap()))
            .collect()
    }

    #[test]
    fn a_batch_is_held_when_a_currency_total_reaches_its_rule() {
        let rules = [rule(Some("USDT"), "1000")];
        assert!(held_by(&rules, &totals(&[("USDT", "999.999999")])).is_none());
        assert!(held_by(&rules, &totals(&[("USDT", "1000.0")])).is_some());
        assert!(held_by(&rules, &totals(&[("BTC", "5000")])).is_none());
        let all = [rule(None, "0")];
        assert!(held_by(&all, &totals(&[("BTC", "0.0001")])).is_some());
        assert!(held_by(&[], &totals(&[("USDT", "1000000000")])).is_none());
    }
}
