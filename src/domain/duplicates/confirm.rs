//! What an operator's confirmation of a likely duplicate covers: by name, whatever the row
//! matches when it is sent (the CLI), or only the matches a review showed (the console), so
//! that an equal payout sent between the review and the send holds the row again.

use std::collections::{HashMap, HashSet};

use super::{DuplicateReport, Earlier, HeldRow};

/// What a confirmation of one held row covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Whatever it matches when it is sent (`--allow-duplicate ID`: the operator confirms by
    /// name, knowing the matches are looked up again at that moment).
    Any,
    /// Only the matches the operator was shown (by [`Earlier::key`]) and how many there were:
    /// one that appears after the review (another window or the CLI sent it meanwhile) holds
    /// the row back again.
    These {
        earlier: HashSet<String>,
        total: usize,
    },
}

impl Seen {
    /// The matches of `row` as shown in a review.
    pub fn shown(row: &HeldRow) -> Seen {
        Seen::These {
            earlier: row.earlier.iter().map(Earlier::key).collect(),
            total: row.earlier.len() + row.more_earlier,
        }
    }

    /// The listed matches of `row` this confirmation does not cover, and whether more
    /// unlisted matches were found than were shown. Nothing, for [`Seen::Any`].
    pub(super) fn unseen(&self, row: &HeldRow) -> (Vec<String>, bool) {
        match self {
            Seen::Any => (Vec::new(), false),
            Seen::These { earlier, total } => {
                let unseen: Vec<String> = row
                    .earlier
                    .iter()
                    .filter(|e| !earlier.contains(&e.key()))
                    .map(Earlier::describe)
                    .collect();
                let grown = row.earlier.len() + row.more_earlier > *total;
                (unseen, grown)
            }
        }
    }
}

/// Which held rows the operator confirmed, and against what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Confirmation {
    #[default]
    Nothing,
    /// Every held row (`--allow-duplicates`).
    All,
    /// These IDs (merchant order IDs, or GatePay merchant withdraw IDs), each with what its
    /// confirmation covers.
    Ids(HashMap<String, Seen>),
    /// A review that listed only some of the held rows, all confirmed: the rows named are
    /// bound to what was shown of them; a listed row not named (it was not held at the
    /// review) is held; rows beyond those listed ([`super::LISTED_MAX`]) are confirmed as a whole.
    AllReviewed(HashMap<String, Seen>),
}

impl Confirmation {
    /// The CLI's flags: `--allow-duplicates`, or `--allow-duplicate ID` (whatever the row
    /// matches when it is sent).
    pub fn from_flags(all: bool, ids: impl IntoIterator<Item = String>) -> Confirmation {
        if all {
            return Confirmation::All;
        }
        let ids: HashMap<String, Seen> = ids
            .into_iter()
            .map(|i| (i.trim().to_owned(), Seen::Any))
            .collect();
        if ids.is_empty() {
            Confirmation::Nothing
        } else {
            Confirmation::Ids(ids)
        }
    }

    /// A console review's ticks: each ticked listed row of `report` bound to the matches it
    /// showed; `unlisted` when the rows beyond those listed were confirmed as a whole.
    pub fn reviewed(
        report: &DuplicateReport,
        ticked: impl Fn(&str) -> bool,
        unlisted: bool,
    ) -> Confirmation {
        let rows: HashMap<String, Seen> = report
            .held
            .iter()
            .filter(|h| ticked(&h.id))
            .map(|h| (h.id.clone(), Seen::shown(h)))
            .collect();
        if unlisted && report.held_total > report.held.len() {
            Confirmation::AllReviewed(rows)
        } else if rows.is_empty() {
            Confirmation::Nothing
        } else {
            Confirmation::Ids(rows)
        }
    }

    /// Whether the row `id` is confirmed by name, before its matches are all known; rows
    /// described one by one are checked against their matches by [`DuplicateReport::settle`].
    pub fn confirms(&self, id: &str) -> bool {
        match self {
            Confirmation::Nothing => false,
            Confirmation::All | Confirmation::AllReviewed(_) => true,
            Confirmation::Ids(ids) => ids.contains_key(id),
        }
    }

    /// What the confirmation of a listed row covers: `None` when it is not confirmed.
    pub(super) fn seen(&self, id: &str) -> Option<&Seen> {
        match self {
            Confirmation::Nothing => None,
            Confirmation::All => Some(&Seen::Any),
            Confirmation::Ids(ids) | Confirmation::AllReviewed(ids) => ids.get(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::duplicates::EarlierPayout;
    use crate::domain::journal::State;
    use crate::money::Fen;

    fn journal_match(cl_id: &str) -> Earlier {
        Earlier::Journal(EarlierPayout {
            payout_cl_id: cl_id.into(),
            amount: Fen::from_fen(51_500),
            account_masked: "6222 **** 1001".into(),
            state: State::Accepted,
            payout_id: None,
            created_at: 1_796_306_358,
            import_id: None,
            import_row: None,
        })
    }

    fn held(earlier: Vec<Earlier>, more_earlier: usize) -> DuplicateReport {
        let mut report = DuplicateReport {
            window_days: 7,
            ..DuplicateReport::default()
        };
        report.push(HeldRow {
            row: None,
            id: "pd_a".into(),
            what: "¥515.00 to 6222 **** 1001".into(),
            earlier,
            more_earlier,
            confirmed: true,
            unseen: Vec::new(),
            unseen_more: false,
        });
        report
    }

    #[test]
    fn a_confirmation_from_a_review_covers_only_the_matches_it_showed() {
        let review = held(vec![journal_match("pd_x")], 0);
        let ticked = Confirmation::reviewed(&review, |id| id == "pd_a", false);
        // The send finds what the review showed: confirmed.
        let mut same = held(vec![journal_match("pd_x")], 0);
        same.settle(&ticked);
        assert!(same.is_clear(), "{}", same.refusal());
        // B was sent since: held again, B named.
        let mut now = held(vec![journal_match("pd_b"), journal_match("pd_x")], 0);
        now.settle(&ticked);
        assert!(!now.is_clear());
        let said = now.refusal();
        assert!(
            said.contains("a new likely duplicate appeared since the review: payout pd_b"),
            "{said}"
        );
        assert!(said.contains("review again"), "{said}");
        // A match beyond those listed, only counted, holds it as well.
        let mut more = held(vec![journal_match("pd_x")], 1);
        more.settle(&ticked);
        assert!(!more.is_clear(), "{}", more.refusal());
        // A match gone since (refused) does not.
        let mut fewer = held(Vec::new(), 0);
        fewer.settle(&ticked);
        assert!(fewer.is_clear());
        // Settling twice counts once.
        now.settle(&ticked);
        assert_eq!(now.unconfirmed_total, 1);
    }

    #[test]
    fn the_cli_confirmation_by_name_covers_whatever_matches_at_the_send() {
        let named = Confirmation::from_flags(false, ["pd_a".to_owned()]);
        let mut now = held(vec![journal_match("pd_b"), journal_match("pd_x")], 3);
        now.settle(&named);
        assert!(now.is_clear(), "{}", now.refusal());
        let mut other = held(vec![journal_match("pd_x")], 0);
        other.settle(&Confirmation::from_flags(false, ["pd_z".to_owned()]));
        assert!(!other.is_clear());
    }

    #[test]
    fn a_row_not_held_at_the_review_is_not_confirmed_by_ticking_the_unlisted_ones() {
        let mut review = held(vec![journal_match("pd_x")], 0);
        // More held rows than were listed; the operator ticked them as a whole.
        review.held_total += 5;
        review.unconfirmed_total += 5;
        let ticked = Confirmation::reviewed(&review, |_| false, true);
        assert!(matches!(ticked, Confirmation::AllReviewed(_)));
        let mut now = held(vec![journal_match("pd_x")], 0);
        now.settle(&ticked);
        assert!(!now.is_clear(), "a listed row nobody ticked");
    }
}
