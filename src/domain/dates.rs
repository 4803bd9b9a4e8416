//! Operator dates to the gateway's Unix seconds, in a chosen time zone (gateway time,
//! `Asia/Shanghai`, by default): `2026-11-01`, `2026-11-01 14:30`, an RFC 3339 instant, or
//! Unix seconds.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The gateway's own time zone.
pub const GATEWAY_TZ: &str = "Asia/Shanghai";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("unknown time zone '{0}' (use an IANA name such as Asia/Shanghai, or UTC, or local)")]
    Zone(String),
    #[error(
        "'{0}' is not a date (YYYY-MM-DD), a date and time (YYYY-MM-DD HH:MM[:SS]) or Unix seconds"
    )]
    Unreadable(String),
    #[error("'{0}' does not exist in {1} (a daylight-saving gap)")]
    Gap(String, String),
}

/// `local` is this machine's zone; anything else an IANA name or `UTC`.
pub fn zone(name: &str) -> Result<TimeZone, DateError> {
    match name.trim() {
        "local" | "system" => Ok(TimeZone::system()),
        "UTC" | "utc" | "Z" => Ok(TimeZone::UTC),
        other => TimeZone::get(other).map_err(|_| DateError::Zone(other.to_owned())),
    }
}

/// Which end of a range a bound is: a bare date means the day's first or last second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

pub fn parse_bound(text: &str, tz: &TimeZone, bound: Bound) -> Result<i64, DateError> {
    let t = text.trim();
    let unreadable = || DateError::Unreadable(t.to_owned());
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.len() >= 9 {
        return t.parse().map_err(|_| unreadable());
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts.as_second());
    }
    // jiff reads a date out of a date-time too, so only a bare date is read as a day.
    let bare_date = t.len() == 10 && !t.contains(':');
    let civil = if let Some(date) = bare_date.then(|| t.parse::<Date>().ok()).flatten() {
        match bound {
            Bound::Start => date.to_datetime(jiff::civil::Time::midnight()),
            Bound::End => date.to_datetime(jiff::civil::time(23, 59, 59, 0)),
        }
    } else {
        t.replace(' ', "T")
            .parse::<DateTime>()
            .map_err(|_| unreadable())?
    };
    let zoned: Zoned = tz.to_ambiguous_zoned(civil).compatible().map_err(|_| {
        DateError::Gap(
            t.to_owned(),
            tz.iana_name().unwrap_or("this zone").to_owned(),
        )
    })?;
    Ok(zoned.timestamp().as_second())
}

/// Unix seconds shown in a zone: `2026-11-21 14:30:05`.
pub fn format_secs(secs: i64, tz: &TimeZone) -> String {
    match Timestamp::from_second(secs) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => format!("{secs} (out of range)"),
    }
}

/// Unix milliseconds shown in a zone, to the millisecond.
pub fn format_ms(ms: i64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S%.3f")
            .to_string(),
        Err(_) => format!("{ms} (out of range)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_in_the_chosen_zone() {
        let sh = zone("Asia/Shanghai").unwrap();
        assert_eq!(
            parse_bound("2020-08-03", &sh, Bound::Start),
            Ok(1_596_384_000)
        );
        assert_eq!(
            parse_bound("2020-08-03", &sh, Bound::End),
            Ok(1_596_470_399)
        );
        assert_eq!(
            parse_bound("2020-08-03", &zone("UTC").unwrap(), Bound::Start),
            Ok(1_596_412_800)
        );
        assert_eq!(
            parse_bound("2020-08-03 11:25:40", &sh, Bound::Start),
            Ok(1_596_425_140)
        );
        assert_eq!(
            parse_bound("2020-08-03T03:25:40Z", &sh, Bound::Start),
            Ok(1_596_425_140)
        );
        assert_eq!(
            parse_bound("1596425140", &sh, Bound::End),
            Ok(1_596_425_140)
        );
        assert!(matches!(
            parse_bound("yesterday", &sh, Bound::Start),
            Err(DateError::Unreadable(_))
        ));
        assert!(matches!(zone("Mars/Olympus"), Err(DateError::Zone(_))));
        assert_eq!(format_secs(1_596_425_140, &sh), "2020-08-03 11:25:40");
        assert_eq!(
            format_ms(1_764_048_644_523, &zone("UTC").unwrap()),
            "2025-11-25 05:30:44.523"
        );
    }
}
