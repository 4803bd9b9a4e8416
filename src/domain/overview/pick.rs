//! A bar picked in a chart, as a narrowing of the table: a day and status class, or a channel.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{class_word, day_bounds};
use crate::gateway::cny::wire::StatusClass;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Orders created on `date` (in the zone of the chart, as the inclusive seconds
    /// `from_secs..=to_secs`) whose status is of `class`.
    Day {
        date: Date,
        from_secs: i64,
        to_secs: i64,
        class: StatusClass,
    },
    Channel(String),
}

impl Pick {
    /// The day and class in `zone`; `None` for a day no clock of the zone has.
    pub fn day(date: Date, zone: &TimeZone, class: StatusClass) -> Option<Pick> {
        let (from_secs, to_secs) = day_bounds(date, zone)?;
        Some(Pick::Day {
            date,
            from_secs,
            to_secs,
            class,
        })
    }

    /// Whether an order with these facts is in the picked bar.
    pub fn matches(
        &self,
        create_time_secs: Option<i64>,
        class: StatusClass,
        channel: &str,
    ) -> bool {
        match self {
            Pick::Day {
                from_secs,
                to_secs,
                class: picked,
                ..
            } => {
                *picked == class
                    && create_time_secs.is_some_and(|t| (*from_secs..=*to_secs).contains(&t))
            }
            Pick::Channel(c) => c == channel,
        }
    }

    /// What the chip beside the table says.
    pub fn describe(&self) -> String {
        match self {
            Pick::Day { date, class, .. } => format!("{date} · {}", class_word(*class)),
            Pick::Channel(c) => format!("channel {c}"),
        }
    }
}
