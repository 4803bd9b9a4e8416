//! A payout or batch is looked up, settled and sent again only through the gateway address
//! it was sent to: two sandboxes with the same merchant identity (a TEST and a LIVE gateway
//! of one brand) each hold only their own orders, so one's "no such order" never lets the
//! other send it again.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::batches::{BatchDesk, BatchError};
use paydesk::domain::journal::{Journal, State, journal_path};
use paydesk::gateway::gatepay::wire::{BatchRequest, DetailStatus, WithdrawItem};
use paydesk::sandbox::{Faults, SandboxConfig, SandboxHandle};

/// The binary with the sandbox's credentials (the same for every sandbox of one seed), the
/// CNY gateway reached at `base_url`, and its own config and data directories under `dir`.
fn paydesk_at(sb: &SandboxHandle, base_url: &str, dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_paydesk"));
    let cny = &sb.info.cny;
    c.env_remove("PAYDESK_DUPLICATE_WINDOW_DAYS")
        .env_remove("PAYDESK_MAX_FILE_MB")
        .env("PAYDESK_CONFIG_DIR", dir.join("config"))
        .env("PAYDESK_DATA_DIR", dir.join("data"))
        .env("PAYDESK_NOT_FOUND_GRACE_SECS", "0")
        .env("PAYDESK_CNY_BASE_URL", base_url)
        .env("PAYDESK_CNY_PLATFORM_ID", &cny.platform_id)
        .env("PAYDESK_CNY_AUTH_TOKEN", cny.auth_token.expose())
        .env("PAYDESK_CNY_MD5_KEY", cny.md5_key.expose())
        .env("PAYDESK_GATEPAY_BASE_URL", sb.base_url())
        .env("PAYDESK_GATEPAY_CLIENT_ID", &sb.info.gatepay.client_id)
        .env("PAYDESK_GATEPAY_SECRET", sb.info.gatepay.secret.expose())
        .env(
            "PAYDESK_GATEPAY_ON_BEHALF_OF",
            &sb.info.gatepay.on_behalf_of,
        );
    c
}

/// Runs the binary off the runtime's threads, so the in-process sandboxes keep serving.
async fn run(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn both(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn created_at(sb: &SandboxHandle, cl_id: &str) -> usize {
    sb.payout_create_requests().get(cl_id).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_unknown_at_one_gateway_address_is_never_resent_through_another() {
    // Gateway A commits the payout and loses every reply; gateway B is another address with
    // the same platform ID and credentials.
    let a = sandbox(SandboxConfig {
        faults: Faults::parse("drop-after-commit=1").unwrap(),
        ..small_config()
    })
    .await;
    let b = sandbox(small_config()).await;
    assert_eq!(a.info.cny.platform_id, b.info.cny.platform_id);
    let dir = tempfile::tempdir().unwrap();
    let a_url = format!("http://127.0.0.1:{}", a.addr.port());
    let a_origin = format!("http://loopback:{}", a.addr.port());

    let mut create = paydesk_at(&a, &a_url, dir.path());
    create.args([
        "payout",
        "create",
        "--amount",
        "888.00",
        "--bank",
        "ICBC",
        "--name",
        "张伟",
        "--number",
        "6222020200008801",
        "--cl-id",
        "XGW1",
        "--yes",
    ]);
    let out = run(create).await;
    assert_eq!(out.status.code(), Some(3), "unknown: {}", both(&out));
    assert_eq!(created_at(&a, "XGW1"), 1);

    // Reconcile through B: B has no such order, which proves nothing about A's.
    let mut reconcile = paydesk_at(&a, b.base_url(), dir.path());
    reconcile.args(["payout", "reconcile"]);
    let out = run(reconcile).await;
    let text = both(&out);
    assert!(
        text.contains(&format!(
            "1 payout(s) were sent through another gateway address ({a_origin}): use a profile \
             for that address to check them"
        )),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(3), "still unknown: {text}");

    // A retry through B is refused: nothing is sent there.
    let mut retry = paydesk_at(&a, b.base_url(), dir.path());
    retry.args(["payout", "retry", "XGW1"]);
    let out = run(retry).await;
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("another gateway address"), "{text}");
    assert_eq!(created_at(&b, "XGW1"), 0, "never sent to B");
    assert!(
        b.created_payouts()
            .iter()
            .all(|p| p.number != "6222020200008801")
    );

    let journal = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
    let entry = journal
        .get(&a.info.cny.platform_id, "XGW1")
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, State::Unknown, "left as it was");
    assert_eq!(entry.origin.as_deref(), Some(a_origin.as_str()));
    drop(journal);

    let mut list = paydesk_at(&a, b.base_url(), dir.path());
    list.args(["payout", "list", "--format", "json"]);
    let out = run(list).await;
    assert!(
        both(&out).contains(&format!("\"origin\": \"{a_origin}\""))
            || both(&out).contains(&format!("\"origin\":\"{a_origin}\"")),
        "{}",
        both(&out)
    );

    // A answers again: reached as `localhost`, it is the same origin and settles the payout.
    a.set_faults(Faults::default());
    let mut reconcile = paydesk_at(
        &a,
        &format!("http://localhost:{}", a.addr.port()),
        dir.path(),
    );
    reconcile.args(["payout", "reconcile"]);
    let out = run(reconcile).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let journal = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
    let entry = journal
        .get(&a.info.cny.platform_id, "XGW1")
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, State::Accepted);
    assert_eq!(created_at(&a, "XGW1"), 1, "paid once, at A");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_key_s_address_becomes_the_row_s_origin() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = sb.addr.port();
    let mut create = paydesk_at(&sb, &format!("http://127.0.0.1:{port}"), dir.path());
    create.args([
        "payout",
        "create",
        "--amount",
        "12.00",
        "--bank",
        "ICBC",
        "--name",
        "张伟",
        "--number",
        "6222020200008802",
        "--cl-id",
        "OLD1",
        "--yes",
    ]);
    let out = run(create).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    // As a Paydesk at schema version 3 left it: `PF0060@127.0.0.1:PORT`, no origin.
    let path = journal_path(&dir.path().join("data"));
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let changed = conn
            .execute(
                &format!(
                    "UPDATE payouts SET merchant = merchant || '@127.0.0.1:{port}', origin = NULL"
                ),
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
        conn.execute(
            &format!(
                "INSERT INTO gatepay_batches (merchant, batch_id, body, body_sha256, sub_orders,
                    totals, state, created_at, updated_at)
                 VALUES ('C1@localhost:{port}', 'OLDB', '{{}}', '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', 0, '', 'accepted', 1, 1)"
            ),
            [],
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let mut journal = Journal::open(&path).unwrap();
    let entry = journal
        .get(&sb.info.cny.platform_id, "OLD1")
        .unwrap()
        .unwrap();
    assert_eq!(entry.merchant, sb.info.cny.platform_id);
    assert_eq!(entry.origin, Some(format!("http://loopback:{port}")));
    let batch = journal.get_batch("C1", "OLDB").unwrap().unwrap();
    assert_eq!(batch.origin, Some(format!("http://loopback:{port}")));
    sb.stop().await;
}

fn item(id: &str, amount: &str, address: &str) -> WithdrawItem {
    WithdrawItem {
        merchant_withdraw_id: id.into(),
        currency: "USDT".into(),
        amount: paydesk::money::CryptoAmount::parse_payout(amount).unwrap(),
        chain: "TRX".into(),
        address: address.into(),
        memo: String::new(),
        fee_type: 0,
    }
}

fn batch_desk(sb: &SandboxHandle, journal: &Arc<Mutex<Journal>>) -> BatchDesk {
    let mut desk = BatchDesk::new(journal.clone(), gatepay(sb), Arc::new(SystemClock));
    desk.not_found_grace_secs = 0;
    desk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gatepay_batch_unknown_at_one_address_is_never_resent_through_another() {
    let a = sandbox(SandboxConfig {
        faults: Faults::parse("drop-after-commit=1").unwrap(),
        ..small_config()
    })
    .await;
    let b = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Mutex::new(
        Journal::open(&journal_path(dir.path())).unwrap(),
    ));
    let at_a = batch_desk(&a, &journal);
    let at_b = batch_desk(&b, &journal);
    let request = BatchRequest {
        batch_id: "xgw_batch_1".into(),
        withdraw_list: vec![item("xw1", "5", "TXxgw1")],
        channel_id: None,
    };
    let sent = at_a.submit(&request).await.unwrap();
    assert_eq!(sent.state, State::Unknown, "{}", sent.describe());

    let report = at_b.reconcile_now(true).await.unwrap();
    assert_eq!(report.not_created, 0, "{report:?}");
    assert_eq!(report.checked, 0, "{report:?}");
    assert_eq!(
        report.other_origins.get(&at_a.origin),
        Some(&1),
        "{report:?}"
    );
    assert_eq!(
        at_b.get("xgw_batch_1").unwrap().unwrap().state,
        State::Unknown
    );

    match at_b.retry("xgw_batch_1").await {
        Err(BatchError::NotAllowed(why)) => {
            assert!(why.contains("another gateway address"), "{why}");
        }
        other => panic!("refused, not sent: {other:?}"),
    }
    assert!(
        at_b.client
            .batch_detail("xgw_batch_1", DetailStatus::All)
            .await
            .is_err(),
        "never sent to B"
    );

    a.set_faults(Faults::default());
    let report = at_a.reconcile_now(false).await.unwrap();
    assert_eq!(report.found, 1, "{report:?}");
    a.stop().await;
    b.stop().await;
}

/// A restore from an older copy leaves a gap: batches sent in it are not in the journal, but
/// GatePay has their sub-orders, and a new batch paying one again is held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gatepay_sub_order_sent_after_a_restored_copy_is_held_back() {
    use paydesk::domain::duplicates::{Confirmation, DuplicateWindow, HoldError};
    let sb = sandbox(small_config()).await;
    let now = paydesk::clock::Clock::now_secs(&SystemClock);
    // The batch the restored copy lost: sent from a journal that is gone.
    let lost = tempfile::tempdir().unwrap();
    let lost_journal = Arc::new(Mutex::new(
        Journal::open(&journal_path(lost.path())).unwrap(),
    ));
    let sent = batch_desk(&sb, &lost_journal)
        .submit(&BatchRequest {
            batch_id: "gap_b1".into(),
            withdraw_list: vec![item("gapw1", "7", "TXgap1")],
            channel_id: None,
        })
        .await
        .unwrap();
    assert_eq!(sent.state, State::Accepted, "{}", sent.describe());

    // The journal restored from a copy older than that batch.
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    drop(Journal::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO restore_gaps (from_time, to_time, restored_from, created_at)
             VALUES (?1, ?2, 'copy', ?2)",
            rusqlite::params![now - 3_600, now + 60],
        )
        .unwrap();
    let journal = Arc::new(Mutex::new(Journal::open(&path).unwrap()));
    let desk = batch_desk(&sb, &journal);
    let window = DuplicateWindow::default();

    // The same address, currency and amount under a new ID; the same withdraw ID elsewhere.
    let again = BatchRequest {
        batch_id: "gap_b2".into(),
        withdraw_list: vec![
            item("gapw2", "7", "TXgap1"),
            item("gapw1", "1", "TXgapOther"),
            item("gapw3", "2", "TXgapFresh"),
        ],
        channel_id: None,
    };
    let review = desk
        .review_batch_duplicates(&again, window, &Confirmation::Nothing)
        .await
        .unwrap();
    let held: Vec<&str> = review.held.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(held, ["gapw2", "gapw1"], "{review:?}");
    match desk
        .submit_unless_duplicate(&again, window, &Confirmation::Nothing)
        .await
    {
        Err(HoldError::Held(report)) => assert_eq!(report.held_total, 2, "{report:?}"),
        Err(e) => panic!("held back, not an error: {e}"),
        Ok(_) => panic!("a sub-order made after the restored copy was paid again"),
    }
    assert!(
        desk.client
            .batch_detail("gap_b2", DetailStatus::All)
            .await
            .is_err(),
        "nothing was sent"
    );
    sb.stop().await;
}
