//! GatePay batch payouts: the batch detail panel (status filter buttons, header, totals per
//! status and currency, sub-orders with stuck ones flagged, refresh on demand or every N
//! seconds while the batch is not final) and the batch creation form (a few rows typed, or a
//! CSV/XLSX file), reviewed with totals per currency before it is sent through the journal.

use eframe::egui;
use egui::{Align, Color32, Layout, RichText, Sense};
use egui_extras::{Column, TableBuilder};
use jiff::tz::TimeZone;
use paydesk::domain::batches::{
    BatchEntry, DEFAULT_STUCK_MINUTES, StatusTotal, currency_totals, describe_totals, is_stuck,
    new_batch_id, status_totals, stuck_for,
};
use paydesk::domain::bulk::RowError;
use paydesk::domain::dates::format_ms;
use paydesk::domain::journal::State;
use paydesk::gateway::gatepay::wire::{
    BatchDetail, BatchRequest, DetailStatus, SubOrder, WithdrawItem,
};
use paydesk::money::CryptoAmount;

use crate::console::context::ConsoleContext;
use paydesk::domain::duplicates::Confirmation;

use super::payouts::HeldReview;
use super::widgets::{ERROR, WARN, chip, field_label, journal_state_color};

/// How many batch IDs the picker remembers.
const RECENT_LIMIT: usize = 20;

pub fn gatepay_status_color(status: &str) -> Color32 {
    match status {
        "DONE" | "SUCCESS" => Color32::from_rgb(46, 140, 80),
        "FAIL" => Color32::from_rgb(190, 50, 50),
        "PARTIAL" => Color32::from_rgb(200, 130, 20),
        "INIT" => Color32::from_rgb(120, 120, 120),
        _ => Color32::from_rgb(60, 110, 180),
    }
}

fn status_chip(ui: &mut egui::Ui, status: &str, meaning: &str) {
    chip(ui, status, gatepay_status_color(status)).on_hover_text(meaning);
}

fn amount(a: Option<CryptoAmount>) -> String {
    a.map_or_else(|| "unreadable".to_owned(), |a| a.to_string())
}

/// A sub-order as the table shows it.
/// What the batch panel asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum BatchAction {
    /// Read the batch with its status filter.
    Load,
    /// Open the export dialog for the batch's sub-orders.
    Export,
}

/// What the new batch form and the list of sent batches ask of the app.
#[derive(Debug)]
pub enum NewBatchAction {
    /// Pick a file of sub-orders in the dialog.
    OpenFile,
    /// Look for likely duplicates of a batch under review.
    CheckDuplicates(Box<BatchRequest>),
    Submit(Box<BatchRequest>, Confirmation),
    /// Show a batch in the batch panel.
    Show(String),
    Retry(String),
}

pub struct SubRow {
    pub sub: SubOrder,
    pub created: String,
    pub updated: String,
    pub finished: String,
    pub stuck: Option<String>,
}

/// The batch detail panel.
pub struct BatchPanel {
    pub batch_id: String,
    pub filter: DetailStatus,
    pub detail: Option<BatchDetail>,
    pub rows: Vec<SubRow>,
    pub totals: Vec<StatusTotal>,
    pub loaded_at_ms: i64,
    pub loading: bool,
    pub error: Option<String>,
    pub clock_warning: Option<String>,
    pub generation: u64,
    pub auto_refresh: bool,
    pub refresh_secs: u32,
    pub stuck_minutes: i64,
    pub only_stuck: bool,
    pub last_refresh: Option<std::time::Instant>,
    /// Batch IDs looked at, newest first (never a secret).
    pub recent: Vec<String>,
    /// Batches sent from this machine (the journal).
    pub sent: Vec<BatchEntry>,
    pub copied: Option<String>,
}

impl Default for BatchPanel {
    fn default() -> Self {
        BatchPanel {
            batch_id: String::new(),
            filter: DetailStatus::All,
            detail: None,
            rows: Vec::new(),
            totals: Vec::new(),
            loaded_at_ms: 0,
            loading: false,
            error: None,
            clock_warning: None,
            generation: 0,
            auto_refresh: true,
            refresh_secs: 15,
            stuck_minutes: DEFAULT_STUCK_MINUTES,
            only_stuck: false,
            last_refresh: None,
            recent: Vec::new(),
            sent: Vec::new(),
            copied: None,
        }
    }
}

impl BatchPanel {
    pub fn begin(&mut self) -> u64 {
        self.generation += 1;
        self.loading = true;
        self.error = None;
        self.last_refresh = Some(std::time::Instant::now());
        self.generation
    }

    pub fn receive(
        &mut self,
        generation: u64,
        result: Result<(BatchDetail, Option<String>), String>,
        now_ms: i64,
        tz: &TimeZone,
    ) {
        if generation != self.generation {
            return;
        }
        self.loading = false;
        match result {
            Ok((detail, warning)) => {
                self.clock_warning = warning;
                self.remember(&detail.batch_id);
                self.loaded_at_ms = now_ms;
                self.detail = Some(detail);
                self.rebuild(tz);
            }
            // The previous results stay on screen beside the error.
            Err(e) => self.error = Some(e),
        }
    }

    /// Recomputes rows, times and stuck flags (after a load, or a threshold change).
    pub fn rebuild(&mut self, tz: &TimeZone) {
        let Some(detail) = &self.detail else {
            return;
        };
        let threshold = self.stuck_minutes.max(1) * 60_000;
        let now = self.loaded_at_ms;
        let time = |t: Option<i64>| t.map(|t| format_ms(t, tz)).unwrap_or_default();
        self.rows = detail
            .withdraw_list
            .iter()
            .map(|s| SubRow {
                created: time(s.create_time_ms),
                updated: time(s.update_time_ms),
                finished: time(s.finish_time_ms),
                stuck: is_stuck(s, now, threshold).then(|| stuck_for(s, now)),
                sub: s.clone(),
            })
            .collect();
        self.totals = status_totals(&detail.withdraw_list);
    }

    fn remember(&mut self, batch_id: &str) {
        if batch_id.is_empty() {
            return;
        }
        self.recent.retain(|b| b != batch_id);
        self.recent.insert(0, batch_id.to_owned());
        self.recent.truncate(RECENT_LIMIT);
    }

    /// Whether an automatic refresh is due: on, not loading, the batch not final.
    pub fn refresh_due(&self) -> bool {
        self.auto_refresh
            && !self.loading
            && self.detail.as_ref().is_some_and(|d| !d.status.is_final())
            && self
                .last_refresh
                .is_some_and(|t| t.elapsed().as_secs() >= u64::from(self.refresh_secs.max(5)))
    }

    pub fn stuck_count(&self) -> usize {
        self.rows.iter().filter(|r| r.stuck.is_some()).count()
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<BatchAction> {
        let (tz, tz_name) = (&cx.tz.zone(), cx.tz.label());
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            let label = field_label(ui, "Batch ID");
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.batch_id).desired_width(220.0))
                .labelled_by(label);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                actions.push(BatchAction::Load);
            }
            let mut picked = None;
            egui::ComboBox::from_id_salt("recent_batches")
                .selected_text("Recent batches")
                .width(160.0)
                .show_ui(ui, |ui| {
                    for e in &self.sent {
                        let text = format!("{} · sent · {}", e.batch_id, e.state.as_str());
                        if ui.selectable_label(false, text).clicked() {
                            picked = Some(e.batch_id.clone());
                        }
                    }
                    for b in &self.recent {
                        if self.sent.iter().any(|e| &e.batch_id == b) {
                            continue;
                        }
                        if ui.selectable_label(false, b).clicked() {
                            picked = Some(b.clone());
                        }
                    }
                    if self.sent.is_empty() && self.recent.is_empty() {
                        ui.label("No batches yet");
                    }
                });
            if let Some(b) = picked {
                self.batch_id = b;
                actions.push(BatchAction::Load);
            }
            if ui
                .add_enabled(
                    !self.batch_id.trim().is_empty(),
                    egui::Button::new("Refresh"),
                )
                .clicked()
            {
                actions.push(BatchAction::Load);
            }
            if self.loading {
                ui.spinner();
            }
            ui.separator();
            ui.checkbox(&mut self.auto_refresh, "Refresh every");
            ui.add(
                egui::DragValue::new(&mut self.refresh_secs)
                    .range(5..=600)
                    .suffix(" s"),
            );
            ui.label("while not final");
            ui.separator();
            let label = field_label(ui, "Stuck after");
            let r = ui
                .add(
                    egui::DragValue::new(&mut self.stuck_minutes)
                        .range(1..=10_080)
                        .suffix(" min"),
                )
                .labelled_by(label);
            if r.changed() {
                self.rebuild(tz);
            }
        });
        ui.horizontal(|ui| {
            ui.label("Sub-orders:");
            for status in DetailStatus::ALL_VALUES {
                let text = match status {
                    DetailStatus::All => "All",
                    DetailStatus::Init => "Init",
                    DetailStatus::Pending => "Pending",
                    DetailStatus::Processing => "Processing",
                    DetailStatus::Check => "Check",
                    DetailStatus::Fail => "Fail",
                    DetailStatus::Done => "Done",
                };
                if ui.selectable_label(self.filter == status, text).clicked()
                    && self.filter != status
                {
                    self.filter = status;
                    if !self.batch_id.trim().is_empty() {
                        actions.push(BatchAction::Load);
                    }
                }
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ERROR, e);
        }
        if let Some(w) = &self.clock_warning {
            ui.colored_label(WARN, format!("Clock: {w}"));
        }
        let Some(detail) = &self.detail else {
            ui.add_space(8.0);
            ui.label(
                "Type a batch ID (or pick a recent one) and press Enter. On the sandbox, try M57143269144.",
            );
            return actions;
        };
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Batch {}", detail.batch_id)).strong());
            status_chip(ui, detail.status.as_str(), detail.status.meaning());
            ui.label(detail.status.meaning());
            ui.separator();
            ui.label(format!("merchant {}", detail.merchant_id));
            ui.label(format!("client {}", detail.client_id));
            if let Some(t) = detail.create_time_ms {
                ui.label(format!("created {} ({tz_name})", format_ms(t, tz)));
            }
            let channel = if detail.channel_id.is_empty() {
                "default"
            } else {
                &detail.channel_id
            };
            ui.label(format!("channel {channel}"));
            ui.separator();
            ui.label(format!(
                "{} sub-order(s) in {}",
                detail.withdraw_list.len(),
                self.filter.as_str()
            ));
            if ui.button("Export…").on_hover_text("Ctrl+E").clicked() {
                actions.push(BatchAction::Export);
            }
        });
        self.totals_ui(ui);
        let stuck = self.stuck_count();
        if stuck > 0 {
            ui.horizontal(|ui| {
                ui.colored_label(
                    WARN,
                    format!(
                        "{stuck} sub-order(s) stuck: in CHECK or PROCESSING for more than {} min",
                        self.stuck_minutes
                    ),
                );
                ui.checkbox(&mut self.only_stuck, "Only stuck");
            });
        } else {
            self.only_stuck = false;
        }
        if let Some(c) = &self.copied {
            ui.label(RichText::new(format!("Copied {c}")).weak());
        }
        self.table_ui(ui);
        actions
    }

    fn totals_ui(&self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new("Totals per status and currency")
            .default_open(true)
            .show(ui, |ui| {
                egui::Grid::new("batch_totals")
                    .striped(true)
                    .num_columns(6)
                    .show(ui, |ui| {
                        for h in [
                            "Status",
                            "Currency",
                            "Count",
                            "Amount",
                            "Fee",
                            "Done amount",
                        ] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for t in &self.totals {
                            status_chip(ui, t.status.as_str(), t.status.meaning());
                            ui.label(&t.currency);
                            ui.label(t.count.to_string());
                            for a in [t.amount, t.fee, t.done_amount] {
                                ui.label(RichText::new(a.to_string()).monospace());
                            }
                            if t.unreadable > 0 {
                                ui.colored_label(
                                    ERROR,
                                    format!("{} with unreadable amounts", t.unreadable),
                                );
                            }
                            ui.end_row();
                        }
                    });
            });
    }

    fn table_ui(&mut self, ui: &mut egui::Ui) {
        let view: Vec<usize> = (0..self.rows.len())
            .filter(|i| !self.only_stuck || self.rows[*i].stuck.is_some())
            .collect();
        let columns: [(&str, f32); 14] = [
            ("Merchant withdraw ID", 130.0),
            ("Sub-order ID", 130.0),
            ("Currency", 60.0),
            ("Chain", 50.0),
            ("Address", 220.0),
            ("Amount", 90.0),
            ("Fee", 60.0),
            ("Done amount", 90.0),
            ("Status", 110.0),
            ("Tx ID", 140.0),
            ("Error", 160.0),
            ("Created", 126.0),
            ("Updated", 126.0),
            ("Finished", 126.0),
        ];
        let mut copy = None;
        ui.style_mut().interaction.selectable_labels = false;
        egui::ScrollArea::horizontal()
            .id_salt("batch_hscroll")
            .show(ui, |ui| {
                let mut table = TableBuilder::new(ui)
                    .id_salt("batch_table")
                    .striped(true)
                    .resizable(true)
                    .sense(Sense::click())
                    .cell_layout(Layout::left_to_right(Align::Center))
                    .min_scrolled_height(0.0);
                for (_, width) in columns {
                    table = table.column(Column::initial(width).at_least(40.0).clip(true));
                }
                table
                    .header(22.0, |mut header| {
                        for (label, _) in columns {
                            header.col(|ui| {
                                ui.label(RichText::new(label).strong());
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(20.0, view.len(), |mut row| {
                            let r = &self.rows[view[row.index()]];
                            let s = &r.sub;
                            row.col(|ui| {
                                ui.label(RichText::new(&s.merchant_withdraw_id).monospace());
                            });
                            row.col(|ui| {
                                ui.label(RichText::new(&s.suborder_id).monospace());
                            });
                            row.col(|ui| {
                                ui.label(&s.currency);
                            });
                            row.col(|ui| {
                                ui.label(&s.chain);
                            });
                            row.col(|ui| {
                                if ui
                                    .add(
                                        egui::Label::new(RichText::new(&s.address).monospace())
                                            .sense(Sense::click()),
                                    )
                                    .on_hover_text("Click to copy the address")
                                    .clicked()
                                {
                                    copy = Some(s.address.clone());
                                }
                            });
                            for a in [s.amount, s.fee, s.done_amount] {
                                row.col(|ui| {
                                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                        ui.label(RichText::new(amount(a)).monospace())
                                    });
                                });
                            }
                            row.col(|ui| {
                                status_chip(ui, s.status.as_str(), s.status.meaning());
                                if let Some(d) = &r.stuck {
                                    chip(ui, "STUCK", WARN)
                                        .on_hover_text(format!("in {} for {d}", s.status));
                                }
                            });
                            row.col(|ui| {
                                if ui
                                    .add(
                                        egui::Label::new(RichText::new(&s.tx_id).monospace())
                                            .sense(Sense::click()),
                                    )
                                    .clicked()
                                    && !s.tx_id.is_empty()
                                {
                                    copy = Some(s.tx_id.clone());
                                }
                            });
                            row.col(|ui| {
                                if !s.err_msg.is_empty() {
                                    ui.colored_label(ERROR, &s.err_msg);
                                }
                            });
                            for t in [&r.created, &r.updated, &r.finished] {
                                row.col(|ui| {
                                    ui.label(t);
                                });
                            }
                        });
                    });
            });
        if let Some(text) = copy {
            ui.ctx().copy_text(text.clone());
            self.copied = Some(text);
        }
    }
}

/// One sub-order being typed.
#[derive(Clone, Debug, Default)]
pub struct ItemForm {
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub amount: String,
    pub chain: String,
    pub address: String,
    pub memo: String,
    pub fee_from_balance: bool,
}

impl ItemForm {
    fn blank(n: usize) -> ItemForm {
        ItemForm {
            merchant_withdraw_id: format!("w{}_{n}", jiff::Timestamp::now().as_second()),
            currency: "USDT".into(),
            chain: "TRX".into(),
            ..ItemForm::default()
        }
    }

    fn from_item(item: &WithdrawItem) -> ItemForm {
        ItemForm {
            merchant_withdraw_id: item.merchant_withdraw_id.clone(),
            currency: item.currency.clone(),
            amount: item.amount.to_string(),
            chain: item.chain.clone(),
            address: item.address.clone(),
            memo: item.memo.clone(),
            fee_from_balance: item.fee_type == 1,
        }
    }
}

/// The batch creation form.
pub struct NewBatchForm {
    pub batch_id: String,
    pub items: Vec<ItemForm>,
    pub file_name: Option<String>,
    pub file_errors: Vec<RowError>,
    /// The batch under review and its likely duplicates.
    pub review: Option<(BatchRequest, HeldReview)>,
    pub busy: bool,
    pub result: Option<Result<BatchEntry, String>>,
    pub message: Option<String>,
}

impl Default for NewBatchForm {
    fn default() -> Self {
        NewBatchForm {
            batch_id: new_batch_id(),
            items: vec![ItemForm::blank(1)],
            file_name: None,
            file_errors: Vec::new(),
            review: None,
            busy: false,
            result: None,
            message: None,
        }
    }
}

impl NewBatchForm {
    pub fn reset(&mut self) {
        *self = NewBatchForm::default();
    }

    /// Fills the form from a checked file (rows stay editable).
    pub fn file_planned(&mut self, name: String, planned: Result<BatchRequest, Vec<RowError>>) {
        self.file_name = Some(name);
        self.result = None;
        match planned {
            Ok(request) => {
                self.file_errors.clear();
                self.items = request
                    .withdraw_list
                    .iter()
                    .map(ItemForm::from_item)
                    .collect();
            }
            Err(errors) => self.file_errors = errors,
        }
    }

    /// The request, or every problem by row and field.
    pub fn check(&self) -> Result<BatchRequest, Vec<String>> {
        let mut problems = Vec::new();
        let mut list = Vec::new();
        for (i, f) in self.items.iter().enumerate() {
            let amount = match CryptoAmount::parse_payout(&f.amount) {
                Ok(a) => a,
                Err(e) => {
                    problems.push(format!("row {}, amount: {e}", i + 1));
                    CryptoAmount::ZERO
                }
            };
            list.push(WithdrawItem {
                merchant_withdraw_id: f.merchant_withdraw_id.trim().to_owned(),
                currency: f.currency.trim().to_uppercase(),
                amount,
                chain: f.chain.trim().to_uppercase(),
                address: f.address.trim().to_owned(),
                memo: f.memo.clone(),
                fee_type: u8::from(f.fee_from_balance),
            });
        }
        let request = BatchRequest {
            batch_id: self.batch_id.trim().to_owned(),
            withdraw_list: list,
            channel_id: None,
        };
        for e in request.validate() {
            let text = e.to_string();
            // An unreadable amount was reported already; its placeholder is not news.
            if !(e.field == "amount"
                && problems
                    .iter()
                    .any(|p| p.starts_with(&format!("row {}, amount", e.row))))
            {
                problems.push(text);
            }
        }
        if problems.is_empty() {
            Ok(request)
        } else {
            Err(problems)
        }
    }

    /// `blocked` says why nothing can be sent right now (no credentials, journal opening);
    /// rows can still be typed, imported and checked.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<NewBatchAction> {
        let blocked = cx.gatepay_blocked.as_deref();
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            let label = field_label(ui, "Batch ID");
            ui.add(egui::TextEdit::singleline(&mut self.batch_id).desired_width(240.0))
                .labelled_by(label);
            if ui.button("New ID").clicked() {
                self.batch_id = new_batch_id();
            }
            ui.separator();
            if ui
                .add_enabled(!self.busy, egui::Button::new("Import sub-orders from a file…"))
                .on_hover_text("CSV or XLSX (or drop the file on this window): merchant_withdraw_id, currency, amount, chain, address, memo, fee_type")
                .clicked()
            {
                actions.push(NewBatchAction::OpenFile);
            }
            if let Some(n) = &self.file_name {
                ui.label(format!("from {n}"));
            }
        });
        if !self.file_errors.is_empty() {
            ui.colored_label(
                ERROR,
                format!(
                    "{} problem(s) in the file; nothing was taken from it:",
                    self.file_errors.len()
                ),
            );
            egui::ScrollArea::vertical()
                .id_salt("batch_file_errors")
                .max_height(120.0)
                .show(ui, |ui| {
                    for e in &self.file_errors {
                        ui.colored_label(ERROR, e.to_string());
                    }
                });
        }
        // A grid cell offers a field only its column's width of the last frame, so a desired
        // width alone left every field as narrow as its header ("Address": four characters
        // of a 34-character address). A minimum size is kept whatever the column had.
        let mut remove = None;
        egui::ScrollArea::vertical()
            .id_salt("batch_rows")
            .max_height(280.0)
            .show_rows(ui, 24.0, self.items.len() + 1, |ui, range| {
                egui::Grid::new("batch_items")
                    .num_columns(9)
                    .show(ui, |ui| {
                        for h in [
                            "#",
                            "Merchant withdraw ID",
                            "Currency",
                            "Amount",
                            "Chain",
                            "Address",
                            "Memo",
                            "Fee from balance",
                            "",
                        ] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for i in range.start..range.end.min(self.items.len()) {
                            let f = &mut self.items[i];
                            ui.label((i + 1).to_string());
                            ui.add(
                                egui::TextEdit::singleline(&mut f.merchant_withdraw_id)
                                    .min_size(egui::vec2(150.0, 0.0)),
                            );
                            ui.add(
                                egui::TextEdit::singleline(&mut f.currency)
                                    .min_size(egui::vec2(50.0, 0.0)),
                            );
                            ui.add(
                                egui::TextEdit::singleline(&mut f.amount)
                                    .min_size(egui::vec2(90.0, 0.0))
                                    .hint_text("0.00"),
                            );
                            ui.add(
                                egui::TextEdit::singleline(&mut f.chain)
                                    .min_size(egui::vec2(50.0, 0.0)),
                            );
                            ui.add(
                                egui::TextEdit::singleline(&mut f.address)
                                    .min_size(egui::vec2(ADDRESS_WIDTH, 0.0))
                                    .font(egui::TextStyle::Monospace),
                            );
                            ui.add(
                                egui::TextEdit::singleline(&mut f.memo)
                                    .min_size(egui::vec2(80.0, 0.0)),
                            );
                            ui.checkbox(&mut f.fee_from_balance, "");
                            if ui.small_button("Remove").clicked() {
                                remove = Some(i);
                            }
                            ui.end_row();
                        }
                    });
            });
        if let Some(i) = remove {
            self.items.remove(i);
        }
        if ui.button("Add sub-order").clicked() {
            let n = self.items.len() + 1;
            self.items.push(ItemForm::blank(n));
        }
        let checked = self.check();
        match &checked {
            Ok(r) => {
                ui.label(format!(
                    "{} sub-order(s): {}",
                    r.withdraw_list.len(),
                    describe_totals(&currency_totals(&r.withdraw_list))
                ));
            }
            Err(problems) => {
                for p in problems.iter().take(8) {
                    ui.colored_label(ERROR, p);
                }
                if problems.len() > 8 {
                    ui.colored_label(ERROR, format!("… and {} more", problems.len() - 8));
                }
            }
        }
        // Why sending is off shows beside the button, so the form above never moves when
        // it changes (the journal opening as the operator clicks).
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    blocked.is_none() && checked.is_ok() && !self.busy,
                    egui::Button::new("Review batch…"),
                )
                .clicked()
                && let Ok(request) = checked
            {
                actions.push(NewBatchAction::CheckDuplicates(Box::new(request.clone())));
                self.review = Some((request, HeldReview::default()));
            }
            if let Some(why) = blocked {
                super::payouts::blocked_label(ui, why);
            }
        });
        if self.busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Sending the batch…");
            });
        }
        match &self.result {
            Some(Ok(e)) => {
                let color = journal_state_color(e.state);
                ui.colored_label(color, e.describe());
                if ui.button("Open in batch detail").clicked() {
                    actions.push(NewBatchAction::Show(e.batch_id.clone()));
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ERROR, e);
            }
            None => {}
        }
        if let Some(m) = &self.message {
            ui.colored_label(WARN, m);
        }
        self.review_ui(ui, &mut actions);
        actions
    }

    fn review_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<NewBatchAction>) {
        let Some((request, held)) = &mut self.review else {
            return;
        };
        let mut close = false;
        let mut send = false;
        egui::Modal::new(egui::Id::unique("batch_review")).show(ui.ctx(), |ui| {
            ui.heading("Send this batch?");
            ui.label(format!("Batch ID {}", request.batch_id));
            ui.label(format!("{} sub-order(s)", request.withdraw_list.len()));
            egui::Grid::new("review_totals")
                .striped(true)
                .show(ui, |ui| {
                    ui.label(RichText::new("Currency").strong());
                    ui.label(RichText::new("Sub-orders").strong());
                    ui.label(RichText::new("Total").strong());
                    ui.end_row();
                    for (c, n, a) in currency_totals(&request.withdraw_list) {
                        ui.label(c);
                        ui.label(n.to_string());
                        ui.label(RichText::new(a.to_string()).monospace().strong());
                        ui.end_row();
                    }
                });
            ui.label(
                "The batch is recorded in the journal before it is sent; if the answer is lost, \
                 Paydesk asks GatePay for the batch instead of sending it again.",
            );
            held.ui(ui, "batch_held", super::payouts::Matching::SubOrders);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(held.ready(), egui::Button::new("Send batch"))
                    .clicked()
                {
                    send = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if send {
            if let Some((r, held)) = self.review.take() {
                self.busy = true;
                self.result = None;
                actions.push(NewBatchAction::Submit(Box::new(r), held.confirmation()));
            }
        } else if close {
            self.review = None;
        }
    }
}

/// The batches sent from this machine, with "Send again" for those GatePay never created.
pub fn sent_batches_ui(
    ui: &mut egui::Ui,
    sent: &[BatchEntry],
    cx: &ConsoleContext,
) -> Vec<NewBatchAction> {
    let tz = &cx.tz.zone();
    let mut actions = Vec::new();
    ui.heading("Batches sent from this computer");
    if sent.is_empty() {
        ui.label("None yet.");
        return actions;
    }
    egui::ScrollArea::vertical()
        .id_salt("sent_batches")
        .max_height(220.0)
        .show(ui, |ui| {
            egui::Grid::new("sent_batches_grid")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for h in ["Batch ID", "Created", "Sub-orders", "Where it stands", ""] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for e in sent {
                        ui.label(RichText::new(&e.batch_id).monospace());
                        ui.label(format_ms(e.created_at * 1000, tz));
                        ui.label(format!("{} · {}", e.sub_orders, e.totals));
                        let color = journal_state_color(e.state);
                        ui.colored_label(color, e.describe());
                        ui.horizontal(|ui| {
                            if ui.small_button("Open").clicked() {
                                actions.push(NewBatchAction::Show(e.batch_id.clone()));
                            }
                            if e.state == State::NotCreated
                                && ui.small_button("Send again").clicked()
                            {
                                actions.push(NewBatchAction::Retry(e.batch_id.clone()));
                            }
                        });
                        ui.end_row();
                    }
                });
        });
    actions
}

/// Room for a whole 42-character (EVM) address in monospace, so the operator can read the
/// address they are about to pay.
const ADDRESS_WIDTH: f32 = 340.0;
