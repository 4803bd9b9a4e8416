//! A merchant of another brand of the CNY platform, set up in the console alone: brand
//! settings on a profile, shared as TOML, used against the sandbox playing that brand.

use std::sync::Arc;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use paydesk::domain::profiles::{GatewayKind, MemoryStore, Profile, Profiles, SecretKind};
use paydesk::gateway::cny::Brand;
use paydesk::gateway::cny::sign::SignOptions;
use paydesk::sandbox::{SandboxBrand, SandboxConfig};

use super::{PATIENCE, click, harness, init, runtime, sandbox_config, wait_for, wait_for_journal};
use eframe::egui;

fn type_into(
    h: &mut egui_kittest::Harness<'_, super::super::PaydeskApp>,
    role: Role,
    label: &str,
    text: &str,
) {
    let field = h.get_by_role_and_label(role, label);
    field.focus();
    field.type_text(text);
    h.step();
}

#[test]
fn a_v1_paths_merchant_is_set_up_exported_reimported_and_lists_its_payouts() {
    let rt = runtime();
    let sandbox = rt
        .block_on(paydesk::sandbox::start(SandboxConfig {
            brand: SandboxBrand::V1Paths,
            // Fewer than the built-in sandbox's, so its pages cannot be mistaken for these.
            payouts: 250,
            ..sandbox_config()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut h = harness(init(&rt, dir.path(), store.clone(), None));
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "Profiles");
    let cny = sandbox.info.cny.clone();
    type_into(&mut h, Role::TextInput, "Name", "V1 brand");
    type_into(&mut h, Role::TextInput, "Base URL", sandbox.base_url());
    type_into(&mut h, Role::TextInput, "Platform ID", &cny.platform_id);
    type_into(
        &mut h,
        Role::PasswordInput,
        "Authorization token",
        cny.auth_token.expose(),
    );
    type_into(&mut h, Role::PasswordInput, "MD5 key", cny.md5_key.expose());
    click(&mut h, Role::ComboBox, "Brand preset");
    click(
        &mut h,
        Role::Button,
        "v1-paths: payout queries at gateway/api/v1/payouts",
    );

    click(&mut h, Role::Button, "Export profile…");
    wait_for(&mut h, "Exported “V1 brand”");
    let exported = std::fs::read_to_string(dir.path().join("exports/V1-brand.toml")).unwrap();
    assert!(exported.contains("gateway/api/v1/payouts"), "{exported}");
    assert!(
        !exported.contains(cny.md5_key.expose()) && !exported.contains(cny.auth_token.expose()),
        "no secret leaves in a shared profile"
    );

    click(&mut h, Role::Button, "Save profile");
    wait_for(&mut h, "Saved profile “V1 brand”");
    let saved = Profiles::load(dir.path(), store.clone()).unwrap();
    assert_eq!(
        saved.get("V1 brand").unwrap().brand,
        Brand::preset("v1-paths").unwrap()
    );
    // The brand's payout queries live elsewhere: only its path lists them.
    click(&mut h, Role::Button, "Use V1 brand");
    // The Payouts tab searches as it opens: only once the new connection is in.
    let deadline = std::time::Instant::now() + PATIENCE;
    while h.state().context().profile_name() != Some("V1 brand") {
        assert!(
            std::time::Instant::now() < deadline,
            "the profile never connected"
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    click(&mut h, Role::Button, "Payouts");
    click(&mut h, Role::Button, "Search");
    wait_for(&mut h, "page 1 of 10");

    // A colleague imports the shared file into a fresh console.
    let rt2 = runtime();
    let dir2 = tempfile::tempdir().unwrap();
    let mut h2 = harness(init(
        &rt2,
        dir2.path(),
        Arc::new(MemoryStore::default()),
        Some(("V1-brand.toml".into(), exported.into_bytes())),
    ));
    wait_for(&mut h2, "page 1 of 24");
    click(&mut h2, Role::Button, "Profiles");
    click(&mut h2, Role::Button, "Import profile…");
    wait_for(&mut h2, "Read profile “V1 brand”");
    let form = &h2.state().profiles.form;
    assert_eq!(form.brand, Brand::preset("v1-paths").unwrap());
    assert_eq!(form.base_url, sandbox.base_url());
    assert!(form.editing.is_none() && form.md5_key.is_empty());
    drop(sandbox);
}

#[test]
fn a_bank_code_merchant_picks_a_bank_by_its_short_name_and_pays_by_code() {
    let rt = runtime();
    let sandbox = rt
        .block_on(paydesk::sandbox::start(SandboxConfig {
            brand: SandboxBrand::BankCode,
            ..sandbox_config()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let cny = sandbox.info.cny.clone();
    Profiles::load(dir.path(), store.clone())
        .unwrap()
        .save(
            Profile {
                name: "Code brand".into(),
                gateway: GatewayKind::Cny,
                base_url: sandbox.base_url().to_owned(),
                platform_id: cny.platform_id.clone(),
                client_id: String::new(),
                on_behalf_of: String::new(),
                live: false,
                sign: SignOptions::default(),
                brand: Brand::preset("bank-code").unwrap(),
                team_journal: None,
            },
            &[
                (SecretKind::AuthToken, cny.auth_token.clone()),
                (SecretKind::Md5Key, cny.md5_key.clone()),
            ],
            false,
        )
        .unwrap();
    let mut h = harness(init(&rt, dir.path(), store, None));
    wait_for(&mut h, "Code brand");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    h.get_by_role_and_label(Role::ComboBox, "Bank").click();
    h.run_steps(4);
    type_into(&mut h, Role::TextInput, "Search banks", "工商银行");
    h.run_steps(4);
    h.get_by_label_contains("中国工商银行 · ICBC").click();
    h.run_steps(4);
    {
        let f = &mut h.state_mut().payout_form;
        f.amount = "88.00".into();
        f.number = "6222020200007001".into();
        f.name = "张伟".into();
        f.notify_url.clear();
    }
    h.step();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    let created = sandbox.created_payouts();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].bank_name, "中国工商银行");
    assert_eq!(created[0].bank_fields, ["bank_code"]);
    assert_eq!(created[0].amount_fen, 8_800);
    drop(sandbox);
}
