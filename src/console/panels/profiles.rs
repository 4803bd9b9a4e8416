//! Profiles: one per merchant and gateway. Settings are saved to the config file; secrets are
//! typed into password fields and stored only in the OS keyring, never shown again.

use std::fmt;

use eframe::egui;
use egui::RichText;
use paydesk::domain::credentials::GATEPAY_DEFAULT_BASE_URL;
use paydesk::domain::profiles::{GatewayKind, Profile, SecretKind};
use paydesk::gateway::cny::Brand;
use paydesk::gateway::cny::brand::{BRAND_PRESETS, BankField};
use paydesk::gateway::cny::sign::{HexCase, KeySuffix, SignOptions, ZeroFields};
use paydesk::gateway::http::parse_base_url;
use paydesk::secret::Secret;

use crate::console::context::{ConsoleContext, Reply, take_reply};

use super::widgets::{self, field_label};

/// The profile being added or edited. The typed secrets live only here, in memory.
#[derive(Clone, Default)]
pub struct ProfileForm {
    /// The name of the profile being edited, if not a new one.
    pub editing: Option<String>,
    pub name: String,
    pub gateway: Option<GatewayKind>,
    pub base_url: String,
    pub platform_id: String,
    pub client_id: String,
    pub on_behalf_of: String,
    pub live: bool,
    pub sign: SignOptions,
    /// CNY: the bank field and API paths, checked by the brand's own rule when saved.
    pub brand: Brand,
    /// The team journal's address, kept as it was through an edit (set with the CLI).
    pub team_journal: Option<String>,
    pub auth_token: String,
    pub md5_key: String,
    pub gatepay_secret: String,
}

impl fmt::Debug for ProfileForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileForm")
            .field("name", &self.name)
            .field("gateway", &self.gateway)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ProfileForm {
    fn gateway(&self) -> GatewayKind {
        self.gateway.unwrap_or(GatewayKind::Cny)
    }

    pub fn to_profile(&self) -> Result<Profile, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("Give the profile a name".to_owned());
        }
        let gateway = self.gateway();
        let base_url = if self.base_url.trim().is_empty() && gateway == GatewayKind::Gatepay {
            GATEPAY_DEFAULT_BASE_URL.to_owned()
        } else {
            self.base_url.trim().to_owned()
        };
        parse_base_url(&base_url).map_err(|e| e.to_string())?;
        match gateway {
            GatewayKind::Cny if self.platform_id.trim().is_empty() => {
                return Err("Enter the platform ID (PF…)".to_owned());
            }
            GatewayKind::Gatepay
                if self.client_id.trim().is_empty() || self.on_behalf_of.trim().is_empty() =>
            {
                return Err("Enter the GatePay client ID and the on-behalf-of account".to_owned());
            }
            _ => {}
        }
        if gateway == GatewayKind::Cny {
            self.brand
                .validate()
                .map_err(|e| capitalised(&e.to_string()))?;
        }
        Ok(Profile {
            name: name.to_owned(),
            gateway,
            base_url,
            platform_id: self.platform_id.trim().to_owned(),
            client_id: self.client_id.trim().to_owned(),
            on_behalf_of: self.on_behalf_of.trim().to_owned(),
            live: self.live,
            sign: self.sign,
            brand: if gateway == GatewayKind::Cny {
                self.brand.clone()
            } else {
                Brand::default()
            },
            team_journal: self.team_journal.clone(),
        })
    }

    /// A shared profile read into the form as a new profile: its secrets are typed here.
    pub fn imported(profile: &Profile) -> ProfileForm {
        ProfileForm {
            editing: None,
            ..ProfileForm::edit(profile)
        }
    }

    /// The secrets that were typed in.
    pub fn secrets(&self) -> Vec<(SecretKind, Secret)> {
        let typed = [
            (SecretKind::AuthToken, &self.auth_token),
            (SecretKind::Md5Key, &self.md5_key),
            (SecretKind::GatepaySecret, &self.gatepay_secret),
        ];
        typed
            .into_iter()
            .filter(|(k, s)| !s.trim().is_empty() && self.gateway().secret_kinds().contains(k))
            .map(|(k, s)| (k, Secret::new(s.trim())))
            .collect()
    }

    fn edit(profile: &Profile) -> ProfileForm {
        ProfileForm {
            editing: Some(profile.name.clone()),
            name: profile.name.clone(),
            gateway: Some(profile.gateway),
            base_url: profile.base_url.clone(),
            platform_id: profile.platform_id.clone(),
            client_id: profile.client_id.clone(),
            on_behalf_of: profile.on_behalf_of.clone(),
            live: profile.live,
            sign: profile.sign,
            brand: profile.brand.clone(),
            team_journal: profile.team_journal.clone(),
            ..ProfileForm::default()
        }
    }

    fn forget_secrets(&mut self) {
        self.auth_token.clear();
        self.md5_key.clear();
        self.gatepay_secret.clear();
    }
}

/// What the profiles panel asks of the app.
#[derive(Debug)]
pub enum Action {
    UseSandbox,
    Delete(String),
    Activate(String),
    Save(Box<ProfileForm>),
    /// Connect with the form's settings without saving them.
    Test(Box<ProfileForm>),
    /// Save the form's profile (never a secret) as a TOML file.
    Export(Box<Profile>),
    /// Read a shared TOML profile into the form.
    Import,
}

#[derive(Default)]
pub struct ProfilesPanel {
    pub list: Vec<Profile>,
    pub form: ProfileForm,
    /// The change or test under way: its message, and the profiles as saved when it read them.
    pub pending: Option<Reply<ProfilesReply>>,
    pub message: Option<Result<String, String>>,
    /// A shared profile being read: the profile, or `None` when the dialog was cancelled.
    pub importing: Option<Reply<Option<Profile>>>,
}

/// What a change to the profiles (or a test of one) says, and the profiles as saved.
pub type ProfilesReply = (Result<String, String>, Option<Vec<Profile>>);

impl ProfilesPanel {
    pub fn is_busy(&self) -> bool {
        self.pending.is_some() || self.importing.is_some()
    }

    /// Takes in what the change or test reported, if it has.
    pub fn poll(&mut self) {
        if let Some(imported) = self.importing.as_mut().and_then(take_reply) {
            self.importing = None;
            match imported {
                Ok(Some(profile)) => {
                    self.form = ProfileForm::imported(&profile);
                    let name = &profile.name;
                    // Said before the secrets are typed: saving under a taken name is refused.
                    self.message = Some(if self.list.iter().any(|p| &p.name == name) {
                        Err(format!(
                            "Read profile “{name}”: a profile named “{name}” exists already; \
                             give this one another name, type its secrets, then save it"
                        ))
                    } else {
                        Ok(format!(
                            "Read profile “{name}”: type its secrets, then save it"
                        ))
                    });
                }
                Ok(None) => {}
                Err(e) => self.message = Some(Err(e)),
            }
        }
        let Some(reply) = self.pending.as_mut().and_then(take_reply) else {
            return;
        };
        self.pending = None;
        let (message, list) = reply.unwrap_or_else(|e| (Err(e), None));
        if let Some(list) = list {
            self.list = list;
        }
        self.message = Some(message);
    }
}

fn text_field(ui: &mut egui::Ui, label: &str, value: &mut String, password: bool) {
    let id = field_label(ui, label);
    ui.add(
        egui::TextEdit::singleline(value)
            .password(password)
            .desired_width(360.0),
    )
    .labelled_by(id);
    ui.end_row();
}

impl ProfilesPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<Action> {
        let active = cx.profile_name();
        let mut actions = Vec::new();
        ui.heading("Profiles");
        egui::Grid::new("profiles_list")
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                ui.label(RichText::new("Sandbox").strong());
                ui.label("both gateways, demo data");
                ui.label("SANDBOX");
                ui.label("");
                if ui
                    .add_enabled(active != Some("Sandbox"), egui::Button::new("Use sandbox"))
                    .on_disabled_hover_text("The sandbox is the connection in use")
                    .clicked()
                {
                    actions.push(Action::UseSandbox);
                }
                ui.end_row();
                for p in &self.list {
                    ui.label(RichText::new(&p.name).strong());
                    // Which brand a CNY profile plays tells merchants apart without opening it.
                    let brand = match p.gateway {
                        GatewayKind::Cny => {
                            format!(" · brand {}", form_preset(&p.brand).unwrap_or("custom"))
                        }
                        GatewayKind::Gatepay => String::new(),
                    };
                    ui.label(format!("{} · {}{brand}", p.gateway.label(), p.base_url));
                    ui.label(if p.live { "LIVE" } else { "TEST" });
                    ui.horizontal(|ui| {
                        if ui.small_button("Edit").clicked() {
                            self.form = ProfileForm::edit(p);
                        }
                        if ui.small_button("Delete").clicked() {
                            actions.push(Action::Delete(p.name.clone()));
                        }
                    });
                    if ui
                        .add_enabled(
                            active != Some(p.name.as_str()),
                            egui::Button::new(format!("Use {}", p.name)),
                        )
                        .on_disabled_hover_text("This profile is the one in use")
                        .clicked()
                    {
                        actions.push(Action::Activate(p.name.clone()));
                    }
                    ui.end_row();
                }
            });
        ui.separator();
        let title = match &self.form.editing {
            Some(name) => format!("Edit profile “{name}”"),
            None => "Add a profile".to_owned(),
        };
        ui.label(RichText::new(title).strong());
        let busy = self.is_busy();
        let form = &mut self.form;
        egui::Grid::new("profile_form")
            .num_columns(2)
            .show(ui, |ui| {
                text_field(ui, "Name", &mut form.name, false);
                let id = field_label(ui, "Gateway");
                egui::ComboBox::from_id_salt("profile_gateway")
                    .selected_text(form.gateway().label())
                    .show_ui(ui, |ui| {
                        ui.selectable_value(
                            &mut form.gateway,
                            Some(GatewayKind::Cny),
                            GatewayKind::Cny.label(),
                        );
                        ui.selectable_value(
                            &mut form.gateway,
                            Some(GatewayKind::Gatepay),
                            GatewayKind::Gatepay.label(),
                        );
                    })
                    .response
                    .labelled_by(id);
                ui.end_row();
                text_field(ui, "Base URL", &mut form.base_url, false);
                match form.gateway() {
                    GatewayKind::Cny => {
                        text_field(ui, "Platform ID", &mut form.platform_id, false);
                        text_field(ui, "Authorization token", &mut form.auth_token, true);
                        text_field(ui, "MD5 key", &mut form.md5_key, true);
                        ui.label("Signing");
                        ui.horizontal(|ui| {
                            ui.checkbox_value(
                                &mut form.sign.key_suffix,
                                KeySuffix::KeyEquals,
                                KeySuffix::Raw,
                                "key appended as &key=KEY",
                            );
                            ui.checkbox_value(
                                &mut form.sign.hex_case,
                                HexCase::Upper,
                                HexCase::Lower,
                                "upper-case hex",
                            );
                            ui.checkbox_value(
                                &mut form.sign.zero_fields,
                                ZeroFields::Dropped,
                                ZeroFields::Kept,
                                "zero fields left out",
                            );
                        });
                        ui.end_row();
                        brand_fields(ui, &mut form.brand);
                    }
                    GatewayKind::Gatepay => {
                        text_field(ui, "Client ID", &mut form.client_id, false);
                        text_field(ui, "On-behalf-of account", &mut form.on_behalf_of, false);
                        text_field(ui, "Payment API secret", &mut form.gatepay_secret, true);
                    }
                }
                ui.label("Money");
                ui.checkbox(&mut form.live, "Live profile (real money)");
                ui.end_row();
            });
        if form.editing.is_some() {
            ui.label(RichText::new("Secrets left empty keep their stored value").weak());
        }
        ui.horizontal(|ui| {
            const BUSY: &str = "Waits for the profile being saved, tested or read to finish";
            let enabled = !busy;
            if ui
                .add_enabled(enabled, egui::Button::new("Save profile"))
                .on_disabled_hover_text(BUSY)
                .clicked()
            {
                let missing = form.editing.is_none()
                    && form.secrets().len() < form.gateway().secret_kinds().len();
                if missing {
                    self.message = Some(Err("Enter every secret of a new profile".to_owned()));
                } else {
                    actions.push(Action::Save(Box::new(form.clone())));
                    form.forget_secrets();
                }
            }
            if ui
                .add_enabled(enabled, egui::Button::new("Test connection"))
                .on_disabled_hover_text(BUSY)
                .clicked()
            {
                actions.push(Action::Test(Box::new(form.clone())));
            }
            if ui
                .add_enabled(enabled, egui::Button::new("Export profile…"))
                .on_disabled_hover_text(BUSY)
                .clicked()
            {
                match form.to_profile() {
                    Ok(p) => actions.push(Action::Export(Box::new(p))),
                    Err(e) => self.message = Some(Err(e)),
                }
            }
            if ui
                .add_enabled(enabled, egui::Button::new("Import profile…"))
                .on_disabled_hover_text(BUSY)
                .clicked()
            {
                actions.push(Action::Import);
            }
            if ui.button("New profile").clicked() {
                *form = ProfileForm::default();
                // What was said about the previous form would read as said about the new one.
                self.message = None;
            }
            if busy {
                ui.spinner();
            }
        });
        match &self.message {
            Some(Ok(m)) => {
                ui.colored_label(widgets::ok(ui), m);
            }
            Some(Err(e)) => {
                ui.colored_label(widgets::error(ui), e);
            }
            None => {}
        }
        actions
    }
}

/// The preset the brand settings equal, if any.
fn form_preset(brand: &Brand) -> Option<&'static str> {
    BRAND_PRESETS
        .into_iter()
        .find(|name| Brand::preset(name).as_ref() == Some(brand))
}

/// What a preset is for, as the operator chooses it.
fn preset_label(name: &str) -> &'static str {
    match name {
        "seed" => "seed: bank_name, the documented paths",
        "bank-code" => "bank-code: payouts name the bank by code",
        "v1-paths" => "v1-paths: payout queries at gateway/api/v1/payouts",
        _ => "custom",
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// The brand settings of a CNY profile: a preset, the bank field, the four paths (each
/// checked by the brand's rule as typed).
fn brand_fields(ui: &mut egui::Ui, brand: &mut Brand) {
    let preset = form_preset(brand);
    let id = field_label(ui, "Brand preset");
    egui::ComboBox::from_id_salt("profile_brand_preset")
        .width(360.0)
        .selected_text(preset_label(preset.unwrap_or("custom")))
        .show_ui(ui, |ui| {
            for name in BRAND_PRESETS {
                if ui
                    .selectable_label(preset == Some(name), preset_label(name))
                    .clicked()
                    && let Some(b) = Brand::preset(name)
                {
                    *brand = b;
                }
            }
        })
        .response
        .labelled_by(id);
    ui.end_row();
    let id = field_label(ui, "Bank field");
    egui::ComboBox::from_id_salt("profile_bank_field")
        .selected_text(brand.bank_field.key())
        .show_ui(ui, |ui| {
            for field in BankField::ALL {
                ui.selectable_value(&mut brand.bank_field, field, field.key());
            }
        })
        .response
        .labelled_by(id);
    ui.end_row();
    let paths = &mut brand.paths;
    text_field(ui, "Payments query path", &mut paths.payments_query, false);
    text_field(ui, "Payouts query path", &mut paths.payouts_query, false);
    text_field(ui, "Payout create path", &mut paths.payout_create, false);
    text_field(ui, "Balance path", &mut paths.balance, false);
    if let Err(e) = brand.validate() {
        ui.label("");
        ui.colored_label(widgets::error(ui), capitalised(&e.to_string()));
        ui.end_row();
    }
}

/// A checkbox over a two-valued setting.
trait CheckboxValue {
    fn checkbox_value<T: PartialEq + Copy>(&mut self, value: &mut T, on: T, off: T, label: &str);
}

impl CheckboxValue for egui::Ui {
    fn checkbox_value<T: PartialEq + Copy>(&mut self, value: &mut T, on: T, off: T, label: &str) {
        let mut checked = *value == on;
        if self.checkbox(&mut checked, label).changed() {
            *value = if checked { on } else { off };
        }
    }
}

#[cfg(test)]
mod tests {
    use eframe::egui;
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::super::test_support::{self, click};
    use super::*;

    type Drawn = test_support::Drawn<ProfilesPanel, Action>;

    fn harness() -> Harness<'static, Drawn> {
        let mut panel = ProfilesPanel::default();
        panel.form.name = "Acme".into();
        panel.form.base_url = "https://gw.example.com".into();
        panel.form.platform_id = "PF0060".into();
        test_support::harness(
            panel,
            ConsoleContext::default(),
            egui::vec2(1000.0, 900.0),
            ProfilesPanel::ui,
        )
    }

    #[test]
    fn a_preset_and_the_bank_field_are_chosen_and_exported_with_the_profile() {
        let mut h = harness();
        h.step();
        click(&mut h, Role::ComboBox, "Brand preset");
        click(&mut h, Role::Button, preset_label("v1-paths"));
        assert_eq!(
            h.state().panel.form.brand,
            Brand::preset("v1-paths").unwrap()
        );
        let field = h.get_by_role_and_label(Role::TextInput, "Payouts query path");
        assert_eq!(field.value().as_deref(), Some("gateway/api/v1/payouts"));
        click(&mut h, Role::ComboBox, "Bank field");
        click(&mut h, Role::Button, "bank_id");
        assert_eq!(h.state().panel.form.brand.bank_field, BankField::BankId);
        assert_eq!(
            form_preset(&h.state().panel.form.brand),
            None,
            "now a custom brand"
        );
        click(&mut h, Role::Button, "Export profile…");
        let [Action::Export(profile)] = h.state().actions.as_slice() else {
            panic!("{:?}", h.state().actions);
        };
        assert_eq!(profile.brand.bank_field, BankField::BankId);
        assert_eq!(profile.brand.paths.payouts_query, "gateway/api/v1/payouts");
    }

    #[test]
    fn a_path_the_brand_rule_refuses_shows_its_message_and_is_not_exported() {
        let mut h = harness();
        h.step();
        let field = h.get_by_role_and_label(Role::TextInput, "Balance path");
        field.focus();
        field.type_text("/../b");
        h.step();
        h.step();
        assert!(
            h.query_by_label_contains("The balance path").is_some(),
            "the rule's message shows as typed"
        );
        click(&mut h, Role::Button, "Export profile…");
        assert!(h.state().actions.is_empty());
        assert!(matches!(&h.state().panel.message, Some(Err(m)) if m.contains("must not hold")));
    }

    #[test]
    fn import_is_asked_of_the_app_and_its_profile_fills_the_form_as_new() {
        let mut h = harness();
        h.step();
        click(&mut h, Role::Button, "Import profile…");
        assert!(matches!(h.state().actions.as_slice(), [Action::Import]));
        let (tx, rx) = tokio::sync::oneshot::channel();
        h.state_mut().panel.importing = Some(rx);
        let mut profile = h.state().panel.form.to_profile().unwrap();
        profile.name = "Shared".into();
        profile.brand = Brand::preset("bank-code").unwrap();
        tx.send(Ok(Some(profile))).unwrap();
        h.state_mut().panel.poll();
        h.step();
        let form = &h.state().panel.form;
        assert_eq!(
            (form.name.as_str(), form.editing.as_ref()),
            ("Shared", None)
        );
        assert_eq!(form.brand.bank_field, BankField::BankCode);
        assert!(h.query_by_label_contains("type its secrets").is_some());
    }
    #[test]
    fn importing_a_profile_whose_name_is_taken_says_so_before_its_secrets_are_typed() {
        let mut h = harness();
        h.step();
        let mut profile = h.state().panel.form.to_profile().unwrap();
        profile.name = "Shared".into();
        h.state_mut().panel.list = vec![profile.clone()];
        let (tx, rx) = tokio::sync::oneshot::channel();
        h.state_mut().panel.importing = Some(rx);
        tx.send(Ok(Some(profile))).unwrap();
        h.state_mut().panel.poll();
        h.step();
        assert!(
            h.query_by_label_contains("a profile named “Shared” exists already")
                .is_some()
        );
    }

    #[test]
    fn new_profile_clears_what_was_said_about_the_previous_form() {
        let mut h = harness();
        h.state_mut().panel.message = Some(Err("a profile named 'Acme' exists already".into()));
        h.step();
        click(&mut h, Role::Button, "New profile");
        assert!(h.query_by_label_contains("exists already").is_none());
    }
    #[test]
    fn each_cny_profile_in_the_list_names_its_brand() {
        let mut h = harness();
        let mut profile = h.state().panel.form.to_profile().unwrap();
        profile.name = "Wutong".into();
        profile.brand = Brand::preset("v1-paths").unwrap();
        h.state_mut().panel.list = vec![profile];
        h.step();
        assert!(h.query_by_label_contains("· brand v1-paths").is_some());
    }
}
