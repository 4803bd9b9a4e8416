//! Defects found by the adversarial pass over issue 10, each replayed over real HTTP against
//! the sandbox: a `0014` whose order is another payout is never shown as paid; an import
//! that gives its own merchant order IDs resumes after a stop; re-saved account numbers with
//! spaces resume the same import.

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
            .map(|e| e.batch_id)
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
    assert_eq!(desk.enqueue_batch(&first).unwrap(), 3);
    // Stopped after the first row was sent.
    assert_eq!(
        desk.retry("adv_own_1").await.unwrap().state,
        State::Accepted
    );

    let again = plan_for(&desk, &csv.replace('\n', "\r\n")).expect("the same import resumes");
    assert_eq!(again.batch_id, first.batch_id);
    assert_eq!(desk.enqueue_batch(&again).unwrap(), 0);
    desk.reconcile(true).await.unwrap();
    desk.send_batch(&again.batch_id, &AtomicBool::new(false), |_| {})
        .await
        .unwrap();
    let summary = desk.batch_summary(&again.batch_id).unwrap();
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
    assert_eq!(desk.enqueue_batch(&first).unwrap(), 2);
    desk.send_batch(&first.batch_id, &AtomicBool::new(false), |_| {})
        .await
        .unwrap();
    let again = plan_for(&desk, spaced).unwrap();
    assert_eq!(
        again.batch_id, first.batch_id,
        "the same rows, the same import"
    );
    assert_eq!(desk.enqueue_batch(&again).expect("resumes, no mismatch"), 0);
    assert_eq!(desk.batch_summary(&again.batch_id).unwrap().accepted, 2);
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
                    d.submit_unless_duplicate(&r, DuplicateWindow::default(), false)
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
