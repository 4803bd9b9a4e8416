//! Feedback that cannot be missed: any code holding the `egui::Context` (a panel while it draws,
//! the logic phase when a task reports) posts a notice here; the shell shows the newest in the
//! status bar and each one as a toast until it times out. Kept in the context's memory so no
//! panel needs a path to the app.

use std::collections::VecDeque;

use eframe::egui;

/// How many notices are kept; older ones fall off (the operations log keeps everything).
pub const KEPT: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    /// `egui` input time (seconds) when it was posted: toasts age from it.
    pub at: f64,
    /// Increases with each notice, so a shell can tell which ones it has already shown.
    pub seq: u64,
    /// Shown in the status bar only, not as a toast: routine work finished (a search read),
    /// which a toast each time would drown the notices that matter.
    pub quiet: bool,
}

#[derive(Clone, Debug, Default)]
struct Store {
    notices: VecDeque<Notice>,
    next: u64,
}

fn id() -> egui::Id {
    egui::Id::unique("paydesk_feedback")
}

/// Posts a notice and asks for a repaint so it is drawn even when nobody touches the window.
pub fn notify(ctx: &egui::Context, level: Level, text: impl Into<String>) {
    post(ctx, level, text.into(), false);
}

/// Routine work finished: the status bar's last outcome, without a toast.
pub fn status(ctx: &egui::Context, text: impl Into<String>) {
    post(ctx, Level::Info, text.into(), true);
}

fn post(ctx: &egui::Context, level: Level, text: String, quiet: bool) {
    let at = ctx.input(|i| i.time);
    ctx.data_mut(|d| {
        let store = d.get_temp_mut_or_default::<Store>(id());
        let seq = store.next;
        store.next += 1;
        store.notices.push_back(Notice {
            level,
            text,
            at,
            seq,
            quiet,
        });
        while store.notices.len() > KEPT {
            store.notices.pop_front();
        }
    });
    ctx.request_repaint();
}

pub fn info(ctx: &egui::Context, text: impl Into<String>) {
    notify(ctx, Level::Info, text);
}

pub fn success(ctx: &egui::Context, text: impl Into<String>) {
    notify(ctx, Level::Success, text);
}

pub fn warning(ctx: &egui::Context, text: impl Into<String>) {
    notify(ctx, Level::Warning, text);
}

pub fn error(ctx: &egui::Context, text: impl Into<String>) {
    notify(ctx, Level::Error, text);
}

/// The notices kept, oldest first.
pub fn notices(ctx: &egui::Context) -> Vec<Notice> {
    ctx.data(|d| {
        d.get_temp::<Store>(id())
            .map(|s| s.notices.into_iter().collect())
            .unwrap_or_default()
    })
}

/// The newest notice, if any.
pub fn latest(ctx: &egui::Context) -> Option<Notice> {
    ctx.data(|d| {
        d.get_temp::<Store>(id())
            .and_then(|s| s.notices.back().cloned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_kept_in_order_and_bounded() {
        let ctx = egui::Context::default();
        for i in 0..(KEPT + 5) {
            info(&ctx, format!("n{i}"));
        }
        error(&ctx, "last");
        let all = notices(&ctx);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all.last().map(|n| n.level), Some(Level::Error));
        assert_eq!(latest(&ctx).map(|n| n.text), Some("last".to_owned()));
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}
