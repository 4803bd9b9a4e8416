//! A profile on a team journal (a real PostgreSQL server through the test harness; skipped
//! without one): the Awaiting approval view, approving another operator's payout (which sends
//! it to the sandbox), live updates when another operator acts, and a server that cannot be
//! reached blocking sending with its reason while searching still works.

use std::sync::{Arc, Mutex};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

use paydesk::clock::SystemClock;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::journal::team::testing::{TestDb, server};
use paydesk::domain::journal::{Journal, State};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::domain::profiles::{GatewayKind, MemoryStore, Profile, Profiles, SecretKind};
use paydesk::gateway::cny::Brand;
use paydesk::gateway::cny::sign::SignOptions;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::gatepay::wire::{BatchRequest, WithdrawItem};
use paydesk::money::{CryptoAmount, Fen};
use paydesk::sandbox::SandboxHandle;
use paydesk::secret::Secret;

use super::{click, disabled, harness, init, runtime, sandbox_config, wait_for};
use crate::console::connection::Connection;
use crate::console::panels::approvals::OWN_HINT;

fn request(cl_id: &str, fen: i64, number: &str) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(fen),
        bank_name: "中国工商银行".to_owned(),
        name: "张伟".to_owned(),
        number: number.to_owned(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

/// Operator `who`'s desk on the team journal, as another Paydesk would hold it.
fn desk(sb: &SandboxHandle, db: &TestDb, who: &str) -> PayoutDesk {
    let journal = Journal::open_team(&db.url(who), Some(&db.password(who))).unwrap();
    let cny = Connection::sandbox(sb).unwrap().cny.unwrap();
    PayoutDesk::new(Arc::new(Mutex::new(journal)), cny, Arc::new(SystemClock))
}

/// A profile on the sandbox's CNY merchant whose payouts go to `team` (a URL without
/// password), with `password` in the keyring.
fn save_profile(
    dir: &std::path::Path,
    store: &Arc<MemoryStore>,
    sb: &SandboxHandle,
    team: &str,
    password: Option<Secret>,
) {
    let cny = sb.info.cny.clone();
    let mut secrets = vec![
        (SecretKind::AuthToken, cny.auth_token.clone()),
        (SecretKind::Md5Key, cny.md5_key.clone()),
    ];
    if let Some(p) = password {
        secrets.push((SecretKind::TeamJournalPassword, p));
    }
    Profiles::load(dir, store.clone())
        .unwrap()
        .save(
            Profile {
                name: "Team desk".into(),
                gateway: GatewayKind::Cny,
                base_url: sb.base_url().to_owned(),
                platform_id: cny.platform_id.clone(),
                client_id: String::new(),
                on_behalf_of: String::new(),
                live: false,
                sign: SignOptions::default(),
                brand: Brand::default(),
                team_journal: Some(team.to_owned()),
            },
            &secrets,
            false,
        )
        .unwrap();
}

/// Alice's console on the team journal `db`, her profile on the sandbox `sb` (its password in
/// the keyring), in a directory of its own.
fn alice_at_the_console(
    rt: &tokio::runtime::Runtime,
    sb: &SandboxHandle,
    db: &TestDb,
) -> (
    tempfile::TempDir,
    egui_kittest::Harness<'static, crate::console::PaydeskApp>,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    save_profile(
        dir.path(),
        &store,
        sb,
        &db.url("alice").to_string(),
        Some(db.password("alice")),
    );
    let h = harness(init(rt, dir.path(), store, None));
    (dir, h)
}

/// A team database whose rule holds back every payout of ¥1,000.00 and more of the sandbox's
/// merchant.
fn team(sb: &SandboxHandle) -> Option<TestDb> {
    let db = server()?.fresh(&["alice", "bob"]);
    db.owner_sql(
        "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ($1, 100000)",
        &[&sb.info.cny.platform_id],
    );
    Some(db)
}

#[test]
fn alice_approves_bobs_payout_and_it_is_sent_but_not_her_own() {
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let Some(db) = team(&sb) else { return };
    let bob = desk(&sb, &db, "bob");
    let held = rt
        .block_on(bob.submit(&request("bob_big_1", 250_000, "6222020200007001")))
        .unwrap();
    assert!(held.held_for_approval());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    save_profile(
        dir.path(),
        &store,
        &sb,
        &db.url("alice").to_string(),
        Some(db.password("alice")),
    );
    let alice = desk(&sb, &db, "alice");
    rt.block_on(alice.submit(&request("alice_big_1", 300_000, "6222020200007002")))
        .unwrap();

    let mut h = harness(init(&rt, dir.path(), store, None));
    wait_for(&mut h, "Team desk");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(
        &mut h,
        &format!("Team journal {}", db.url("alice").target()),
    );
    wait_for(&mut h, "awaiting approval");
    click(&mut h, Role::Button, "Awaiting approval");
    wait_for(&mut h, "Approve bob_big_1");
    wait_for(&mut h, "Approve alice_big_1");
    assert!(!disabled(&h, "Approve bob_big_1"));
    assert!(disabled(&h, "Approve alice_big_1"), "her own payout");
    assert!(
        disabled(&h, "Reject bob_big_1"),
        "a rejection needs a reason"
    );
    assert!(h.query_all_by_label_contains(OWN_HINT).next().is_some());
    assert!(
        h.query_all_by_label_contains(&format!("by {}", db.role("bob")))
            .next()
            .is_some(),
        "who recorded it"
    );
    assert!(
        h.query_all_by_label_contains("¥2,500.00 = 250000 fen")
            .next()
            .is_some(),
        "the exact amount"
    );
    assert_eq!(sb.payout_create_requests().get("bob_big_1"), None);

    assert!(
        h.query_all_by_label_contains("UTC+8").next().is_some(),
        "times name their zone"
    );
    // Approving sends at once: it is asked once more, and Cancel sends nothing.
    click(&mut h, Role::Button, "Approve bob_big_1");
    wait_for(&mut h, "Paydesk sends it to the gateway at once");
    click(&mut h, Role::Button, "Cancel approving bob_big_1");
    h.run_steps(3);
    assert!(
        h.query_all_by_label_contains("Approve and send bob_big_1")
            .next()
            .is_none()
    );
    assert_eq!(sb.payout_create_requests().get("bob_big_1"), None);
    click(&mut h, Role::Button, "Approve bob_big_1");
    click(&mut h, Role::Button, "Approve and send bob_big_1");
    wait_for(&mut h, "bob_big_1: approved; accepted by the gateway");
    assert_eq!(sb.payout_create_requests().get("bob_big_1"), Some(&1));
    assert_eq!(sb.payout_create_requests().get("alice_big_1"), None);
    drop(h);
    rt.block_on(sb.stop());
}

/// Operator `who`'s GatePay batch desk on the team journal.
fn batch_desk(sb: &SandboxHandle, db: &TestDb, who: &str) -> BatchDesk {
    let journal = Journal::open_team(&db.url(who), Some(&db.password(who))).unwrap();
    let gatepay = Connection::sandbox(sb).unwrap().gatepay.unwrap();
    BatchDesk::new(
        Arc::new(Mutex::new(journal)),
        gatepay,
        Arc::new(SystemClock),
    )
}

fn batch(id: &str, items: &[(&str, &str, &str)]) -> BatchRequest {
    BatchRequest {
        batch_id: id.into(),
        withdraw_list: items
            .iter()
            .map(|(wid, amount, address)| WithdrawItem {
                merchant_withdraw_id: (*wid).into(),
                currency: "USDT".into(),
                amount: CryptoAmount::parse_payout(amount).unwrap(),
                chain: "TRX".into(),
                address: (*address).into(),
                memo: String::new(),
                fee_type: 0,
            })
            .collect(),
        channel_id: None,
    }
}

#[test]
fn alice_approves_bobs_gatepay_batch_seeing_its_likely_duplicate_and_it_is_sent() {
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let Some(db) = server().map(|s| s.fresh(&["alice", "bob"])) else {
        return;
    };
    let client_id = sb.info.gatepay.client_id.clone();
    db.owner_sql(
        "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ($1, 'USDT', 1000)",
        &[&client_id],
    );
    let bob = batch_desk(&sb, &db, "bob");
    // An earlier small batch, sent; then a big one paying the same address the same amount.
    let small = rt
        .block_on(bob.submit(&batch("tc_small_1", &[("tcs1", "25", "TXtcDup0001")])))
        .unwrap();
    assert_eq!(small.state, State::Accepted);
    let held = rt
        .block_on(bob.submit(&batch(
            "tc_big_1",
            &[
                ("tcb1", "25", "TXtcDup0001"),
                ("tcb2", "2000", "TXtcBig0002"),
            ],
        )))
        .unwrap();
    assert!(held.held_for_approval());

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    Profiles::load(dir.path(), store.clone())
        .unwrap()
        .save(
            Profile {
                name: "Team crypto".into(),
                gateway: GatewayKind::Gatepay,
                base_url: sb.base_url().to_owned(),
                platform_id: String::new(),
                client_id: client_id.clone(),
                on_behalf_of: sb.info.gatepay.on_behalf_of.clone(),
                live: false,
                sign: SignOptions::default(),
                brand: Brand::default(),
                team_journal: Some(db.url("alice").to_string()),
            },
            &[
                (SecretKind::GatepaySecret, sb.info.gatepay.secret.clone()),
                (SecretKind::TeamJournalPassword, db.password("alice")),
            ],
            false,
        )
        .unwrap();
    let mut h = harness(init(&rt, dir.path(), store, None));
    wait_for(&mut h, "Team crypto");
    click(&mut h, Role::Button, "Awaiting approval");
    wait_for(&mut h, "1 GatePay batch(es) awaiting approval");
    wait_for(&mut h, "Approve tc_big_1");
    assert!(
        h.query_all_by_label_contains("2025 USDT").next().is_some(),
        "its totals"
    );
    assert!(
        h.query_all_by_label_contains(&format!("by {}", db.role("bob")))
            .next()
            .is_some(),
        "who recorded it"
    );
    wait_for(&mut h, "1 sub-order(s) like one of an earlier batch");
    assert!(
        h.query_all_by_label_contains("tc_small_1").next().is_some(),
        "the earlier batch it looks like"
    );
    assert!(
        disabled(&h, "Reject tc_big_1"),
        "a rejection needs a reason"
    );
    // Where each amount goes, sub-order by sub-order.
    assert!(
        h.query_all_by_label_contains("TXtcBig0002")
            .next()
            .is_some(),
        "the address the 2000 USDT goes to"
    );
    assert!(h.query_all_by_label_contains("2000 USDT").next().is_some());

    click(&mut h, Role::Button, "Approve tc_big_1");
    click(&mut h, Role::Button, "Approve and send tc_big_1");
    wait_for(&mut h, "tc_big_1: approved;");
    wait_for(&mut h, "No GatePay batch is awaiting approval");
    let sent = bob.get("tc_big_1").unwrap().unwrap();
    assert_eq!(sent.state, State::Accepted);
    let team = sent.team.unwrap();
    assert_eq!(team.decided_by.as_deref(), Some(db.role("alice")));
    // Another operator's batch joins the batches sent here without a refresh.
    rt.block_on(bob.submit(&batch("tc_live_2", &[("tcl2", "7", "TXtcLive002")])))
        .unwrap();
    step_until(&mut h, "bob's batch listed", |app| {
        app.batches.sent.iter().any(|b| b.batch_id == "tc_live_2")
    });
    drop(h);
    rt.block_on(sb.stop());
}

#[test]
fn the_review_says_a_payout_needs_approval_and_records_it_without_sending() {
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let Some(db) = team(&sb) else { return };
    let (dir, mut h) = alice_at_the_console(&rt, &sb, &db);
    wait_for(&mut h, "Team desk");
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "signed in as");
    let fill = |h: &mut egui_kittest::Harness<'_, crate::console::PaydeskApp>, amount: &str| {
        let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
        let f = &mut h.state_mut().payout_form;
        f.amount = amount.into();
        f.number = "6222020200007777".into();
        f.name = "李娜".into();
        f.bank = icbc;
    };
    // Below the rule: an ordinary send.
    fill(&mut h, "999.99");
    h.step();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    assert!(
        h.query_all_by_label_contains("Needs approval")
            .next()
            .is_none()
    );
    wait_for(&mut h, "Send payout");
    click(&mut h, Role::Button, "Cancel");
    // At the rule: recorded for a second operator, not sent.
    fill(&mut h, "1000.00");
    h.step();
    let cl_id = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "Needs approval: payouts of ¥1,000.00 and more");
    wait_for(&mut h, "No likely duplicate");
    assert!(!disabled(&h, "Record for approval"));
    click(&mut h, Role::Button, "Record for approval");
    wait_for(&mut h, "awaiting approval by an operator other than");
    assert_eq!(sb.payout_create_requests().get(&cl_id), None);
    // A team profile keeps nothing on this desktop: no desktop journal file was made.
    let desktop = paydesk::domain::journal::journal_path(&dir.path().join("data"));
    assert!(!desktop.exists(), "{} was created", desktop.display());
    drop(h);
    rt.block_on(sb.stop());
}

#[test]
fn another_operators_payout_shows_without_a_refresh() {
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let Some(db) = team(&sb) else { return };
    let (_dir, mut h) = alice_at_the_console(&rt, &sb, &db);
    wait_for(&mut h, "Team desk");
    click(&mut h, Role::Button, "Awaiting approval");
    wait_for(&mut h, "No payout is awaiting approval");
    wait_for(&mut h, "Live updates: on");

    // Bob, on another desktop, records a payout that needs approval.
    let bob = desk(&sb, &db, "bob");
    rt.block_on(bob.submit(&request("bob_live_1", 150_000, "6222020200007003")))
        .unwrap();
    wait_for(&mut h, "Approve bob_live_1");
    // And rejects nothing of his own; alice rejects it, with a reason.
    h.state_mut()
        .approvals
        .reasons
        .insert("bob_live_1".into(), "wrong account".into());
    h.run_steps(3);
    click(&mut h, Role::Button, "Reject bob_live_1");
    wait_for(&mut h, "rejected by");
    assert_eq!(sb.payout_create_requests().get("bob_live_1"), None);
    drop(h);
    rt.block_on(sb.stop());
}

#[test]
fn an_unreachable_team_server_blocks_sending_and_searching_still_works() {
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    // Nothing listens on port 1 of the loopback.
    save_profile(
        dir.path(),
        &store,
        &sb,
        "postgres://alice@127.0.0.1:1/paydesk?sslmode=disable&connect_timeout=2",
        Some(Secret::new("not-used")),
    );
    let mut h = harness(init(&rt, dir.path(), store, None));
    wait_for(&mut h, "Team desk");
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "cannot be reached");
    let blocker = h.state().send_blocker(GatewayKind::Cny).unwrap();
    assert!(blocker.contains("alice@127.0.0.1:1/paydesk"), "{blocker}");
    assert!(blocker.contains("nothing can be sent"), "{blocker}");
    assert!(
        blocker.contains("never recorded in this desktop's journal"),
        "{blocker}"
    );
    assert!(
        h.state().journal.is_none(),
        "no fallback to the desktop journal"
    );
    click(&mut h, Role::Button, "Awaiting approval");
    wait_for(&mut h, "cannot be reached");
    // Searching the gateway's orders does not need the journal.
    click(&mut h, Role::Button, "Deposits");
    wait_for(&mut h, "page 1 of");
    drop(h);
    rt.block_on(sb.stop());
}

#[test]
fn a_team_journal_without_its_password_in_the_keyring_says_where_it_goes() {
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let Some(db) = team(&sb) else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    save_profile(dir.path(), &store, &sb, &db.url("alice").to_string(), None);
    let mut h = harness(init(&rt, dir.path(), store, None));
    wait_for(&mut h, "Team desk");
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "no team journal password");
    let blocker = h.state().send_blocker(GatewayKind::Cny).unwrap();
    assert!(blocker.contains(db.role("alice")), "{blocker}");
    assert!(
        h.state().journal.is_none(),
        "no fallback to the desktop journal"
    );
    drop(h);
    rt.block_on(sb.stop());
}

/// Steps the console until `done` holds (or the patience of a server restart runs out).
fn step_until(
    h: &mut egui_kittest::Harness<'_, crate::console::PaydeskApp>,
    what: &str,
    done: impl Fn(&crate::console::PaydeskApp) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while !done(h.state()) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_team_server_that_goes_away_stops_sending_until_it_is_back() {
    use paydesk::domain::journal::team::testing::PrivateCluster;
    let Some(cluster) = PrivateCluster::start() else {
        return;
    };
    let rt = runtime();
    let sb = rt
        .block_on(paydesk::sandbox::start(sandbox_config()))
        .unwrap();
    let db = cluster.server.fresh(&["alice"]);
    let (_dir, mut h) = alice_at_the_console(&rt, &sb, &db);
    wait_for(&mut h, "Team desk");
    click(&mut h, Role::Button, "Awaiting approval");
    wait_for(&mut h, "Live updates: on");
    assert_eq!(h.state().send_blocker(GatewayKind::Cny), None);

    cluster.stop();
    step_until(&mut h, "the blocker", |app| {
        app.send_blocker(GatewayKind::Cny).is_some()
    });
    let blocker = h.state().send_blocker(GatewayKind::Cny).unwrap();
    assert!(blocker.contains("cannot be reached"), "{blocker}");
    assert!(blocker.contains("nothing can be sent"), "{blocker}");
    assert!(
        h.state().context().journal_damage.is_some(),
        "a banner says so"
    );

    cluster.restart();
    step_until(&mut h, "sending again", |app| {
        app.send_blocker(GatewayKind::Cny).is_none()
    });
    drop(h);
    drop(db);
    rt.block_on(sb.stop());
}
