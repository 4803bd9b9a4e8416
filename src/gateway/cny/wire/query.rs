//! One page query of deposits or payouts: what is asked for, and what is refused before sending.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;

use super::{DEFAULT_LIMIT, MAX_LIMIT, OrderKind};

/// A creation-time range; the gateway applies it only when both bounds are sent, so the type
/// only exists with both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    pub from_secs: i64,
    pub to_secs: i64,
}

/// What to ask for in one page query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderQuery {
    pub offset: u64,
    pub limit: u32,
    pub system_id: Option<String>,
    pub merchant_id: Option<String>,
    pub created: Option<TimeRange>,
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery {
            offset: 0,
            limit: DEFAULT_LIMIT,
            system_id: None,
            merchant_id: None,
            created: None,
        }
    }
}

/// A query the console refuses to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the page size must be between 1 and {MAX_LIMIT} (got {0})")]
    Limit(u32),
    #[error("the start of the time range is after its end")]
    RangeReversed,
    #[error("{0} must be at most 32 characters")]
    IdTooLong(&'static str),
}

impl OrderQuery {
    pub fn validate(&self) -> Result<(), QueryError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(QueryError::Limit(self.limit));
        }
        if let Some(r) = self.created
            && r.from_secs > r.to_secs
        {
            return Err(QueryError::RangeReversed);
        }
        if self
            .merchant_id
            .as_deref()
            .is_some_and(|s| s.chars().count() > 32)
        {
            return Err(QueryError::IdTooLong("the merchant order ID"));
        }
        Ok(())
    }

    /// The query string's pairs, in the order the query API lists them; empty IDs are not sent.
    pub fn pairs(&self, kind: OrderKind) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("offset", self.offset.to_string()),
            ("limit", self.limit.to_string()),
        ];
        if let Some(id) = self
            .system_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            pairs.push((kind.system_id_field(), id.to_owned()));
        }
        if let Some(id) = self
            .merchant_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            pairs.push((kind.merchant_id_field(), id.to_owned()));
        }
        if let Some(r) = self.created {
            pairs.push(("create_time__gte", r.from_secs.to_string()));
            pairs.push(("create_time__lte", r.to_secs.to_string()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_send_the_range_only_as_a_pair() {
        let q = OrderQuery {
            offset: 50,
            limit: 500,
            system_id: Some(" ".into()),
            merchant_id: Some("M1".into()),
            created: Some(TimeRange {
                from_secs: 1,
                to_secs: 2,
            }),
        };
        assert_eq!(
            q.pairs(OrderKind::Payout),
            vec![
                ("offset", "50".to_owned()),
                ("limit", "500".to_owned()),
                ("payout_cl_id", "M1".to_owned()),
                ("create_time__gte", "1".to_owned()),
                ("create_time__lte", "2".to_owned()),
            ]
        );
        assert_eq!(
            OrderQuery {
                limit: 501,
                ..q.clone()
            }
            .validate(),
            Err(QueryError::Limit(501))
        );
        assert_eq!(
            OrderQuery {
                limit: 0,
                ..q.clone()
            }
            .validate(),
            Err(QueryError::Limit(0))
        );
        assert_eq!(
            OrderQuery {
                created: Some(TimeRange {
                    from_secs: 3,
                    to_secs: 2
                }),
                ..q
            }
            .validate(),
            Err(QueryError::RangeReversed)
        );
    }
}
