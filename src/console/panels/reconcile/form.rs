//! The inputs of a reconciliation as the operator fills them: what is reconciled, the days,
//! the ledger file and which of its columns holds what. The rules of a mapping are the
//! domain's (`Mapping::check`); this only turns the form into one.

use eframe::egui;
use egui::RichText;
use egui_extras::DatePickerButton;
use jiff::civil::Date;
use paydesk::domain::dates::Shortcut;
use paydesk::domain::export::AmountUnit;
use paydesk::domain::reconcile::{CompareWith, Mapping};
use paydesk::gateway::cny::wire::OrderKind;

use crate::console::context::ConsoleContext;
use crate::console::panels::orders::received;
use crate::console::panels::widgets::{self, field_label};

use super::{Action, ReconcilePanel};

/// The ledger file opened: its name, where the console keeps its copy, its header row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerFile {
    pub name: String,
    pub path: std::path::PathBuf,
    pub headers: Vec<String>,
    pub bytes: u64,
}

/// The mapping as edited: a header per field (empty: not chosen), the word lists as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingForm {
    pub order_id: String,
    pub amount: String,
    pub status: String,
    pub time: String,
    /// Empty: the ledger has no fee column.
    pub fee: String,
    pub unit: AmountUnit,
    pub compare_with: CompareWith,
    pub credited: String,
    pub not_credited: String,
    pub pending: String,
}

impl Default for MappingForm {
    fn default() -> Self {
        MappingForm::from_mapping(&Mapping::new("", "", "", ""))
    }
}

/// The fields an operator maps, with the label each combo box is found by.
const FIELDS: [&str; 5] = [
    "Merchant order ID column",
    "Amount column",
    "Status column",
    "Time column",
    "Fee column",
];

impl MappingForm {
    pub fn from_mapping(m: &Mapping) -> MappingForm {
        MappingForm {
            order_id: m.order_id.clone(),
            amount: m.amount.clone(),
            status: m.status.clone(),
            time: m.time.clone(),
            fee: m.fee.clone().unwrap_or_default(),
            unit: m.unit,
            compare_with: m.compare_with,
            credited: m.credited.join("|"),
            not_credited: m.not_credited.join("|"),
            pending: m.pending.join("|"),
        }
    }

    /// The mapping the form describes (not yet checked against the file).
    pub fn mapping(&self) -> Mapping {
        let words = |t: &str| {
            t.split('|')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let fee = self.fee.trim();
        Mapping {
            order_id: self.order_id.trim().to_owned(),
            amount: self.amount.trim().to_owned(),
            status: self.status.trim().to_owned(),
            time: self.time.trim().to_owned(),
            fee: (!fee.is_empty()).then(|| fee.to_owned()),
            unit: self.unit,
            compare_with: self.compare_with,
            credited: words(&self.credited),
            not_credited: words(&self.not_credited),
            pending: words(&self.pending),
        }
    }

    /// Why the form cannot run against `headers`, in the domain's words; `None` when it can.
    pub fn problem(&self, headers: &[String]) -> Option<String> {
        let missing: Vec<&str> = [
            (&self.order_id, FIELDS[0]),
            (&self.amount, FIELDS[1]),
            (&self.status, FIELDS[2]),
            (&self.time, FIELDS[3]),
        ]
        .iter()
        .filter(|(v, _)| v.trim().is_empty())
        .map(|(_, l)| *l)
        .collect();
        if !missing.is_empty() {
            return Some(format!("Choose the {}", missing.join(", ").to_lowercase()));
        }
        self.mapping().check(headers).err()
    }

    fn field(&mut self, i: usize) -> &mut String {
        match i {
            0 => &mut self.order_id,
            1 => &mut self.amount,
            2 => &mut self.status,
            3 => &mut self.time,
            _ => &mut self.fee,
        }
    }
}

pub(super) fn kind_label(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Deposit => "Deposits",
        OrderKind::Payout => "Payouts",
    }
}

impl ReconcilePanel {
    /// What, when, which file, which columns: everything asked before a run.
    pub(super) fn inputs_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &ConsoleContext,
        actions: &mut Vec<Action>,
    ) {
        let busy = self.is_running();
        ui.add_enabled_ui(!busy, |ui| {
            ui.horizontal_wrapped(|ui| {
                let id = field_label(ui, "Reconcile");
                let before = self.kind;
                egui::ComboBox::from_id_salt("reconcile_kind")
                    .selected_text(kind_label(self.kind))
                    .show_ui(ui, |ui| {
                        for kind in [OrderKind::Deposit, OrderKind::Payout] {
                            ui.selectable_value(&mut self.kind, kind, kind_label(kind));
                        }
                    })
                    .response
                    .labelled_by(id);
                if self.kind != before && self.ledger.is_some() {
                    actions.push(Action::LoadMapping(self.kind));
                }
                let id = field_label(ui, "From");
                ui.add(
                    DatePickerButton::new(&mut self.from_date)
                        .show_icon(false)
                        .id_salt("reconcile_from"),
                )
                .labelled_by(id);
                let id = field_label(ui, "To");
                ui.add(
                    DatePickerButton::new(&mut self.to_date)
                        .show_icon(false)
                        .id_salt("reconcile_to"),
                )
                .labelled_by(id);
                for shortcut in Shortcut::ALL {
                    if ui
                        .small_button(shortcut.label())
                        .on_hover_text(format!("{} in {}", shortcut.label(), cx.tz.label()))
                        .clicked()
                    {
                        let days: (Date, Date) =
                            shortcut.days_at(jiff::Timestamp::now(), &cx.tz.zone());
                        (self.from_date, self.to_date) = days;
                    }
                }
            });
            ui.label(
                RichText::new(format!(
                    "Whole days in {}: from the first day's 00:00:00 to the last day's 23:59:59",
                    cx.tz.label()
                ))
                .weak(),
            );
            ui.horizontal_wrapped(|ui| {
                let opening = self.opening.is_some();
                if ui
                    .add_enabled(!opening, egui::Button::new("Open ledger…"))
                    .on_hover_text("The merchant's own ledger for these days, CSV or XLSX")
                    .clicked()
                {
                    actions.push(Action::OpenLedger);
                }
                if opening {
                    ui.spinner();
                    ui.label("Reading the ledger's header row…");
                }
                match &self.ledger {
                    Some(file) => {
                        field_label(ui, "Ledger file");
                        received(ui, &file.name, true);
                        ui.label(
                            RichText::new(format!(
                                "{} columns, {} bytes",
                                file.headers.len(),
                                file.bytes
                            ))
                            .weak(),
                        );
                    }
                    None if !opening => {
                        ui.label(RichText::new("No ledger file opened yet").weak());
                    }
                    None => {}
                }
            });
            if let Some(e) = &self.open_error {
                ui.colored_label(widgets::error(ui), e);
            }
            if let Some(file) = &self.ledger {
                let headers = file.headers.clone();
                self.mapping_ui(ui, &headers);
            }
        });
    }

    fn mapping_ui(&mut self, ui: &mut egui::Ui, headers: &[String]) {
        ui.separator();
        ui.label(RichText::new("Column mapping").strong());
        if let Some(note) = &self.mapping_note {
            ui.label(RichText::new(note).color(widgets::warn(ui)));
        }
        egui::Grid::new("reconcile_mapping")
            .num_columns(2)
            .spacing([12.0, 4.0])
            .show(ui, |ui| {
                for (i, label) in FIELDS.iter().enumerate() {
                    let id = field_label(ui, label);
                    let optional = i == 4;
                    let value = self.form.field(i);
                    let shown = if value.is_empty() {
                        if optional {
                            "— none —"
                        } else {
                            "— choose —"
                        }
                        .to_owned()
                    } else {
                        value.clone()
                    };
                    egui::ComboBox::from_id_salt(("reconcile_field", i))
                        .selected_text(shown)
                        .width(220.0)
                        .show_ui(ui, |ui| {
                            if optional {
                                ui.selectable_value(value, String::new(), "— none —");
                            }
                            for h in headers.iter().filter(|h| !h.trim().is_empty()) {
                                ui.selectable_value(value, h.trim().to_owned(), h.trim());
                            }
                        })
                        .response
                        .labelled_by(id);
                    ui.end_row();
                }
                let id = field_label(ui, "Amounts in");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut self.form.unit, AmountUnit::Yuan, "yuan (12.34)")
                        .labelled_by(id);
                    ui.radio_value(&mut self.form.unit, AmountUnit::Fen, "fen (1234)")
                        .labelled_by(id);
                });
                ui.end_row();
                let id = field_label(ui, "Compare with");
                ui.horizontal(|ui| {
                    ui.radio_value(
                        &mut self.form.compare_with,
                        CompareWith::Amount,
                        "amount (what was asked)",
                    )
                    .labelled_by(id);
                    ui.radio_value(
                        &mut self.form.compare_with,
                        CompareWith::RealAmount,
                        "real_amount (what arrived)",
                    )
                    .labelled_by(id);
                });
                ui.end_row();
                for (label, text) in [
                    ("Credited words", &mut self.form.credited),
                    ("Not credited words", &mut self.form.not_credited),
                    ("Pending words", &mut self.form.pending),
                ] {
                    let id = field_label(ui, label);
                    ui.add(egui::TextEdit::singleline(text).desired_width(360.0))
                        .labelled_by(id)
                        .on_hover_text("Status values separated by |, matched in any case");
                    ui.end_row();
                }
            });
        if let Some(problem) = self.form.problem(headers) {
            ui.colored_label(widgets::error(ui), format!("Mapping: {problem}"));
        }
    }
}
