//! Cutting a creation-time range into windows of a bounded number of orders, so no page is
//! asked for at a deep offset: a real gateway's deep offsets are slow and shift under
//! inserts. Windows are closed ranges of whole seconds, as the gateway's `create_time__gte`
//! and `create_time__lte` are, disjoint and newest first, so an order on a boundary falls in
//! exactly one window.

use crate::gateway::cny::wire::TimeRange;

/// The most windows one split makes; a window still too deep after a split is split again.
const MAX_SPLIT: u64 = 64;

/// The most windows a range is cut into (a billion orders at 10,000 a window): a gateway's
/// `total` sizes nothing beyond it, however large it claims to be. Past it, windows are read
/// at deeper offsets.
pub const MAX_WINDOWS: usize = 100_000;

/// Windows covering `range` exactly, newest first, each expected to hold about `window_rows`
/// orders, estimated from the first page of the whole range: `probe_rows` orders created
/// from `oldest` to `newest` (seconds) out of `total`. The last window reaches down to the
/// range's start, whatever lies there; a window that turns out too deep is split again with
/// [`split`].
pub fn plan(
    range: TimeRange,
    total: u64,
    newest: i64,
    oldest: i64,
    probe_rows: u64,
    window_rows: u64,
) -> Vec<TimeRange> {
    let window_rows = window_rows.max(1);
    if total <= window_rows || probe_rows == 0 || range.from_secs >= range.to_secs {
        return vec![range];
    }
    let span = newest.saturating_sub(oldest).saturating_add(1).max(1);
    // Seconds that hold about `window_rows` orders at the first page's density.
    let width = i64::try_from(
        (u128::from(window_rows) * span.unsigned_abs() as u128).div_ceil(u128::from(probe_rows)),
    )
    .unwrap_or(i64::MAX)
    .max(1);
    let wanted = total.div_ceil(window_rows).min(MAX_WINDOWS as u64);
    let mut windows = Vec::new();
    // The first window starts at the range's end: nothing lies between the newest order and
    // it, and the range must be covered whole.
    let mut top = range.to_secs;
    let mut bottom = newest.min(range.to_secs).saturating_sub(width - 1);
    while (windows.len() as u64) + 1 < wanted && bottom > range.from_secs {
        windows.push(TimeRange {
            from_secs: bottom,
            to_secs: top,
        });
        top = bottom - 1;
        bottom = top.saturating_sub(width - 1);
    }
    windows.push(TimeRange {
        from_secs: range.from_secs,
        to_secs: top,
    });
    windows
}

/// `window` cut into equal spans of time, newest first, when its `count` is more than
/// `window_rows`; as it is when it holds few enough or is a single second (which cannot be
/// cut: its pages are then read at deeper offsets).
pub fn split(window: TimeRange, count: u64, window_rows: u64) -> Vec<TimeRange> {
    let seconds = window.to_secs.abs_diff(window.from_secs).saturating_add(1);
    if count <= window_rows.max(1) || seconds < 2 {
        return vec![window];
    }
    let parts = count
        .div_ceil(window_rows.max(1))
        .clamp(2, MAX_SPLIT)
        .min(seconds);
    let width = seconds.div_ceil(parts);
    let mut windows = Vec::new();
    let mut top = window.to_secs;
    loop {
        let bottom = top
            .saturating_sub(i64::try_from(width).unwrap_or(i64::MAX) - 1)
            .max(window.from_secs);
        windows.push(TimeRange {
            from_secs: bottom,
            to_secs: top,
        });
        if bottom <= window.from_secs {
            break;
        }
        top = bottom - 1;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from_secs: i64, to_secs: i64) -> TimeRange {
        TimeRange { from_secs, to_secs }
    }

    /// Newest first, contiguous, disjoint, covering `whole` exactly.
    fn assert_covers(windows: &[TimeRange], whole: TimeRange) {
        assert_eq!(windows.first().map(|w| w.to_secs), Some(whole.to_secs));
        assert_eq!(windows.last().map(|w| w.from_secs), Some(whole.from_secs));
        for w in windows {
            assert!(w.from_secs <= w.to_secs, "{w:?}");
        }
        for pair in windows.windows(2) {
            assert_eq!(pair[1].to_secs + 1, pair[0].from_secs, "{pair:?}");
        }
    }

    #[test]
    fn a_range_that_fits_one_window_stays_whole() {
        let r = range(0, 1_000);
        assert_eq!(plan(r, 10_000, 1_000, 900, 500, 10_000), vec![r]);
        assert_eq!(plan(r, 0, 0, 0, 0, 10_000), vec![r]);
    }

    #[test]
    fn windows_follow_the_first_pages_density_and_cover_the_range() {
        // 500 orders over the newest 100 seconds, 100,000 in all, 10,000 a window: windows
        // of 2,000 seconds, nine of them, and a last one down to the start.
        let r = range(0, 1_000_000);
        let w = plan(r, 100_000, 999_990, 999_891, 500, 10_000);
        assert_covers(&w, r);
        assert_eq!(w.len(), 10);
        assert_eq!(w[0], range(999_990 - 1_999, 1_000_000));
        assert_eq!(w[1].to_secs - w[1].from_secs + 1, 2_000);
        assert_eq!(w[9].from_secs, 0);
    }

    #[test]
    fn a_short_range_yields_fewer_windows_than_wanted() {
        let r = range(100, 110);
        let w = plan(r, 50_000, 110, 110, 500, 1_000);
        assert_covers(&w, r);
        assert!(w.len() <= 11);
    }

    #[test]
    fn a_boundary_second_lies_in_exactly_one_window() {
        let r = range(10, 10_000);
        let w = plan(r, 20_000, 9_000, 8_990, 500, 1_000);
        assert_covers(&w, r);
        for second in [10, 9_000, 9_001, 10_000, 5_000] {
            let holding = w
                .iter()
                .filter(|x| (x.from_secs..=x.to_secs).contains(&second))
                .count();
            assert_eq!(holding, 1, "{second}");
        }
    }

    #[test]
    fn a_deep_window_is_split_into_newest_first_parts() {
        let w = range(0, 999);
        assert_eq!(split(w, 1_000, 1_000), vec![w]);
        let parts = split(w, 4_500, 1_000);
        assert_covers(&parts, w);
        assert_eq!(parts.len(), 5);
        assert!(parts.iter().all(|p| p.to_secs - p.from_secs + 1 == 200));
    }

    #[test]
    fn a_single_second_is_never_split_and_a_split_is_bounded() {
        let one = range(5, 5);
        assert_eq!(split(one, 1_000_000, 500), vec![one]);
        let two = range(5, 6);
        assert_covers(&split(two, 1_000_000, 500), two);
        assert_eq!(split(two, 1_000_000, 500).len(), 2);
        let wide = range(0, 1_000_000);
        let parts = split(wide, 10_000_000, 500);
        assert_covers(&parts, wide);
        assert!(parts.len() as u64 <= MAX_SPLIT);
    }

    #[test]
    fn an_empty_window_and_a_window_with_zero_rows_stay_as_they_are() {
        let w = range(0, 100);
        assert_eq!(split(w, 0, 500), vec![w]);
        assert_eq!(plan(w, 0, 0, 0, 0, 500), vec![w]);
    }

    #[test]
    fn a_claimed_total_sizes_no_more_windows_than_the_bound() {
        // A gateway claiming every order there could be, the first page all in one second.
        let whole = range(0, 1_800_000_000);
        let windows = plan(whole, u64::MAX, 1_800_000_000, 1_800_000_000, 500, 7_500);
        assert!(windows.len() <= MAX_WINDOWS, "{} windows", windows.len());
        assert_covers(&windows, whole);
    }
}
