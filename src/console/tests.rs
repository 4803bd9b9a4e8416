//! The real console, driven as a person would with egui_kittest, against the in-process
//! sandbox over real HTTP: search, page, inspect, find the tampered order, verify a pasted
//! notification, and see a gateway error with its meaning.

use std::sync::Arc;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use paydesk::domain::profiles::{
    GatewayKind, MemoryStore, Profile, ProfileError, Profiles, SecretKind, SecretStore,
};
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::sandbox::SandboxConfig;
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

use super::files::{FileDialogs, FileFuture, OpenKind, SaveFuture};
use super::{AppInit, PaydeskApp, Tab};

/// The injected file dialogs: "opens" the given file, "saves" into a folder under the
/// suggested name.
struct FakeDialogs(
    Option<(String, Vec<u8>)>,
    std::path::PathBuf,
    Arc<std::sync::Mutex<Vec<OpenKind>>>,
);

impl FileDialogs for FakeDialogs {
    fn open_file(&self, kind: OpenKind) -> FileFuture {
        if let Ok(mut asked) = self.2.lock() {
            asked.push(kind);
        }
        let file = self.0.clone();
        Box::pin(async move { file })
    }

    fn save_file(&self, suggested_name: String) -> SaveFuture {
        let dir = self.1.clone();
        Box::pin(async move {
            std::fs::create_dir_all(&dir).ok()?;
            Some(dir.join(suggested_name))
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        deposits: 600,
        payouts: 400,
        ..SandboxConfig::default()
    }
}

fn init(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    store: Arc<dyn SecretStore>,
    file: Option<(String, Vec<u8>)>,
) -> AppInit {
    AppInit {
        runtime: rt.handle().clone(),
        config_dir: Some(dir.to_path_buf()),
        store,
        file_dialogs: Arc::new(FakeDialogs(file, dir.join("exports"), Arc::default())),
        sandbox: sandbox_config(),
        data_dir: Some(dir.join("data")),
    }
}

fn harness(init: AppInit) -> Harness<'static, PaydeskApp> {
    Harness::builder()
        .with_size(egui::vec2(1500.0, 900.0))
        .build_eframe(move |cc| PaydeskApp::new(&cc.egui_ctx, None, init))
}

/// How long a person would wait for a result before calling it broken: generous, since
/// CI runs every console test at once on two cores.
const PATIENCE: Duration = Duration::from_mins(1);

/// Steps the real app until `text` shows, as a person waits for a result.
fn wait_for(h: &mut Harness<'_, PaydeskApp>, text: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        h.step();
        if h.query_all_by_label_contains(text).next().is_some() {
            // Let the layout settle (areas re-centre a frame after they grow), as a
            // person sees it before clicking.
            h.step();
            h.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("“{text}” never appeared");
}

/// Steps until the payout journal is open (the "Opening the payout journal…" notice is
/// gone): sending waits for it, looking things up does not.
fn wait_for_journal(h: &mut Harness<'_, PaydeskApp>) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while h.state().journal.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the journal never opened"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    h.step();
}

fn click(h: &mut Harness<'_, PaydeskApp>, role: Role, label: &str) {
    h.get_by_role_and_label(role, label).click();
    // The frame that takes the click, then the one that shows its effect.
    h.step();
    h.step();
}

#[test]
fn search_page_inspect_and_find_the_tampered_order() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    // First start with nothing configured: the sandbox, clearly marked.
    wait_for(&mut h, "Sandbox — demo data, no real money");
    wait_for(&mut h, "page 1 of 24");
    assert!(h.query_by_label_contains("gateway total 600").is_some());

    click(&mut h, Role::Button, "Next");
    wait_for(&mut h, "page 2 of 24");
    click(&mut h, Role::Button, "Previous");
    wait_for(&mut h, "page 1 of 24");
    h.key_press(egui::Key::PageDown);
    wait_for(&mut h, "page 2 of 24");
    h.key_press(egui::Key::PageUp);
    wait_for(&mut h, "page 1 of 24");

    // A bigger page holds some of the orders whose sign was tampered with.
    h.state_mut().deposits.filter.page_size = 500;
    click(&mut h, Role::Button, "Search");
    wait_for(&mut h, "page 1 of 2");
    wait_for(&mut h, "4 invalid signatures");
    h.get_by_label("Only invalid signatures").click();
    wait_for(&mut h, "4 of 500 loaded orders shown");
    let tampered = {
        let page = h.state().deposits.result.shown().unwrap();
        page.rows
            .iter()
            .find(|r| r.order.signature.is_invalid())
            .unwrap()
            .order
            .system_id
            .clone()
    };
    h.get_by_label(&tampered).click();
    wait_for(&mut h, "Order details");
    assert!(
        h.query_by_label_contains("invalid: the signature does not match")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("&***").is_some(),
        "the signed text, key masked"
    );
    assert!(h.query_by_label_contains("left out: memo").is_some());

    // Chinese names render (the harness fails on a missing glyph).
    h.get_by_label("Only invalid signatures").click();
    h.step();

    // Sort by amount with a click on its header, then the other way with a second.
    click(&mut h, Role::Button, "Amount");
    let amounts: Vec<_> = h
        .state()
        .deposits
        .visible_rows()
        .map(|r| r.order.amount.unwrap())
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] <= w[1]), "ascending");
    assert!(
        h.query_by_label("↑").is_some(),
        "the header shows the order"
    );
    click(&mut h, Role::Button, "Amount");
    let amounts: Vec<_> = h
        .state()
        .deposits
        .visible_rows()
        .map(|r| r.order.amount.unwrap())
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "descending");

    // Ctrl+F, then type: the loaded rows narrow to the one order.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Quick filter")
        .type_text(&tampered.to_lowercase());
    wait_for(&mut h, "1 of 500 loaded orders shown");
    assert!(
        h.state()
            .deposits
            .result
            .shown()
            .unwrap()
            .rows
            .iter()
            .any(|r| r
                .order
                .depositor_name
                .as_deref()
                .is_some_and(|n| n.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))))
    );
}

#[test]
fn a_date_range_is_searched_with_its_exact_bounds() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "Payouts");
    wait_for(&mut h, "page 1 of 16");
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date();
    {
        let f = &mut h.state_mut().payouts.filter;
        f.use_range = true;
        f.from_date = today.saturating_sub(jiff::Span::new().days(20));
        f.to_date = today;
    }
    h.step();
    let range = h.state().payouts.filter.range().unwrap().unwrap();
    wait_for(&mut h, &format!("create_time__gte={}", range.from_secs));
    click(&mut h, Role::Button, "Search");
    // What the gateway says for that range, asked directly.
    let client = h.state().connection.as_ref().unwrap().cny.clone().unwrap();
    let expected = rt
        .block_on(client.query(
            paydesk::gateway::cny::wire::OrderKind::Payout,
            &paydesk::gateway::cny::wire::OrderQuery {
                created: Some(range),
                ..Default::default()
            },
        ))
        .unwrap()
        .total;
    assert!(expected > 0 && expected < 400);
    wait_for(&mut h, &format!("gateway total {expected}"));
    let shown = h.state().payouts.result.shown().unwrap();
    assert!(shown.rows.iter().all(|r| (range.from_secs..=range.to_secs).contains(&r.order.create_time_secs.unwrap())));
}

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
struct MemoryStorage(std::collections::HashMap<String, String>);

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
    app.payouts.filter.tz = crate::console::panels::orders::TzChoice::Utc;
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
    assert_eq!(
        restored.payouts.filter.tz,
        crate::console::panels::orders::TzChoice::Utc
    );
    assert_eq!(restored.payouts.filter.merchant_id, "pay_1796000000_7");
    assert_eq!(restored.payouts.filter.page_size, 200);
    assert!(restored.profiles.form.md5_key.is_empty());
}

#[test]
fn the_payout_form_checks_sends_and_warns_of_a_duplicate() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    wait_for(&mut h, "choose a bank from the list");
    for (label, text, reason) in [
        (
            "Amount (yuan)",
            "12.345",
            "at most 2 decimal places are allowed (found 3)",
        ),
        (
            "Account number",
            "12ab",
            "the account number may contain only digits",
        ),
        ("Notify URL (optional)", "ftp://x", "must be an http(s) URL"),
    ] {
        let field = h.get_by_role_and_label(Role::TextInput, label);
        field.focus();
        field.type_text(text);
        wait_for(&mut h, reason);
    }
    // With problems left, review cannot start.
    click(&mut h, Role::Button, "Review payout…");
    assert!(h.state().payout_form.review.is_none());

    let fill = |h: &mut Harness<'_, PaydeskApp>| {
        let abc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ABC").cloned();
        let f = &mut h.state_mut().payout_form;
        f.amount = "1,234.56".into();
        f.number = "6216 6674 5167 4374".into();
        f.name = "王小头".into();
        f.notify_url.clear();
        f.bank = abc;
    };
    fill(&mut h);
    wait_for(&mut h, "¥1,234.56 = 123456 fen = 壹仟贰佰叁拾肆元伍角陆分");
    let cl_id = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(
        &mut h,
        "No likely duplicate: no payout to the same account for the same amount in the last 7 day(s)",
    );
    assert!(
        h.query_by_label_contains("6216 **** 4374").is_some(),
        "the account is masked"
    );
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, &cl_id);

    // The same account and amount again: held back until ticked "Send anyway".
    click(&mut h, Role::Button, "New payout");
    fill(&mut h);
    h.step();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, &format!("likely duplicate of payout {cl_id}"));
    let cancels = h
        .query_all_by_role_and_label(Role::Button, "Cancel")
        .count();
    assert_eq!(cancels, 1, "one Cancel button");
    click(&mut h, Role::Button, "Cancel");
    assert!(h.state().payout_form.review.is_none());
}

fn disabled(h: &Harness<'_, PaydeskApp>, label: &str) -> bool {
    h.get_by_role_and_label(Role::Button, label)
        .accesskit_node()
        .is_disabled()
}

/// Issue 10, finding 1: a likely duplicate typed again by hand is held back until the
/// operator ticks "Send anyway" for it, within the 7-day window.
#[test]
fn a_duplicate_payout_is_sent_only_once_ticked_send_anyway() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    let fill = |h: &mut Harness<'_, PaydeskApp>| {
        let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
        let f = &mut h.state_mut().payout_form;
        f.amount = "77.00".into();
        f.number = "6222020200007777".into();
        f.name = "李娜".into();
        f.bank = icbc;
    };
    fill(&mut h);
    h.step();
    let first = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");

    fill(&mut h);
    h.step();
    let second = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, &format!("likely duplicate of payout {first}"));
    assert!(disabled(&h, "Send payout"), "held back until ticked");
    click(&mut h, Role::CheckBox, &format!("Send anyway: {second}"));
    assert!(!disabled(&h, "Send payout"));
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, &format!("{second}: accepted by the gateway"));
}

/// Issue 10, finding 1: an import's review lists its held rows, each with its own "Send
/// anyway" tick box; Send is off until every held row is ticked.
#[test]
fn an_import_review_holds_duplicates_until_each_is_ticked() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant order id,amount,bank,name,number
                ktdup1,300.00,ICBC,王小头,6222020200008888
                ktdup2,12.00,ICBC,李娜,6222020200008889
                ktdup3,300,ICBC,王小头,6222 0202 0000 8888
";
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some(("pay.csv".into(), file.as_bytes().to_vec())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import payouts from a file…");
    wait_for(&mut h, "1 likely duplicate(s) held back");
    wait_for(&mut h, "likely duplicate of row 2 of this file (ktdup1)");
    assert!(
        disabled(&h, "Send 3 payouts"),
        "nothing is sent until ticked"
    );
    assert!(
        h.query_by_role_and_label(Role::CheckBox, "Send anyway: ktdup1")
            .is_none(),
        "only the later row is held"
    );
    click(&mut h, Role::CheckBox, "Send anyway: ktdup3");
    assert!(!disabled(&h, "Send 3 payouts"));
    click(&mut h, Role::CheckBox, "Send anyway: ktdup3");
    assert!(disabled(&h, "Send 3 payouts"), "unticked: off again");
    click(&mut h, Role::CheckBox, "Send anyway: ktdup3");
    click(&mut h, Role::Button, "Send 3 payouts");
    wait_for(&mut h, "3 accepted");
}

/// Issue 10, finding 8: the same sub-orders under a new batch ID are held in the New batch
/// review until each is ticked.
#[test]
fn a_batch_review_holds_sub_orders_of_an_earlier_batch() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type
                kd1,USDT,10.5,TRX,TXyzKtDup1,,0
                kd2,USDT,0.25,TRX,TXyzKtDup2,,0
";
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some(("batch.csv".into(), file.as_bytes().to_vec())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New batch");
    wait_for_journal(&mut h);
    h.state_mut().new_batch.batch_id = "kt_dup_1".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send batch");
    wait_for(&mut h, "Open in batch detail");

    // The same file under a new batch ID.
    h.state_mut().new_batch.batch_id = "kt_dup_2".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "2 likely duplicate(s) held back");
    wait_for(&mut h, "sub-order kd1 of batch kt_dup_1");
    assert!(disabled(&h, "Send batch"));
    click(&mut h, Role::CheckBox, "Send anyway: kd1");
    assert!(disabled(&h, "Send batch"), "one of two ticked");
    click(&mut h, Role::CheckBox, "Send anyway: kd2");
    assert!(!disabled(&h, "Send batch"));
    click(&mut h, Role::Button, "Send batch");
    wait_for(&mut h, "Open in batch detail");
    let sent = h.state().new_batch.result.clone().unwrap().unwrap();
    assert_eq!(sent.batch_id, "kt_dup_2");
}

#[test]
fn check_with_the_gateway_now_shows_badly_signed_replies_in_red_and_settles_nothing() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut init = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    init.sandbox.faults = paydesk::sandbox::Faults::parse("bad-sign=1.0").unwrap();
    let mut h = harness(init);
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    let abc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ABC").cloned();
    {
        let f = &mut h.state_mut().payout_form;
        f.amount = "88.00".into();
        f.number = "6216 6674 5167 9911".into();
        f.name = "王小头".into();
        f.notify_url.clear();
        f.bank = abc;
    }
    h.step();
    wait_for(&mut h, "¥88.00 = 8800 fen");
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "Check with the gateway now");
    click(&mut h, Role::Button, "Check with the gateway now");
    wait_for(
        &mut h,
        "1 payout(s): the gateway's reply failed its signature check",
    );
    wait_for(&mut h, "accepted · unverified");
    let entry = &h.state().sent.entries[0];
    assert!(entry.unverified());
    assert_eq!(entry.gateway_status, None, "no status from a bad sign");
}

#[test]
fn the_batch_panel_filters_by_status_and_flags_stuck_sub_orders() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269144");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "Batch M57143269144");
    wait_for(&mut h, "6 sub-order(s) in ALL");
    // The seeded CHECK and PROCESSING sub-orders have sat there for three hours.
    wait_for(&mut h, "2 sub-order(s) stuck");
    assert_eq!(h.query_all_by_label("STUCK").count(), 2);

    click(&mut h, Role::Button, "Check");
    wait_for(&mut h, "1 sub-order(s) in CHECK");
    let rows = &h.state().batches.rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].sub.status, "CHECK");
    assert!(rows[0].stuck.is_some());
    assert_eq!(h.query_all_by_label("STUCK").count(), 1);

    click(&mut h, Role::Button, "Fail");
    wait_for(&mut h, "1 sub-order(s) in FAIL");
    wait_for(&mut h, "address is not valid for this chain");
    assert!(h.query_by_label_contains("sub-order(s) stuck").is_none());

    // A longer threshold clears the flag.
    click(&mut h, Role::Button, "All");
    wait_for(&mut h, "6 sub-order(s) in ALL");
    h.get_by_label("Stuck after").set_value_accesskit(600.0);
    h.step();
    h.step();
    assert_eq!(h.state().batches.stuck_minutes, 600);
    assert!(h.query_by_label_contains("sub-order(s) stuck").is_none());
    // The batch is remembered for the picker.
    assert_eq!(h.state().batches.recent[0], "M57143269144");
}

#[test]
fn a_batch_is_reviewed_with_its_totals_and_sent_through_the_journal() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                k1,USDT,10.5,TRX,TXyzKittest1,,0\n\
                k2,USDT,0.25,TRX,TXyzKittest2,,0\n\
                k3,BTC,0.001,BTC,bc1qkittest,,1\n";
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some(("batch.csv".into(), file.as_bytes().to_vec())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New batch");
    h.state_mut().new_batch.batch_id = "kt_batch_1".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    wait_for(&mut h, "3 sub-order(s): 0.001 BTC (1), 10.75 USDT (2)");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "Send this batch?");
    assert!(h.query_by_label("10.75").is_some());
    // "Send batch" is off until the duplicate check is in: a click before it is lost.
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send batch");
    wait_for(&mut h, "Open in batch detail");
    let sent = h.state().new_batch.result.clone().unwrap().unwrap();
    assert_eq!(sent.batch_id, "kt_batch_1");
    assert_eq!(sent.state, paydesk::domain::journal::State::Accepted);
    assert_eq!(sent.sub_orders, 3);
    click(&mut h, Role::Button, "Open in batch detail");
    wait_for(&mut h, "Batch kt_batch_1");
    wait_for(&mut h, "3 sub-order(s) in ALL");
}

#[test]
fn the_export_dialog_writes_every_payout_and_its_manifest() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts");
    wait_for(&mut h, "gateway total 400");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    wait_for(&mut h, "Choose file and export…");
    // CSV, without the memo column, amounts in fen.
    click(&mut h, Role::RadioButton, "CSV (UTF-8, BOM)");
    click(&mut h, Role::RadioButton, "fen");
    click(&mut h, Role::CheckBox, "Memo");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 400 rows");
    assert!(
        h.query_by_label_contains("Matches the gateway's total of 400")
            .is_some()
    );
    let exports = dir.path().join("exports");
    let name = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "csv")
        })
        .unwrap();
    assert!(name.starts_with("payouts_"), "{name}");
    let text = std::fs::read_to_string(exports.join(&name)).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with('\u{feff}'));
    assert!(
        header.contains("Amount (fen)") && !header.contains("Memo"),
        "{header}"
    );
    assert_eq!(text.lines().count(), 401);
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(exports.join(format!("{name}.manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["rows"], 400);
    assert_eq!(manifest["gateway_total"], 400);
    assert_eq!(manifest["profile"]["marker"], "SANDBOX");

    // The batch panel exports its sub-orders the same way.
    h.state_mut().export.open = false;
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269143");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "12 sub-order(s) in ALL");
    click(&mut h, Role::Button, "Export…");
    click(&mut h, Role::RadioButton, "XLSX");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 12 rows");
    assert!(exports.join("batch_M57143269143_all.xlsx").exists());
    assert!(
        exports
            .join("batch_M57143269143_all.xlsx.manifest.json")
            .exists()
    );
}

#[test]
fn without_a_journal_batches_are_looked_up_but_nothing_is_sent() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut setup = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    setup.data_dir = None;
    let mut h = harness(setup);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    // Looking a batch up needs no journal.
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269144");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "6 sub-order(s) in ALL");
    // Sending does, and the operator is told why it is not possible.
    click(&mut h, Role::Button, "New batch");
    wait_for(
        &mut h,
        "The payout journal cannot be opened, so nothing can be sent",
    );
    assert!(h.query_by_label_contains("no data directory").is_some());
    click(&mut h, Role::Button, "New payout");
    wait_for(
        &mut h,
        "The payout journal cannot be opened, so nothing can be sent",
    );
    assert!(
        h.query_by_label_contains("Payouts need an active CNY gateway profile")
            .is_none()
    );
}

/// A click lands where the operator saw the button: the journal opening in the very frame
/// of the click (its notice going away) must not move the batch form under the pointer. This
/// was the cause of a CI failure ("from batch.csv" never appeared).
#[test]
fn the_batch_form_does_not_move_when_the_journal_opens() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                k1,USDT,10.5,TRX,TXyzKittest1,,0\n";
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some(("batch.csv".into(), file.as_bytes().to_vec())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    wait_for_journal(&mut h);
    // The form as it looks while the journal is still opening…
    let journal = h.state_mut().journal.take();
    click(&mut h, Role::Button, "New batch");
    wait_for(&mut h, "Opening the payout journal");
    h.get_by_role_and_label(Role::Button, "Import sub-orders from a file…")
        .click();
    // …and the journal opens before the click is taken.
    h.state_mut().journal = journal;
    wait_for(&mut h, "from batch.csv");
    assert!(
        h.query_by_label_contains("Opening the payout journal")
            .is_none()
    );
}

#[test]
fn an_empty_journal_blocks_sending_and_says_how_to_recover() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let journal = dir.path().join("data").join("journal.sqlite3");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"").unwrap();
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "paydesk journal restore");
    assert!(
        h.query_all_by_label_contains("empty (0 bytes)")
            .next()
            .is_some()
    );
    assert!(
        h.query_all_by_label_contains("nothing can be sent: the payout journal")
            .next()
            .is_none(),
        "“nothing can be sent” is said once, not twice in one sentence"
    );
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "empty (0 bytes)");
    assert!(h.state().journal.is_none());
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        0,
        "never replaced"
    );
}

#[test]
fn a_damaged_journal_still_lists_what_reads_and_sends_nothing() {
    use paydesk::domain::journal::{Intent, Journal, State};
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let path = dir.path().join("data").join("journal.sqlite3");
    {
        let mut j = Journal::open(&path).unwrap();
        for (i, id) in ["READS_FINE_1", "BROKEN_ROW_2"].iter().enumerate() {
            j.record_intents(
                &[Intent {
                    merchant: "PF0060@127.0.0.1:1".into(),
                    request: paydesk::gateway::cny::wire::PayoutRequest {
                        payout_cl_id: (*id).to_owned(),
                        amount: paydesk::money::Fen::from_fen(12_345),
                        bank_name: "中国工商银行".into(),
                        name: "张伟".into(),
                        number: format!("622202021234567{i}"),
                        bank_branch: None,
                        province: None,
                        city: None,
                        notify_url: None,
                    },
                    state: State::Queued,
                    batch: None,
                }],
                1_000,
            )
            .unwrap();
        }
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE payouts SET state = 'bogus' WHERE payout_cl_id = 'BROKEN_ROW_2'",
        [],
    )
    .unwrap();
    drop(conn);
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "READS_FINE_1");
    assert!(h.query_by_label_contains("unknown state bogus").is_some());
    assert!(h.state().journal.is_none(), "nothing can be sent");
    assert!(
        h.state()
            .send_blocker(paydesk::domain::profiles::GatewayKind::Cny)
            .is_some_and(|b| b.contains("paydesk journal restore"))
    );
}

// The new operator's walkthrough of issue 10 in a real window: what tripped them up.

/// A damaged journal's message beside the send buttons ran off the window's edge on one
/// line, hiding the way out; and "Import payouts from a file…" did nothing, silently.
#[test]
fn a_damaged_journal_message_fits_beside_every_send_button() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let journal = dir.path().join("data").join("journal.sqlite3");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"").unwrap();
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "paydesk journal restore");
    let width = 1500.0;
    let messages: Vec<egui::Rect> = h
        .query_all_by_label_contains("paydesk journal restore")
        .map(|n| n.rect())
        .collect();
    assert_eq!(messages.len(), 2, "beside Review payout… and the import");
    for r in messages {
        assert!(
            r.right() <= width,
            "the way out is cut off at the window's edge: {r:?}"
        );
    }
    assert!(
        disabled(&h, "Import payouts from a file…"),
        "a click that cannot be done is off, not silently dropped"
    );
}

/// With held rows not all ticked, the greyed Send button said nothing of why.
#[test]
fn a_greyed_import_send_says_how_many_held_rows_are_ticked() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "amount,bank,name,number
66.60,ABC,钱七,6228480000000000017
66.60,ABC,钱七,6228480000000000017
";
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some(("pay.csv".into(), file.as_bytes().to_vec())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import payouts from a file…");
    wait_for(&mut h, "0 of 1 held row(s) ticked “Send anyway”");
    assert!(disabled(&h, "Send 2 payouts"));
    h.get_by_label_contains("Send anyway: bulk_").click();
    h.step();
    h.step();
    assert!(!disabled(&h, "Send 2 payouts"));
    assert!(
        h.query_by_label_contains("held row(s) ticked").is_none(),
        "the reason goes once every held row is ticked"
    );
    // Once sent, "held back … nothing is sent" is not left standing.
    click(&mut h, Role::Button, "Send 2 payouts");
    wait_for(&mut h, "2 accepted");
    assert!(h.query_by_label_contains("held back").is_none());
    assert!(
        h.query_by_label_contains("1 likely duplicate(s) confirmed “Send anyway”")
            .is_some()
    );
}

/// Importing payouts or sub-orders opened a dialog titled for a notification and listing
/// only JSON or text, so the operator's CSV or XLSX did not show.
#[test]
fn imports_ask_for_a_spreadsheet_not_a_reply() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let asked: Arc<std::sync::Mutex<Vec<OpenKind>>> = Arc::default();
    let mut i = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    i.file_dialogs = Arc::new(FakeDialogs(
        None,
        dir.path().join("exports"),
        Arc::clone(&asked),
    ));
    let mut h = harness(i);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import payouts from a file…");
    click(&mut h, Role::Button, "New batch");
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    let deadline = std::time::Instant::now() + PATIENCE;
    while asked.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    // The two dialogs open on worker threads: the order they arrive in is not the point.
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.contains(&OpenKind::Payouts), "{asked:?}");
    assert!(asked.contains(&OpenKind::SubOrders), "{asked:?}");
}

/// "Check with the gateway now" with nothing unsettled said "0 checked, 0 found, …",
/// which reads as if the check did not happen.
#[test]
fn a_check_with_nothing_waiting_says_so() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Check with the gateway now");
    wait_for(&mut h, "nothing was waiting on the gateway");
    assert!(h.query_by_label_contains("0 checked").is_none());
    // With the background check reporting on the same line, its time says which one it is.
    let line = h
        .get_by_label_contains("Last check (")
        .accesskit_node()
        .value()
        .or_else(|| {
            h.get_by_label_contains("Last check (")
                .accesskit_node()
                .label()
        })
        .unwrap_or_default();
    let time = line
        .trim_start_matches("Last check (")
        .split(')')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(time.len(), 8, "HH:MM:SS in {line}");
}

/// The New batch grid left every field as narrow as its header: the Address column showed
/// four characters of the address about to be paid. And its review, with nothing held,
/// spoke of "the same account", the CNY rule, as if sub-orders were not compared at all.
#[test]
fn a_new_batch_shows_whole_addresses_and_names_the_sub_order_rule() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let address = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf";
    let file = format!(
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\nkw1,USDT,125.5,TRX,{address},,0\n"
    );
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        Some(("batch.csv".into(), file.into_bytes())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New batch");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    let field = h
        .query_all_by_role(Role::TextInput)
        .find(|n| n.accesskit_node().value().as_deref() == Some(address))
        .map(|n| n.rect())
        .expect("the address field");
    // 34 monospace characters take about 260 points at the default size.
    assert!(
        field.width() >= 300.0,
        "the address field is cut to {} points",
        field.width()
    );
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "No likely duplicate");
    assert!(
        h.query_by_label_contains("the same address, currency and amount")
            .is_some()
    );
    assert!(h.query_by_label_contains("the same account").is_none());
}

/// A file dropped on the window, as the console gets it from the windowing system.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Where no file dialog can open (no desktop portal, no zenity: `rfd` reports a cancel),
/// "Import payouts from a file…" did nothing and there was no other way in. A file dropped
/// on the window imports as the button would, on New payout and on New batch.
#[test]
fn a_file_dropped_on_the_window_is_imported() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let payouts = dir.path().join("pay.csv");
    std::fs::write(
        &payouts,
        "amount,bank,name,number\n12.00,ICBC,李娜,6222020200008889\n",
    )
    .unwrap();
    let batch = dir.path().join("subs.csv");
    std::fs::write(
        &batch,
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\nkdrop1,USDT,1.5,TRX,TXyzKtDrop1,,0\n",
    )
    .unwrap();
    // No file from the dialog: it "cannot open".
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    h.input_mut().dropped_files.push(Arc::new(Dropped(payouts)));
    h.step();
    wait_for(&mut h, "File pay.csv");
    wait_for(&mut h, "1 payouts, total ¥12.00");
    click(&mut h, Role::Button, "New batch");
    h.input_mut().dropped_files.push(Arc::new(Dropped(batch)));
    h.step();
    wait_for(&mut h, "from subs.csv");
    assert_eq!(h.state().new_batch.items[0].merchant_withdraw_id, "kdrop1");
}

/// "Check with the gateway now" writes what it learns to the journal: on a damaged journal it
/// is off, like the send buttons, and says why on hover.
#[test]
fn check_with_the_gateway_now_is_off_on_a_damaged_journal() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let journal = dir.path().join("data").join("journal.sqlite3");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"").unwrap();
    let mut h = harness(init(
        &rt,
        dir.path(),
        Arc::new(MemoryStore::default()),
        None,
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "empty (0 bytes)");
    assert!(disabled(&h, "Check with the gateway now"));
}
