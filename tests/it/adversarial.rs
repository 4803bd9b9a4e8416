//! Defects found by the adversarial pass over issue 10, each replayed over real HTTP against
//! the sandbox: a `0014` whose order is another payout is never shown as paid; an import
//! that gives its own merchant order IDs resumes after a stop; re-saved account numbers with
//! spaces resume the same import; a merchant is its gateway identity, not the address it was
//! reached at; an order or batch the gateway held before this intent is refused; the
//! duplicate window cannot be 0; an import reads standard input; a sub-order repeated in one
//! batch is held back; a lost reply on a computer whose clock is fast is found paid, never
//! refused (payouts, batches, restore gaps); a retry of a payout paid since by another is held.

use crate::common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::bulk::{BulkPlan, RowError, plan};
use paydesk::domain::journal::{Journal, State, journal_path};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::banks::default_banks;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::money::Fen;
use paydesk::sandbox::SandboxHandle;

fn desk(sb: &SandboxHandle, dir: &Path) -> PayoutDesk {
    let journal = Arc::new(Mutex::new(Journal::open(&journal_path(dir)).unwrap()));
    let mut desk = PayoutDesk::new(journal, cny(sb), Arc::new(SystemClock));
    desk.not_found_grace_secs = 0;
    desk
}

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

/// Plans a file the way the CLI and the console do: given IDs looked up in the journal.
fn plan_for(desk: &PayoutDesk, csv: &str) -> Result<BulkPlan, Vec<RowError>> {
    plan("p.csv", csv.as_bytes(), &default_banks(), |id| {
        desk.journal
            .lock()
            .unwrap()
            .get(&desk.merchant, id)
            .ok()
            .flatten()
            .map(|e| e.import_id)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0014_whose_order_has_another_amount_is_refused_never_shown_paid() {
    let sb = sandbox(small_config()).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let theirs = desk(&sb, a.path())
        .submit(&request("adv_taken_1", 3_064_771, "6222020200001111"))
        .await
        .unwrap();
    assert_eq!(theirs.state, State::Accepted);
    // Another journal (a lost one, another desk) reuses the ID for another payout.
    let mine = desk(&sb, b.path())
        .submit(&request("adv_taken_1", 1_234, "6222020299998888"))
        .await
        .unwrap();
    assert_eq!(
        mine.state,
        State::Rejected,
        "the gateway's order is ¥30,647.71, this one ¥12.34: not paid: {:?}",
        mine.entry
    );
    assert_eq!(mine.payout_id, None);
    assert_eq!(mine.reject_code.as_deref(), Some("0014"));
    assert_eq!(mine.unknown_why, None);
    assert!(
        mine.reject_message
            .as_deref()
            .unwrap()
            .contains("¥30,647.71")
    );
    assert_eq!(
        cny(&sb).find_payout("adv_taken_1").await.unwrap().total,
        1,
        "still one payout at the gateway"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_its_own_ids_stopped_half_way_resumes_and_pays_each_once() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    let csv = "merchant_order_id,amount,bank,name,number\n\
               adv_own_1,120.00,ICBC,张伟,6222020200002001\n\
               adv_own_2,130.00,ICBC,李娜,6222020200002002\n\
               adv_own_3,140.00,ICBC,王芳,6222020200002003\n";
    let first = plan_for(&desk, csv).unwrap();
    assert_eq!(desk.enqueue_import(&first).unwrap(), 3);
    // Stopped after the first row was sent.
    assert_eq!(
        desk.retry("adv_own_1").await.unwrap().state,
        State::Accepted
    );

    let again = plan_for(&desk, &csv.replace('\n', "\r\n")).expect("the same import resumes");
    assert_eq!(again.import_id, first.import_id);
    assert_eq!(desk.enqueue_import(&again).unwrap(), 0);
    desk.reconcile(true).await.unwrap();
    desk.send_import(&again.import_id, &AtomicBool::new(false), |_| {})
        .await
        .unwrap();
    let summary = desk.import_summary(&again.import_id).unwrap();
    assert_eq!(summary.accepted, 3, "{summary:?}");
    for id in ["adv_own_1", "adv_own_2", "adv_own_3"] {
        assert_eq!(cny(&sb).find_payout(id).await.unwrap().total, 1, "{id}");
    }

    // Another file reusing one of those IDs is still refused.
    let other = "merchant_order_id,amount,bank,name,number\n\
                 adv_own_2,130.00,ICBC,李娜,6222020200002002\n\
                 adv_own_9,150.00,ICBC,赵强,6222020200002009\n";
    let errors = plan_for(&desk, other).unwrap_err();
    assert!(
        errors.iter().any(|e| e.row == 2
            && e.message
                .contains("adv_own_2 is already in the payout journal")),
        "{errors:?}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resaved_file_with_spaces_in_account_numbers_resumes_the_same_import() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    let plain = "amount,bank,name,number\n\
                 120.00,ICBC,张伟,6222020200003001\n\
                 130.00,ICBC,李娜,6222020200003002\n";
    let spaced = "amount,bank,name,number\n\
                  120.00,ICBC,张伟,6222 0202 0000 3001\n\
                  130.00,ICBC,李娜,6222 0202 0000 3002\n";
    let first = plan_for(&desk, plain).unwrap();
    assert_eq!(desk.enqueue_import(&first).unwrap(), 2);
    desk.send_import(&first.import_id, &AtomicBool::new(false), |_| {})
        .await
        .unwrap();
    let again = plan_for(&desk, spaced).unwrap();
    assert_eq!(
        again.import_id, first.import_id,
        "the same rows, the same import"
    );
    assert_eq!(
        desk.enqueue_import(&again).expect("resumes, no mismatch"),
        0
    );
    assert_eq!(desk.import_summary(&again.import_id).unwrap().accepted, 2);
    sb.stop().await;
}

#[test]
fn a_row_with_more_cells_than_the_header_is_refused_not_paid_a_shifted_amount() {
    // `12,345.67` unquoted: the amount column would read `12` and drop `345.67`.
    let csv = "bank,number,name,amount\nICBC,6222020200005101,A,12,345.67\n";
    let errors = plan("p.csv", csv.as_bytes(), &default_banks(), |_| None).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.row == 2 && e.column == "column E" && e.message.contains("unquoted comma")),
        "{errors:?}"
    );
    // A trailing empty cell (a row ending in a comma) is no problem.
    let ok = "bank,number,name,amount\nICBC,6222020200005101,A,12345.67,\n";
    assert_eq!(
        plan("p.csv", ok.as_bytes(), &default_banks(), |_| None)
            .unwrap()
            .total,
        Fen::from_fen(1_234_567)
    );

    let batch =
        "merchant_withdraw_id,currency,chain,address,amount\nw1,USDT,TRX,TXyzAdv00001,1,000.5\n";
    let errors =
        paydesk::domain::batches::plan_batch_file("b.csv", batch.as_bytes(), "B1").unwrap_err();
    assert!(
        errors.iter().any(|e| e.row == 2 && e.column == "column F"),
        "{errors:?}"
    );
}

/// Two Paydesks on one data directory (two commands, or the console beside a command) each
/// send the same payment under their own merchant order ID, without confirming a duplicate:
/// exactly one may be sent, the others are held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_paydesks_sending_the_same_payment_at_once_send_it_once() {
    use paydesk::domain::duplicates::{DuplicateWindow, HoldError};
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desks: Vec<PayoutDesk> = (0..6).map(|_| desk(&sb, dir.path())).collect();
    for round in 0..15_i64 {
        let number = format!("62220202{:08}", 8_000 + round);
        let tasks: Vec<_> = desks
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let d = d.clone();
                let r = request(&format!("adv_race_{round}_{i}"), 42_100 + round, &number);
                tokio::spawn(async move {
                    d.submit_unless_duplicate(
                        &r,
                        DuplicateWindow::default(),
                        &paydesk::domain::duplicates::Confirmation::Nothing,
                    )
                    .await
                })
            })
            .collect();
        let mut sent = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => sent += 1,
                Err(HoldError::Held(_)) => {}
                Err(HoldError::Other(e)) => panic!("{e}"),
            }
        }
        assert_eq!(
            sent, 1,
            "round {round}: the same payment was sent {sent} times"
        );
    }
    sb.stop().await;
}

fn batch_desk(sb: &SandboxHandle, dir: &Path) -> paydesk::domain::batches::BatchDesk {
    let journal = Journal::open(&journal_path(dir)).unwrap();
    paydesk::domain::batches::BatchDesk::new(
        Arc::new(Mutex::new(journal)),
        gatepay(sb),
        Arc::new(SystemClock),
    )
}

fn batch(id: &str, items: &[(&str, &str, &str)]) -> paydesk::gateway::gatepay::wire::BatchRequest {
    paydesk::gateway::gatepay::wire::BatchRequest {
        batch_id: id.to_owned(),
        withdraw_list: items
            .iter()
            .map(
                |(w, amount, address)| paydesk::gateway::gatepay::wire::WithdrawItem {
                    merchant_withdraw_id: (*w).to_owned(),
                    currency: "USDT".to_owned(),
                    amount: paydesk::money::CryptoAmount::parse_payout(amount).unwrap(),
                    chain: "TRX".to_owned(),
                    address: (*address).to_owned(),
                    memo: String::new(),
                    fee_type: 0,
                },
            )
            .collect(),
        channel_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_550245_whose_batch_has_other_sub_orders_is_refused_never_shown_paid() {
    let sb = sandbox(small_config()).await;
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let theirs = batch(
        "ADV_TAKEN_1",
        &[("w1", "12.5", "TXyzAdv00001"), ("w2", "7", "TXyzAdv00002")],
    );
    let first = batch_desk(&sb, a.path()).submit(&theirs).await.unwrap();
    assert_eq!(first.state, State::Accepted);
    // Another journal reuses the batch ID for other sub-orders.
    let mine = batch_desk(&sb, b.path())
        .submit(&batch("ADV_TAKEN_1", &[("w1", "99", "TXyzAdv00009")]))
        .await
        .unwrap();
    assert_eq!(mine.state, State::Rejected, "{:?}", mine.entry);
    assert_eq!(mine.reject_code.as_deref(), Some("550245"));
    assert!(
        mine.reject_message.as_deref().unwrap().contains("99 USDT"),
        "{:?}",
        mine.entry
    );
    // The same batch sent again from a lost journal is the same batch: accepted.
    let again = batch_desk(&sb, c.path()).submit(&theirs).await.unwrap();
    assert_eq!(again.state, State::Accepted, "{:?}", again.entry);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_hex_address_in_another_letter_case_is_held_as_a_likely_duplicate() {
    use paydesk::domain::duplicates::{Confirmation, DuplicateWindow};
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = batch_desk(&sb, dir.path());
    let first = desk
        .submit(&batch(
            "ADV_HEX_1",
            &[("h1", "25", "0x52908400098527886E0F7030069857D2E4169EE7")],
        ))
        .await
        .unwrap();
    assert_eq!(first.state, State::Accepted);
    let lower = batch(
        "ADV_HEX_2",
        &[("h2", "25", "0x52908400098527886e0f7030069857d2e4169ee7")],
    );
    let report = desk
        .duplicates_of_batch(&lower, DuplicateWindow::default(), &Confirmation::Nothing)
        .unwrap();
    assert_eq!(report.held_total, 1, "{report:?}");
    // Tron's base58 addresses keep their case: another case is another address.
    desk.submit(&batch("ADV_HEX_3", &[("t1", "25", "TXyzCaseAdv01")]))
        .await
        .unwrap();
    let other = batch("ADV_HEX_4", &[("t2", "25", "txyzcaseadv01")]);
    let report = desk
        .duplicates_of_batch(&other, DuplicateWindow::default(), &Confirmation::Nothing)
        .unwrap();
    assert_eq!(report.held_total, 0, "{report:?}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_order_repeated_in_one_batch_under_another_withdraw_id_is_held_back() {
    use paydesk::domain::duplicates::{Confirmation, DuplicateWindow, Earlier, HoldError};
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = batch_desk(&sb, dir.path());
    // The same row pasted twice, given a new withdraw ID: both were sent.
    let twice = batch(
        "ADV_TWICE_1",
        &[
            ("d1", "12.5", "TXyzTwiceAdv01"),
            ("d2", "8", "TXyzTwiceAdv02"),
            ("d3", "12.50", "TXyzTwiceAdv01"),
        ],
    );
    let report = desk
        .duplicates_of_batch(&twice, DuplicateWindow::default(), &Confirmation::Nothing)
        .unwrap();
    assert_eq!(report.held_total, 1, "{report:?}");
    assert_eq!(report.held[0].id, "d3");
    assert!(
        matches!(&report.held[0].earlier[0], Earlier::SameFile { row: 1, id } if id == "d1"),
        "{report:?}"
    );
    match desk
        .submit_unless_duplicate(&twice, DuplicateWindow::default(), &Confirmation::Nothing)
        .await
    {
        Err(HoldError::Held(_)) => {}
        other => panic!("sent a repeated sub-order: {other:?}"),
    }
    assert!(desk.get("ADV_TWICE_1").unwrap().is_none());
    // Confirmed by name, it is sent.
    let named = Confirmation::from_flags(false, ["d3".to_owned()]);
    let (sent, _) = desk
        .submit_unless_duplicate(&twice, DuplicateWindow::default(), &named)
        .await
        .unwrap();
    assert_eq!(sent.state, State::Accepted);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_on_a_computer_ten_minutes_fast_is_found_paid_never_refused() {
    use paydesk::clock::{Clock, OffsetClock};
    use paydesk::gateway::cny::CnyClient;
    use paydesk::sandbox::Faults;
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    // This machine's clock is 10 minutes ahead of the gateway's.
    let clock: Arc<dyn Clock> = Arc::new(OffsetClock {
        inner: Arc::new(SystemClock),
        offset_ms: 600_000,
    });
    let journal = Arc::new(Mutex::new(
        Journal::open(&journal_path(dir.path())).unwrap(),
    ));
    let client = CnyClient::new(cny_config(&sb), clock.clone()).unwrap();
    let mut desk = PayoutDesk::new(journal, client, clock);
    desk.not_found_grace_secs = 0;
    sb.set_faults(Faults::parse("drop-after-commit=1.0").unwrap());
    let sent = desk
        .submit(&request("adv_skew_1", 12_300, "6222020200024001"))
        .await
        .unwrap();
    assert_eq!(sent.state, State::Unknown, "{:?}", sent.entry);
    sb.set_faults(Faults::default());
    desk.reconcile_now(false).await.unwrap();
    let entry = desk
        .journal
        .lock()
        .unwrap()
        .get(&desk.merchant, "adv_skew_1")
        .unwrap()
        .unwrap();
    // Before, its own order, created "10 minutes before it was recorded", was shown refused
    // ("belongs to another payout"), so the same row in a new file was paid again.
    assert_eq!(entry.state, State::Accepted, "{entry:?}");
    assert_eq!(entry.reject_code, None);
    assert_eq!(cny(&sb).find_payout("adv_skew_1").await.unwrap().total, 1);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_batch_reply_on_a_computer_ten_minutes_fast_is_found_accepted_never_refused() {
    use paydesk::clock::{Clock, OffsetClock, RandomNonce};
    use paydesk::sandbox::Faults;
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(OffsetClock {
        inner: Arc::new(SystemClock),
        offset_ms: 600_000,
    });
    let desk = paydesk::domain::batches::BatchDesk::new(
        Arc::new(Mutex::new(
            Journal::open(&journal_path(dir.path())).unwrap(),
        )),
        gatepay_with(&sb, clock.clone(), Arc::new(RandomNonce)),
        clock,
    );
    // Any reply first, so the client knows GatePay's clock (as it does after a 400003).
    let _ = desk
        .client
        .batch_detail(
            "ADV_NONE",
            paydesk::gateway::gatepay::wire::DetailStatus::All,
        )
        .await;
    sb.set_faults(Faults::parse("drop-after-commit=1.0").unwrap());
    let sent = desk
        .submit(&batch("ADV_SKEW_B1", &[("k1", "9", "TXyzSkewAdv01")]))
        .await
        .unwrap();
    assert_eq!(sent.state, State::Unknown, "{:?}", sent.entry);
    sb.set_faults(Faults::default());
    desk.reconcile_now(false).await.unwrap();
    let entry = desk.get("ADV_SKEW_B1").unwrap().unwrap();
    assert_eq!(entry.state, State::Accepted, "{entry:?}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_gap_on_a_computer_ten_minutes_fast_still_finds_the_payout_the_copy_lacks() {
    use paydesk::clock::{Clock, OffsetClock};
    use paydesk::domain::duplicates::DuplicateWindow;
    use paydesk::domain::journal::{RestoreOptions, restore};
    use paydesk::gateway::cny::CnyClient;
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    let clock: Arc<dyn Clock> = Arc::new(OffsetClock {
        inner: Arc::new(SystemClock),
        offset_ms: 600_000,
    });
    let skewed = |clock: &Arc<dyn Clock>| {
        let journal = Arc::new(Mutex::new(Journal::open(&path).unwrap()));
        let client = CnyClient::new(cny_config(&sb), clock.clone()).unwrap();
        let mut desk = PayoutDesk::new(journal, client, clock.clone());
        desk.not_found_grace_secs = 0;
        desk
    };
    let copy = dir.path().join("copy.sqlite3");
    {
        let desk = skewed(&clock);
        let first = desk
            .submit(&request("adv_gap_p0", 5_100, "6222020200025000"))
            .await
            .unwrap();
        assert_eq!(first.state, State::Accepted);
        desk.journal.lock().unwrap().backup_to(&copy).unwrap();
        // Paid after the copy was made; then the journal is lost.
        let lost = desk
            .submit(&request("adv_gap_p1", 12_345, "6222020200025001"))
            .await
            .unwrap();
        assert_eq!(lost.state, State::Accepted);
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    restore(&path, &copy, "adv", RestoreOptions::default()).unwrap();
    // The restore ran on the same fast clock (it reads the system's, so it is moved here).
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE restore_gaps SET to_time = to_time + 600", [])
        .unwrap();
    let desk = skewed(&clock);
    // The gap starts at the copy's newest row on this machine's clock, 10 minutes ahead of
    // the gateway's, which created the lost payout before that: it was not found, and the
    // same payment typed again was sent.
    let found = desk
        .gap_duplicates(Fen::from_fen(12_345), DuplicateWindow::default())
        .await
        .unwrap();
    assert!(
        found.iter().any(|o| o.payout_cl_id == "adv_gap_p1"),
        "{found:?}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_a_payout_typed_again_and_paid_since_is_held_back() {
    use paydesk::domain::duplicates::DuplicateWindow;
    use paydesk::domain::payouts::PayoutError;
    use paydesk::sandbox::Faults;
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    // The first attempt hits an HTTP 500: nothing is created.
    sb.set_faults(Faults::parse("http500=1.0").unwrap());
    let first = desk
        .submit(&request("adv_retry_1", 31_200, "6222020200028001"))
        .await
        .unwrap();
    sb.set_faults(Faults::default());
    desk.reconcile_now(false).await.unwrap();
    let entry = desk
        .journal
        .lock()
        .unwrap()
        .get(&desk.merchant, "adv_retry_1")
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, State::NotCreated, "{:?}", first.entry);
    // The operator types it again and confirms it as a duplicate of the one not created.
    let (again, _) = desk
        .submit_unless_duplicate(
            &request("adv_retry_2", 31_200, "6222020200028001"),
            DuplicateWindow::default(),
            &paydesk::domain::duplicates::Confirmation::All,
        )
        .await
        .unwrap();
    assert_eq!(again.state, State::Accepted);
    // "Send again" on the first one paid it a second time.
    match desk.retry("adv_retry_1").await {
        Err(PayoutError::NotAllowed(why)) => {
            assert!(why.contains("adv_retry_2"), "{why}");
        }
        other => panic!("sent again without a confirmation: {other:?}"),
    }
    assert_eq!(cny(&sb).find_payout("adv_retry_1").await.unwrap().total, 0);
    // Confirmed by name, it is sent.
    let sent = desk
        .retry_confirmed("adv_retry_1", DuplicateWindow::default(), true)
        .await
        .unwrap();
    assert_eq!(sent.state, State::Accepted);
    sb.stop().await;
}

/// The binary with the sandbox's credentials, the CNY gateway reached at `base_url`, and its
/// own config and data directories under `dir`.
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

/// Runs the binary off the runtime's threads, so the in-process sandbox keeps serving.
async fn run(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Runs the binary with `input` on its standard input.
async fn run_with_input(mut cmd: std::process::Command, input: Vec<u8>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // The binary may refuse before reading it all: a broken pipe is its answer.
        let _ = stdin.write_all(&input);
        drop(stdin);
        child.wait_with_output().unwrap()
    })
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

fn create_args<'a>(cl_id: &'a str, amount: &'a str, number: &'a str) -> Vec<&'a str> {
    vec![
        "payout", "create", "--amount", amount, "--bank", "ICBC", "--name", "张伟", "--number",
        number, "--cl-id", cl_id, "--yes",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_payout_via_127_0_0_1_and_via_localhost_is_held_back() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = sb.addr.port();
    let by_ip = format!("http://127.0.0.1:{port}");
    let by_name = format!("http://localhost:{port}");

    let mut first = paydesk_at(&sb, &by_ip, dir.path());
    first.args(create_args("host_a1", "321.00", "6222020200007001"));
    let out = run(first).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    // The same gateway under another name is the same merchant: the same payout is held.
    let mut again = paydesk_at(&sb, &by_name, dir.path());
    again.args(create_args("host_a2", "321.00", "6222020200007001"));
    let out = run(again).await;
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("host_a2") && text.contains("held back"),
        "{text}"
    );
    assert!(
        text.contains("host_a1"),
        "the earlier payout is named: {text}"
    );

    // Its own merchant order ID is found too: a retry under localhost is not another payout.
    let mut list = paydesk_at(&sb, &by_name, dir.path());
    list.args(["payout", "list", "--format", "json"]);
    let out = run(list).await;
    assert!(both(&out).contains("host_a1"), "{}", both(&out));

    let created: Vec<_> = sb
        .created_payouts()
        .into_iter()
        .filter(|p| p.number == "6222020200007001")
        .collect();
    assert_eq!(created.len(), 1, "paid once: {created:?}");
    assert_eq!(sb.payout_create_requests().get("host_a2"), None);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_row_written_under_another_port_is_still_seen() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut first = paydesk_at(&sb, sb.base_url(), dir.path());
    first.args(create_args("port_a1", "654.00", "6222020200007002"));
    let out = run(first).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    // As a Paydesk before this change left it: keyed by `platform_id@host:port`, with a port
    // the console's built-in sandbox no longer listens on, at schema version 3.
    {
        let conn = rusqlite::Connection::open(journal_path(&dir.path().join("data"))).unwrap();
        let changed = conn
            .execute(
                "UPDATE payouts SET merchant = merchant || '@127.0.0.1:1'",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
        conn.pragma_update(None, "user_version", 3).unwrap();
    }

    let mut again = paydesk_at(&sb, sb.base_url(), dir.path());
    again.args(create_args("port_a2", "654.00", "6222020200007002"));
    let out = run(again).await;
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("port_a1"),
        "the old row is the earlier payout: {text}"
    );
    assert_eq!(sb.payout_create_requests().get("port_a2"), None);

    let journal = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
    let entry = journal
        .get(&sb.info.cny.platform_id, "port_a1")
        .unwrap()
        .expect("the old row is the merchant's");
    assert_eq!(entry.merchant, sb.info.cny.platform_id);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_cl_id_of_an_older_gateway_order_is_refused_never_accepted_or_resent() {
    use paydesk::gateway::cny::{OrderKind, OrderQuery};
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    // A payout the gateway has held for over an hour, made by someone else.
    let page = cny(&sb)
        .query(
            OrderKind::Payout,
            &OrderQuery {
                limit: 50,
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    let hour_ago = paydesk::clock::Clock::now_secs(&SystemClock) - 3_600;
    let theirs = page
        .orders
        .iter()
        .find(|o| o.amount.is_some() && o.create_time_secs.is_some_and(|t| t < hour_ago))
        .expect("an old seeded payout");
    let id = theirs.merchant_id.clone();
    let amount = theirs.amount.unwrap().to_string().replace(['¥', ','], "");

    let mut create = paydesk_at(&sb, sb.base_url(), dir.path());
    create.args(create_args(&id, &amount, "6222020200007003"));
    let out = run(create).await;
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "refused, not accepted: {text}");
    assert!(
        text.contains(&format!(
            "0014: merchant order ID {id} already exists at the gateway since"
        )) && text.contains("not sent by this intent: choose another ID"),
        "{text}"
    );
    let journal = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
    let entry = journal.get(&sb.info.cny.platform_id, &id).unwrap().unwrap();
    assert_eq!(entry.state, State::Rejected);
    assert_eq!(entry.payout_id, None);

    // Never sent again under that ID.
    let mut retry = paydesk_at(&sb, sb.base_url(), dir.path());
    retry.args(["payout", "retry", &id]);
    let out = run(retry).await;
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(sb.payout_create_requests().get(&id), Some(&1));
    assert!(sb.created_payouts().iter().all(|p| p.payout_cl_id != id));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_window_of_zero_days_is_refused_not_a_silent_off() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut flag = paydesk_at(&sb, sb.base_url(), dir.path());
    flag.args(create_args("win_0", "12.00", "6222020200007004"))
        .args(["--duplicate-window-days", "0"]);
    let out = run(flag).await;
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("from 1 to 366"), "{}", both(&out));

    let file = dir.path().join("w.csv");
    std::fs::write(
        &file,
        "amount,bank,name,number\n12.00,ICBC,张伟,6222020200007004\n",
    )
    .unwrap();
    let mut env = paydesk_at(&sb, sb.base_url(), dir.path());
    env.env("PAYDESK_DUPLICATE_WINDOW_DAYS", "0")
        .args(["payout", "import", "--yes"])
        .arg(&file);
    let out = run(env).await;
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("from 1 to 366"), "{}", both(&out));

    let mut big = paydesk_at(&sb, sb.base_url(), dir.path());
    big.args(create_args("win_367", "12.00", "6222020200007004"))
        .args(["--duplicate-window-days", "367"]);
    assert_eq!(run(big).await.status.code(), Some(2));
    assert!(sb.created_payouts().is_empty());
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payout_import_dash_reads_the_csv_from_standard_input_within_the_size_limit() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = "amount,bank,name,number\n\
               101.00,ICBC,张伟,6222020200007101\n\
               102.00,ICBC,李娜,6222020200007102\n";
    let mut import = paydesk_at(&sb, sb.base_url(), dir.path());
    import.args(["payout", "import", "-", "--yes"]);
    let out = run_with_input(import, csv.as_bytes().to_vec()).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let mut numbers: Vec<String> = sb.created_payouts().into_iter().map(|p| p.number).collect();
    numbers.sort();
    assert_eq!(numbers, ["6222020200007101", "6222020200007102"]);

    // The same rows piped again resume the same import: nothing is paid twice.
    let mut again = paydesk_at(&sb, sb.base_url(), dir.path());
    again.args(["payout", "import", "-", "--yes"]);
    let out = run_with_input(again, csv.replace('\n', "\r\n").into_bytes()).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(sb.created_payouts().len(), 2);

    // Over the size limit: refused before anything is sent.
    let mut big = paydesk_at(&sb, sb.base_url(), dir.path());
    big.env("PAYDESK_MAX_FILE_MB", "1")
        .args(["payout", "import", "-", "--yes"]);
    let mut text = String::from("amount,bank,name,number\n");
    for i in 0..40_000 {
        std::fmt::Write::write_fmt(&mut text, format_args!("1.00,ICBC,张伟,62220202{i:08}\n"))
            .unwrap();
    }
    assert!(text.len() > 1_100_000);
    let out = run_with_input(big, text.into_bytes()).await;
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("bytes"), "{}", both(&out));
    assert_eq!(sb.created_payouts().len(), 2);

    // A GatePay batch file reads from standard input the same way.
    let mut batch = paydesk_at(&sb, sb.base_url(), dir.path());
    batch.args([
        "gatepay",
        "create",
        "--batch-id",
        "STDIN_B1",
        "--file",
        "-",
        "--yes",
    ]);
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                stdin_w1,USDT,12.5,TRX,TXstdin00001,,0\n";
    let out = run_with_input(batch, file.as_bytes().to_vec()).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_batch_id_of_an_older_gatepay_batch_is_refused_even_with_the_same_sub_orders() {
    use paydesk::gateway::gatepay::wire::{BatchRequest, DetailStatus, WithdrawItem};
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    // A batch GatePay has held for a month, someone else's; this journal has never seen it.
    let old = "M57143269140";
    let detail = gatepay(&sb)
        .batch_detail(old, DetailStatus::All)
        .await
        .unwrap();
    assert!(!detail.withdraw_list.is_empty());
    let same = BatchRequest {
        batch_id: old.to_owned(),
        withdraw_list: detail
            .withdraw_list
            .iter()
            .map(|s| WithdrawItem {
                merchant_withdraw_id: s.merchant_withdraw_id.clone(),
                currency: s.currency.clone(),
                amount: s.amount.unwrap(),
                chain: s.chain.clone(),
                address: s.address.clone(),
                memo: s.memo.clone(),
                fee_type: 0,
            })
            .collect(),
        channel_id: None,
    };
    let mine = batch_desk(&sb, dir.path()).submit(&same).await.unwrap();
    assert_eq!(mine.state, State::Rejected, "{:?}", mine.entry);
    let why = mine.reject_message.clone().unwrap_or_default();
    assert!(
        why.contains(&format!("batch ID {old} already exists at GatePay since"))
            && why.contains("not sent by this batch: choose another ID"),
        "{why}"
    );
    sb.stop().await;
}

#[test]
fn an_old_journal_with_one_id_under_two_addresses_migrates_and_keeps_both_rows() {
    use paydesk::domain::journal::{Intent, ListFilter};
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    {
        let mut j = Journal::open(&path).unwrap();
        for (i, merchant) in ["PF0060@127.0.0.1:1", "PF0060@localhost:2", "PF0061@[::1]:3"]
            .iter()
            .enumerate()
        {
            j.record_intents(
                &[Intent {
                    merchant: (*merchant).to_owned(),
                    origin: None,
                    request: request("two_homes_1", 4_200, "6222020200007201"),
                    state: State::Queued,
                    import: None,
                }],
                1_000 + i64::try_from(i).unwrap(),
            )
            .unwrap();
        }
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);

    let j = Journal::open(&path).expect("the migration cannot fail on a repeated ID");
    assert!(j.get("PF0060", "two_homes_1").unwrap().is_some());
    assert!(j.get("PF0061", "two_homes_1").unwrap().is_some());
    let mut merchants: Vec<String> = j
        .list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.merchant)
        .collect();
    merchants.sort();
    assert_eq!(
        merchants,
        ["PF0060", "PF0060@localhost:2", "PF0061"],
        "the second address's row keeps its old key, none is lost"
    );
}

/// The console sent an import without first settling what an earlier run left unanswered
/// (the CLI did): `run_import` now does both, so a row that reached the gateway but was
/// never answered is looked up and found, never sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_import_settles_an_unanswered_row_before_sending_the_rest() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    let csv = "merchant_order_id,amount,bank,name,number\n\
               adv_run_1,121.00,ICBC,张伟,6222020200003001\n\
               adv_run_2,131.00,ICBC,李娜,6222020200003002\n";
    let plan = plan_for(&desk, csv).unwrap();
    assert_eq!(desk.enqueue_import(&plan).unwrap(), 2);
    // The first row reached the gateway, but its answer was lost.
    assert_eq!(
        desk.retry("adv_run_1").await.unwrap().state,
        State::Accepted
    );
    paydesk::lock_unpoisoned(&desk.journal)
        .record_outcome(
            &desk.merchant,
            "adv_run_1",
            &paydesk::gateway::cny::CreateOutcome::Unknown {
                why: "the reply never came".into(),
            },
            0,
        )
        .unwrap();

    let progress = std::sync::Mutex::new(Vec::new());
    let run = desk
        .run_import(&plan, &AtomicBool::new(false), |n, total, e| {
            progress
                .lock()
                .unwrap()
                .push((n, total, e.payout_cl_id.clone()));
        })
        .await
        .unwrap();
    assert!(run.checked_first >= 1, "{run:?}");
    assert!(run.stopped.is_none(), "{run:?}");
    assert_eq!(run.sent, 1);
    assert_eq!(
        progress.into_inner().unwrap(),
        vec![(2, 2, "adv_run_2".to_owned())]
    );
    assert_eq!(desk.import_summary(&plan.import_id).unwrap().accepted, 2);
    for id in ["adv_run_1", "adv_run_2"] {
        assert_eq!(cny(&sb).find_payout(id).await.unwrap().total, 1, "{id}");
    }
    sb.stop().await;
}
