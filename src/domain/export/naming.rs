//! The file name an export suggests, from the filter's date range.

use jiff::tz::TimeZone;

use super::{ExportFormat, ExportKind};

/// `payouts_2026-11-01_2026-11-21.csv`, from the filter's range (in the chosen zone);
/// `payouts_loaded_…` for the rows loaded on screen, so saving them does not offer to
/// replace an export of every matching order.
pub fn suggested_name(
    kind: ExportKind,
    loaded_rows: bool,
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
    let scope = if loaded_rows { "_loaded" } else { "" };
    format!("{stem}{scope}_{range}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_filter() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-11-01 00:00 and 2026-11-21 23:59:59 in Shanghai.
        let name = |loaded| {
            suggested_name(
                ExportKind::Payouts,
                loaded,
                Some((1_793_462_400, 1_795_276_799)),
                &tz,
                ExportFormat::Csv,
                0,
            )
        };
        assert_eq!(name(false), "payouts_2026-11-01_2026-11-21.csv");
        assert_eq!(name(true), "payouts_loaded_2026-11-01_2026-11-21.csv");
    }
}
