//! What an operator does with the rows of an orders table: select several, open a row's menu
//! (right click, the menu key or Shift+F10), copy IDs or JSON, take an order to the workbench,
//! search by its merchant order ID; and the table's empty states, which say why nothing shows.

use eframe::egui;
use egui::{Key, Modifiers, RichText};
use paydesk::domain::text::shown;

use super::super::widgets::WARN;
use super::{Action, OrdersPanel};
use crate::console::context::TzChoice;
use crate::console::feedback;

/// What a flagged text's warning mark says on hover.
pub const FLAGGED: &str = "contains hidden or right-to-left characters, shown escaped";

/// Received text as the console shows it: escaped by the domain's rule, with a warning mark
/// before it when anything was escaped (first, so a clipped cell never hides the mark). The
/// full text shows on hover, for the columns that cut it off.
pub fn received(ui: &mut egui::Ui, text: &str, monospace: bool) -> egui::Response {
    let (text, flagged) = shown(text);
    if flagged {
        ui.label(RichText::new("!").strong().color(WARN))
            .on_hover_text(FLAGGED);
    }
    let rich = RichText::new(text.as_ref());
    let r = ui.label(if monospace { rich.monospace() } else { rich });
    if text.is_empty() {
        r
    } else {
        r.on_hover_text(text.as_ref())
    }
}

impl OrdersPanel {
    /// The local filters that narrow the loaded rows, as the operator knows them.
    pub fn local_filters(&self) -> Vec<String> {
        let mut on = Vec::new();
        if !self.quick_filter.trim().is_empty() {
            on.push(format!("quick filter “{}”", self.quick_filter.trim()));
        }
        if self.only_invalid {
            on.push("Only invalid signatures".to_owned());
        }
        on
    }

    /// The rows a local filter leaves shown, in the order shown; `None` when no local filter
    /// is on (every loaded row shows).
    pub fn shown_indices(&self) -> Option<Vec<usize>> {
        (!self.local_filters().is_empty()).then(|| self.view.indices.clone())
    }

    /// What the export dialog tells of a local filter: the rows shown are not the rows loaded,
    /// and the gateway knows nothing of it.
    pub fn export_note(&self) -> Option<String> {
        let shown = self.shown_indices()?.len();
        let loaded = self.result.shown().map_or(0, |p| p.rows.len());
        Some(format!(
            "{shown} of {loaded} loaded rows shown ({}): “The rows shown here” writes those {shown}; \
             “Every order matching the filter” asks the gateway, which knows nothing of it",
            self.local_filters().join(", ")
        ))
    }

    /// Turns the local filters off: every loaded row shows.
    pub fn show_all(&mut self) {
        self.quick_filter.clear();
        self.only_invalid = false;
        self.view_dirty = true;
    }

    /// An ID search looks for one order: a quick filter or a tick left from before would hide
    /// it, so they are turned off, and the operator is told.
    pub(super) fn id_search_clears_local_filters(&mut self, ctx: &egui::Context) {
        let by_id =
            !self.filter.system_id.trim().is_empty() || !self.filter.merchant_id.trim().is_empty();
        let on = self.local_filters();
        if by_id && !on.is_empty() {
            self.show_all();
            feedback::info(
                ctx,
                format!(
                    "ID search: turned off {} so the order shows",
                    on.join(" and ")
                ),
            );
        }
    }

    /// Keeps what the search about to run asks, so a later change of the filter is noticed.
    pub(super) fn note_search(&mut self, tz: TzChoice) {
        self.searched = Some((self.filter.clone(), tz));
    }

    /// Whether the filter (or the zone its dates are read in) changed since the rows shown
    /// were searched for.
    pub fn filter_changed(&self, tz: TzChoice) -> bool {
        self.result.shown().is_some()
            && self
                .searched
                .as_ref()
                // The zone reads the dates of a range: without one it changes nothing asked.
                .is_some_and(|(f, z)| *f != self.filter || (*z != tz && f.use_range))
    }

    /// The selected rows in the order the table shows them.
    pub fn selection(&self) -> Vec<usize> {
        if self.marked.is_empty() {
            return self.selected.into_iter().collect();
        }
        self.view
            .indices
            .iter()
            .copied()
            .filter(|i| self.marked.contains(i))
            .collect()
    }

    /// A click on a row: alone it selects the row, with Ctrl it adds or removes it, with
    /// Shift it selects every row shown between the last one clicked and this one.
    pub fn click_row(&mut self, index: usize, modifiers: Modifiers) {
        if modifiers.shift
            && let Some(anchor) = self.selected
        {
            let at = |i: usize| self.view.indices.iter().position(|x| *x == i);
            if let (Some(a), Some(b)) = (at(anchor), at(index)) {
                let (a, b) = (a.min(b), a.max(b));
                self.marked = self.view.indices[a..=b].iter().copied().collect();
                return;
            }
        }
        if modifiers.command {
            if self.marked.is_empty()
                && let Some(s) = self.selected
            {
                self.marked.insert(s);
            }
            if !self.marked.remove(&index) {
                self.marked.insert(index);
            }
        } else {
            self.marked.clear();
            self.marked.insert(index);
        }
        self.selected = Some(index);
    }

    /// Ctrl+A: every row shown.
    pub fn select_all(&mut self) {
        self.marked = self.view.indices.iter().copied().collect();
        if self.selected.is_none() {
            self.selected = self.view.indices.first().copied();
        }
    }

    /// The rows a menu acts on: the selection when the row is in it, else the row alone.
    fn acted_on(&self, index: usize) -> Vec<usize> {
        let selection = self.selection();
        if selection.contains(&index) {
            selection
        } else {
            vec![index]
        }
    }

    /// The orders' text exactly as received: one object, or several as a JSON array (which
    /// the workbench reads as well).
    pub fn rows_json(&self, rows: &[usize]) -> String {
        let Some(page) = self.result.shown() else {
            return String::new();
        };
        let texts: Vec<&str> = rows
            .iter()
            .filter_map(|i| page.rows.get(*i))
            .map(|r| &*r.text)
            .collect();
        match texts.as_slice() {
            [one] => (*one).to_owned(),
            many => format!("[\n{}\n]", many.join(",\n")),
        }
    }

    /// The rows the row menu's export writes: those it was asked for, not a selection made
    /// while the export dialog was open, and only while they are still the rows loaded (after
    /// another search their positions would name other orders).
    pub fn rows_to_export(&self) -> Result<Vec<usize>, String> {
        match (&self.export_rows, self.result.shown()) {
            (Some((rows, picked)), Some(page)) if std::sync::Arc::ptr_eq(rows, &page.rows) => {
                Ok(picked.clone())
            }
            _ => Err(
                "The loaded orders changed since the rows to export were chosen: choose them again"
                    .to_owned(),
            ),
        }
    }

    fn copy_ids(&self, ctx: &egui::Context, rows: &[usize]) {
        let Some(page) = self.result.shown() else {
            return;
        };
        let ids: Vec<&str> = rows
            .iter()
            .filter_map(|i| page.rows.get(*i))
            .map(super::Row::system_id)
            .collect();
        ctx.copy_text(ids.join("\n"));
        feedback::success(ctx, copied(ids.len(), "system order ID"));
    }

    fn copy_json(&self, ctx: &egui::Context, rows: &[usize]) {
        ctx.copy_text(self.rows_json(rows));
        feedback::success(ctx, copied(rows.len(), "order as JSON"));
    }

    /// The menu of row `index`; says whether an item was chosen, so the menu closes.
    pub(super) fn row_menu_ui(
        &mut self,
        ui: &mut egui::Ui,
        index: usize,
        actions: &mut Vec<Action>,
    ) -> bool {
        let mut chosen = false;
        let rows = self.acted_on(index);
        let several = rows.len() > 1;
        let n = rows.len();
        let ids = if several {
            format!("Copy {n} IDs")
        } else {
            "Copy ID".to_owned()
        };
        if ui.button(ids).clicked() {
            self.copy_ids(ui.ctx(), &rows);
            chosen = true;
        }
        let json = if several {
            format!("Copy {n} as JSON")
        } else {
            "Copy as JSON".to_owned()
        };
        if ui.button(json).clicked() {
            self.copy_json(ui.ctx(), &rows);
            chosen = true;
        }
        let one_text = self
            .result
            .shown()
            .and_then(|p| p.rows.get(index))
            .map(|r| (r.text.to_string(), r.merchant_id().to_owned()));
        if ui
            .add_enabled(!several, egui::Button::new("Open in workbench"))
            .on_disabled_hover_text("The workbench checks one order at a time: select one row")
            .clicked()
            && let Some((text, _)) = &one_text
        {
            actions.push(Action::OpenInWorkbench(text.clone()));
            chosen = true;
        }
        let merchant = one_text.map(|(_, m)| m).unwrap_or_default();
        if ui
            .add_enabled(
                !merchant.is_empty(),
                egui::Button::new("Search this merchant order ID"),
            )
            .on_disabled_hover_text("This order has no merchant order ID")
            .clicked()
        {
            self.search_merchant_id(ui.ctx(), &merchant, actions);
            chosen = true;
        }
        let export = if several {
            format!("Export {n} selected…")
        } else {
            "Export this order…".to_owned()
        };
        if ui
            .button(export)
            .on_hover_text("Write these orders to CSV, XLSX or JSON Lines")
            .clicked()
        {
            self.marked = rows.iter().copied().collect();
            self.export_selection = true;
            self.export_rows = self
                .result
                .shown()
                .map(|p| (std::sync::Arc::clone(&p.rows), rows.clone()));
            actions.push(Action::ExportSelection);
            chosen = true;
        }
        chosen
    }

    /// A new search for one merchant order ID over every date, with the local filters off so
    /// nothing hides what it finds.
    fn search_merchant_id(&mut self, ctx: &egui::Context, id: &str, actions: &mut Vec<Action>) {
        id.clone_into(&mut self.filter.merchant_id);
        self.filter.system_id.clear();
        self.filter.use_range = false;
        self.show_all();
        self.page = 0;
        actions.push(Action::Search);
        feedback::info(
            ctx,
            format!("Searching every date for merchant order ID {}", shown(id).0),
        );
    }

    /// Keyboard: Ctrl+A selects every row shown; the menu key or Shift+F10 opens the selected
    /// row's menu, drawn as a small window since no pointer says where.
    pub(super) fn keyboard_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let typing = ui.memory(|m| m.focused().is_some());
        if !typing && ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::A)) {
            self.select_all();
        }
        let menu_key = ui.input_mut(|i| {
            i.consume_key(Modifiers::NONE, Key::Menu) || i.consume_key(Modifiers::SHIFT, Key::F10)
        });
        if menu_key && let Some(s) = self.selected {
            self.keyboard_menu = Some(s);
        }
        let Some(index) = self.keyboard_menu else {
            return;
        };
        let mut open = true;
        let mut acted = false;
        egui::Window::new("Row actions")
            .id(egui::Id::unique(("row_actions", self.kind)))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ui.ctx(), |ui| {
                acted = self.row_menu_ui(ui, index, actions);
            });
        if !open || acted || ui.input(|i| i.key_pressed(Key::Escape)) {
            self.keyboard_menu = None;
        }
    }

    /// What the table says instead of rows: nothing searched yet, nothing found, or every
    /// loaded row hidden by a local filter (with the way back). `None` when rows show.
    pub(super) fn empty_state_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) -> bool {
        let Some(page) = self.result.shown() else {
            if !self.result.is_pending() && self.result.error().is_none() {
                ui.label(RichText::new("No search yet: set the filter and press Search").weak());
                return true;
            }
            return false;
        };
        let loaded = page.rows.len();
        if loaded == 0 {
            ui.label(RichText::new("No orders match this filter").strong());
            self.range_hides_id_ui(ui, actions);
            return true;
        }
        if !self.view.indices.is_empty() {
            return false;
        }
        let hidden_by = self.local_filters().join(", ");
        let mut show_all = false;
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(
                WARN,
                format!(
                    "{loaded} order{} loaded, hidden by: {hidden_by} —",
                    if loaded == 1 { "" } else { "s" }
                ),
            );
            show_all = ui.button("Show all").clicked();
        });
        if show_all {
            self.show_all();
        }
        true
    }

    /// An ID looked for inside a date range finds nothing when the order is older: the
    /// range is easy to forget once ticked, so the empty table says it applied, with the
    /// way to look at every date.
    fn range_hides_id_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let searched = self.searched.as_ref().map_or(&self.filter, |(f, _)| f);
        let by_id =
            !searched.system_id.trim().is_empty() || !searched.merchant_id.trim().is_empty();
        if !(by_id && searched.use_range) {
            return;
        }
        let (from, to) = (searched.from_date, searched.to_date);
        let mut every_date = false;
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(
                WARN,
                format!("The ID was looked for only from {from} to {to} (Date range is ticked) —"),
            );
            every_date = ui.button("Search every date").clicked();
        });
        if every_date {
            self.filter.use_range = false;
            self.page = 0;
            actions.push(Action::Search);
        }
    }

    /// Whether sorting covers every matching order or only the page shown, in words.
    pub(super) fn sort_scope(&self) -> Option<&'static str> {
        self.sort?;
        let page = self.result.shown()?;
        Some(if page.all_pages {
            "sorted over every loaded order"
        } else {
            "sorted within this page only: Load all pages to sort every matching order"
        })
    }
}

/// "Copied 3 system order IDs".
fn copied(n: usize, what: &str) -> String {
    if n == 1 {
        format!("Copied 1 {what}")
    } else if let Some(rest) = what.strip_prefix("order ") {
        format!("Copied {n} orders {rest}")
    } else {
        format!("Copied {n} {what}s")
    }
}
