//! The GatePay client against the sandbox over real HTTP: status filters, signature, clock
//! and nonce refusals, batch creation and its lifecycle, and a dropped create reply.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use paydesk::clock::{FixedNonce, OffsetClock, SystemClock};
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::journal::{Journal, State};
use paydesk::gateway::gatepay::wire::{
    BatchRequest, CreateBatchOutcome, DetailStatus, WithdrawItem,
};
use paydesk::gateway::gatepay::{GatePayClient, GatePayClientError};
use paydesk::money::CryptoAmount;
use paydesk::sandbox::{Faults, SandboxConfig};
use paydesk::secret::Secret;

const MIXED_BATCH: &str = "M57143269144";

fn item(id: &str, amount: &str, address: &str) -> WithdrawItem {
    WithdrawItem {
        merchant_withdraw_id: id.into(),
        currency: "USDT".into(),
        amount: CryptoAmount::parse_payout(amount).unwrap(),
        chain: "TRX".into(),
        address: address.into(),
        memo: String::new(),
        fee_type: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_filter_returns_exactly_its_sub_orders() {
    let sb = sandbox(small_config()).await;
    let client = gatepay(&sb);
    let all = client
        .batch_detail(MIXED_BATCH, DetailStatus::All)
        .await
        .unwrap();
    assert_eq!(all.status, "PROCESSING");
    assert_eq!(all.merchant_id, "2124538349");
    assert_eq!(all.withdraw_list.len(), 6);
    for filter in DetailStatus::ALL_VALUES.into_iter().skip(1) {
        let d = client.batch_detail(MIXED_BATCH, filter).await.unwrap();
        let expected = all
            .withdraw_list
            .iter()
            .filter(|s| s.status == filter.as_str())
            .count();
        assert_eq!(d.withdraw_list.len(), expected, "{filter:?}");
        assert!(
            expected > 0,
            "the seeded batch has a sub-order in {filter:?}"
        );
        assert!(d.withdraw_list.iter().all(|s| s.status == filter.as_str()));
    }
    let err = client
        .batch_detail("M0000000000", DetailStatus::All)
        .await
        .unwrap_err();
    assert_eq!(err.gateway_code(), Some("400202"));
    assert!(matches!(
        client.batch_detail("bad id!", DetailStatus::All).await,
        Err(GatePayClientError::InvalidBatchId(_))
    ));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_explained() {
    let sb = sandbox(small_config()).await;
    let mut config = gatepay_config(&sb);
    config.secret = Secret::new("wrong-secret");
    let wrong = GatePayClient::new(
        config,
        Arc::new(SystemClock),
        Arc::new(paydesk::clock::RandomNonce),
    )
    .unwrap();
    let err = wrong
        .batch_detail(MIXED_BATCH, DetailStatus::All)
        .await
        .unwrap_err();
    assert_eq!(err.gateway_code(), Some("400002"));
    assert!(
        err.to_string().contains("check the Payment API secret"),
        "{err}"
    );

    let same_nonce = gatepay_with(
        &sb,
        Arc::new(SystemClock),
        Arc::new(FixedNonce("abc123".into())),
    );
    same_nonce
        .batch_detail(MIXED_BATCH, DetailStatus::All)
        .await
        .unwrap();
    let err = same_nonce
        .batch_detail(MIXED_BATCH, DetailStatus::All)
        .await
        .unwrap_err();
    assert_eq!(err.gateway_code(), Some("400020"));
    assert!(
        err.to_string().contains("the nonce is empty or malformed")
            && err.to_string().contains("used already"),
        "{err}"
    );

    // Raw, independently signed requests.
    let secret = sb.info.gatepay.secret.expose().to_owned();
    let body = format!(r#"{{"batch_id":"{MIXED_BATCH}","detail_status":"ALL"}}"#);
    let path = "withdraw/open/institution/v1/pay/payouts/detail";
    let ok = gatepay_raw(&sb, path, &body, now_ms(), &fresh_nonce(), &secret).await;
    assert_eq!(ok["code"], "000000");
    let stale = gatepay_raw(&sb, path, &body, now_ms() - 11_000, &fresh_nonce(), &secret).await;
    assert_eq!(stale["code"], "400003");
    let future = gatepay_raw(&sb, path, &body, now_ms() + 11_000, &fresh_nonce(), &secret).await;
    assert_eq!(future["code"], "400003");
    let bad_filter = gatepay_raw(
        &sb,
        path,
        &format!(r#"{{"batch_id":"{MIXED_BATCH}","detail_status":"SOME"}}"#),
        now_ms(),
        &fresh_nonce(),
        &secret,
    )
    .await;
    assert_eq!(bad_filter["code"], "400001");
    let no_headers: serde_json::Value = serde_json::from_str(
        &reqwest::Client::new()
            .post(format!("{}/{path}", sb.base_url()))
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(no_headers["code"], "400001");
    let text_plain = gatepay_raw_as(
        &sb,
        path,
        &body,
        now_ms(),
        &fresh_nonce(),
        &secret,
        "text/plain",
    )
    .await;
    assert_eq!(text_plain["code"], "400007");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_twenty_seconds_off_is_corrected() {
    let sb = sandbox(small_config()).await;
    for offset_ms in [20_000, -20_000] {
        let clock = Arc::new(OffsetClock {
            inner: Arc::new(SystemClock),
            offset_ms,
        });
        let client = gatepay_with(&sb, clock, Arc::new(paydesk::clock::RandomNonce));
        let d = client
            .batch_detail(MIXED_BATCH, DetailStatus::All)
            .await
            .unwrap();
        assert_eq!(d.batch_id, MIXED_BATCH);
        let measured = client.clock_offset_ms();
        assert!(
            (measured + offset_ms).abs() < 1_500,
            "measured {measured} for {offset_ms}"
        );
        assert!(client.clock_warning().unwrap().contains("clock"));
        // Later calls go straight through with the corrected time.
        client
            .batch_detail(MIXED_BATCH, DetailStatus::Done)
            .await
            .unwrap();
    }
    assert!(gatepay(&sb).clock_warning().is_none());
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_batch_moves_to_its_final_status() {
    let sb = sandbox(SandboxConfig {
        settle_secs: 2,
        ..small_config()
    })
    .await;
    let client = gatepay(&sb);
    let request = BatchRequest {
        batch_id: "it_batch_1".into(),
        withdraw_list: vec![
            item("w1", "10.5", "TXYZabc1234"),
            item("w2", "0.000001", "TXYZabc0000"),
        ],
        channel_id: None,
    };
    let prepared = client.prepare_batch(&request).unwrap();
    assert_eq!(
        client.send_batch(&prepared).await,
        CreateBatchOutcome::Accepted {
            batch_id: "it_batch_1".into()
        }
    );
    let first = client
        .batch_detail("it_batch_1", DetailStatus::All)
        .await
        .unwrap();
    assert_eq!(first.status, "INIT");
    assert_eq!(
        first.withdraw_list[1].amount.unwrap().to_string(),
        "0.000001"
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let done = client
        .batch_detail("it_batch_1", DetailStatus::All)
        .await
        .unwrap();
    assert_eq!(done.status, "PARTIAL");
    let failed = client
        .batch_detail("it_batch_1", DetailStatus::Fail)
        .await
        .unwrap();
    assert_eq!(failed.withdraw_list.len(), 1);
    assert_eq!(failed.withdraw_list[0].merchant_withdraw_id, "w2");
    assert!(!failed.withdraw_list[0].err_msg.is_empty());
    // The same batch again is recognised, never duplicated.
    assert_eq!(
        client.send_batch(&prepared).await,
        CreateBatchOutcome::Exists {
            batch_id: "it_batch_1".into()
        }
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_refusals_have_their_codes() {
    let sb = sandbox(small_config()).await;
    let secret = sb.info.gatepay.secret.expose().to_owned();
    let path = "withdraw/open/institution/v1/pay/create/payouts";
    let create = |body: String| {
        let secret = secret.clone();
        let sb = &sb;
        async move {
            gatepay_raw(sb, path, &body, now_ms(), &fresh_nonce(), &secret).await["code"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let one = |fields: &str| {
        format!(
            r#"{{"batch_id":"raw_{}","withdraw_list":[{{{fields}}}]}}"#,
            &fresh_nonce()[..12]
        )
    };
    assert_eq!(create(one(r#""merchant_withdraw_id":"a","currency":"USDT","amount":"1.1234567","chain":"TRX","address":"T1""#)).await, "550235");
    assert_eq!(
        create(one(
            r#""merchant_withdraw_id":"a","currency":"USDT","chain":"TRX","address":"T1""#
        ))
        .await,
        "550239"
    );
    assert_eq!(
        create(one(
            r#""merchant_withdraw_id":"a","amount":"1","chain":"TRX","address":"T1""#
        ))
        .await,
        "550240"
    );
    assert_eq!(
        create(one(
            r#""merchant_withdraw_id":"a","currency":"USDT","amount":"1","chain":"TRX""#
        ))
        .await,
        "550241"
    );
    assert_eq!(
        create(one(
            r#""merchant_withdraw_id":"a","currency":"USDT","amount":"1","address":"T1""#
        ))
        .await,
        "550242"
    );
    let memo = "m".repeat(65);
    assert_eq!(create(one(&format!(r#""merchant_withdraw_id":"a","currency":"USDT","amount":"1","chain":"TRX","address":"T1","memo":"{memo}""#))).await, "550234");
    assert_eq!(create(one(r#""merchant_withdraw_id":"a","currency":"USDT","amount":"9999999","chain":"TRX","address":"T1""#)).await, "550233");
    let many: Vec<String> = (0..101).map(|i| format!(r#"{{"merchant_withdraw_id":"m{i}","currency":"USDT","amount":"1","chain":"TRX","address":"T1"}}"#)).collect();
    assert_eq!(
        create(format!(
            r#"{{"batch_id":"raw_many","withdraw_list":[{}]}}"#,
            many.join(",")
        ))
        .await,
        "550238"
    );
    assert_eq!(
        create(r#"{"batch_id":"bad-id","withdraw_list":[]}"#.into()).await,
        "400001"
    );
    // The client refuses what it can check itself, before sending.
    let client = gatepay(&sb);
    let bad = BatchRequest {
        batch_id: "x".repeat(33),
        withdraw_list: vec![],
        channel_id: None,
    };
    assert!(matches!(
        client.prepare_batch(&bad),
        Err(GatePayClientError::InvalidBatch(_))
    ));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_create_reply_is_unknown_and_the_retry_finds_the_batch() {
    let sb = sandbox(SandboxConfig {
        faults: Faults::parse("drop-after-commit=1").unwrap(),
        ..small_config()
    })
    .await;
    let client = gatepay(&sb);
    let request = BatchRequest {
        batch_id: "it_dropped_1".into(),
        withdraw_list: vec![item("d1", "5", "TXYZabc1")],
        channel_id: None,
    };
    let prepared = client.prepare_batch(&request).unwrap();
    assert!(matches!(
        client.send_batch(&prepared).await,
        CreateBatchOutcome::Unknown { .. }
    ));
    sb.set_faults(Faults::default());
    assert_eq!(
        client.send_batch(&prepared).await,
        CreateBatchOutcome::Exists {
            batch_id: "it_dropped_1".into()
        }
    );
    let d = client
        .batch_detail("it_dropped_1", DetailStatus::All)
        .await
        .unwrap();
    assert_eq!(d.withdraw_list.len(), 1);
    sb.stop().await;
}

fn desk(sb: &paydesk::sandbox::SandboxHandle, dir: &std::path::Path) -> BatchDesk {
    let journal = Journal::open(&dir.join("journal.sqlite3")).unwrap();
    BatchDesk::new(
        Arc::new(std::sync::Mutex::new(journal)),
        gatepay(sb),
        Arc::new(SystemClock),
    )
}

/// The same desk, an hour later: every backoff and grace period has passed.
fn later(desk: &BatchDesk) -> BatchDesk {
    BatchDesk {
        clock: Arc::new(OffsetClock {
            inner: Arc::new(SystemClock),
            offset_ms: 3_600_000,
        }),
        ..desk.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journaled_batch_whose_reply_was_lost_is_found_and_never_sent_twice() {
    let sb = sandbox(SandboxConfig {
        faults: Faults::parse("drop-after-commit=1").unwrap(),
        ..small_config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    let request = BatchRequest {
        batch_id: "it_journal_1".into(),
        withdraw_list: vec![item("j1", "5", "TXj1"), item("j2", "0.000001", "TXj2")],
        channel_id: None,
    };
    let entry = desk.submit(&request).await.unwrap();
    assert_eq!(entry.state, State::Unknown, "{}", entry.describe());
    assert_eq!(entry.attempts, 1);
    assert!(entry.describe().contains("outcome unknown"));
    // Sending the same batch ID again is refused by the journal itself.
    assert!(desk.submit(&request).await.is_err());

    sb.set_faults(Faults::default());
    let report = later(&desk).reconcile(false).await.unwrap();
    assert_eq!(report.found, 1, "{report:?}");
    let entry = desk.get("it_journal_1").unwrap().unwrap();
    assert_eq!(entry.state, State::Accepted);
    assert_eq!(entry.attempts, 1, "found by asking, not by sending again");
    assert!(entry.batch_status.is_some());
    assert_eq!(entry.totals, "5.000001 USDT (2)");
    assert!(desk.retry("it_journal_1").await.is_err());
    let detail = desk
        .client
        .batch_detail("it_journal_1", DetailStatus::All)
        .await
        .unwrap();
    assert_eq!(detail.withdraw_list.len(), 2);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_never_created_is_sent_again_under_its_own_id() {
    let sb = sandbox(SandboxConfig {
        faults: Faults::parse("http500=1").unwrap(),
        ..small_config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    let request = BatchRequest {
        batch_id: "it_journal_2".into(),
        withdraw_list: vec![item("n1", "7", "TXn1")],
        channel_id: None,
    };
    let entry = desk.submit(&request).await.unwrap();
    assert_eq!(entry.state, State::Unknown, "a 5xx is never a failure");
    sb.set_faults(Faults::default());
    // Not found, but within the grace period: still unknown.
    let report = desk.reconcile(false).await.unwrap();
    assert_eq!(report.not_created, 0);
    let report = later(&desk).reconcile(false).await.unwrap();
    assert_eq!(report.not_created, 1, "{report:?}");
    assert_eq!(
        desk.get("it_journal_2").unwrap().unwrap().state,
        State::NotCreated
    );
    let entry = desk.retry("it_journal_2").await.unwrap();
    assert_eq!(entry.state, State::Accepted, "{}", entry.describe());
    assert_eq!(entry.attempts, 2);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_keeps_its_code_and_meaning() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    // The sandbox refuses an amount above the balance.
    let request = BatchRequest {
        batch_id: "it_journal_3".into(),
        withdraw_list: vec![item("r1", "999999999", "TXr1")],
        channel_id: None,
    };
    let entry = desk.submit(&request).await.unwrap();
    assert_eq!(entry.state, State::Rejected, "{}", entry.describe());
    assert!(entry.reject_code.is_some());
    assert!(entry.reject_meaning.is_some());
    sb.stop().await;
}
