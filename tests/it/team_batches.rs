//! GatePay batches on the team journal, against the sandbox over real HTTP: a batch the
//! team's rule holds back waits for a second operator (the database refuses the recorder's
//! own approval, and a send without approval even from a raw client); every operator sees the
//! team's batches, and the duplicate check covers them all.

use std::sync::{Arc, Mutex};

use crate::common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::duplicates::{Confirmation, DuplicateWindow, HoldError};
use paydesk::domain::journal::team::testing::{TestDb, server};
use paydesk::domain::journal::{Journal, State};
use paydesk::gateway::gatepay::wire::{BatchRequest, DetailStatus, WithdrawItem};
use paydesk::money::CryptoAmount;
use paydesk::sandbox::SandboxHandle;

fn batch_desk(sb: &SandboxHandle, db: &TestDb, who: &str) -> BatchDesk {
    let journal = Journal::open_team(&db.url(who), Some(&db.password(who))).unwrap();
    let mut desk = BatchDesk::new(
        Arc::new(Mutex::new(journal)),
        gatepay(sb),
        Arc::new(SystemClock),
    );
    desk.not_found_grace_secs = 0;
    desk
}

fn item(id: &str, currency: &str, amount: &str, address: &str) -> WithdrawItem {
    WithdrawItem {
        merchant_withdraw_id: id.into(),
        currency: currency.into(),
        amount: CryptoAmount::parse_payout(amount).unwrap(),
        chain: "TRX".into(),
        address: address.into(),
        memo: String::new(),
        fee_type: 0,
    }
}

fn batch(id: &str, items: Vec<WithdrawItem>) -> BatchRequest {
    BatchRequest {
        batch_id: id.into(),
        withdraw_list: items,
        channel_id: None,
    }
}

/// A team whose rule holds back the sandbox client's batches of 1,000 USDT and more in all.
fn team(sb: &SandboxHandle) -> Option<TestDb> {
    let db = server()?.fresh(&["alice", "bob"]);
    db.owner_sql(
        "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ($1, 'USDT', 1000)",
        &[&sb.info.gatepay.client_id],
    );
    Some(db)
}

/// Whether GatePay (the sandbox) has a batch under this ID.
async fn at_gatepay(desk: &BatchDesk, batch_id: &str) -> bool {
    desk.client
        .batch_detail(batch_id, DetailStatus::All)
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_above_the_rule_waits_for_a_second_operator_then_is_sent_once() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let (alice, bob) = (batch_desk(&sb, &db, "alice"), batch_desk(&sb, &db, "bob"));

    // 600 + 400.5 USDT: the database adds the body's amounts up, exactly.
    let big = batch(
        "tb_big_1",
        vec![
            item("tb1a", "USDT", "600", "TXtb1a"),
            item("tb1b", "USDT", "400.5", "TXtb1b"),
        ],
    );
    let held = alice.submit(&big).await.unwrap();
    assert_eq!(held.state, State::Queued, "{}", held.describe());
    assert!(held.held_for_approval());
    assert!(
        held.describe().contains("awaiting approval"),
        "{}",
        held.describe()
    );
    assert!(
        !at_gatepay(&alice, "tb_big_1").await,
        "nothing reached GatePay"
    );

    // Below the rule (999.99 USDT, and any amount of another currency): sent at once.
    let small = alice
        .submit(&batch(
            "tb_small_1",
            vec![
                item("tbs1", "USDT", "999.99", "TXtbs1"),
                item("tbs2", "BTC", "1.5", "TXtbs2"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(small.state, State::Accepted, "{}", small.describe());

    // Alice cannot approve her own; bob sees it with who recorded it, and approves it.
    let own = alice.approve("tb_big_1", None).await.unwrap_err();
    assert!(own.to_string().contains("four eyes"), "{own}");
    let pending = bob.pending_approvals().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].batch_id, "tb_big_1");
    assert_eq!(
        pending[0].team.as_ref().unwrap().created_by,
        db.role("alice")
    );
    let rules = bob.approval_rules().unwrap();
    assert_eq!(rules.len(), 1);
    assert!(
        rules[0].describe().contains("1000 USDT"),
        "{}",
        rules[0].describe()
    );
    let sent = bob.approve("tb_big_1", Some("treasury ok")).await.unwrap();
    assert_eq!(sent.state, State::Accepted, "{}", sent.describe());
    let team = sent.team.as_ref().unwrap();
    assert_eq!(team.decided_by.as_deref(), Some(db.role("bob")));
    assert_eq!(team.sent_by.as_deref(), Some(db.role("bob")));
    assert!(at_gatepay(&bob, "tb_big_1").await);
    // Approved and sent: nobody sends it again.
    assert!(bob.approve("tb_big_1", None).await.is_err());
    assert!(alice.retry("tb_big_1").await.is_err());

    // A rejected batch is never sent, whoever asks.
    alice
        .submit(&batch(
            "tb_big_2",
            vec![item("tb2a", "USDT", "5000", "TXtb2a")],
        ))
        .await
        .unwrap();
    assert!(
        bob.reject("tb_big_2", " ").is_err(),
        "a rejection needs a reason"
    );
    bob.reject("tb_big_2", "wrong wallet").unwrap();
    let retried = alice.retry("tb_big_2").await.unwrap();
    assert!(
        retried.describe().contains("wrong wallet"),
        "{}",
        retried.describe()
    );
    assert!(!at_gatepay(&alice, "tb_big_2").await);

    // Batches sent is the team's: bob lists alice's batches, with who did what.
    let listed = bob.list(100).unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e.batch_id.as_str()).collect();
    assert_eq!(ids, ["tb_big_2", "tb_small_1", "tb_big_1"]);
    assert_eq!(
        listed[1].team.as_ref().unwrap().sent_by.as_deref(),
        Some(db.role("alice"))
    );
    // Every step is in the team's one audit chain, in the names of the roles.
    let journal = db.open("alice");
    assert!(matches!(
        journal.verify_audit().unwrap(),
        paydesk::domain::journal::AuditCheck::Intact(_)
    ));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duplicate_check_covers_every_operators_batches() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let (alice, bob) = (batch_desk(&sb, &db, "alice"), batch_desk(&sb, &db, "bob"));
    alice
        .submit(&batch(
            "tb_dup_1",
            vec![item("td1", "USDT", "12.5", "TXsame")],
        ))
        .await
        .unwrap();
    // Bob, on his own desktop, pays the same wallet the same amount under another ID.
    let again = batch("tb_dup_2", vec![item("td2", "USDT", "12.50", "TXsame")]);
    let held = bob
        .submit_unless_duplicate(&again, DuplicateWindow::default(), &Confirmation::default())
        .await;
    let Err(HoldError::Held(report)) = held else {
        panic!("bob's batch was not held back as a likely duplicate of alice's");
    };
    assert_eq!(report.held.len(), 1);
    assert!(
        report.held[0].describe().contains("tb_dup_1"),
        "{}",
        report.held[0].describe()
    );
    assert!(bob.get("tb_dup_2").unwrap().is_none(), "nothing recorded");
    // Confirmed by name, it goes.
    let confirm = Confirmation::from_flags(false, ["td2".to_owned()]);
    let (sent, _) = bob
        .submit_unless_duplicate(&again, DuplicateWindow::default(), &confirm)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(sent.state, State::Accepted);
    sb.stop().await;
}

/// Runs `sql` as operator `who` on a raw client (off the async runtime).
fn raw_sql(db: &TestDb, who: &str, sql: &str) -> Result<u64, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            db.raw(who).execute(sql, &[]).map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_owned())
            })
        })
        .join()
        .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_skips_the_checks_cannot_send_or_approve_a_held_batch() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let alice = batch_desk(&sb, &db, "alice");
    alice
        .submit(&batch(
            "tb_raw_1",
            vec![item("tr1", "USDT", "2000", "TXtr1")],
        ))
        .await
        .unwrap();
    let refused = |sql: &str, words: &str| {
        let why = raw_sql(&db, "alice", sql).expect_err(sql);
        assert!(why.contains(words), "{sql}: {why}");
    };
    refused(
        "UPDATE paydesk.batches SET state = 'sending' WHERE batch_id = 'tb_raw_1'",
        "needs approval",
    );
    refused(
        "UPDATE paydesk.batches SET approval = 'approved' WHERE batch_id = 'tb_raw_1'",
        "four eyes",
    );
    refused(
        "UPDATE paydesk.batches SET approval = 'not-needed' WHERE batch_id = 'tb_raw_1'",
        "cannot become",
    );
    refused(
        "UPDATE paydesk.batches SET body = replace(body, 'TXtr1', 'TXmine') WHERE batch_id = 'tb_raw_1'",
        "cannot change",
    );
    refused("DELETE FROM paydesk.batches", "permission denied");
    refused(
        "DELETE FROM paydesk.batch_approval_rules",
        "permission denied",
    );
    refused(
        "SELECT paydesk.audit_append('batch approved', 'tb_raw_1', NULL)",
        "not by hand",
    );
    // A row whose columns lie about its body, or born already accepted, is refused.
    refused(
        "INSERT INTO paydesk.batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
            created_at, updated_at, created_by, approval)
         VALUES ('x', 'tb_forged', '{\"batch_id\":\"tb_forged\",\"withdraw_list\":[{\"currency\":\"USDT\",\"amount\":\"5000\"}]}',
            'not-its-hash', 1, '', 'queued', 0, 0, '', '')",
        "do not match",
    );
    // Bob approves it in alice's place: only then may it be sent, by the desk as usual.
    let bob = batch_desk(&sb, &db, "bob");
    let sent = bob.approve("tb_raw_1", None).await.unwrap();
    assert_eq!(sent.state, State::Accepted);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_for_every_batch_holds_back_each_one() {
    let sb = sandbox(small_config()).await;
    let Some(db) = server().map(|s| s.fresh(&["alice", "bob"])) else {
        return;
    };
    db.owner_sql(
        "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ($1, '*', 0)",
        &[&sb.info.gatepay.client_id],
    );
    let alice = batch_desk(&sb, &db, "alice");
    let held = alice
        .submit(&batch(
            "tb_all_1",
            vec![item("ta1", "USDT", "0.01", "TXta1")],
        ))
        .await
        .unwrap();
    assert!(held.held_for_approval(), "{}", held.describe());
    // An operator cannot change the rules.
    let why = alice_rule_change(&db, &sb.info.gatepay.client_id);
    assert!(why.contains("permission denied"), "{why}");
    sb.stop().await;
}

fn alice_rule_change(db: &TestDb, client_id: &str) -> String {
    raw_sql(
        db,
        "alice",
        &format!("DELETE FROM paydesk.batch_approval_rules WHERE merchant = '{client_id}'"),
    )
    .unwrap_err()
}
