//! What a filter holds, at a glance: orders fed one by one (the loaded rows, or every order
//! of a filter while it streams) are summed per day in a chosen zone and per status class, in
//! exact fen; success rates per channel as exact counts; GatePay batch totals as exact
//! decimals. Every chart's numbers can be written as CSV text. Nothing here is a float except
//! [`ChannelRate::ratio`], which only sizes a bar.
#![deny(clippy::float_arithmetic)]

mod batch;
mod csv_text;
mod pick;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::gateway::cny::wire::{Order, StatusClass};
use crate::money::Fen;

pub use batch::{batch_csv, batch_currencies};
pub use csv_text::write_text_file;
pub use pick::Pick;

/// The status classes in the order the charts stack and list them.
pub const CLASSES: [StatusClass; 5] = [
    StatusClass::Success,
    StatusClass::InProgress,
    StatusClass::Cancelled,
    StatusClass::Failed,
    StatusClass::Unknown,
];

/// Days kept at most (ten years): orders dated beyond them are counted, not charted.
pub const MAX_DAYS: usize = 3_660;
/// Channels kept by name at most; the rest are summed under [`OTHER_CHANNELS`].
pub const MAX_CHANNELS: usize = 500;
pub const OTHER_CHANNELS: &str = "(other channels)";

/// Where a class sits in [`CLASSES`].
pub fn class_index(class: StatusClass) -> usize {
    match class {
        StatusClass::Success => 0,
        StatusClass::InProgress => 1,
        StatusClass::Cancelled => 2,
        StatusClass::Failed => 3,
        StatusClass::Unknown => 4,
    }
}

/// The word a chart and a CSV use for a class.
pub fn class_word(class: StatusClass) -> &'static str {
    match class {
        StatusClass::Success => "success",
        StatusClass::InProgress => "in progress",
        StatusClass::Cancelled => "cancelled",
        StatusClass::Failed => "failed",
        StatusClass::Unknown => "unknown",
    }
}

/// The orders of one day and status class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub amount: Fen,
    pub fee: Fen,
    /// Orders whose amount was missing or could not be added (counted, not summed).
    pub unsummed_amount: u64,
    /// Orders whose fee was missing or could not be added (counted, not summed).
    pub unsummed_fee: u64,
}

impl Tally {
    fn add(&mut self, amount: Option<Fen>, fee: Option<Fen>) {
        self.count += 1;
        match amount.and_then(|a| self.amount.checked_add(a)) {
            Some(sum) => self.amount = sum,
            None => self.unsummed_amount += 1,
        }
        match fee.and_then(|f| self.fee.checked_add(f)) {
            Some(sum) => self.fee = sum,
            None => self.unsummed_fee += 1,
        }
    }
}

/// Successes against final orders of one channel, as exact counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelRate {
    pub orders: u64,
    /// Success, cancelled or failed.
    pub finals: u64,
    pub successes: u64,
}

impl ChannelRate {
    fn count(&mut self, class: StatusClass) {
        self.orders += 1;
        if class.is_final() {
            self.finals += 1;
        }
        if class == StatusClass::Success {
            self.successes += 1;
        }
    }

    /// The share of finals that succeeded, for a bar's height only; `None` with no finals.
    #[allow(clippy::float_arithmetic, clippy::cast_precision_loss)]
    pub fn ratio(&self) -> Option<f64> {
        (self.finals > 0).then(|| self.successes as f64 / self.finals as f64)
    }

    /// The rate as text to two places, rounded half up from the exact counts: `97.50%`, or
    /// `no final orders`.
    pub fn percent_text(&self) -> String {
        if self.finals == 0 {
            return "no final orders".to_owned();
        }
        let (s, f) = (u128::from(self.successes), u128::from(self.finals));
        let basis = (s * 20_000 + f) / (2 * f);
        format!("{}.{:02}%", basis / 100, basis % 100)
    }
}

/// One order as the overview reads it.
#[derive(Clone, Copy, Debug)]
pub struct OrderFacts<'a> {
    pub create_time_secs: Option<i64>,
    pub class: StatusClass,
    pub channel: &'a str,
    pub amount: Option<Fen>,
    pub fee: Option<Fen>,
}

impl<'a> OrderFacts<'a> {
    pub fn of(order: &'a Order) -> OrderFacts<'a> {
        OrderFacts {
            create_time_secs: order.create_time_secs,
            class: order.status.class(),
            channel: &order.channel_id,
            amount: order.amount,
            fee: order.fee,
        }
    }
}

/// The day of a Unix second in `zone`, `None` for a time no calendar holds.
pub fn day_of(secs: i64, zone: &TimeZone) -> Option<Date> {
    Some(
        Timestamp::from_second(secs)
            .ok()?
            .to_zoned(zone.clone())
            .date(),
    )
}

/// The first and last second of `date` in `zone` (inclusive), as the console's date filters
/// read a day: a day of a daylight-saving change is 23 or 25 hours long.
pub fn day_bounds(date: Date, zone: &TimeZone) -> Option<(i64, i64)> {
    let start = date.to_zoned(zone.clone()).ok()?.timestamp().as_second();
    let next = date
        .tomorrow()
        .ok()?
        .to_zoned(zone.clone())
        .ok()?
        .timestamp()
        .as_second();
    Some((start, next - 1))
}

/// The aggregate of every order fed to it; its size grows with days and channels, never rows.
#[derive(Clone, Debug)]
pub struct Overview {
    zone: TimeZone,
    days: BTreeMap<Date, [Tally; 5]>,
    channels: BTreeMap<String, ChannelRate>,
    /// The day last seen and its bounds: consecutive orders mostly share a day, so the zone's
    /// rules are consulted once a day, not once an order.
    last_day: Option<(i64, i64, Date)>,
    pub orders: u64,
    /// Orders without a create time (counted in the channel rates only).
    pub undated: u64,
    /// Orders on days past [`MAX_DAYS`] (counted in the channel rates only).
    pub beyond_days: u64,
}

impl Overview {
    pub fn new(zone: TimeZone) -> Overview {
        Overview {
            zone,
            days: BTreeMap::new(),
            channels: BTreeMap::new(),
            last_day: None,
            orders: 0,
            undated: 0,
            beyond_days: 0,
        }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn add_order(&mut self, order: &Order) {
        self.add(&OrderFacts::of(order));
    }

    pub fn add(&mut self, o: &OrderFacts<'_>) {
        self.orders += 1;
        let name = if self.channels.len() < MAX_CHANNELS || self.channels.contains_key(o.channel) {
            o.channel
        } else {
            OTHER_CHANNELS
        };
        // The name is copied once per channel, not once per order.
        if let Some(rate) = self.channels.get_mut(name) {
            rate.count(o.class);
        } else {
            self.channels
                .entry(name.to_owned())
                .or_default()
                .count(o.class);
        }
        let Some(day) = o.create_time_secs.and_then(|t| self.day(t)) else {
            self.undated += 1;
            return;
        };
        if !self.days.contains_key(&day) && self.days.len() >= MAX_DAYS {
            self.beyond_days += 1;
            return;
        }
        self.days.entry(day).or_default()[class_index(o.class)].add(o.amount, o.fee);
    }

    fn day(&mut self, secs: i64) -> Option<Date> {
        if let Some((from, to, day)) = self.last_day
            && (from..=to).contains(&secs)
        {
            return Some(day);
        }
        let day = day_of(secs, &self.zone)?;
        if let Some((from, to)) = day_bounds(day, &self.zone) {
            self.last_day = Some((from, to, day));
        }
        Some(day)
    }

    /// Every day with orders, oldest first, with its tallies in [`CLASSES`] order.
    pub fn days(&self) -> impl Iterator<Item = (Date, &[Tally; 5])> {
        self.days.iter().map(|(d, t)| (*d, t))
    }

    pub fn day_tallies(&self, date: Date) -> Option<&[Tally; 5]> {
        self.days.get(&date)
    }

    /// Every channel by name, with its rate.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &ChannelRate)> {
        self.channels.iter().map(|(c, r)| (c.as_str(), r))
    }

    /// The fees of one day over every class; `None` when the sum does not fit.
    pub fn day_fee(&self, date: Date) -> Option<Fen> {
        Fen::checked_sum(self.days.get(&date)?.iter().map(|t| t.fee))
    }

    /// The lines worth saying under the charts: what was counted but not charted.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.undated > 0 {
            notes.push(format!(
                "{} order(s) without a create time are not in the daily charts",
                self.undated
            ));
        }
        if self.beyond_days > 0 {
            notes.push(format!(
                "{} order(s) on days past the first {MAX_DAYS} are not in the daily charts",
                self.beyond_days
            ));
        }
        let unsummed: u64 = self
            .days
            .values()
            .flat_map(|t| t.iter())
            .map(|t| t.unsummed_amount)
            .sum();
        if unsummed > 0 {
            notes.push(format!(
                "{unsummed} order(s) have no readable amount: counted, not summed"
            ));
        }
        notes
    }
}
