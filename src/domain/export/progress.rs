//! Where a running export is, for a progress bar or a terminal line.

use serde::Serialize;

/// Which stage an export is in, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Phase {
    Fetching,
    Writing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// "Writing 41000 of 100000 rows · 52311 rows/s · about 1 s left", given the time since
    /// the export started.
    pub fn describe(self, elapsed: std::time::Duration) -> String {
        let rate = self.done as f64 / elapsed.as_secs_f64().max(0.001);
        let left = if rate > 0.0 && self.total >= self.done {
            format!(
                " · about {:.0} s left",
                (self.total - self.done) as f64 / rate
            )
        } else {
            String::new()
        };
        let phase = match self.phase {
            Phase::Fetching => "Fetching",
            Phase::Writing => "Writing",
        };
        format!(
            "{phase} {} of {} rows · {rate:.0} rows/s{left}",
            self.done, self.total
        )
    }
}
