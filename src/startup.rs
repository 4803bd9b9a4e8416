//! Start-up timing: with `PAYDESK_REPORT_STARTUP=1` the console prints how long it took from
//! process start to its first drawn frame.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

pub fn mark_process_start() {
    START.get_or_init(Instant::now);
}

pub fn first_frame() {
    if std::env::var_os("PAYDESK_REPORT_STARTUP").is_some()
        && let Some(start) = START.get()
    {
        eprintln!(
            "paydesk: first frame drawn {} ms after start",
            start.elapsed().as_millis()
        );
    }
}
