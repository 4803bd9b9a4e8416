//! The shell's drawing phase: the top bar and the tab shown, each panel drawn from one
//! `ConsoleContext`; what the panels return is queued as commands for `logic`.

use eframe::egui;
use egui::{Color32, RichText};

use super::appearance::{self, SCALES, TABS, ThemeChoice};
use super::commands::Command;
use super::context::{ConsoleContext, Marker, TzChoice};
use super::panels::{gatepay, widgets};
use super::{PaydeskApp, Tab, feedback, statusbar};
use paydesk::domain::profiles::GatewayKind;
use paydesk::gateway::cny::wire::OrderKind;

/// Draws one frame of the whole console.
pub fn app_ui(app: &mut PaydeskApp, ui: &mut egui::Ui) {
    if !app.first_frame_reported {
        app.first_frame_reported = true;
        crate::startup::first_frame();
    }
    take_dropped_file(app, ui.ctx());
    let cx = app.context();
    let tz_before = app.tz;
    let mut bar = TopBar {
        tab: app.tab,
        tz: app.tz,
        theme: app.theme,
        scale: app.scale,
    };
    let top_bar = egui::Panel::top("top_bar").show(ui, |ui| top_bar_ui(&mut bar, &cx, ui));
    (app.tab, app.tz) = (bar.tab, bar.tz);
    if (bar.theme, bar.scale) != (app.theme, app.scale) {
        (app.theme, app.scale) = (bar.theme, bar.scale);
        appearance::apply(ui.ctx(), app.theme, app.scale);
    }
    if let Some(outcome) = app.export.take_fresh_outcome() {
        match outcome {
            Ok(written) if super::panels::export::needs_a_look(&written) => {
                feedback::warning(ui.ctx(), export_warning(&written));
            }
            Ok(written) => feedback::success(ui.ctx(), export_notice(&written)),
            Err(e) => feedback::error(ui.ctx(), format!("Export failed: {e}")),
        }
    }
    app.toasts.connection_notices(
        app.connection.as_ref().map(|c| c.profile_name.as_str()),
        &app.connection_status,
        ui.ctx(),
    );
    egui::Panel::bottom("status_bar").show(ui, |ui| statusbar::status_bar_ui(app, ui));
    // Below the top bar, however many rows it wrapped onto.
    statusbar::toasts_ui(&mut app.toasts, top_bar.response.rect.bottom(), ui.ctx());
    if let Some(prompts) = &app.path_prompts {
        app.path_prompt.ui(prompts, ui.ctx());
    }
    if app.tz != tz_before {
        // The batch's rows hold their times as text: write them in the new zone.
        app.batches.rebuild(&app.tz.zone());
    }
    // The frame draws in the zone just chosen.
    let cx = ConsoleContext { tz: app.tz, ..cx };
    let show_details = matches!(app.tab, Tab::Deposits | Tab::Payouts) && app.details_open;
    if show_details {
        let kind = if app.tab == Tab::Deposits {
            OrderKind::Deposit
        } else {
            OrderKind::Payout
        };
        let options = cx.cny_signing.unwrap_or_default();
        let panel = app.orders_panel(kind);
        if panel.selected_order().is_some() {
            let mut open = true;
            // At most half the window: on a narrow one the filter and its Search stay in reach.
            let half = (ui.ctx().content_rect().width() / 2.0).max(240.0);
            egui::Panel::right("order_details")
                .resizable(true)
                .default_size(420.0_f32.min(half))
                .max_size(half)
                .show(ui, |ui| panel.details_ui(ui, &cx, options, &mut open));
            if !open {
                app.details_open = false;
            }
        }
    }
    // Ctrl+Q closes the window as its close button does (and lets a script close it).
    if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Q)) {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
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
        app.commands.push(Command::OpenExport(source));
    }
    let actions = app.export.ui(ui.ctx(), cx.tz.label());
    app.commands.extend(actions.into_iter().map(Command::from));
    let commands = &mut app.commands;
    egui::CentralPanel::default().show(ui, |ui| match app.tab {
        Tab::Deposits => {
            let actions = app.deposits.ui(ui, &cx, &mut app.details_open);
            commands.extend(
                actions
                    .into_iter()
                    .map(|a| Command::orders(OrderKind::Deposit, a)),
            );
        }
        Tab::Payouts => {
            let actions = app.payouts.ui(ui, &cx, &mut app.details_open);
            commands.extend(
                actions
                    .into_iter()
                    .map(|a| Command::orders(OrderKind::Payout, a)),
            );
        }
        Tab::Workbench => {
            let actions = app.workbench.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::NewPayout => {
            ui.heading("New payout");
            if let Some(journal) = &cx.journal_in_use {
                ui.label(RichText::new(journal).weak());
            }
            let actions = app.payout_form.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
            ui.separator();
            ui.heading("Bulk payouts");
            let actions = app.bulk.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::PayoutsSent => {
            // The payouts first, as the tab's name says; the notifications received in a
            // resizable strip along the bottom.
            egui::Panel::bottom("notifications_received")
                .resizable(true)
                .default_size(260.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("notifications_scroll")
                        .show(ui, |ui| {
                            ui.heading("Notifications received");
                            let actions = app.listener.ui(ui, &cx);
                            commands.extend(actions.into_iter().map(Command::from));
                        });
                });
            ui.heading("Payouts sent");
            if let Some(journal) = &cx.journal_in_use {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(journal).weak());
                    if let Some(live) = &cx.team_live {
                        ui.label(RichText::new(live).weak());
                    }
                });
            }
            let actions = app.sent.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::Approvals => {
            let actions = app.approvals.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::Approval));
        }
        Tab::Reconcile => {
            let actions = app.reconcile.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::Batches => {
            let actions = app.batches.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::NewBatch => {
            ui.heading("New GatePay batch");
            let actions = app.new_batch.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
            ui.separator();
            let actions = gatepay::sent_batches_ui(ui, &app.batches.sent, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::SubOrders => {
            let actions = app.suborders.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::Profiles => {
            let actions = app.profiles.ui(ui, &cx);
            commands.extend(actions.into_iter().map(Command::from));
        }
        Tab::Log => super::panels::log::ui(ui),
    });
}

/// What the top bar changes: the tab, the zone, the theme and the scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopBar {
    pub tab: Tab,
    pub tz: TzChoice,
    pub theme: ThemeChoice,
    pub scale: f32,
}

fn top_bar_ui(bar: &mut TopBar, cx: &ConsoleContext, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        ui.heading("Paydesk");
        if let Some((name, marker)) = &cx.profile {
            widgets::marker_chip(ui, *marker);
            ui.label(RichText::new(name).strong());
        } else {
            ui.spinner();
            ui.label(&cx.connection_status);
        }
        ui.separator();
        view_menu_ui(bar, ui);
        // At the right end of the row when it has room, else on a row of its own: the label
        // and its box move as one (last frame's width says whether they fit).
        let id = egui::Id::unique("console_tz_group");
        let width = ui.data(|d| d.get_temp::<f32>(id)).unwrap_or(0.0);
        let room = ui.available_size_before_wrap().x;
        let size = egui::vec2(
            if width <= room { room } else { width },
            ui.spacing().interact_size.y,
        );
        let layout = egui::Layout::right_to_left(egui::Align::Center);
        let tz = &mut bar.tz;
        let group = ui.allocate_ui_with_layout(size, layout, |ui| {
            // Right to left: the box first, then its label to its left.
            let combo = egui::ComboBox::from_id_salt("console_tz")
                .selected_text(tz.label())
                .show_ui(ui, |ui| {
                    for choice in [TzChoice::Gateway, TzChoice::Local, TzChoice::Utc] {
                        ui.selectable_value(tz, choice, choice.label());
                    }
                })
                .response;
            let label = widgets::field_label(ui, "Time zone");
            combo.labelled_by(label);
        });
        let used = group.response.rect.width();
        ui.data_mut(|d| d.insert_temp(id, used));
    });
    // The tabs on rows of their own, wrapping on a narrow window so every one stays in reach.
    ui.horizontal_wrapped(|ui| {
        for (value, label, _) in TABS {
            ui.selectable_value(&mut bar.tab, *value, *label);
        }
    });
    if cx.marker() == Some(Marker::Sandbox) {
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
    } else if cx.profile.is_none()
        && !cx.connection_status.is_empty()
        && !cx.connection_status.ends_with('…')
    {
        ui.colored_label(widgets::error(ui), &cx.connection_status);
    }
    ui.add_space(4.0);
}

/// "Export finished: PATH" from the export's own report (which the dialog shows in full).
fn export_notice(written: &str) -> String {
    let path = written
        .split_once(" rows to ")
        .and_then(|(_, rest)| rest.split_once(" (").map(|(path, _)| path));
    match path {
        Some(path) => format!("Export finished: {path}"),
        None => "Export finished".to_owned(),
    }
}

/// "Export finished: /path. 5 order(s) failed the signature check": what needs a look, after
/// the file.
fn export_warning(written: &str) -> String {
    let notes: Vec<&str> = written
        .split(". ")
        .filter(|part| !part.starts_with("Wrote ") && !part.starts_with("Matches "))
        .collect();
    format!("{}. {}", export_notice(written), notes.join(". "))
}

/// The theme (System, Light, Dark) and, in the View menu, the scale.
fn view_menu_ui(bar: &mut TopBar, ui: &mut egui::Ui) {
    let theme = &mut bar.theme;
    let label = widgets::field_label(ui, "Theme");
    let combo = egui::ComboBox::from_id_salt("console_theme")
        .selected_text(theme.label())
        .show_ui(ui, |ui| {
            for choice in ThemeChoice::ALL {
                ui.selectable_value(theme, choice, choice.label());
            }
        })
        .response;
    combo.labelled_by(label);
    ui.menu_button("View", |ui| {
        ui.label("Scale");
        for scale in SCALES {
            let label = format!("{:.0} %", scale * 100.0);
            if ui.radio((bar.scale - scale).abs() < 0.01, label).clicked() {
                bar.scale = scale;
            }
        }
    });
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
        Tab::NewPayout
            if !app.bulk.is_sending() && app.send_blocker(GatewayKind::Cny).is_none() =>
        {
            app.commands.push(Command::OpenBulkFile(Some(path)));
        }
        Tab::NewBatch if !app.new_batch.is_sending() => {
            app.commands.push(Command::OpenBatchFile(Some(path)));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;

    /// On a window too narrow for every tab, the zone's label stays beside its box.
    #[test]
    fn the_time_zone_label_stays_beside_its_box_on_a_narrow_window() {
        for width in [700.0, 1000.0, 1400.0] {
            let mut h = Harness::builder()
                .with_size(egui::vec2(width, 200.0))
                .build_ui_state(
                    |ui, bar: &mut TopBar| {
                        top_bar_ui(bar, &ConsoleContext::default(), ui);
                    },
                    TopBar {
                        tab: Tab::Payouts,
                        tz: TzChoice::Gateway,
                        theme: ThemeChoice::System,
                        scale: 1.0,
                    },
                );
            for _ in 0..3 {
                h.step();
            }
            let label = h.get_by_role_and_label(Role::Label, "Time zone").rect();
            let combo = h.get_by_role_and_label(Role::ComboBox, "Time zone").rect();
            assert!(
                (label.center().y - combo.center().y).abs() < 6.0,
                "{width}: label {label:?}, box {combo:?}"
            );
            assert!(
                label.max.x <= combo.min.x && combo.min.x - label.max.x < 20.0,
                "{width}: label {label:?}, box {combo:?}"
            );
            assert!(
                combo.max.x <= width,
                "{width}: box {combo:?} off the window"
            );
        }
    }

    /// The toast of an export with badly signed orders said only "Export finished".
    #[test]
    fn an_export_warning_names_the_file_and_what_needs_a_look() {
        let written = "Wrote 2002 rows to /tmp/p.xlsx (1 bytes, SHA-256 4a9c…); manifest \
                       /tmp/p.json. Matches the gateway's total of 2002. 5 order(s) failed the \
                       signature check";
        assert_eq!(
            export_warning(written),
            "Export finished: /tmp/p.xlsx. 5 order(s) failed the signature check"
        );
    }
}
