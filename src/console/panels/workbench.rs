//! The signature workbench: what support staff use in a dispute. Paste or open a withdraw
//! notification, an order, a whole query response, or a GatePay callback with its headers;
//! get a verdict per object, the signed text, what was left out and why, and on a mismatch
//! which common mistake would have matched.

use eframe::egui;
use egui::RichText;
use paydesk::domain::text::shown;
use paydesk::domain::verify::{GatePayReport, ObjectReport, parse_cny_input};
use paydesk::gateway::cny::sign::Verdict;
use paydesk::gateway::gatepay::sign::GatePayVerdict;

use super::widgets::{ERROR, OK, WARN, field_label};
use crate::console::context::{ConsoleContext, Reply, Requested, take_reply};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Cny,
    GatePay,
}

/// What to verify, as typed or opened.
#[derive(Clone, Debug)]
pub enum WorkbenchInput {
    Cny {
        text: String,
    },
    GatePay {
        timestamp: String,
        nonce: String,
        signature: String,
        body: String,
    },
}

pub enum WorkbenchResult {
    Cny(Vec<ObjectReport>),
    GatePay(GatePayReport),
}

/// What a check was made with: the profile (its name, never its key) and, for the CNY
/// gateway, its merchant, with every `platform_id` in the input that is another merchant's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckedWith {
    pub profile: Option<String>,
    pub merchant: Option<String>,
    pub foreign: Vec<String>,
}

impl CheckedWith {
    /// `profile` and `merchant` are the active profile's name and CNY `platform_id`.
    pub fn new(
        profile: Option<String>,
        merchant: Option<String>,
        input: &WorkbenchInput,
    ) -> CheckedWith {
        let mut foreign = Vec::new();
        if let (WorkbenchInput::Cny { text }, Some(ours)) = (input, &merchant)
            && let Ok(objects) = parse_cny_input(text)
        {
            for o in objects {
                let id = o.object.text("platform_id");
                if !id.is_empty() && id != *ours && !foreign.contains(&id) {
                    foreign.push(id);
                }
            }
        }
        CheckedWith {
            profile,
            merchant,
            foreign,
        }
    }

    /// "Checked with the MD5 key of profile “Sandbox” (merchant PF0060)".
    pub fn describe(&self, mode: Mode) -> String {
        let key = match mode {
            Mode::Cny => "the MD5 key",
            Mode::GatePay => "the GatePay secret",
        };
        let profile = self
            .profile
            .as_deref()
            .map_or_else(|| "no profile".to_owned(), |p| format!("profile “{p}”"));
        match (&self.merchant, mode) {
            (Some(m), Mode::Cny) => format!("Checked with {key} of {profile} (merchant {m})"),
            _ => format!("Checked with {key} of {profile}"),
        }
    }
}

/// A file opened: its name and its bytes.
pub type OpenedFile = (String, Vec<u8>);

/// What the workbench asks of the app.
#[derive(Debug)]
pub enum Action {
    Verify(WorkbenchInput),
    /// Open a saved reply or notification to verify.
    OpenFile,
}

#[derive(Default)]
pub struct WorkbenchPanel {
    pub mode: Mode,
    pub cny_text: String,
    pub gp_timestamp: String,
    pub gp_nonce: String,
    pub gp_signature: String,
    pub gp_body: String,
    pub result: Requested<WorkbenchResult>,
    /// The file being opened: `None` in the reply when the dialog was cancelled.
    pub opening: Option<Reply<Option<OpenedFile>>>,
    pub opened: Option<String>,
    /// What the check shown was made with.
    pub checked_with: Option<(Mode, CheckedWith)>,
}

impl WorkbenchPanel {
    /// Takes in the verdict and the file being opened, if they have come.
    pub fn poll(&mut self) {
        self.result.poll();
        match self.opening.as_mut().and_then(take_reply) {
            Some(Ok(file)) => {
                self.opening = None;
                self.file_opened(file);
            }
            Some(Err(e)) => {
                self.opening = None;
                self.result.fail(e);
            }
            None => {}
        }
    }

    /// Waits for the verdict of a new check; a check still running is dropped.
    pub fn begin(&mut self, rx: Reply<WorkbenchResult>, checked_with: CheckedWith) {
        self.result.request(rx);
        self.checked_with = Some((self.mode, checked_with));
    }

    /// An order brought from a table: its text exactly as received, to be checked at once.
    pub fn take_order(&mut self, text: String) -> WorkbenchInput {
        self.mode = Mode::Cny;
        self.cny_text = text;
        self.opened = Some("an order from the table".to_owned());
        self.input()
    }

    pub fn file_opened(&mut self, file: Option<(String, Vec<u8>)>) {
        let Some((name, bytes)) = file else {
            return;
        };
        match String::from_utf8(bytes) {
            Ok(text) => {
                match self.mode {
                    Mode::Cny => self.cny_text = text,
                    Mode::GatePay => self.gp_body = text,
                }
                self.opened = Some(name);
            }
            Err(_) => self.result.fail(format!("{name} is not UTF-8 text")),
        }
    }

    fn input(&self) -> WorkbenchInput {
        match self.mode {
            Mode::Cny => WorkbenchInput::Cny {
                text: self.cny_text.clone(),
            },
            Mode::GatePay => WorkbenchInput::GatePay {
                timestamp: self.gp_timestamp.clone(),
                nonce: self.gp_nonce.clone(),
                signature: self.gp_signature.clone(),
                body: self.gp_body.clone(),
            },
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<Action> {
        let has_cny_key = cx.cny_signing.is_some();
        let has_gatepay_secret = cx.has_gatepay;
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            ui.selectable_value(
                &mut self.mode,
                Mode::Cny,
                "CNY gateway order or notification",
            );
            ui.selectable_value(&mut self.mode, Mode::GatePay, "GatePay callback");
        });
        let usable = match self.mode {
            Mode::Cny => has_cny_key,
            Mode::GatePay => has_gatepay_secret,
        };
        if !usable {
            ui.colored_label(
                WARN,
                "The active profile has no key for this gateway: choose one under Profiles",
            );
        }
        match self.mode {
            Mode::Cny => {
                ui.label("Paste a withdraw notification, an order, an array of orders or a whole query response");
            }
            Mode::GatePay => {
                egui::Grid::new("gp_headers").num_columns(2).show(ui, |ui| {
                    for (label, value) in [
                        ("X-GatePay-Timestamp", &mut self.gp_timestamp),
                        ("X-GatePay-Nonce", &mut self.gp_nonce),
                        ("X-GatePay-Signature", &mut self.gp_signature),
                    ] {
                        let id = field_label(ui, label);
                        ui.add(
                            egui::TextEdit::singleline(value)
                                .desired_width(520.0)
                                .font(egui::TextStyle::Monospace),
                        )
                        .labelled_by(id);
                        ui.end_row();
                    }
                });
                ui.label("Paste the raw body exactly as it arrived");
            }
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(usable, egui::Button::new("Verify"))
                .on_disabled_hover_text(
                    "The active profile has no key for this gateway: choose one under Profiles",
                )
                .clicked()
            {
                actions.push(Action::Verify(self.input()));
            }
            if ui.button("Open file…").clicked() {
                actions.push(Action::OpenFile);
            }
            if ui.button("Clear").clicked() {
                self.cny_text.clear();
                self.gp_body.clear();
                self.result = Requested::NotYetRequested;
                self.opened = None;
            }
            if let Some(name) = &self.opened {
                ui.label(RichText::new(format!("opened {name}")).weak());
            }
            if self.result.is_pending() {
                ui.spinner();
            }
        });
        let label = field_label(
            ui,
            if self.mode == Mode::Cny {
                "Pasted JSON"
            } else {
                "Raw body"
            },
        );
        let text = match self.mode {
            Mode::Cny => &mut self.cny_text,
            Mode::GatePay => &mut self.gp_body,
        };
        egui::ScrollArea::vertical()
            .id_salt("workbench_input")
            .max_height(220.0)
            .show(ui, |ui| {
                ui.add(
                    egui::TextEdit::multiline(text)
                        .code_editor()
                        .desired_rows(8)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label);
            });
        ui.separator();
        if let Some(err) = self.result.error() {
            ui.colored_label(ERROR, err);
        }
        if self.result.shown().is_some()
            && let Some((mode, with)) = &self.checked_with
        {
            ui.label(RichText::new(with.describe(*mode)).weak());
            for id in &with.foreign {
                ui.colored_label(
                    WARN,
                    format!(
                        "platform_id {} is not this profile's merchant ({}): its orders are signed \
                         with another merchant's key, so they cannot be valid here",
                        shown(id).0,
                        with.merchant.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
        egui::ScrollArea::vertical()
            .id_salt("workbench_results")
            .show(ui, |ui| match self.result.shown() {
                Some(WorkbenchResult::Cny(reports)) => cny_results_ui(ui, reports),
                Some(WorkbenchResult::GatePay(report)) => gatepay_result_ui(ui, report),
                None => {}
            });
        actions
    }
}

fn cny_results_ui(ui: &mut egui::Ui, reports: &[ObjectReport]) {
    let invalid = reports
        .iter()
        .filter(|r| r.verification.verdict != Verdict::Valid)
        .count();
    let warned = reports
        .iter()
        .filter(|r| r.verification.verdict == Verdict::Valid && r.verification.warning.is_some())
        .count();
    let warned_text = if warned > 0 {
        format!(", {warned} valid with a warning")
    } else {
        String::new()
    };
    let summary = format!(
        "{} object{} checked, {invalid} invalid{warned_text}",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" }
    );
    ui.label(
        RichText::new(summary)
            .strong()
            .color(if invalid > 0 { ERROR } else { OK }),
    );
    for r in reports {
        ui.add_space(6.0);
        let valid = r.verification.verdict == Verdict::Valid;
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("{} {}", r.label, shown(&r.order_id).0)).monospace());
            // A sign in the other case of hex matches, but a real verifier compares exactly.
            let (word, color) = match (valid, r.verification.warning) {
                (true, None) => ("valid", OK),
                (true, Some(_)) => ("valid, with a warning", WARN),
                (false, _) => ("invalid", ERROR),
            };
            ui.label(RichText::new(word).strong().color(color));
            if !valid {
                ui.label(r.verification.verdict.describe());
            }
            if let (true, Some(warning)) = (valid, r.verification.warning) {
                ui.colored_label(WARN, format!("warning: {warning}"));
            }
        });
        ui.add(
            egui::Label::new(
                RichText::new(shown(&r.verification.canonical_masked).0)
                    .monospace()
                    .weak(),
            )
            .wrap(),
        );
        for (field, why) in &r.verification.omitted {
            ui.label(RichText::new(format!("left out: {field} — {}", why.reason())).weak());
        }
        for d in &r.diagnosis {
            ui.colored_label(WARN, format!("diagnosis: {d}"));
        }
    }
}

fn gatepay_result_ui(ui: &mut egui::Ui, report: &GatePayReport) {
    let valid = report.verdict == GatePayVerdict::Valid;
    ui.label(
        RichText::new(report.verdict.describe())
            .strong()
            .color(if valid { OK } else { ERROR }),
    );
    if !report.callback.is_empty() {
        // The callback's batch and sub-orders as read, exact amounts from the raw numbers.
        ui.label(RichText::new("Payout callback").strong());
        for line in &report.callback {
            ui.label(RichText::new(shown(line).0).monospace());
        }
    }
    ui.label("Signed text");
    ui.add(
        egui::Label::new(
            RichText::new(shown(&report.payload_preview).0)
                .monospace()
                .weak(),
        )
        .wrap(),
    );
    for d in &report.diagnosis {
        ui.colored_label(WARN, d);
    }
}

#[cfg(test)]
mod tests {
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use paydesk::domain::verify::{parse_cny_input, verify_cny, verify_gatepay};
    use paydesk::gateway::cny::sign::{SignOptions, sign_object};
    use paydesk::gateway::gatepay::sign::signature;
    use paydesk::secret::Secret;

    use super::super::test_support;
    use super::*;

    type Drawn = test_support::Drawn<WorkbenchPanel, Action>;

    fn harness(result: WorkbenchResult, mode: Mode) -> Harness<'static, Drawn> {
        let panel = WorkbenchPanel {
            mode,
            result: Requested::Completed(result),
            ..WorkbenchPanel::default()
        };
        let cx = ConsoleContext {
            cny_signing: Some(SignOptions::default()),
            has_gatepay: true,
            ..ConsoleContext::default()
        };
        let mut h = test_support::harness(panel, cx, egui::vec2(1400.0, 900.0), WorkbenchPanel::ui);
        h.step();
        h
    }

    #[test]
    fn an_upper_case_sign_is_valid_with_a_warning_shown() {
        let key = Secret::new("2I9Q4nExEddsH6zo");
        let mut note = serde_json::json!({
            "payout_id": "POT00000102", "platform_id": "PF0060", "amount": 400_000, "status": 3
        });
        let serde_json::Value::Object(fields) = &note else {
            unreachable!()
        };
        let sign = sign_object(fields, &key, SignOptions::default()).to_uppercase();
        note["sign"] = serde_json::Value::from(sign);
        let objects = parse_cny_input(&note.to_string()).unwrap();
        let reports = verify_cny(&objects, &key, SignOptions::default());
        let h = harness(WorkbenchResult::Cny(reports), Mode::Cny);
        assert!(
            h.query_by_label("1 object checked, 0 invalid, 1 valid with a warning")
                .is_some()
        );
        assert!(h.query_by_label("valid, with a warning").is_some());
        assert!(
            h.query_by_label_contains("upper-case hex: this gateway sends lower-case")
                .is_some()
        );
    }

    #[test]
    fn a_gatepay_callback_shows_its_batch_and_sub_orders_beside_the_verdict() {
        let secret = Secret::new("s3cret");
        let body = br#"{"bizType":"WITHDRAW","data":{"main_order":{"batch_id":"B9","status":"SUCCESS","pay_back_status":"NO"},"suborders":[{"suborder_id":"1","merchant_withdraw_id":"w1","currency":"USDT","chain":"TRX","address":"TXa","amount":2362.1,"fee":0.000000012345,"status":"DONE"}]}}"#;
        let sig = signature(&secret, "1000", "n", body);
        let report = verify_gatepay(&secret, "1000", "n", body, &sig, 1000);
        let mut h = harness(WorkbenchResult::GatePay(report), Mode::GatePay);
        assert!(h.query_by_label("Payout callback").is_some());
        assert!(
            h.query_by_label_contains("batch B9  status SUCCESS")
                .is_some()
        );
        assert!(h.query_by_label_contains("pay_back_status NO").is_some());
        assert!(
            h.query_by_label_contains("2362.1 USDT on TRX  fee 0.000000012345")
                .is_some()
        );
        h.get_by_role_and_label(Role::Button, "Verify").click();
        h.step();
        assert!(matches!(
            h.state().actions.as_slice(),
            [Action::Verify(WorkbenchInput::GatePay { .. })]
        ));
    }

    /// The workbench names the profile it checked with, never its key, and warns of every
    /// `platform_id` in the input that is another merchant's.
    #[test]
    fn the_check_names_its_profile_and_warns_of_another_merchant() {
        let text = r#"[{"payout_id":"P1","platform_id":"PF0060","sign":"x"},
            {"payout_id":"P2","platform_id":"PF7777","sign":"y"}]"#;
        let input = WorkbenchInput::Cny { text: text.into() };
        let with = CheckedWith::new(Some("Shop A".into()), Some("PF0060".into()), &input);
        assert_eq!(with.foreign, vec!["PF7777".to_owned()]);
        assert_eq!(
            with.describe(Mode::Cny),
            "Checked with the MD5 key of profile “Shop A” (merchant PF0060)"
        );
        let objects = parse_cny_input(text).unwrap();
        let reports = verify_cny(&objects, &Secret::new("k"), SignOptions::default());
        let mut h = harness(WorkbenchResult::Cny(reports), Mode::Cny);
        h.state_mut().panel.checked_with = Some((Mode::Cny, with));
        h.step();
        assert!(
            h.query_by_label("Checked with the MD5 key of profile “Shop A” (merchant PF0060)")
                .is_some()
        );
        assert!(
            h.query_by_label_contains("platform_id PF7777 is not this profile's merchant (PF0060)")
                .is_some()
        );
    }
}
