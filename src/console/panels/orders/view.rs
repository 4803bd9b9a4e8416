//! Drawing an orders panel: the filter, paging, the virtualized table and the order details.

use super::super::widgets::{self, ERROR, WARN, field_label};
use super::menu::received;
use super::{Action, OrdersPanel, PAGE_SIZES, SortKey};
use crate::console::context::ConsoleContext;
use crate::console::feedback;
use std::fmt::Write as _;

use eframe::egui;
use egui::{Align, Key, Layout, Modifiers, RichText, Sense};
use egui_extras::{Column, DatePickerButton, TableBuilder};
use jiff::tz::TimeZone;
use paydesk::domain::dates::{Shortcut, format_secs, zone_short};
use paydesk::domain::text::shown;
use paydesk::gateway::cny::sign::SignOptions;
use paydesk::gateway::cny::wire::{OrderKind, SignatureCheck};
use paydesk::money::Fen;

impl OrdersPanel {
    /// Draws the panel; returns the actions it queued.
    /// Dates and times are read and shown in the console's zone, `cx.tz`.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &ConsoleContext,
        details_open: &mut bool,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut search = false;
        let mut goto: Option<u64> = None;
        let quick_filter_id = egui::Id::unique(("quick_filter", self.kind));

        // Keyboard: Ctrl+F focuses the quick filter, PageUp/PageDown page.
        if ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::F)) {
            ui.memory_mut(|m| m.request_focus(quick_filter_id));
        }
        let (page_no, page_count) = self.pages().unwrap_or((1, 1));
        let paged = !self.result.shown().is_some_and(|p| p.all_pages);
        if paged
            && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::PageDown))
            && page_no < page_count
        {
            goto = Some(page_no);
        }
        if paged && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::PageUp)) && page_no > 1 {
            goto = Some(page_no - 2);
        }

        ui.horizontal_wrapped(|ui| {
            let entered = |r: &egui::Response, ui: &egui::Ui| r.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let salt = self.kind;
            let label = field_label(ui, "System order ID");
            let r = ui.add(egui::TextEdit::singleline(&mut self.filter.system_id).desired_width(130.0)).labelled_by(label);
            search |= entered(&r, ui);
            let r = group(ui, (salt, "merchant_id"), true, |ui| {
                let label = field_label(ui, "Merchant order ID");
                ui.add(egui::TextEdit::singleline(&mut self.filter.merchant_id).desired_width(170.0).min_size(egui::vec2(170.0, 0.0))).labelled_by(label)
            });
            search |= entered(&r, ui);
            ui.separator();
            ui.checkbox(&mut self.filter.use_range, "Date range");
            let on = self.filter.use_range;
            let (from_salt, to_salt) = if self.kind == OrderKind::Deposit { ("dep_from", "dep_to") } else { ("pay_from", "pay_to") };
            let r = group(ui, (salt, "from"), on, |ui| {
                ui.label("From");
                ui.add(DatePickerButton::new(&mut self.filter.from_date).show_icon(false).id_salt(from_salt));
                let label = field_label(ui, "Start time");
                ui.add(egui::TextEdit::singleline(&mut self.filter.from_time).desired_width(64.0).min_size(egui::vec2(64.0, 0.0))).labelled_by(label)
            });
            search |= entered(&r, ui);
            let r = group(ui, (salt, "to"), on, |ui| {
                ui.label("to");
                ui.add(DatePickerButton::new(&mut self.filter.to_date).show_icon(false).id_salt(to_salt));
                let label = field_label(ui, "End time");
                ui.add(egui::TextEdit::singleline(&mut self.filter.to_time).desired_width(64.0).min_size(egui::vec2(64.0, 0.0))).labelled_by(label)
            });
            search |= entered(&r, ui);
            // One click sets a whole range of days in the console's zone and searches it.
            group(ui, (salt, "shortcuts"), true, |ui| {
                for shortcut in Shortcut::ALL {
                    if ui
                        .small_button(shortcut.label())
                        .on_hover_text(format!("{} in {}, then search", shortcut.label(), cx.tz.label()))
                        .clicked()
                    {
                        let (from, to) = shortcut.days_at(jiff::Timestamp::now(), &cx.tz.zone());
                        self.filter.use_range = true;
                        self.filter.from_date = from;
                        "00:00:00".clone_into(&mut self.filter.from_time);
                        self.filter.to_date = to;
                        "23:59:59".clone_into(&mut self.filter.to_time);
                        search = true;
                    }
                }
            });
            // One zone for the whole console, chosen in the top bar.
            group(ui, (salt, "zone"), true, |ui| ui.label(RichText::new(format!("in {}", cx.tz.label())).weak()));
            group(ui, (salt, "page_size"), true, |ui| {
            let label = field_label(ui, "Page size");
            egui::ComboBox::from_id_salt(("page_size", self.kind))
                .selected_text(self.filter.page_size.to_string())
                .show_ui(ui, |ui| {
                    for size in PAGE_SIZES {
                        if ui.selectable_value(&mut self.filter.page_size, size, size.to_string()).changed() {
                            search = true;
                        }
                    }
                })
                .response
                .labelled_by(label);
            });
            if ui.button("Search").clicked() {
                search = true;
            }
            if ui
                .button("Load all pages")
                .on_hover_text("Fetch every order matching the filter (500 a page, 4 at a time) to filter and sort them all here")
                .clicked()
            {
                self.page = 0;
                actions.push(Action::LoadAll);
            }
            if ui
                .button("Export…")
                .on_hover_text("Ctrl+E: this page or every order matching the filter, to CSV, XLSX or JSON Lines")
                .clicked()
            {
                self.export_selection = false;
                actions.push(Action::Export);
            }
        });
        // The exact bounds the gateway will get.
        match self.filter.range(cx.tz) {
            Ok(Some(r)) => {
                ui.label(
                    RichText::new(format!(
                        "create_time__gte={} · create_time__lte={} (UTC {} – {})",
                        r.from_secs,
                        r.to_secs,
                        format_secs(r.from_secs, &TimeZone::UTC),
                        format_secs(r.to_secs, &TimeZone::UTC)
                    ))
                    .monospace()
                    .weak(),
                );
            }
            Ok(None) => {
                ui.label(RichText::new("All dates: no time range is sent").weak());
            }
            Err(e) => {
                ui.colored_label(ERROR, e);
            }
        }
        if search {
            self.page = 0;
        }
        if let Some(p) = goto {
            self.page = p;
            search = true;
        }
        if search {
            self.id_search_clears_local_filters(ui.ctx());
            actions.push(Action::Search);
        }
        if self.filter_changed(cx.tz) && !self.result.is_pending() {
            ui.colored_label(WARN, "Filter changed — press Search to show what it finds");
        }

        ui.separator();
        self.status_ui(ui, &mut actions);
        self.charts_ui(ui, cx, &mut actions);

        ui.horizontal(|ui| {
            let label = field_label(ui, "Quick filter");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.quick_filter)
                        .id(quick_filter_id)
                        .hint_text("Ctrl+F: narrow the loaded rows")
                        .desired_width(220.0),
                )
                .labelled_by(label);
            if r.changed() {
                self.view_dirty = true;
            }
            if ui
                .checkbox(&mut self.only_invalid, "Only invalid signatures")
                .changed()
            {
                self.view_dirty = true;
            }
        });
        if self.view_dirty {
            self.rebuild_view();
        }
        self.summary_ui(ui);
        if !self.empty_state_ui(ui, &mut actions) && self.result.shown().is_some() {
            self.table_ui(ui, cx, details_open, &mut actions);
        }
        self.keyboard_ui(ui, &mut actions);
        // Asked from the details, which are drawn beside the table and return nothing.
        if let Some(text) = self.to_workbench.take() {
            actions.push(Action::OpenInWorkbench(text));
        }
        // A search the app started itself (the first one after connecting) is of this filter.
        let started_elsewhere = self.searched.is_none() && self.result.is_pending();
        if started_elsewhere
            || actions
                .iter()
                .any(|a| matches!(a, Action::Search | Action::LoadAll))
        {
            self.note_search(cx.tz);
        }
        actions
    }

    fn status_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            let paged = !self.result.shown().is_some_and(|p| p.all_pages);
            if let Some((page_no, page_count)) = self.pages().filter(|_| paged) {
                let mut go = |page: u64, this: &mut OrdersPanel| {
                    this.page = page;
                    actions.push(Action::Search);
                };
                if ui
                    .add_enabled(page_no > 1, egui::Button::new("First"))
                    .on_disabled_hover_text("This is the first page")
                    .clicked()
                {
                    go(0, self);
                }
                if ui
                    .add_enabled(page_no > 1, egui::Button::new("Previous"))
                    .on_disabled_hover_text("This is the first page")
                    .on_hover_text("PageUp")
                    .clicked()
                {
                    go(page_no - 2, self);
                }
                ui.label(format!("page {page_no} of {page_count}"));
                if ui
                    .add_enabled(page_no < page_count, egui::Button::new("Next"))
                    .on_disabled_hover_text("This is the last page")
                    .on_hover_text("PageDown")
                    .clicked()
                {
                    go(page_no, self);
                }
                if ui
                    .add_enabled(page_no < page_count, egui::Button::new("Last"))
                    .on_disabled_hover_text("This is the last page")
                    .clicked()
                {
                    go(page_count - 1, self);
                }
            }
            if let Some(page) = self.result.shown() {
                let text = if page.all_pages {
                    loaded_header(page.rows.len(), page.total, page.beyond_limit)
                } else {
                    format!("gateway total {}", page.total)
                };
                ui.label(RichText::new(text).strong());
            }
            if self.result.is_pending() {
                ui.spinner();
                match self.progress {
                    Some((done, total)) if self.wants_all_pages => {
                        // Loading stops at the row limit: measured against every matching
                        // order, the bar would stop a third of the way and look stuck.
                        let total = total.min(self.row_limit as u64);
                        ui.add(
                            egui::ProgressBar::new(if total == 0 {
                                1.0
                            } else {
                                done as f32 / total as f32
                            })
                            .desired_width(160.0)
                            .text(format!("{done} of {total}")),
                        );
                    }
                    _ => {
                        ui.label("Loading…");
                    }
                }
            }
        });
        if let Some(err) = self.result.error() {
            ui.colored_label(ERROR, err);
        }
        if let Some(note) = self.result.shown().and_then(|p| p.note.as_deref()) {
            ui.colored_label(WARN, note);
        }
        if let Some(page) = self.result.shown()
            && let Some(matching) = page.beyond_limit
        {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(WARN, beyond_limit_text(page.rows.len(), matching));
                if ui
                    .button(format!("Export all {matching} orders…"))
                    .on_hover_text("Write every order matching the filter to a file, page by page")
                    .clicked()
                {
                    actions.push(Action::ExportAll);
                }
            });
        }
    }

    fn summary_ui(&self, ui: &mut egui::Ui) {
        let Some(page) = self.result.shown() else {
            return;
        };
        let shown = self.view.indices.len();
        let sum = self
            .view
            .sum
            .map_or_else(|| "too large to add up".to_owned(), |s| s.to_string());
        let mut text = format!(
            "{shown} of {} loaded orders shown · sum of amounts {sum} · {} invalid signature{}",
            page.rows.len(),
            self.view.invalid,
            if self.view.invalid == 1 { "" } else { "s" }
        );
        // The rows a menu would act on: a selected row a local filter hides is not one.
        let selected = self.selection().len();
        if selected > 1 {
            let _ = write!(text, " · {selected} selected");
        }
        if let Some(scope) = self.sort_scope() {
            text.push_str(" · ");
            text.push_str(scope);
        }
        if self.view.invalid > 0 {
            ui.label(RichText::new(text).color(ERROR));
        } else {
            ui.label(text);
        }
    }

    fn table_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &ConsoleContext,
        details_open: &mut bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(page) = self.result.shown() else {
            return;
        };
        let tz = &cx.tz.zone();
        // Formatted as drawn (only the visible rows), so a new zone shows at once.
        let time = |t: Option<i64>| t.map(|t| format_secs(t, tz)).unwrap_or_default();
        let zone = zone_short(tz, jiff::Timestamp::now());
        let (created, updated) = (format!("Created ({zone})"), format!("Updated ({zone})"));
        let kind = self.kind;
        let deposit = kind == OrderKind::Deposit;
        let mut columns: Vec<(&str, SortKey, f32)> = vec![
            (&created, SortKey::Created, 126.0),
            (&updated, SortKey::Updated, 126.0),
            ("System ID", SortKey::SystemId, 92.0),
            ("Merchant ID", SortKey::MerchantId, 150.0),
        ];
        if deposit {
            columns.push(("Depositor", SortKey::Depositor, 76.0));
        }
        columns.extend([
            ("Amount", SortKey::Amount, 84.0),
            ("Real amount", SortKey::Real, 84.0),
            ("Fee", SortKey::Fee, 58.0),
            ("Status", SortKey::Status, 74.0),
            ("Channel", SortKey::Channel, 92.0),
            ("Memo", SortKey::Memo, 70.0),
            ("Signature", SortKey::Signature, 72.0),
        ]);
        let sort_hover = if page.all_pages {
            "Sort every loaded order"
        } else {
            "Sort the orders of this page only (Load all pages to sort every matching order)"
        };
        let mut sort_clicked = None;
        let mut row_clicked = None;
        let mut menu_row = None;
        // A click anywhere on a row selects it; selectable text would take the click.
        ui.style_mut().interaction.selectable_labels = false;
        // Narrow windows scroll sideways instead of cutting columns off.
        // Down to the panel's foot: a sideways bar hugging a short table lay over its last
        // row, and a click meant for the row dragged the bar.
        egui::ScrollArea::horizontal()
            .id_salt(("orders_hscroll", self.kind))
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let mut table = TableBuilder::new(ui)
                    .id_salt(("orders_table", self.kind))
                    .striped(true)
                    .resizable(true)
                    .sense(Sense::click())
                    .cell_layout(Layout::left_to_right(Align::Center))
                    .min_scrolled_height(0.0);
                for (i, (_, _, width)) in columns.iter().enumerate() {
                    let c = Column::initial(*width).at_least(40.0).clip(true);
                    table = table.column(if i + 1 == columns.len() {
                        c.resizable(false)
                    } else {
                        c
                    });
                }
                let sort = self.sort;
                let marked = &self.marked;
                let selected = self.selected;
                let view = &self.view.indices;
                table
                    .header(22.0, |mut header| {
                        for (label, key, _) in &columns {
                            header.col(|ui| {
                                if ui
                                    .button(RichText::new(*label).strong())
                                    .on_hover_text(sort_hover)
                                    .clicked()
                                {
                                    sort_clicked = Some(*key);
                                }
                                // The arrows exist in the monospace font (Hack) only.
                                let arrow = match sort {
                                    Some((k, true)) if k == *key => "↑",
                                    Some((k, false)) if k == *key => "↓",
                                    _ => "",
                                };
                                if !arrow.is_empty() {
                                    ui.label(RichText::new(arrow).monospace());
                                }
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(20.0, view.len(), |mut row| {
                            let index = view[row.index()];
                            let r = &page.rows[index];
                            row.set_selected(selected == Some(index) || marked.contains(&index));
                            row.col(|ui| {
                                ui.label(time(r.created()));
                            });
                            row.col(|ui| {
                                ui.label(time(r.updated()));
                            });
                            row.col(|ui| {
                                received(ui, r.system_id(), true);
                            });
                            row.col(|ui| {
                                received(ui, r.merchant_id(), true);
                            });
                            if deposit {
                                row.col(|ui| {
                                    received(ui, r.depositor().unwrap_or(""), false);
                                });
                            }
                            for fen in [r.amount(), r.real_amount(), r.fee()] {
                                row.col(|ui| {
                                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                        ui.label(RichText::new(yuan(fen)).monospace())
                                    });
                                });
                            }
                            let status = r.status(kind);
                            row.col(|ui| widgets::status_chip(ui, status, &status.label()));
                            row.col(|ui| {
                                received(ui, &r.channel, false);
                            });
                            row.col(|ui| {
                                received(ui, &r.memo, false);
                            });
                            row.col(|ui| widgets::verdict_badge(ui, r.signature.verdict()));
                            let response = row.response();
                            if response.clicked() {
                                row_clicked = Some(index);
                            }
                            if response.secondary_clicked() || response.context_menu_opened() {
                                menu_row = Some((index, response));
                            }
                        });
                    });
            });
        if let Some(key) = sort_clicked {
            self.sort = match self.sort {
                Some((k, asc)) if k == key => Some((key, !asc)),
                _ => Some((key, true)),
            };
            self.rebuild_view();
        }
        if let Some(i) = row_clicked {
            self.click_row(i, ui.input(|i| i.modifiers));
            *details_open = true;
        }
        if let Some((index, response)) = menu_row {
            response.context_menu(|ui| {
                if self.row_menu_ui(ui, index, actions) {
                    ui.close();
                }
            });
        }
    }

    /// The details side panel of the selected order.
    pub fn details_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &ConsoleContext,
        options: SignOptions,
        open: &mut bool,
    ) {
        let tz = cx.tz.zone();
        let tz_label = cx.tz.label();
        let mut to_workbench = None;
        let Some((order, explained)) = self.selected_explained() else {
            return;
        };
        ui.horizontal(|ui| {
            ui.heading("Order details");
            if ui.button("Close").clicked() {
                *open = false;
            }
        });
        ui.horizontal(|ui| {
            if ui
                .button("Copy as JSON")
                .on_hover_text("The order exactly as received, which the workbench verifies")
                .clicked()
            {
                ui.ctx().copy_text(order.text.to_string());
                feedback::success(ui.ctx(), "Copied the order as JSON");
            }
            if ui
                .button("Open in workbench")
                .on_hover_text("Check this order's signature in the signature workbench")
                .clicked()
            {
                to_workbench = Some(order.text.to_string());
            }
        });
        ui.separator();
        // Both ways: a narrow panel scrolls to a long value rather than cutting it off.
        egui::ScrollArea::both().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label("Signature");
                widgets::signature_badge(ui, &order.signature);
            });
            egui::Grid::new("details_ids")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for (label, value) in [
                        ("System order ID", &order.system_id),
                        ("Merchant order ID", &order.merchant_id),
                    ] {
                        ui.label(label);
                        ui.horizontal(|ui| received(ui, value, true));
                        if ui
                            .small_button("Copy")
                            .on_hover_text(format!("Copy the {}", label.to_lowercase()))
                            .clicked()
                        {
                            ui.ctx().copy_text(value.clone());
                            feedback::success(
                                ui.ctx(),
                                format!("Copied the {}", label.to_lowercase()),
                            );
                        }
                        ui.end_row();
                    }
                    for (label, secs) in [
                        ("Created", order.create_time_secs),
                        ("Updated", order.update_time_secs),
                    ] {
                        if let Some(t) = secs {
                            ui.label(label);
                            let shown = format!("{} ({tz_label})", format_secs(t, &tz));
                            // The UTC line beside another zone, not the same time twice.
                            ui.label(if tz == TimeZone::UTC {
                                shown
                            } else {
                                format!("{shown}\n{} UTC", format_secs(t, &TimeZone::UTC))
                            });
                            ui.label("");
                            ui.end_row();
                        }
                    }
                });
            ui.add_space(6.0);
            ui.label(RichText::new("Every field as received").strong());
            egui::Grid::new("details_raw")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for (key, value) in &order.raw() {
                        ui.label(RichText::new(key).monospace());
                        let text = match value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        ui.horizontal(|ui| received(ui, &text, true));
                        // One field as a JSON object, so what is copied reads as JSON again.
                        if ui
                            .small_button("Copy")
                            .on_hover_text(format!("Copy {key} as JSON"))
                            .clicked()
                        {
                            let one = serde_json::json!({ key.as_str(): value });
                            ui.ctx().copy_text(one.to_string());
                            feedback::success(ui.ctx(), format!("Copied {key} as JSON"));
                        }
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.label(RichText::new("Signed text (key masked)").strong());
            let canonical = match explained {
                Some(v) => v.canonical_masked.clone(),
                None => order.canonical_masked(options),
            };
            ui.add(egui::Label::new(RichText::new(shown(&canonical).0).monospace()).wrap());
            if let SignatureCheck::Checked(c) = order.signature {
                ui.label(c.verdict.describe());
            }
            if let Some(v) = explained {
                for (field, why) in &v.omitted {
                    ui.label(RichText::new(format!("left out: {field} — {}", why.reason())).weak());
                }
            }
        });
        if to_workbench.is_some() {
            self.to_workbench = to_workbench;
        }
    }
}

/// The line beside the pager once every page was read: "all" only when nothing was left out,
/// and the count check's outcome either way (a mismatch is explained in the note beneath).
pub(super) fn loaded_header(loaded: usize, total: u64, beyond_limit: Option<u64>) -> String {
    match beyond_limit {
        Some(matching) => format!("{loaded} of {matching} matching orders loaded"),
        None if loaded as u64 == total => {
            format!("all {loaded} matching orders loaded · the gateway's total {total} matches")
        }
        None => format!("{loaded} orders loaded · the gateway's total is {total}"),
    }
}

/// What the console says when it keeps fewer orders than match.
pub(super) fn beyond_limit_text(loaded: usize, matching: u64) -> String {
    format!(
        "{loaded} of {matching} orders loaded; the rest is beyond what the console keeps in \
         memory: export them instead"
    )
}

/// Yuan with separators, or `?` for an amount that cannot be read exactly.
fn yuan(fen: Option<Fen>) -> String {
    fen.map_or_else(|| "?".to_owned(), Fen::yuan_grouped)
}

/// A label and its controls kept on one line, so a wrapping bar breaks between groups, never
/// inside one: a group takes last frame's width, and a row without room for it starts a new one.
/// A text field inside one needs a `min_size`: it shrinks to the width it is given, so the
/// width remembered would shrink with it and never grow back.
fn group<R>(
    ui: &mut egui::Ui,
    salt: impl std::hash::Hash + std::fmt::Debug,
    enabled: bool,
    add: impl FnOnce(&mut egui::Ui) -> R,
) -> R {
    let id = egui::Id::unique(("filter_group", salt));
    let width = ui.data(|d| d.get_temp::<f32>(id)).unwrap_or(0.0);
    let size = egui::vec2(width, ui.spacing().interact_size.y);
    let r = ui.allocate_ui_with_layout(size, Layout::left_to_right(Align::Center), |ui| {
        ui.add_enabled_ui(enabled, add).inner
    });
    ui.data_mut(|d| d.insert_temp(id, r.response.rect.width()));
    r.inner
}
