//! The console's panels, one struct each with its own state, and the widgets they share.
//! Drawing never waits on anything: actions are queued as commands for `logic`.

pub mod export;
pub mod fonts;
pub mod gatepay;
pub mod orders;
pub mod payouts;
pub mod profiles;
pub mod widgets;
pub mod workbench;

use eframe::egui;
use egui::{Color32, RichText};

use crate::console::connection::{Connection, Marker};
use crate::console::{Command, PaydeskApp, Tab};
use paydesk::domain::profiles::GatewayKind;

/// Draws one frame of the whole console.
pub fn app_ui(app: &mut PaydeskApp, ui: &mut egui::Ui) {
    if !app.first_frame_reported {
        app.first_frame_reported = true;
        crate::startup::first_frame();
    }
    take_dropped_file(app, ui.ctx());
    egui::Panel::top("top_bar").show(ui, |ui| top_bar_ui(app, ui));
    let show_details = matches!(app.tab, Tab::Deposits | Tab::Payouts) && app.details_open;
    if show_details {
        let kind = if app.tab == Tab::Deposits {
            paydesk::gateway::cny::wire::OrderKind::Deposit
        } else {
            paydesk::gateway::cny::wire::OrderKind::Payout
        };
        let options = app
            .connection
            .as_ref()
            .and_then(Connection::md5_key)
            .map(|(_, o)| o)
            .unwrap_or_default();
        let panel = app.orders_panel(kind);
        if panel.selected_order().is_some() {
            let mut open = true;
            egui::Panel::right("order_details")
                .resizable(true)
                .default_size(420.0)
                .show(ui, |ui| panel.details_ui(ui, options, &mut open));
            if !open {
                app.details_open = false;
            }
        }
    }
    // Ctrl+E: export what the current tab shows.
    let source = match app.tab {
        Tab::Deposits => Some(paydesk::domain::export::ExportKind::Deposits),
        Tab::Payouts => Some(paydesk::domain::export::ExportKind::Payouts),
        Tab::Batches => Some(paydesk::domain::export::ExportKind::BatchSubOrders),
        _ => None,
    };
    if let Some(source) = source
        && ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::E))
    {
        app.commands
            .push(crate::console::Command::OpenExport(source));
    }
    let tz_label = match app.export.source.order_kind() {
        Some(k) => app.orders_panel(k).filter.tz.label(),
        None => app.payouts.filter.tz.label(),
    };
    let commands = app.export.ui(ui.ctx(), tz_label);
    app.commands.extend(commands);
    egui::CentralPanel::default().show(ui, |ui| match app.tab {
        Tab::Deposits => {
            let commands = app.deposits.ui(ui, &mut app.details_open);
            app.commands.extend(commands);
        }
        Tab::Payouts => {
            let commands = app.payouts.ui(ui, &mut app.details_open);
            app.commands.extend(commands);
        }
        Tab::Workbench => {
            let has_cny = app
                .connection
                .as_ref()
                .and_then(Connection::md5_key)
                .is_some();
            let has_gp = app.connection.as_ref().is_some_and(|c| c.gatepay.is_some());
            let commands = app.workbench.ui(ui, has_cny, has_gp);
            app.commands.extend(commands);
        }
        Tab::NewPayout => {
            let (banks, blocked) = (app.banks(), app.send_blocker(GatewayKind::Cny));
            ui.heading("New payout");
            let commands = app.payout_form.ui(ui, &banks, blocked.as_deref());
            app.commands.extend(commands);
            ui.separator();
            ui.heading("Bulk payouts");
            let commands = app.bulk.ui(ui, blocked.as_deref());
            app.commands.extend(commands);
        }
        Tab::PayoutsSent => {
            let tz = app.payouts.filter.tz.zone();
            let damaged = app.journal_damage_message().or_else(|| {
                app.journal
                    .is_none()
                    .then(|| app.journal_error.clone())
                    .flatten()
            });
            let commands = app.sent.ui(ui, &tz, damaged.as_deref());
            app.commands.extend(commands);
        }
        Tab::Batches => {
            let tz = app.payouts.filter.tz.zone();
            let tz_name = app.payouts.filter.tz.label();
            let commands = app.batches.ui(ui, &tz, tz_name);
            app.commands.extend(commands);
        }
        Tab::NewBatch => {
            let blocked = app.send_blocker(GatewayKind::Gatepay);
            ui.heading("New GatePay batch");
            let commands = app.new_batch.ui(ui, blocked.as_deref());
            app.commands.extend(commands);
            ui.separator();
            let tz = app.payouts.filter.tz.zone();
            let commands = gatepay::sent_batches_ui(ui, &app.batches.sent, &tz);
            app.commands.extend(commands);
        }
        Tab::Profiles => {
            let active = app.connection.as_ref().map(|c| c.profile_name.clone());
            let commands = app.profiles.ui(ui, active.as_deref());
            app.commands.extend(commands);
        }
    });
}

fn top_bar_ui(app: &mut PaydeskApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading("Paydesk");
        if let Some(c) = &app.connection {
            widgets::marker_chip(ui, c.marker);
            ui.label(RichText::new(&c.profile_name).strong());
        } else {
            ui.spinner();
            ui.label(&app.connection_status);
        }
        ui.separator();
        for (tab, label) in [
            (Tab::Deposits, "Deposits"),
            (Tab::Payouts, "Payouts"),
            (Tab::Workbench, "Signature workbench"),
            (Tab::NewPayout, "New payout"),
            (Tab::PayoutsSent, "Payouts sent"),
            (Tab::Batches, "GatePay batches"),
            (Tab::NewBatch, "New batch"),
            (Tab::Profiles, "Profiles"),
        ] {
            ui.selectable_value(&mut app.tab, tab, label);
        }
    });
    if app.marker() == Some(Marker::Sandbox) {
        egui::Frame::NONE
            .fill(Color32::from_rgb(30, 64, 120))
            .inner_margin(egui::Margin::symmetric(8, 4))
            .corner_radius(4)
            .show(ui, |ui| {
                ui.label(
                    RichText::new("Sandbox — demo data, no real money")
                        .color(Color32::WHITE)
                        .strong(),
                );
            });
    } else if app.connection.is_none()
        && !app.connection_status.is_empty()
        && !app.connection_status.ends_with('…')
    {
        ui.colored_label(widgets::ERROR, &app.connection_status);
    }
    ui.add_space(4.0);
}

/// A file dropped on the window imports into the tab that takes files, as its button would:
/// the way in where the file dialog cannot open. Elsewhere, or while that import cannot
/// start, the drop is ignored as the button would be off.
fn take_dropped_file(app: &mut PaydeskApp, ctx: &egui::Context) {
    let Some(path) = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()))
    else {
        return;
    };
    match app.tab {
        Tab::NewPayout if !app.bulk.sending && app.send_blocker(GatewayKind::Cny).is_none() => {
            app.commands.push(Command::OpenBulkFile(Some(path)));
        }
        Tab::NewBatch if !app.new_batch.busy => {
            app.commands.push(Command::OpenBatchFile(Some(path)));
        }
        _ => {}
    }
}
