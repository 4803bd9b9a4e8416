//! An operator's order filter to the gateway's query, for the CLI and the console alike:
//! one rule for an open end of the time range, one place that trims the IDs.

use jiff::tz::TimeZone;

use super::dates::{Bound, DateError, parse_bound};
use crate::gateway::cny::wire::{OrderQuery, QueryError, TimeRange};

/// What the operator asked for, in Unix seconds; either end may be open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub from_secs: Option<i64>,
    pub to_secs: Option<i64>,
    /// The gateway's order ID; blank means any.
    pub system_id: String,
    /// The merchant's own order ID; blank means any.
    pub merchant_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(transparent)]
    Date(#[from] DateError),
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl OrderFilter {
    /// Reads typed bounds in `tz`: a bare date is the whole day (its first second as a start,
    /// its last as an end); a date and time, an RFC 3339 instant or Unix seconds are exact.
    pub fn parse_bounds(
        mut self,
        from: Option<&str>,
        to: Option<&str>,
        tz: &TimeZone,
    ) -> Result<OrderFilter, DateError> {
        self.from_secs = from.map(|t| parse_bound(t, tz, Bound::Start)).transpose()?;
        self.to_secs = to.map(|t| parse_bound(t, tz, Bound::End)).transpose()?;
        Ok(self)
    }

    /// The range the gateway gets. It applies a range only with both bounds, so an open start
    /// is the epoch and an open end is `now_secs`; no bound at all is no range.
    pub fn range(&self, now_secs: i64) -> Result<Option<TimeRange>, QueryError> {
        let range = match (self.from_secs, self.to_secs) {
            (None, None) => return Ok(None),
            (from, to) => TimeRange {
                from_secs: from.unwrap_or(0),
                to_secs: to.unwrap_or(now_secs),
            },
        };
        if range.from_secs > range.to_secs {
            return Err(QueryError::RangeReversed);
        }
        Ok(Some(range))
    }

    /// The query for one page of `limit` orders from `offset`, checked as the gateway would.
    pub fn query(&self, offset: u64, limit: u32, now_secs: i64) -> Result<OrderQuery, QueryError> {
        let id = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let query = OrderQuery {
            offset,
            limit,
            system_id: id(&self.system_id),
            merchant_id: id(&self.merchant_id),
            created: self.range(now_secs)?,
        };
        query.validate()?;
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn bounds(from: Option<i64>, to: Option<i64>) -> OrderFilter {
        OrderFilter {
            from_secs: from,
            to_secs: to,
            ..OrderFilter::default()
        }
    }

    #[test]
    fn an_open_end_is_filled_in_and_no_bound_is_no_range() {
        assert_eq!(bounds(None, None).range(NOW), Ok(None));
        let range = |from_secs, to_secs| Ok(Some(TimeRange { from_secs, to_secs }));
        assert_eq!(bounds(Some(100), None).range(NOW), range(100, NOW));
        assert_eq!(bounds(None, Some(200)).range(NOW), range(0, 200));
        assert_eq!(bounds(Some(100), Some(200)).range(NOW), range(100, 200));
        assert_eq!(
            bounds(Some(300), Some(200)).range(NOW),
            Err(QueryError::RangeReversed)
        );
        // An open end after now reverses the range: refused, not swapped.
        assert_eq!(
            bounds(Some(NOW + 1), None).range(NOW),
            Err(QueryError::RangeReversed)
        );
    }

    #[test]
    fn typed_days_cover_the_whole_day_and_ids_are_trimmed() {
        let sh = super::super::dates::zone("Asia/Shanghai").unwrap();
        let filter = OrderFilter {
            system_id: "  ".into(),
            merchant_id: " M-1 ".into(),
            ..OrderFilter::default()
        }
        .parse_bounds(Some("2020-08-03"), Some("2020-08-03"), &sh)
        .unwrap();
        let query = filter.query(50, 25, NOW).unwrap();
        assert_eq!(
            query.created,
            Some(TimeRange {
                from_secs: 1_596_384_000,
                to_secs: 1_596_470_399
            })
        );
        assert_eq!(query.system_id, None);
        assert_eq!(query.merchant_id.as_deref(), Some("M-1"));
        assert_eq!((query.offset, query.limit), (50, 25));
        assert!(matches!(
            OrderFilter::default().parse_bounds(Some("soon"), None, &sh),
            Err(DateError::Unreadable(_))
        ));
        assert!(matches!(
            OrderFilter::default().query(0, 0, NOW),
            Err(QueryError::Limit(0))
        ));
    }
}
