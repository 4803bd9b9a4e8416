//! The team journal end to end: operators as PostgreSQL roles, each with their own desk,
//! sending through the sandbox over real HTTP. Four-eyes approval is the database's; two
//! operators sending one file at once pay each row once; duplicates are team-wide.

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::bulk::plan;
use paydesk::domain::duplicates::{Confirmation, DuplicateWindow};
use paydesk::domain::journal::team::testing::{TestDb, server};
use paydesk::domain::journal::{Journal, State};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::banks::default_banks;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::money::Fen;
use paydesk::sandbox::SandboxHandle;

pub(crate) fn desk(sb: &SandboxHandle, db: &TestDb, who: &str) -> PayoutDesk {
    let journal = Journal::open_team(&db.url(who), Some(&db.password(who))).unwrap();
    let mut desk = PayoutDesk::new(
        Arc::new(Mutex::new(journal)),
        cny(sb),
        Arc::new(SystemClock),
    );
    desk.not_found_grace_secs = 0;
    desk
}

pub(crate) fn request(cl_id: &str, fen: i64, number: &str) -> PayoutRequest {
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

/// A team database whose rule holds back payouts of ¥1,000.00 and more of the sandbox's
/// merchant.
pub(crate) fn team(sb: &SandboxHandle) -> Option<TestDb> {
    let db = server()?.fresh(&["alice", "bob"]);
    let merchant = cny(sb).config().platform_id.clone();
    db.owner_sql(
        "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ($1, 100000)",
        &[&merchant],
    );
    Some(db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_above_the_threshold_waits_for_a_second_operator_then_is_paid_once() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let (alice, bob) = (desk(&sb, &db, "alice"), desk(&sb, &db, "bob"));

    let held = alice
        .submit(&request("team_big_1", 250_000, "6222020200007001"))
        .await
        .unwrap();
    assert_eq!(held.state, State::Queued);
    assert!(held.held_for_approval(), "{:?}", held.entry);
    assert!(held.describe().contains("awaiting approval"));
    assert_eq!(
        sb.payout_create_requests().get("team_big_1"),
        None,
        "nothing reached the gateway"
    );
    // Below the threshold: sent at once.
    let small = alice
        .submit(&request("team_small_1", 99_999, "6222020200007002"))
        .await
        .unwrap();
    assert_eq!(small.state, State::Accepted);

    // Alice cannot approve her own; bob sees it, with who recorded it, and approves it.
    let own = alice.approve("team_big_1", None).await.unwrap_err();
    assert!(own.to_string().contains("four eyes"), "{own}");
    let pending = bob.pending_approvals().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].payout.team.as_ref().unwrap().created_by,
        db.role("alice")
    );
    let sent = bob
        .approve("team_big_1", Some("invoice 7001"))
        .await
        .unwrap();
    assert_eq!(sent.state, State::Accepted, "{:?}", sent.entry);
    let team = sent.team.as_ref().unwrap();
    assert_eq!(team.decided_by.as_deref(), Some(db.role("bob")));
    assert_eq!(team.sent_by.as_deref(), Some(db.role("bob")));
    assert_eq!(sb.payout_create_requests().get("team_big_1"), Some(&1));

    // A rejected one is never sent, whoever asks.
    alice
        .submit(&request("team_big_2", 300_000, "6222020200007003"))
        .await
        .unwrap();
    bob.reject("team_big_2", "wrong beneficiary").unwrap();
    let retried = alice.retry("team_big_2").await.unwrap();
    assert!(
        retried.describe().contains("wrong beneficiary"),
        "{}",
        retried.describe()
    );
    assert_eq!(sb.payout_create_requests().get("team_big_2"), None);
    sb.stop().await;
}

/// Records a checked file and sends it, as `payout import` does.
async fn send_file(
    d: &PayoutDesk,
    p: &paydesk::domain::bulk::BulkPlan,
) -> paydesk::domain::payouts::ImportSent {
    d.enqueue_import_unless_duplicate(p, DuplicateWindow::default(), &Confirmation::default())
        .map_err(|e| e.to_string())
        .unwrap();
    d.run_import(p, &AtomicBool::new(false), |_, _, _| {})
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_sending_the_same_file_at_once_pay_each_row_once() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let (alice, bob) = (desk(&sb, &db, "alice"), desk(&sb, &db, "bob"));
    const ROWS: usize = 120;
    let mut csv = String::from("amount,bank,name,number\n");
    for i in 0..ROWS {
        writeln!(csv, "{}.00,ICBC,张伟,62220202{:08}", 10 + i, 30_000 + i).unwrap();
    }
    let plan_for = |d: &PayoutDesk| {
        plan("team.csv", csv.as_bytes(), &default_banks(), |id| {
            d.journal
                .lock()
                .unwrap()
                .get(&d.merchant, id)
                .ok()
                .flatten()
                .map(|e| e.import_id)
        })
        .unwrap()
    };
    let (pa, pb) = (plan_for(&alice), plan_for(&bob));
    assert_eq!(
        pa.import_id, pb.import_id,
        "the same file is the same import"
    );
    let (a, b) = tokio::join!(send_file(&alice, &pa), send_file(&bob, &pb));
    assert_eq!(a.sent + b.sent, ROWS, "alice {} + bob {}", a.sent, b.sent);
    let requests = sb.payout_create_requests();
    let doubles = requests.values().filter(|n| **n > 1).count();
    assert_eq!(doubles, 0, "no row sent twice");
    assert_eq!(requests.len(), ROWS);
    let summary = alice.import_summary(&pa.import_id).unwrap();
    assert_eq!(summary.accepted, ROWS, "{summary}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duplicate_check_covers_every_operators_payouts() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let (alice, bob) = (desk(&sb, &db, "alice"), desk(&sb, &db, "bob"));
    let window = DuplicateWindow::default();
    alice
        .submit_unless_duplicate(
            &request("team_dup_a", 50_000, "6222020200009001"),
            window,
            &Confirmation::default(),
        )
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    // Bob, on his own desktop, types the same payment again: held back.
    let held = bob
        .submit_unless_duplicate(
            &request("team_dup_b", 50_000, "6222 0202 0000 9001"),
            window,
            &Confirmation::default(),
        )
        .await;
    let report = match held {
        Err(paydesk::domain::duplicates::HoldError::Held(report)) => report,
        other => panic!("expected held, got {:?}", other.map(|(s, _)| s.entry)),
    };
    assert_eq!(report.held_total, 1);
    assert!(
        report.refusal().contains("team_dup_a"),
        "{}",
        report.refusal()
    );
    assert_eq!(sb.payout_create_requests().get("team_dup_b"), None);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stopped_mid_import_loses_nothing_doubles_nothing_and_blocks_sending() {
    use paydesk::domain::journal::team::testing::PrivateCluster;
    let Some(cluster) = PrivateCluster::start() else {
        return;
    };
    let sb = sandbox(small_config()).await;
    let db = cluster.server.fresh(&["alice"]);
    let alice = desk(&sb, &db, "alice");
    const ROWS: usize = 40;
    let mut csv = String::from("amount,bank,name,number\n");
    for i in 0..ROWS {
        writeln!(csv, "{}.00,ICBC,王芳,62220202{:08}", 20 + i, 50_000 + i).unwrap();
    }
    let p = plan("away.csv", csv.as_bytes(), &default_banks(), |_| None).unwrap();
    alice
        .enqueue_import_unless_duplicate(&p, DuplicateWindow::default(), &Confirmation::default())
        .map_err(|e| e.to_string())
        .unwrap();

    // The server goes away once some rows are sent.
    let stop = AtomicBool::new(false);
    let cut = async {
        while sb.payout_create_requests().len() < 10 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::task::block_in_place(|| cluster.stop());
    };
    let (first, ()) = tokio::join!(alice.run_import(&p, &stop, |_, _, _| {}), cut);
    let first = first.unwrap();
    assert!(
        first.stopped.is_some(),
        "the run stops when the server goes"
    );
    let sent_before = sb.payout_create_requests().len();
    assert!(sent_before < ROWS, "{sent_before}");

    // While it is away nothing is sent, and the reason is the server.
    let err = alice
        .submit(&request("away_single", 1_000, "6222020200006001"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be reached"), "{err}");
    assert_eq!(sb.payout_create_requests().get("away_single"), None);

    // Back: the same file runs again and ends with every row paid once.
    tokio::task::block_in_place(|| cluster.restart());
    let again = alice.run_import(&p, &stop, |_, _, _| {}).await.unwrap();
    assert!(
        again.stopped.is_none(),
        "{:?}",
        again.stopped.map(|e| e.to_string())
    );
    let _ = alice.reconcile(true).await.unwrap();
    let requests = sb.payout_create_requests();
    assert_eq!(requests.len(), ROWS, "nothing lost");
    assert!(
        requests.values().all(|n| *n == 1),
        "nothing doubled: {requests:?}"
    );
    let summary = alice.import_summary(&p.import_id).unwrap();
    assert_eq!(summary.accepted, ROWS, "{summary}");
    drop(db);
    sb.stop().await;
}
