//! A likely duplicate confirmed in a review is confirmed against the matches the review
//! showed: when another equal payout or sub-order is sent between the review and the send
//! (the CLI, another window), the row is held again and nothing is sent.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::bulk::plan;
use paydesk::domain::duplicates::{Confirmation, DuplicateReport, DuplicateWindow, HoldError};
use paydesk::domain::journal::{Journal, journal_path};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::banks::default_banks;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::gatepay::wire::{BatchRequest, WithdrawItem};
use paydesk::money::{CryptoAmount, Fen};
use paydesk::sandbox::SandboxHandle;

const REVIEW_AGAIN: &str = "a new likely duplicate appeared since the review";

fn desk(sb: &SandboxHandle, dir: &Path) -> PayoutDesk {
    let journal = Arc::new(Mutex::new(Journal::open(&journal_path(dir)).unwrap()));
    PayoutDesk::new(journal, cny(sb), Arc::new(SystemClock))
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

/// Every held row ticked, as the console's review builds its confirmation.
fn all_ticked(report: &DuplicateReport) -> Confirmation {
    assert!(report.held_total > 0, "nothing held: {report:?}");
    Confirmation::reviewed(report, |_| true, true)
}

fn held_again<E: std::fmt::Debug, T>(
    outcome: Result<T, HoldError<E>>,
    id: &str,
    unseen: &str,
) -> String {
    let Err(HoldError::Held(report)) = outcome else {
        panic!("not held again: {:?}", outcome.err());
    };
    let said = report.refusal();
    let row = report.held.iter().find(|h| h.id == id).unwrap();
    assert!(!row.confirmed, "{said}");
    assert!(
        said.contains(REVIEW_AGAIN) && said.contains(unseen),
        "{said}"
    );
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_confirmed_in_review_is_held_again_when_another_is_sent_before_it() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (console, cli) = (desk(&sb, dir.path()), desk(&sb, dir.path()));
    let window = DuplicateWindow::default();
    let number = "6222020200031001";
    console
        .submit(&request("race_x", 51_500, number))
        .await
        .unwrap();
    // The operator reviews A: it matches X, and "Send anyway" is ticked.
    let a = request("race_a", 51_500, number);
    let review = console
        .review_duplicates(&a, window, &Confirmation::Nothing)
        .await
        .unwrap();
    let ticked = all_ticked(&review);
    // Meanwhile the CLI sends B, the same payment, confirmed by name.
    let b = request("race_b", 51_500, number);
    cli.submit_unless_duplicate(
        &b,
        window,
        &Confirmation::from_flags(false, ["race_b".to_owned()]),
    )
    .await
    .unwrap();
    // The console's send of A is held: the operator never saw B.
    held_again(
        console.submit_unless_duplicate(&a, window, &ticked).await,
        "race_a",
        "race_b",
    );
    assert_eq!(cny(&sb).find_payout("race_a").await.unwrap().total, 0);
    // Reviewed again (X and B shown), it is sent.
    let review = console
        .review_duplicates(&a, window, &Confirmation::Nothing)
        .await
        .unwrap();
    let (sent, _) = console
        .submit_unless_duplicate(&a, window, &all_ticked(&review))
        .await
        .unwrap();
    assert_eq!(sent.entry.payout_cl_id, "race_a");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_row_confirmed_in_review_is_held_again_when_another_is_sent_before_it() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let (console, cli) = (desk(&sb, dir.path()), desk(&sb, dir.path()));
    let window = DuplicateWindow::default();
    let number = "6222020200031002";
    console
        .submit(&request("race_fx", 61_600, number))
        .await
        .unwrap();
    let csv =
        format!("merchant_order_id,amount,bank,name,number\nrace_fa,616.00,ICBC,张伟,{number}\n");
    let file = plan("p.csv", csv.as_bytes(), &default_banks(), |_| None).unwrap();
    let review = console
        .review_plan_duplicates(&file, window, &Confirmation::Nothing)
        .await
        .unwrap();
    let ticked = all_ticked(&review);
    cli.submit_unless_duplicate(
        &request("race_fb", 61_600, number),
        window,
        &Confirmation::All,
    )
    .await
    .unwrap();
    held_again(
        console
            .enqueue_plan_unless_duplicate(&file, window, &ticked)
            .await,
        "race_fa",
        "race_fb",
    );
    assert!(
        console
            .journal
            .lock()
            .unwrap()
            .get(&console.merchant, "race_fa")
            .unwrap()
            .is_none(),
        "nothing of the file was recorded"
    );
    sb.stop().await;
}

fn batch(id: &str, withdraw_id: &str, address: &str) -> BatchRequest {
    BatchRequest {
        batch_id: id.to_owned(),
        withdraw_list: vec![WithdrawItem {
            merchant_withdraw_id: withdraw_id.to_owned(),
            currency: "USDT".to_owned(),
            amount: CryptoAmount::parse_payout("12.5").unwrap(),
            chain: "TRX".to_owned(),
            address: address.to_owned(),
            memo: String::new(),
            fee_type: 0,
        }],
        channel_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_order_confirmed_in_review_is_held_again_when_another_batch_is_sent_before_it() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        BatchDesk::new(
            Arc::new(Mutex::new(
                Journal::open(&journal_path(dir.path())).unwrap(),
            )),
            gatepay(&sb),
            Arc::new(SystemClock),
        )
    };
    let (console, cli) = (open(), open());
    let window = DuplicateWindow::default();
    let address = "TXYZrace1111111111111111111111111";
    console
        .submit_unless_duplicate(
            &batch("RACE_X", "rx1", address),
            window,
            &Confirmation::Nothing,
        )
        .await
        .unwrap();
    let a = batch("RACE_A", "ra1", address);
    let review = console
        .review_batch_duplicates(&a, window, &Confirmation::Nothing)
        .await
        .unwrap();
    let ticked = all_ticked(&review);
    cli.submit_unless_duplicate(&batch("RACE_B", "rb1", address), window, &Confirmation::All)
        .await
        .unwrap();
    held_again(
        console.submit_unless_duplicate(&a, window, &ticked).await,
        "ra1",
        "RACE_B",
    );
    sb.stop().await;
}
