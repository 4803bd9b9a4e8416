//! Widgets the panels share: status chips, signature badges, the profile marker, amounts.

use eframe::egui;
use egui::{Color32, RichText};
use paydesk::gateway::cny::sign::Verdict;
use paydesk::gateway::cny::wire::{OrderStatus, SignatureCheck, StatusClass};

use crate::console::context::Marker;

// Mid tones that keep their contrast on both the light and the dark theme; the functions
// below pick a stronger tone for the theme in use and are preferred where a `Ui` is at hand.
pub const ERROR: Color32 = Color32::from_rgb(200, 50, 50);
pub const OK: Color32 = Color32::from_rgb(40, 140, 70);
pub const WARN: Color32 = Color32::from_rgb(190, 120, 0);

/// Red for errors, readable on the theme in use.
pub fn error(ui: &egui::Ui) -> Color32 {
    themed(
        ui,
        Color32::from_rgb(255, 110, 100),
        Color32::from_rgb(180, 30, 30),
    )
}

/// Green for success, readable on the theme in use.
pub fn ok(ui: &egui::Ui) -> Color32 {
    themed(
        ui,
        Color32::from_rgb(100, 210, 120),
        Color32::from_rgb(20, 120, 50),
    )
}

/// Amber for warnings and open states, readable on the theme in use.
pub fn warn(ui: &egui::Ui) -> Color32 {
    themed(
        ui,
        Color32::from_rgb(240, 180, 60),
        Color32::from_rgb(160, 95, 0),
    )
}

fn themed(ui: &egui::Ui, on_dark: Color32, on_light: Color32) -> Color32 {
    if ui.visuals().dark_mode {
        on_dark
    } else {
        on_light
    }
}

/// The colour of where a payout or batch stands in the journal: green accepted, red refused,
/// amber for everything still open (never red for an unknown outcome).
pub fn journal_state_color(state: paydesk::domain::journal::State) -> Color32 {
    use paydesk::domain::journal::State;
    match state {
        State::Accepted => OK,
        State::Rejected => ERROR,
        _ => WARN,
    }
}

pub fn chip(ui: &mut egui::Ui, text: &str, fill: Color32) -> egui::Response {
    egui::Frame::NONE
        .fill(fill)
        .corner_radius(6)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(text).color(Color32::WHITE).small())
        })
        .inner
}

pub fn status_color(class: StatusClass) -> Color32 {
    match class {
        StatusClass::Success => Color32::from_rgb(46, 140, 80),
        StatusClass::InProgress => Color32::from_rgb(60, 110, 180),
        StatusClass::Cancelled => Color32::from_rgb(120, 120, 120),
        StatusClass::Failed => Color32::from_rgb(190, 50, 50),
        StatusClass::Unknown => Color32::from_rgb(140, 70, 160),
    }
}

/// A status as a coloured chip, with its Chinese name on hover.
pub fn status_chip(ui: &mut egui::Ui, status: OrderStatus, label: &str) {
    let r = chip(ui, label, status_color(status.class()));
    if let Some(zh) = status.label_zh() {
        r.on_hover_text(format!(
            "{label} · {zh} · code {}",
            status.code.unwrap_or_default()
        ));
    }
}

/// valid / INVALID / not checked.
pub fn signature_badge(ui: &mut egui::Ui, check: &SignatureCheck) {
    verdict_badge(
        ui,
        match check {
            SignatureCheck::Checked(v) => Some(v.verdict),
            SignatureCheck::Unchecked => None,
        },
    );
}

/// The same badge from the verdict alone (`None`: not checked).
pub fn verdict_badge(ui: &mut egui::Ui, verdict: Option<Verdict>) {
    match verdict {
        Some(v) if v.is_valid() => {
            ui.label(RichText::new("valid").color(ok(ui)));
        }
        Some(v) => {
            ui.label(RichText::new("INVALID").color(error(ui)).strong())
                .on_hover_text(v.describe());
        }
        None => {
            ui.label(RichText::new("not checked").weak())
                .on_hover_text("This profile has no MD5 key, so signatures cannot be checked");
        }
    }
}

pub fn marker_chip(ui: &mut egui::Ui, marker: Marker) {
    let fill = match marker {
        Marker::Live => Color32::from_rgb(200, 40, 40),
        Marker::Test => Color32::from_rgb(200, 140, 20),
        Marker::Sandbox => Color32::from_rgb(40, 90, 170),
    };
    chip(ui, marker.label(), fill);
}

/// A label whose text screen readers and tests can find next to an input.
pub fn field_label(ui: &mut egui::Ui, text: &str) -> egui::Id {
    ui.label(text).id
}
