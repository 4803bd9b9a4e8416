//! The file name an export suggests, from the filter's date range.

use jiff::tz::TimeZone;

use super::{ExportFormat, ExportKind};

/// `payouts_2026-11-01_2026-11-21.csv`, from the filter's range (in the chosen zone).
pub fn suggested_name(
    kind: ExportKind,
    range_secs: Option<(i64, i64)>,
    tz: &TimeZone,
    format: ExportFormat,
    now_secs: i64,
) -> String {
    let day = |s: i64| {
        jiff::Timestamp::from_second(s).map_or_else(
            |_| s.to_string(),
            |t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string(),
        )
    };
    let stem = match kind {
        ExportKind::Deposits => "deposits",
        ExportKind::Payouts => "payouts",
        ExportKind::BatchSubOrders => "batch",
        ExportKind::SubOrdersByDate => "gatepay_suborders",
    };
    let range = match range_secs {
        Some((from, to)) if from > 0 => format!("{}_{}", day(from), day(to)),
        Some((_, to)) => format!("until_{}", day(to)),
        None => format!("until_{}", day(now_secs)),
    };
    format!("{stem}_{range}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_filter() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-11-01 00:00 and 2026-11-21 23:59:59 in Shanghai.
        let name = suggested_name(
            ExportKind::Payouts,
            Some((1_793_462_400, 1_795_276_799)),
            &tz,
            ExportFormat::Csv,
            0,
        );
        assert_eq!(name, "payouts_2026-11-01_2026-11-21.csv");
    }
}
