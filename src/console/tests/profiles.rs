//! The signature workbench, profiles and what persists, in the whole app.

use std::sync::Arc;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use paydesk::domain::profiles::{
    GatewayKind, MemoryStore, Profile, ProfileError, Profiles, SecretKind, SecretStore,
};
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

use super::super::{PaydeskApp, Tab};
use super::{click, harness, init, runtime, sandbox_config, wait_for};

fn notification(key: &Secret) -> String {
    let mut note: Map<String, Value> = match json!({
        "payout_id": "POT00000102", "payout_cl_id": "97a968b4a9db497c8c03198e395a38c6", "platform_id": "PF0060",
        "amount": 400_000, "real_amount": 400_000, "fee": 3200, "status": 3,
        "create_time": 1_567_614_049, "update_time": 1_567_614_111
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    note.insert(
        "sign".into(),
        Value::from(sign_object(&note, key, SignOptions::default())),
    );
    Value::Object(note).to_string()
}

#[test]
fn the_workbench_verifies_a_pasted_notification_and_an_opened_file() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    // The file dialog seam hands over an object whose sign matches nothing.
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some((
            "note.json".into(),
            b"{\"amount\":1,\"sign\":\"0123456789abcdef0123456789abcdef\"}".to_vec(),
        )),
    ));
    wait_for(&mut h, "page 1 of 24");
    let key = h.state().sandbox.as_ref().unwrap().info.cny.md5_key.clone();
    click(&mut h, Role::Button, "Signature workbench");
    wait_for(&mut h, "Paste a withdraw notification");
    let editor = h.get_by_role_and_label(Role::MultilineTextInput, "Pasted JSON");
    editor.focus();
    editor.type_text(&notification(&key));
    h.step();
    click(&mut h, Role::Button, "Verify");
    wait_for(&mut h, "1 object checked, 0 invalid");
    assert!(h.query_by_label_contains("object POT00000102").is_some());

    // The amount changed after signing: invalid, and nothing common explains it.
    h.state_mut().workbench.cny_text =
        notification(&key).replace("\"amount\":400000", "\"amount\":400001");
    click(&mut h, Role::Button, "Verify");
    wait_for(&mut h, "1 object checked, 1 invalid");
    assert!(
        h.query_by_label_contains("no common mistake explains it")
            .is_some()
    );

    click(&mut h, Role::Button, "Open file…");
    wait_for(&mut h, "opened note.json");
    click(&mut h, Role::Button, "Verify");
    wait_for(&mut h, "1 object checked, 1 invalid");
    assert_eq!(h.state().tab, Tab::Workbench);
}

#[test]
fn a_wrong_token_shows_the_gateway_error_with_its_meaning() {
    let rt = runtime();
    let sandbox = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut profiles = Profiles::load(dir.path(), store.clone()).unwrap();
    profiles
        .save(
            Profile {
                name: "Acme test".into(),
                gateway: GatewayKind::Cny,
                base_url: sandbox.base_url().to_owned(),
                platform_id: "PF0060".into(),
                client_id: String::new(),
                on_behalf_of: String::new(),
                live: false,
                sign: SignOptions::default(),
                brand: paydesk::gateway::cny::Brand::default(),
                team_journal: None,
            },
            &[
                (SecretKind::AuthToken, Secret::new("wrong-token")),
                (SecretKind::Md5Key, sandbox.info.cny.md5_key.clone()),
            ],
            false,
        )
        .unwrap();
    let mut h = harness(init(&rt, dir.path(), store, None));
    wait_for(&mut h, "Acme test");
    wait_for(&mut h, "gateway error 0006: invalid Authorization");
    assert!(h.query_by_label_contains("TEST").is_some());
    drop(sandbox);
}

/// A keyring that is not there.
struct NoKeyring;

impl SecretStore for NoKeyring {
    fn get(&self, _: &str, _: SecretKind) -> Result<Option<Secret>, ProfileError> {
        Err(ProfileError::KeyringUnavailable(
            "no Secret Service on the session bus".into(),
        ))
    }
    fn set(&self, _: &str, _: SecretKind, _: &Secret) -> Result<(), ProfileError> {
        Err(ProfileError::KeyringUnavailable(
            "no Secret Service on the session bus".into(),
        ))
    }
    fn delete(&self, _: &str, _: SecretKind) -> Result<(), ProfileError> {
        Err(ProfileError::KeyringUnavailable(
            "no Secret Service on the session bus".into(),
        ))
    }
}

#[test]
fn without_a_keyring_a_profile_is_not_saved_and_the_operator_is_told() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(init(&rt, dir.path(), Arc::new(NoKeyring), None));
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "Profiles");
    for (label, text, role) in [
        ("Name", "Acme live", Role::TextInput),
        ("Base URL", "https://gw.example.com", Role::TextInput),
        ("Platform ID", "PF0001", Role::TextInput),
        ("Authorization token", "tok-SECRET", Role::PasswordInput),
        ("MD5 key", "md5-SECRET", Role::PasswordInput),
    ] {
        let field = h.get_by_role_and_label(role, label);
        field.focus();
        field.type_text(text);
        h.step();
    }
    click(&mut h, Role::Button, "Save profile");
    wait_for(&mut h, "no OS keyring is reachable");
    assert!(!dir.path().join("config.toml").exists());
    assert!(
        h.state().profiles.form.md5_key.is_empty(),
        "typed secrets are not kept"
    );
}

/// eframe's storage, in memory.
#[derive(Default)]
pub(super) struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn filters_and_layout_persist_but_secrets_never_do() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let ctx = egui::Context::default();
    let mut app = PaydeskApp::new(
        &ctx,
        None,
        init(&rt, dir.path(), Arc::new(MemoryStore::default()), None),
    );
    app.tab = Tab::Payouts;
    app.tz = crate::console::context::TzChoice::Utc;
    app.payouts.filter.merchant_id = "pay_1796000000_7".into();
    app.payouts.filter.page_size = 200;
    app.profiles.form.md5_key = "md5-NEVER-STORED".into();
    let mut storage = MemoryStorage::default();
    eframe::App::save(&mut app, &mut storage);
    assert!(storage.0.values().all(|v| !v.contains("NEVER-STORED")));
    let restored = PaydeskApp::new(
        &ctx,
        Some(&storage),
        init(&rt, dir.path(), Arc::new(MemoryStore::default()), None),
    );
    assert_eq!(restored.tab, Tab::Payouts);
    assert_eq!(restored.tz, crate::console::context::TzChoice::Utc);
    assert_eq!(restored.payouts.filter.merchant_id, "pay_1796000000_7");
    assert_eq!(restored.payouts.filter.page_size, 200);
    assert!(restored.profiles.form.md5_key.is_empty());
}

/// State saved when the zone was the Payouts filter's still opens in that zone.
#[test]
fn a_zone_saved_with_the_payouts_filter_carries_over() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut storage = MemoryStorage::default();
    eframe::Storage::set_string(
        &mut storage,
        eframe::APP_KEY,
        "(tab: Payouts, payouts: (tz: Local, page_size: 50))".to_owned(),
    );
    let restored = PaydeskApp::new(
        &egui::Context::default(),
        Some(&storage),
        init(&rt, dir.path(), Arc::new(MemoryStore::default()), None),
    );
    assert_eq!(restored.tab, Tab::Payouts);
    assert_eq!(restored.payouts.filter.page_size, 50);
    assert_eq!(restored.tz, crate::console::context::TzChoice::Local);
}

/// `paydesk --profile NAME` opens that profile, not the active one; a name that is no
/// profile's opens no merchant's in its place.
#[test]
fn the_profile_named_at_start_up_is_the_one_opened() {
    let rt = runtime();
    let sandbox = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut profiles = Profiles::load(dir.path(), store.clone()).unwrap();
    for name in ["First desk", "Second desk"] {
        profiles
            .save(
                Profile {
                    name: name.into(),
                    gateway: GatewayKind::Cny,
                    base_url: sandbox.base_url().to_owned(),
                    platform_id: sandbox.info.cny.platform_id.clone(),
                    client_id: String::new(),
                    on_behalf_of: String::new(),
                    live: false,
                    sign: SignOptions::default(),
                    brand: paydesk::gateway::cny::Brand::default(),
                    team_journal: None,
                },
                &[
                    (SecretKind::AuthToken, sandbox.info.cny.auth_token.clone()),
                    (SecretKind::Md5Key, sandbox.info.cny.md5_key.clone()),
                ],
                false,
            )
            .unwrap();
    }
    assert_eq!(profiles.active_name(), Some("First desk"));
    let mut asked = init(&rt, dir.path(), store.clone(), None);
    asked.start_profile = Some("Second desk".into());
    let mut h = harness(asked);
    wait_for(&mut h, "Second desk");
    assert_eq!(h.state().context().profile_name(), Some("Second desk"));
    drop(h);
    let mut unknown = init(&rt, dir.path(), store, None);
    unknown.start_profile = Some("Nobody's desk".into());
    let mut h = harness(unknown);
    wait_for(&mut h, "There is no profile named “Nobody's desk”");
    assert_ne!(h.state().context().profile_name(), Some("First desk"));
    drop(h);
    drop(sandbox);
}
