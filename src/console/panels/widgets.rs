//! Widgets the panels share: status chips, signature badges, the profile marker, amounts.

use eframe::egui;
use egui::{Color32, RichText};
use paydesk::gateway::cny::sign::Verdict;
use paydesk::gateway::cny::wire::{OrderStatus, SignatureCheck, StatusClass};

use crate::console::context::Marker;

pub const ERROR: Color32 = Color32::from_rgb(220, 60, 60);
pub const OK: Color32 = Color32::from_rgb(60, 170, 90);
pub const WARN: Color32 = Color32::from_rgb(220, 160, 40);

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
            ui.label(RichText::new("valid").color(OK));
        }
        Some(v) => {
            ui.label(RichText::new("INVALID").color(ERROR).strong())
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
