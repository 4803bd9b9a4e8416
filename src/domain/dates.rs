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

/// A zone as a time column's header names it: `UTC+8`, `UTC-3:30`, or `UTC`, at the
/// instant `now` (a zone with daylight saving changes its offset).
pub fn zone_short(tz: &TimeZone, now: Timestamp) -> String {
    let secs = tz.to_offset(now).seconds();
    if secs == 0 {
        return "UTC".to_owned();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if m == 0 {
        format!("UTC{sign}{h}")
    } else {
        format!("UTC{sign}{h}:{m:02}")
    }
}

/// A date range an operator picks with one click beside the date pickers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    Today,
    Yesterday,
    /// Today and the six days before it.
    Last7Days,
    /// The first of this month to today.
    ThisMonth,
    /// The whole of the month before this one.
    LastMonth,
}

impl Shortcut {
    pub const ALL: [Shortcut; 5] = [
        Shortcut::Today,
        Shortcut::Yesterday,
        Shortcut::Last7Days,
        Shortcut::ThisMonth,
        Shortcut::LastMonth,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Shortcut::Today => "Today",
            Shortcut::Yesterday => "Yesterday",
            Shortcut::Last7Days => "Last 7 days",
            Shortcut::ThisMonth => "This month",
            Shortcut::LastMonth => "Last month",
        }
    }

    /// The first and the last day the shortcut covers, both included, when it is `today`.
    pub fn days(self, today: Date) -> (Date, Date) {
        let day = jiff::Span::new().days(1);
        let yesterday = today.saturating_sub(day);
        match self {
            Shortcut::Today => (today, today),
            Shortcut::Yesterday => (yesterday, yesterday),
            Shortcut::Last7Days => (today.saturating_sub(jiff::Span::new().days(6)), today),
            Shortcut::ThisMonth => (today.first_of_month(), today),
            Shortcut::LastMonth => {
                let last = today.first_of_month().saturating_sub(day);
                (last.first_of_month(), last)
            }
        }
    }

    /// The days it covers at the instant `now`, "today" being the date in `tz`: at 01:00 in
    /// Shanghai it is already tomorrow's date there, while UTC still has yesterday's.
    pub fn days_at(self, now: Timestamp, tz: &TimeZone) -> (Date, Date) {
        self.days(now.to_zoned(tz.clone()).date())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn shortcuts_cover_whole_days_across_month_and_year_ends() {
        let today = d("2027-01-01");
        assert_eq!(Shortcut::Today.days(today), (today, today));
        assert_eq!(
            Shortcut::Yesterday.days(today),
            (d("2026-12-31"), d("2026-12-31"))
        );
        assert_eq!(
            Shortcut::Last7Days.days(today),
            (d("2026-12-26"), d("2027-01-01"))
        );
        assert_eq!(Shortcut::ThisMonth.days(today), (today, today));
        assert_eq!(
            Shortcut::LastMonth.days(today),
            (d("2026-12-01"), d("2026-12-31"))
        );
        // February, in a leap year and not, and a month end.
        assert_eq!(
            Shortcut::LastMonth.days(d("2028-03-31")),
            (d("2028-02-01"), d("2028-02-29"))
        );
        assert_eq!(
            Shortcut::LastMonth.days(d("2027-03-01")),
            (d("2027-02-01"), d("2027-02-28"))
        );
        assert_eq!(
            Shortcut::ThisMonth.days(d("2026-11-30")),
            (d("2026-11-01"), d("2026-11-30"))
        );
        assert_eq!(
            Shortcut::Yesterday.days(d("2026-03-01")),
            (d("2026-02-28"), d("2026-02-28"))
        );
    }

    #[test]
    fn a_zone_is_named_by_its_offset() {
        let now: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        assert_eq!(zone_short(&zone("Asia/Shanghai").unwrap(), now), "UTC+8");
        assert_eq!(zone_short(&zone("UTC").unwrap(), now), "UTC");
        assert_eq!(zone_short(&zone("America/New_York").unwrap(), now), "UTC-4");
        assert_eq!(zone_short(&zone("Asia/Kolkata").unwrap(), now), "UTC+5:30");
    }

    #[test]
    fn shortcuts_count_today_in_the_chosen_zone() {
        // 2026-12-31 17:30 UTC is already 2027-01-01 01:30 in Shanghai.
        let now: Timestamp = "2026-12-31T17:30:00Z".parse().unwrap();
        let sh = zone("Asia/Shanghai").unwrap();
        let utc = zone("UTC").unwrap();
        let ny = zone("America/New_York").unwrap();
        assert_eq!(
            Shortcut::Today.days_at(now, &sh),
            (d("2027-01-01"), d("2027-01-01"))
        );
        assert_eq!(
            Shortcut::Today.days_at(now, &utc),
            (d("2026-12-31"), d("2026-12-31"))
        );
        assert_eq!(
            Shortcut::LastMonth.days_at(now, &sh),
            (d("2026-12-01"), d("2026-12-31"))
        );
        assert_eq!(
            Shortcut::LastMonth.days_at(now, &utc),
            (d("2026-11-01"), d("2026-11-30"))
        );
        assert_eq!(
            Shortcut::ThisMonth.days_at(now, &ny),
            (d("2026-12-01"), d("2026-12-31"))
        );
        // The days then become exact bounds in the same zone.
        let (from, to) = Shortcut::Today.days_at(now, &sh);
        assert_eq!(
            parse_bound(&from.to_string(), &sh, Bound::Start),
            Ok(1_798_732_800)
        );
        assert_eq!(
            parse_bound(&to.to_string(), &sh, Bound::End),
            Ok(1_798_819_199)
        );
    }

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
