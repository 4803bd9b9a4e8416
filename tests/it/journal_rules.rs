//! The journal's rules, written once and run against both stores: the desktop journal
//! (SQLite) and the team journal (PostgreSQL). Intent before send, claim before send, an
//! unknown outcome never failed, likely duplicates held back, the audit chain checked.

use std::sync::{Arc, Mutex};

use crate::common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::duplicates::{Confirmation, DuplicateWindow, HoldError};
use paydesk::domain::journal::team::testing::{TestDb, server};
use paydesk::domain::journal::{AuditCheck, Journal, State, journal_path};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::gatepay::wire::{BatchRequest, WithdrawItem};
use paydesk::money::Fen;
use paydesk::sandbox::{Faults, SandboxConfig, SandboxHandle};

/// Where a test's journal lives.
enum Store {
    Desktop(tempfile::TempDir),
    Team(TestDb),
}

impl Store {
    #[allow(clippy::unnecessary_wraps)] // the shape of `team`, for the macro
    fn desktop() -> Option<Store> {
        Some(Store::Desktop(tempfile::tempdir().unwrap()))
    }

    fn team() -> Option<Store> {
        Some(Store::Team(server()?.fresh(&["alice", "bob"])))
    }

    /// A journal as operator `who` opens it (on a desktop journal, the same file).
    fn open(&self, who: &str) -> Journal {
        match self {
            Store::Desktop(dir) => Journal::open(&journal_path(dir.path())).unwrap(),
            Store::Team(db) => Journal::open_team(&db.url(who), Some(&db.password(who))).unwrap(),
        }
    }

    fn batch_desk(&self, sb: &SandboxHandle, who: &str) -> BatchDesk {
        let mut desk = BatchDesk::new(
            Arc::new(Mutex::new(self.open(who))),
            gatepay(sb),
            Arc::new(SystemClock),
        );
        desk.not_found_grace_secs = 0;
        desk
    }

    fn desk(&self, sb: &SandboxHandle, who: &str) -> PayoutDesk {
        let mut desk = PayoutDesk::new(
            Arc::new(Mutex::new(self.open(who))),
            cny(sb),
            Arc::new(SystemClock),
        );
        desk.not_found_grace_secs = 0;
        desk
    }
}

fn request(cl_id: &str, fen: i64, number: &str) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(fen),
        bank_name: "中国工商银行".to_owned(),
        name: "李娜".to_owned(),
        number: number.to_owned(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

/// Each rule as a test per store.
macro_rules! on_both_stores {
    ($($rule:ident),* $(,)?) => {
        mod desktop {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $rule() {
                    if let Some(store) = super::Store::desktop() {
                        super::$rule(store).await;
                    }
                }
            )*
        }
        mod team {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $rule() {
                    if let Some(store) = super::Store::team() {
                        super::$rule(store).await;
                    }
                }
            )*
        }
    };
}

on_both_stores!(
    a_lost_reply_is_unknown_never_failed_and_settled_by_a_lookup,
    two_senders_of_one_recorded_payout_send_it_once,
    a_likely_duplicate_is_held_back,
    the_audit_chain_holds_and_shows_an_edit,
    a_lost_batch_reply_is_unknown_and_found_by_a_lookup,
    two_senders_of_one_recorded_batch_send_it_once,
    a_batch_sub_order_like_an_earlier_one_is_held_back,
);

fn batch(id: &str, items: &[(&str, &str, &str)]) -> BatchRequest {
    BatchRequest {
        batch_id: id.to_owned(),
        withdraw_list: items
            .iter()
            .map(|(mwid, amount, address)| WithdrawItem {
                merchant_withdraw_id: (*mwid).to_owned(),
                currency: "USDT".to_owned(),
                amount: paydesk::money::CryptoAmount::parse_payout(amount).unwrap(),
                chain: "TRX".to_owned(),
                address: (*address).to_owned(),
                memo: String::new(),
                fee_type: 0,
            })
            .collect(),
        channel_id: None,
    }
}

async fn a_lost_batch_reply_is_unknown_and_found_by_a_lookup(store: Store) {
    let sb = sandbox(small_config()).await;
    let desk = store.batch_desk(&sb, "alice");
    sb.set_faults(Faults::parse("drop-after-commit=1.0").unwrap());
    let sent = desk
        .submit(&batch("rule_b_lost", &[("rbl1", "5", "TXrbl1")]))
        .await
        .unwrap();
    sb.set_faults(Faults::default());
    assert!(
        matches!(sent.state, State::Unknown | State::Accepted),
        "{}",
        sent.describe()
    );
    desk.reconcile_now(true).await.unwrap();
    let e = desk.get("rule_b_lost").unwrap().unwrap();
    assert_eq!(
        e.state,
        State::Accepted,
        "settled by a lookup: {}",
        e.describe()
    );
    assert_eq!(e.attempts, 1, "found by asking, never sent again");
    sb.stop().await;
}

async fn two_senders_of_one_recorded_batch_send_it_once(store: Store) {
    let sb = sandbox(SandboxConfig {
        faults: Faults::parse("http500=1").unwrap(),
        ..small_config()
    })
    .await;
    let (alice, bob) = (store.batch_desk(&sb, "alice"), store.batch_desk(&sb, "bob"));
    // Recorded, its send failed before GatePay created it: looked up, not created.
    let first = alice
        .submit(&batch("rule_b_claim", &[("rbc1", "7", "TXrbc1")]))
        .await
        .unwrap();
    sb.set_faults(Faults::default());
    assert_ne!(first.state, State::Accepted, "{}", first.describe());
    alice.reconcile_now(true).await.unwrap();
    let e = alice.get("rule_b_claim").unwrap().unwrap();
    assert_eq!(e.state, State::NotCreated, "{}", e.describe());
    let (a, b) = tokio::join!(alice.retry("rule_b_claim"), bob.retry("rule_b_claim"));
    let accepted = [&a, &b]
        .iter()
        .filter(|s| s.as_ref().is_ok_and(|s| s.state == State::Accepted))
        .count();
    assert!(
        accepted >= 1,
        "{:?} {:?}",
        a.map(|s| s.describe()),
        b.map(|s| s.describe())
    );
    let e = alice.get("rule_b_claim").unwrap().unwrap();
    assert_eq!(
        e.attempts,
        2,
        "the first send and one retry: {}",
        e.describe()
    );
    sb.stop().await;
}

async fn a_batch_sub_order_like_an_earlier_one_is_held_back(store: Store) {
    let sb = sandbox(small_config()).await;
    let (alice, bob) = (store.batch_desk(&sb, "alice"), store.batch_desk(&sb, "bob"));
    let window = DuplicateWindow::default();
    alice
        .submit_unless_duplicate(
            &batch("rule_b_dup1", &[("rbd1", "9.5", "TXrbd")]),
            window,
            &Confirmation::default(),
        )
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let again = bob
        .submit_unless_duplicate(
            &batch("rule_b_dup2", &[("rbd2", "9.50", "TXrbd")]),
            window,
            &Confirmation::default(),
        )
        .await;
    assert!(matches!(again, Err(HoldError::Held(_))), "held back");
    assert!(
        bob.get("rule_b_dup2").unwrap().is_none(),
        "nothing recorded"
    );
    sb.stop().await;
}

async fn a_lost_reply_is_unknown_never_failed_and_settled_by_a_lookup(store: Store) {
    let sb = sandbox(small_config()).await;
    let desk = store.desk(&sb, "alice");
    sb.set_faults(Faults::parse("drop-after-commit=1.0").unwrap());
    let sent = desk
        .submit(&request("rule_lost_1", 12_345, "6222020200008001"))
        .await
        .unwrap();
    sb.set_faults(Faults::default());
    // The intent was recorded before the send: the journal knows it, whatever came back.
    assert!(
        matches!(sent.state, State::Unknown | State::Accepted),
        "{:?}",
        sent.entry
    );
    assert!(!sent.describe().contains("fail"), "{}", sent.describe());
    desk.reconcile_now(true).await.unwrap();
    let e = paydesk::lock_unpoisoned(&desk.journal)
        .get(&desk.merchant, "rule_lost_1")
        .unwrap()
        .unwrap();
    assert_eq!(e.state, State::Accepted, "settled by a lookup: {e:?}");
    assert_eq!(sb.payout_create_requests().get("rule_lost_1"), Some(&1));
    sb.stop().await;
}

async fn two_senders_of_one_recorded_payout_send_it_once(store: Store) {
    let sb = sandbox(small_config()).await;
    let (alice, bob) = (store.desk(&sb, "alice"), store.desk(&sb, "bob"));
    let id = "rule_claim_1";
    // Recorded, then both try to send it at once.
    alice.enqueue_import(
        &paydesk::domain::bulk::plan(
            "one.csv",
            "merchant_order_id,amount,bank,name,number\nrule_claim_1,234.56,ICBC,李娜,6222020200008002\n",
            &paydesk::gateway::cny::banks::default_banks(),
            |_| None,
        )
        .unwrap(),
    )
    .unwrap();
    let (first, second) = tokio::join!(alice.retry(id), bob.retry(id));
    let accepted = [&first, &second]
        .iter()
        .filter(|s| s.as_ref().is_ok_and(|s| s.state == State::Accepted))
        .count();
    assert!(
        accepted >= 1,
        "{:?} {:?}",
        first.map(|s| s.entry),
        second.map(|s| s.entry)
    );
    assert_eq!(
        sb.payout_create_requests().get("rule_claim_1"),
        Some(&1),
        "one request reached the gateway"
    );
    sb.stop().await;
}

async fn a_likely_duplicate_is_held_back(store: Store) {
    let sb = sandbox(small_config()).await;
    let (alice, bob) = (store.desk(&sb, "alice"), store.desk(&sb, "bob"));
    let window = DuplicateWindow::default();
    alice
        .submit_unless_duplicate(
            &request("rule_dup_1", 34_567, "6222020200008003"),
            window,
            &Confirmation::default(),
        )
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    let again = bob
        .submit_unless_duplicate(
            &request("rule_dup_2", 34_567, "6222020200008003"),
            window,
            &Confirmation::default(),
        )
        .await;
    assert!(matches!(again, Err(HoldError::Held(_))), "held back");
    assert_eq!(sb.payout_create_requests().get("rule_dup_2"), None);
    sb.stop().await;
}

async fn the_audit_chain_holds_and_shows_an_edit(store: Store) {
    let sb = sandbox(small_config()).await;
    let desk = store.desk(&sb, "alice");
    for i in 0..3 {
        desk.submit(&request(
            &format!("rule_audit_{i}"),
            1_000 + i,
            "6222020200008004",
        ))
        .await
        .unwrap();
    }
    let check = paydesk::lock_unpoisoned(&desk.journal)
        .verify_audit()
        .unwrap();
    assert!(
        matches!(check, AuditCheck::Intact(n) if n >= 3),
        "{check:?}"
    );
    // Someone with the file or the owner's rights edits an entry: the walk shows it.
    match &store {
        Store::Desktop(dir) => {
            let conn = rusqlite::Connection::open(journal_path(dir.path())).unwrap();
            conn.execute("UPDATE audit SET detail = 'edited' WHERE id = 2", [])
                .unwrap();
        }
        Store::Team(db) => {
            db.owner_sql(
                "ALTER TABLE paydesk.audit DISABLE TRIGGER audit_append_only",
                &[],
            );
            db.owner_sql(
                "UPDATE paydesk.audit SET detail = 'edited' WHERE id = (SELECT min(id) + 1 FROM paydesk.audit)",
                &[],
            );
        }
    }
    let check = paydesk::lock_unpoisoned(&desk.journal)
        .verify_audit()
        .unwrap();
    assert!(matches!(check, AuditCheck::BrokenAt(_)), "{check:?}");
    sb.stop().await;
}
