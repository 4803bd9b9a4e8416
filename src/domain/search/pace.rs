//! How many pages are asked for at once: a polite start, halved when the gateway pushes back
//! (429, 5xx, its own "network delay" code), grown again by one after a run of successes,
//! never above the caller's limit.

/// Pages at once at the start, unless the caller allows fewer.
pub const START: usize = 4;

/// Successes in a row before one more page at once is allowed.
pub const GROW_AFTER: u32 = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pace {
    limit: usize,
    cap: usize,
    streak: u32,
}

impl Pace {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Pace {
            limit: START.min(cap),
            cap,
            streak: 0,
        }
    }

    /// Pages that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The caller's limit.
    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn success(&mut self) {
        self.streak += 1;
        if self.streak >= GROW_AFTER {
            self.streak = 0;
            self.limit = (self.limit + 1).min(self.cap);
        }
    }

    /// The gateway asked us to slow down (or failed in a way that says it is loaded).
    pub fn push_back(&mut self) {
        self.streak = 0;
        self.limit = (self.limit / 2).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_four_or_the_callers_lower_limit() {
        assert_eq!(Pace::new(16).limit(), 4);
        assert_eq!(Pace::new(2).limit(), 2);
        assert_eq!(Pace::new(0).limit(), 1);
    }

    #[test]
    fn halves_on_push_back_and_never_below_one() {
        let mut p = Pace::new(16);
        p.push_back();
        assert_eq!(p.limit(), 2);
        p.push_back();
        p.push_back();
        p.push_back();
        assert_eq!(p.limit(), 1);
    }

    #[test]
    fn grows_by_one_after_a_run_of_successes_up_to_the_cap() {
        let mut p = Pace::new(5);
        for _ in 0..GROW_AFTER - 1 {
            p.success();
        }
        assert_eq!(p.limit(), 4);
        p.success();
        assert_eq!(p.limit(), 5);
        for _ in 0..GROW_AFTER * 10 {
            p.success();
        }
        assert_eq!(p.limit(), 5, "never above the caller's limit");
    }

    #[test]
    fn a_push_back_breaks_the_run() {
        let mut p = Pace::new(8);
        for _ in 0..GROW_AFTER - 1 {
            p.success();
        }
        p.push_back();
        p.success();
        assert_eq!(p.limit(), 2);
        for _ in 0..GROW_AFTER {
            p.success();
        }
        assert_eq!(p.limit(), 3);
    }
}
