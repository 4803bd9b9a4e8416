//! Feedback that cannot be missed: the status bar (what is running, the last outcome) and the
//! toasts in the top-right corner, one for each notice posted through `feedback`. A toast
//! fades after [`TOAST_SECS`]; an error stays until it is closed.

use std::collections::BTreeSet;
use std::time::Duration;

use eframe::egui;
use egui::RichText;

use super::PaydeskApp;
use super::feedback::{self, Level, Notice};
use super::panels::widgets;

/// How long a toast shows, in seconds (errors stay until closed).
pub const TOAST_SECS: f64 = 6.0;
/// The last second of a toast fades out.
const FADE_SECS: f64 = 1.0;
/// How many toasts stack at most; older ones are still in the status bar's history.
const MAX_TOASTS: usize = 5;

/// The toasts closed by the operator, by notice sequence number, and what the shell last
/// said of the connection.
#[derive(Debug, Default)]
pub struct Toasts {
    closed: BTreeSet<u64>,
    connection_said: Option<String>,
}

impl Toasts {
    /// Posts a notice when the connection opens or fails (said once per change).
    pub fn connection_notices(
        &mut self,
        app_connection: Option<&str>,
        status: &str,
        ctx: &egui::Context,
    ) {
        let now = match app_connection {
            Some(name) => Some((true, format!("Connected to “{name}”"))),
            None if !status.is_empty() && !status.ends_with('…') => {
                Some((false, status.to_owned()))
            }
            None => None,
        };
        let Some((ok, text)) = now else {
            return;
        };
        if self.connection_said.as_deref() == Some(text.as_str()) {
            return;
        }
        if ok {
            feedback::success(ctx, text.clone());
        } else {
            feedback::error(ctx, text.clone());
        }
        self.connection_said = Some(text);
    }

    /// The notices to show as toasts now, oldest first.
    pub fn showing(&self, notices: &[Notice], now: f64) -> Vec<Notice> {
        let mut shown: Vec<Notice> = notices
            .iter()
            .filter(|n| !n.quiet && !self.closed.contains(&n.seq))
            .filter(|n| n.level == Level::Error || now - n.at < TOAST_SECS)
            .cloned()
            .collect();
        let skip = shown.len().saturating_sub(MAX_TOASTS);
        shown.drain(..skip);
        shown
    }

    pub fn close(&mut self, seq: u64) {
        self.closed.insert(seq);
    }
}

pub fn level_word(level: Level) -> &'static str {
    match level {
        Level::Info => "Info",
        Level::Success => "Done",
        Level::Warning => "Warning",
        Level::Error => "Error",
    }
}

fn level_color(ui: &egui::Ui, level: Level) -> egui::Color32 {
    match level {
        Level::Info => ui.visuals().text_color(),
        Level::Success => widgets::ok(ui),
        Level::Warning => widgets::warn(ui),
        Level::Error => widgets::error(ui),
    }
}

impl PaydeskApp {
    /// What is under way now, in the operator's words.
    pub fn running(&self) -> Vec<String> {
        let mut running = Vec::new();
        if self.connecting.is_some() {
            running.push(self.connection_status.clone());
        }
        if self.journal_opening.is_some() {
            running.push("Opening the payout journal".to_owned());
        }
        if let Some(side) = self.team.as_ref().filter(|t| t.opening.is_some()) {
            running.push(format!("Opening the team journal {}", side.target));
        }
        if self.approvals.is_deciding() {
            running.push("Deciding what awaits approval".to_owned());
        }
        for (panel, name) in [(&self.deposits, "deposits"), (&self.payouts, "payouts")] {
            if panel.result.is_pending() {
                running.push(match panel.progress {
                    Some((done, total)) => format!("Loading {name}: page {done} of {total}"),
                    None => format!("Searching {name}"),
                });
            }
        }
        if self.suborders.is_loading() {
            running.push("Searching GatePay payouts by date".to_owned());
        }
        if self.batches.is_loading() {
            running.push("Loading a GatePay batch".to_owned());
        }
        if let Some((p, _)) = &self.export.running {
            running.push(format!("Exporting: {} of {} rows", p.done, p.total));
        }
        if self.payout_form.is_sending() {
            running.push("Sending a payout".to_owned());
        }
        if self.bulk.is_sending() {
            running.push(match self.bulk.progress {
                Some((n, total)) => format!("Sending imported payouts: {n} of {total}"),
                None => "Sending imported payouts".to_owned(),
            });
        }
        if self.new_batch.is_sending() {
            running.push("Sending a GatePay batch".to_owned());
        }
        if self.sent.is_checking() || self.batches_check.is_some() {
            running.push("Checking sent payouts with the gateway".to_owned());
        }
        if self.profiles.is_busy() {
            running.push("Saving profiles".to_owned());
        }
        running
    }
}

/// The bar along the bottom: what runs now on the left, the last outcome on the right.
pub fn status_bar_ui(app: &PaydeskApp, ui: &mut egui::Ui) {
    let running = app.running();
    let latest = feedback::latest(ui.ctx());
    ui.horizontal_wrapped(|ui| {
        if running.is_empty() {
            ui.label(RichText::new("Idle").weak());
        } else {
            ui.spinner();
            ui.label(running.join(" · "));
        }
        if let Some(n) = latest {
            ui.separator();
            let color = level_color(ui, n.level);
            ui.label(RichText::new(format!("{}: {}", level_word(n.level), n.text)).color(color))
                .on_hover_text("The last outcome");
        }
    });
}

/// The toasts, stacked in the top-right corner, newest at the bottom of the stack.
pub fn toasts_ui(toasts: &mut Toasts, top: f32, ctx: &egui::Context) {
    let now = ctx.input(|i| i.time);
    let shown = toasts.showing(&feedback::notices(ctx), now);
    if shown.is_empty() {
        return;
    }
    // A fading toast must go away with no input: ask for the frame where it changes.
    let next = shown
        .iter()
        .filter(|n| n.level != Level::Error)
        .map(|n| {
            let left = TOAST_SECS - (now - n.at);
            if left > FADE_SECS {
                left - FADE_SECS
            } else {
                0.05
            }
        })
        .fold(f64::INFINITY, f64::min);
    if next.is_finite() {
        ctx.request_repaint_after(Duration::from_secs_f64(next.max(0.0)));
    }
    // Passing notices let clicks through to what lies under them (they go by themselves);
    // errors, which stay until closed, take clicks for their close button.
    let (errors, passing): (Vec<Notice>, Vec<Notice>) =
        shown.into_iter().partition(|n| n.level == Level::Error);
    let mut y = top + 8.0;
    for (stack, interactable, salt) in [
        (passing, false, "paydesk_toasts"),
        (errors, true, "paydesk_error_toasts"),
    ] {
        if stack.is_empty() {
            continue;
        }
        let area = egui::Area::new(egui::Id::unique(salt))
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-12.0, y))
            .order(egui::Order::Foreground)
            .interactable(interactable)
            .show(ctx, |ui| {
                ui.set_max_width(380.0);
                for n in &stack {
                    ui.scope(|ui| toast_ui(toasts, n, now, ui));
                    ui.add_space(4.0);
                }
            });
        y += area.response.rect.height();
    }
}

fn toast_ui(toasts: &mut Toasts, n: &Notice, now: f64, ui: &mut egui::Ui) {
    let left = TOAST_SECS - (now - n.at);
    if n.level != Level::Error && left < FADE_SECS {
        #[allow(clippy::cast_possible_truncation)]
        ui.multiply_opacity((left / FADE_SECS).clamp(0.0, 1.0) as f32);
    }
    let color = level_color(ui, n.level);
    egui::Frame::popup(ui.style())
        .stroke(egui::Stroke::new(1.5, color))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(level_word(n.level)).color(color).strong());
                ui.add(egui::Label::new(&n.text).wrap());
                if ui
                    .small_button("×")
                    .on_hover_text("Close this notice")
                    .clicked()
                {
                    toasts.close(n.seq);
                }
            });
        });
}
