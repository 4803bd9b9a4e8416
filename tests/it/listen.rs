//! Notifications received: the listener against the sandbox over real HTTP. A notification
//! sent three times is recorded once and settles its payout without any reconcile; a
//! tampered one, or one from an address not allowed, is refused and never acknowledged; a
//! GatePay callback settles its batch and is read with exact amounts; the sub-order search
//! walks every page.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::journal::{Journal, State, journal_path};
use paydesk::domain::listener::{
    AllowList, Cidr, CnySide, Event, GatePaySide, HEADER_TIMEOUT, Listener, ListenerHandle,
    MAX_BODY_BYTES, MAX_CONNECTIONS, serve,
};
use paydesk::domain::payouts::{Notified, PayoutDesk};
use paydesk::gateway::cny::SignOptions;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::gatepay::wire::{BatchRequest, CreateBatchOutcome, WithdrawItem};
use paydesk::money::{CryptoAmount, Fen};
use paydesk::sandbox::SandboxHandle;
use tokio::sync::mpsc;

struct Rig {
    listener: ListenerHandle,
    events: mpsc::Receiver<Event>,
    payouts: PayoutDesk,
    batches: BatchDesk,
    journal: Arc<Mutex<Journal>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn url(&self) -> String {
        format!("http://{}/notify", self.listener.addr)
    }

    async fn next_event(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(30), self.events.recv())
            .await
            .expect("an event in time")
            .expect("the listener runs")
    }
}

async fn rig(sb: &SandboxHandle, allow: AllowList) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Mutex::new(
        Journal::open(&journal_path(dir.path())).unwrap(),
    ));
    let payouts = PayoutDesk::new(Arc::clone(&journal), cny(sb), Arc::new(SystemClock));
    let batches = BatchDesk::new(Arc::clone(&journal), gatepay(sb), Arc::new(SystemClock));
    let (tx, events) = mpsc::channel(64);
    let listener = serve(
        "127.0.0.1:0".parse().unwrap(),
        Listener {
            cny: Some(CnySide {
                key: sb.info.cny.md5_key.clone(),
                options: SignOptions::default(),
                desk: Some(payouts.clone()),
            }),
            gatepay: Some(GatePaySide {
                secret: sb.info.gatepay.secret.clone(),
                desk: Some(batches.clone()),
            }),
            journal: Arc::clone(&journal),
            clock: Arc::new(SystemClock),
            allow,
            max_body: MAX_BODY_BYTES,
        },
        tx,
    )
    .await
    .unwrap();
    Rig {
        listener,
        events,
        payouts,
        batches,
        journal,
        _dir: dir,
    }
}

fn request(cl_id: &str) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(88_800),
        bank_name: "中国工商银行".to_owned(),
        name: "张伟".to_owned(),
        number: "6222020200001234".to_owned(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_sent_three_times_is_recorded_once_and_settles_without_polling() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    let sent = rig.payouts.submit(&request("it_listen_1")).await.unwrap();
    assert_eq!(sent.state, State::Accepted);

    // Half-way the sandbox's payout is processing (status 2): never taken as success.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let acks = sb
        .send_payout_notification("it_listen_1", &rig.url(), 1, false)
        .await
        .unwrap();
    assert_eq!(acks, [true]);
    let event = rig.next_event().await;
    assert_eq!(
        (event.verdict, event.acknowledged),
        ("valid", true),
        "{event:?}"
    );
    let entry = rig
        .payouts
        .journal
        .lock()
        .unwrap()
        .get(&rig.payouts.merchant, "it_listen_1")
        .unwrap()
        .unwrap();
    assert_eq!(entry.gateway_status, Some(2));
    assert!(!entry.is_final, "status 2 is processing");

    // At its end, the gateway's retries deliver the same notification three times.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let acks = sb
        .send_payout_notification("it_listen_1", &rig.url(), 3, false)
        .await
        .unwrap();
    assert_eq!(acks, [true, true, true], "each copy is acknowledged");
    let first = rig.next_event().await;
    assert!(!first.duplicate);
    assert_eq!(first.effect, Some(Notified::StatusChanged));
    for _ in 0..2 {
        let again = rig.next_event().await;
        assert!(again.duplicate && again.acknowledged && again.effect.is_none());
    }
    let (rows, entry) = {
        let journal = rig.journal.lock().unwrap();
        (
            journal.notifications_for("cny", "it_listen_1").unwrap(),
            journal
                .get(&rig.payouts.merchant, "it_listen_1")
                .unwrap()
                .unwrap(),
        )
    };
    assert_eq!(rows.len(), 2, "processing, then final: two contents");
    assert_eq!(
        rows[1].copies, 3,
        "the final one recorded once, seen three times"
    );
    assert_eq!(rows[1].verdict, "valid");
    assert_eq!(rows[1].peer, "127.0.0.1");
    assert_eq!(entry.gateway_status, Some(3));
    assert!(
        entry.is_final,
        "settled by the notification, no reconcile called"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_own_notification_settles_the_payout_it_names() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    let mut req = request("it_listen_own");
    req.notify_url = Some(rig.url());
    rig.payouts.submit(&req).await.unwrap();
    let event = rig.next_event().await;
    assert_eq!(event.order_ref, "it_listen_own");
    assert_eq!(
        (event.verdict, event.acknowledged, event.effect),
        ("valid", true, Some(Notified::StatusChanged))
    );
    let entry = rig
        .journal
        .lock()
        .unwrap()
        .get(&rig.payouts.merchant, "it_listen_own")
        .unwrap()
        .unwrap();
    assert!(entry.is_final && entry.gateway_status == Some(3));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_notification_is_refused_unacknowledged_and_changes_nothing() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    rig.payouts.submit(&request("it_listen_2")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let acks = sb
        .send_payout_notification("it_listen_2", &rig.url(), 1, true)
        .await
        .unwrap();
    assert_eq!(acks, [false], "never acknowledged");
    let event = rig.next_event().await;
    assert_eq!((event.verdict, event.acknowledged), ("invalid", false));
    let entry = rig
        .journal
        .lock()
        .unwrap()
        .get(&rig.payouts.merchant, "it_listen_2")
        .unwrap()
        .unwrap();
    assert_eq!(entry.gateway_status, None, "nothing updated");
    assert!(!entry.is_final);

    // The same for a GatePay callback changed after signing.
    let batch = BatchRequest {
        batch_id: "it_listen_tamper".into(),
        withdraw_list: vec![item("t1", "5", "TXYZlisten0001")],
        channel_id: None,
    };
    rig.batches.submit(&batch).await.unwrap();
    let acks = sb
        .send_batch_callback("it_listen_tamper", &rig.url(), 1, true)
        .await
        .unwrap();
    assert_eq!(acks, [false]);
    let event = rig.next_event().await;
    assert_eq!(
        (event.source, event.verdict, event.acknowledged),
        ("gatepay", "invalid", false)
    );
    let entry = rig.batches.get("it_listen_tamper").unwrap().unwrap();
    assert_eq!(entry.batch_status, None, "nothing updated");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_from_an_address_not_allowed_is_refused() {
    let sb = sandbox(small_config()).await;
    let allow = AllowList(vec![Cidr::parse("203.0.113.0/24").unwrap()]);
    let mut rig = rig(&sb, allow).await;
    rig.payouts.submit(&request("it_listen_3")).await.unwrap();
    let acks = sb
        .send_payout_notification("it_listen_3", &rig.url(), 1, false)
        .await
        .unwrap();
    assert_eq!(acks, [false]);
    let event = rig.next_event().await;
    assert_eq!((event.verdict, event.acknowledged), ("not-allowed", false));
    assert_eq!(rig.journal.lock().unwrap().notification_count().unwrap(), 0);
    sb.stop().await;
}

fn item(id: &str, amount: &str, address: &str) -> WithdrawItem {
    WithdrawItem {
        merchant_withdraw_id: id.to_owned(),
        currency: "USDT".to_owned(),
        amount: CryptoAmount::parse_payout(amount).unwrap(),
        chain: "TRX".to_owned(),
        address: address.to_owned(),
        memo: String::new(),
        fee_type: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gatepay_callback_settles_its_batch_and_is_read_with_exact_amounts() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    sb.set_gatepay_notify_url(Some(rig.url()));
    let batch = BatchRequest {
        batch_id: "it_listen_cb".into(),
        withdraw_list: vec![
            item("c1", "2362.1", "TXYZlisten0011"),
            item("c2", "0.000012", "TXYZlisten0000"),
        ],
        channel_id: None,
    };
    let sent = rig.batches.submit(&batch).await.unwrap();
    assert_eq!(sent.state, State::Accepted);
    // The sandbox posts the callback itself when the batch finishes.
    let event = rig.next_event().await;
    assert_eq!(
        (event.source, event.verdict, event.acknowledged),
        ("gatepay", "valid", true),
        "{event:?}"
    );
    assert_eq!(event.order_ref, "it_listen_cb");
    assert_eq!(event.status.as_deref(), Some("PARTIAL"));
    assert_eq!(event.effect, Some(Notified::StatusChanged));
    assert!(
        event.lines.iter().any(|l| l.contains("2362.1 USDT")),
        "{:?}",
        event.lines
    );
    assert!(event.lines.iter().any(|l| l.contains("0.000012 USDT")));
    assert!(event.lines[0].contains("pay_back_status YES"));
    let entry = rig.batches.get("it_listen_cb").unwrap().unwrap();
    assert_eq!(entry.batch_status.as_deref(), Some("PARTIAL"));
    assert!(
        entry.is_final,
        "settled by the callback, no reconcile called"
    );

    // A callback as GatePay's docs write it, amounts as JSON numbers, signed by hand.
    let body = format!(
        r#"{{"bizType":"WITHDRAW","bizId":"docs_1","bizStatus":"SUCCESS","client_id":"{}","data":{{"main_order":{{"batch_id":"docs_1","status":"SUCCESS","pay_back_status":"NO"}},"suborders":[{{"suborder_id":"9","merchant_withdraw_id":"d1","currency":"USDT","chain":"ETH","address":"0xd","amount":2362.1,"fee":0.000000012345,"status":"DONE"}}]}}}}"#,
        sb.info.gatepay.client_id
    );
    let ts = now_ms().to_string();
    let sig = independent_hmac(sb.info.gatepay.secret.expose(), &ts, "n1", &body);
    let reply = reqwest::Client::new()
        .post(rig.url())
        .header("Content-Type", "application/json")
        .header("X-GatePay-Timestamp", &ts)
        .header("X-GatePay-Nonce", "n1")
        .header("X-GatePay-Signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.text().await.unwrap(),
        r#"{"returnCode":"SUCCESS","returnMessage":""}"#
    );
    let event = rig.next_event().await;
    assert!(event.lines[1].contains("2362.1 USDT"), "{:?}", event.lines);
    assert!(
        event.lines[1].contains("fee 0.000000012345"),
        "{:?}",
        event.lines
    );
    assert_eq!(event.effect, None, "not a batch of this journal");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suborder_search_walks_every_page() {
    let sb = sandbox(small_config()).await;
    let client = gatepay(&sb);
    let from = now_ms() - 1_000;
    for b in 0..6 {
        let request = BatchRequest {
            batch_id: format!("it_search_{b}"),
            withdraw_list: (0..100)
                .map(|i| {
                    let address = if i % 10 == 0 {
                        format!("TXYZs{b}{i:03}0000")
                    } else {
                        format!("TXYZs{b}{i:03}1111")
                    };
                    item(&format!("s{b}_{i}"), "1.5", &address)
                })
                .collect(),
            channel_id: None,
        };
        let prepared = client.prepare_batch(&request).unwrap();
        assert!(matches!(
            client.send_batch(&prepared).await,
            CreateBatchOutcome::Accepted { .. }
        ));
    }
    let to = now_ms() + 1_000;
    let all = client.search_suborders(from, to, None, None).await.unwrap();
    assert_eq!(all.len(), 600, "two pages of 500 and 100");
    let mut ids: Vec<&str> = all.iter().map(|f| f.sub.suborder_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 600, "each once");
    assert!(all.iter().all(|f| f.batch_id.starts_with("it_search_")));
    assert!(all.iter().all(|f| f.audit_status.is_some()));
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let failed = client
        .search_suborders(from, to, Some("FAIL".into()), None)
        .await
        .unwrap();
    assert_eq!(failed.len(), 60);
    let rejected = client
        .search_suborders(from, to, None, Some("AUDIT_REJECT".into()))
        .await
        .unwrap();
    assert_eq!(rejected.len(), 60);
    // Nothing before the range.
    assert!(
        client
            .search_suborders(0, from - 10_000, None, None)
            .await
            .unwrap()
            .iter()
            .all(|f| !f.batch_id.starts_with("it_search_"))
    );
    sb.stop().await;
}

/// The binary with the sandbox's credentials in its environment and its own data directory.
fn paydesk_bin(sb: &SandboxHandle, dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_paydesk"));
    cmd.env("PAYDESK_CONFIG_DIR", dir.join("config"))
        .env("PAYDESK_DATA_DIR", dir.join("data"))
        .env("PAYDESK_CNY_BASE_URL", sb.base_url())
        .env("PAYDESK_CNY_PLATFORM_ID", &sb.info.cny.platform_id)
        .env("PAYDESK_CNY_AUTH_TOKEN", sb.info.cny.auth_token.expose())
        .env("PAYDESK_CNY_MD5_KEY", sb.info.cny.md5_key.expose())
        .env("PAYDESK_GATEPAY_BASE_URL", sb.base_url())
        .env("PAYDESK_GATEPAY_CLIENT_ID", &sb.info.gatepay.client_id)
        .env("PAYDESK_GATEPAY_SECRET", sb.info.gatepay.secret.expose())
        .env(
            "PAYDESK_GATEPAY_ON_BEHALF_OF",
            &sb.info.gatepay.on_behalf_of,
        );
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paydesk_listen_prints_a_json_line_per_notification_and_gatepay_suborders_lists() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = paydesk_bin(&sb, dir.path())
        .args(["listen", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut startup = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut startup)
        .unwrap();
    assert!(startup.contains("loopback only"), "{startup}");
    let addr = startup
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let url = format!("http://{addr}/");
    let client = cny(&sb);
    let prepared = client.prepare_payout(&request("it_listen_cli")).unwrap();
    client.send_payout(&prepared).await;
    let cl_id = "it_listen_cli".to_owned();
    let acks = sb
        .send_payout_notification(&cl_id, &url, 2, false)
        .await
        .unwrap();
    assert_eq!(acks, [true, true]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    assert_eq!(lines[0]["verdict"], "valid");
    assert_eq!(lines[0]["order_ref"], cl_id.as_str());
    assert_eq!(lines[0]["duplicate"], false);
    assert_eq!(lines[1]["duplicate"], true);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());

    // The sub-order search through the binary, as CSV.
    let client = gatepay(&sb);
    let request = BatchRequest {
        batch_id: "it_cli_search".into(),
        withdraw_list: (0..3)
            .map(|i| item(&format!("cli{i}"), "2362.1", &format!("TXYZcli{i}1111")))
            .collect(),
        channel_id: None,
    };
    let prepared = client.prepare_batch(&request).unwrap();
    client.send_batch(&prepared).await;
    let now = now_ms() / 1000;
    let out = paydesk_bin(&sb, dir.path())
        .args([
            "gatepay",
            "suborders",
            "--from",
            &(now - 60).to_string(),
            "--to",
            &(now + 60).to_string(),
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The columns of the console's export of the same search, from the same definition.
    let columns = paydesk::domain::export::ExportKind::SubOrdersByDate
        .default_columns()
        .join(",");
    assert_eq!(csv.lines().next(), Some(columns.as_str()), "{csv}");
    assert!(
        csv.starts_with("batch_id,audit_status,audit_meaning,"),
        "{csv}"
    );
    assert_eq!(
        csv.lines()
            .filter(|l| l.starts_with("it_cli_search,"))
            .count(),
        3,
        "{csv}"
    );
    assert!(csv.contains(",2362.1,"), "{csv}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_replies_come_in_the_documented_shapes() {
    let sb = sandbox(small_config()).await;
    let client = gatepay(&sb);
    let balance = client.balance(&["USDT".to_owned()]).await.unwrap();
    assert_eq!(balance[0]["currency"], "USDT");
    assert_eq!(balance[0]["available"], "250000");
    let chains = client.currency_chains("USDT").await.unwrap();
    assert_eq!(chains.len(), 3);
    let fees = client.withdraw_status("USDT").await.unwrap();
    assert_eq!(fees[0]["currency"], "USDT");

    // On the wire: the balance in data.balanceList, the other two as bare arrays.
    let secret = sb.info.gatepay.secret.expose().to_owned();
    let reply = gatepay_raw(
        &sb,
        "payment/open/institution/v1/balance",
        r#"["USDT"]"#,
        now_ms(),
        "wallet1",
        &secret,
    )
    .await;
    assert!(reply["data"]["balanceList"].is_array(), "{reply}");
    for (path, nonce) in [
        (
            "payment/open/institution/v1/pay/wallet/currency_chains",
            "wallet2",
        ),
        (
            "payment/open/institution/v1/pay/wallet/withdraw_status",
            "wallet3",
        ),
    ] {
        let ts = now_ms().to_string();
        let g = &sb.info.gatepay;
        let text = reqwest::Client::new()
            .get(format!("{}/{path}?currency=USDT", sb.base_url()))
            .header("X-GatePay-Certificate-ClientId", &g.client_id)
            .header("X-GatePay-Timestamp", &ts)
            .header("X-GatePay-Nonce", nonce)
            .header(
                "X-GatePay-Signature",
                independent_hmac(&secret, &ts, nonce, ""),
            )
            .header("X-GatePay-On-Behalf-Of", &g.on_behalf_of)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.starts_with('['), "{path}: {text}");
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_or_unreadable_is_refused_and_not_recorded() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    let http = reqwest::Client::new();
    let huge = format!(
        r#"{{"payout_cl_id":"x","memo":"{}"}}"#,
        "a".repeat(MAX_BODY_BYTES)
    );
    let reply = http
        .post(rig.url())
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
    assert!(!reply.text().await.unwrap().contains("0000"));
    assert_eq!(rig.next_event().await.verdict, "too-large");
    let reply = http
        .post(rig.url())
        .header("Content-Type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    assert_eq!(rig.next_event().await.verdict, "unreadable");
    assert_eq!(rig.journal.lock().unwrap().notification_count().unwrap(), 0);
    sb.stop().await;
}

/// The body a gateway sent to `capture`, read back from that listener's journal.
fn captured(capture: &Rig, source: &str, order_ref: &str) -> String {
    let rows = capture
        .journal
        .lock()
        .unwrap()
        .notifications_for(source, order_ref)
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].body.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_processing_notification_after_the_final_one_does_not_reopen_the_payout() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    // A second listener stands in for the network: it keeps the processing notification
    // whose first delivery to `rig` was lost, to be retried late.
    let mut capture = self::rig(&sb, AllowList::default()).await;
    rig.payouts
        .submit(&request("it_listen_late"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    sb.send_payout_notification("it_listen_late", &capture.url(), 1, false)
        .await
        .unwrap();
    capture.next_event().await;
    let processing = captured(&capture, "cny", "it_listen_late");
    assert!(processing.contains("\"status\":2"), "{processing}");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    sb.send_payout_notification("it_listen_late", &rig.url(), 1, false)
        .await
        .unwrap();
    assert_eq!(rig.next_event().await.effect, Some(Notified::StatusChanged));

    let reply = reqwest::Client::new()
        .post(rig.url())
        .header("Content-Type", "application/json")
        .body(processing)
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        200,
        "a verified notification is acknowledged"
    );
    let event = rig.next_event().await;
    assert_eq!(event.effect, Some(Notified::Unchanged), "{event:?}");
    let entry = rig
        .journal
        .lock()
        .unwrap()
        .get(&rig.payouts.merchant, "it_listen_late")
        .unwrap()
        .unwrap();
    assert_eq!(entry.gateway_status, Some(3), "still success");
    assert!(entry.is_final, "not reopened as processing");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_first_seen_with_a_forged_signature_still_settles_when_genuinely_signed() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    let mut capture = self::rig(&sb, AllowList::default()).await;
    let batch = BatchRequest {
        batch_id: "it_listen_forged_first".into(),
        withdraw_list: vec![item("f1", "12.5", "TXYZlisten0021")],
        channel_id: None,
    };
    rig.batches.submit(&batch).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    sb.send_batch_callback("it_listen_forged_first", &capture.url(), 1, false)
        .await
        .unwrap();
    capture.next_event().await;
    let body = captured(&capture, "gatepay", "it_listen_forged_first");

    // Someone who saw the body sends it first under a made-up signature.
    let reply = reqwest::Client::new()
        .post(rig.url())
        .header("Content-Type", "application/json")
        .header("X-GatePay-Timestamp", now_ms().to_string())
        .header("X-GatePay-Nonce", "forged")
        .header("X-GatePay-Signature", "ab".repeat(64))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(rig.next_event().await.verdict, "invalid");

    let acks = sb
        .send_batch_callback("it_listen_forged_first", &rig.url(), 1, false)
        .await
        .unwrap();
    assert_eq!(acks, [true]);
    let event = rig.next_event().await;
    assert_eq!(
        (event.verdict, event.duplicate, event.effect.clone()),
        ("valid", false, Some(Notified::StatusChanged)),
        "{event:?}"
    );
    let entry = rig.batches.get("it_listen_forged_first").unwrap().unwrap();
    assert!(entry.batch_status.is_some() && entry.is_final, "{entry:?}");
    let rows = rig
        .journal
        .lock()
        .unwrap()
        .notifications_for("gatepay", "it_listen_forged_first")
        .unwrap();
    assert_eq!(
        (rows.len(), rows[0].verdict.as_str(), rows[0].copies),
        (1, "valid", 2)
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_slowly_is_cut_off_unacknowledged() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    let mut tcp = tokio::net::TcpStream::connect(rig.listener.addr)
        .await
        .unwrap();
    tcp.write_all(
        b"POST /n HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut reply = vec![0u8; 512];
    let read = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a trickling sender holds the listener"
        );
        match tokio::time::timeout(Duration::from_millis(500), tcp.read(&mut reply)).await {
            Ok(read) => break read.unwrap(),
            // One more byte keeps the body coming, never complete.
            Err(_) => tcp.write_all(b" ").await.unwrap(),
        }
    };
    let text = String::from_utf8_lossy(&reply[..read]).into_owned();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(!text.contains("0000"));
    assert_eq!(rig.next_event().await.verdict, "too-slow");
    assert_eq!(rig.journal.lock().unwrap().notification_count().unwrap(), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_whose_amount_is_not_exact_fen_does_not_settle_an_unknown_payout() {
    use paydesk::gateway::cny::wire::CreateOutcome;
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    rig.payouts
        .submit(&request("it_listen_odd_amount"))
        .await
        .unwrap();
    let merchant = rig.payouts.merchant.clone();
    let now = now_ms() / 1_000;
    rig.journal
        .lock()
        .unwrap()
        .record_outcome(
            &merchant,
            "it_listen_odd_amount",
            &CreateOutcome::Unknown {
                why: "no answer".into(),
            },
            now,
        )
        .unwrap();
    for amount in ["888.0000001", "８８８.００"] {
        let body = signed_json(
            &[
                ("payout_id", "POT_ODD".to_owned()),
                ("payout_cl_id", "it_listen_odd_amount".to_owned()),
                ("platform_id", merchant.clone()),
                ("amount", amount.to_owned()),
                ("status", "3".to_owned()),
                ("create_time", now.to_string()),
                ("update_time", now.to_string()),
            ],
            &["status", "create_time", "update_time"],
            sb.info.cny.md5_key.expose(),
        );
        let reply = reqwest::Client::new()
            .post(rig.url())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let event = rig.next_event().await;
        assert_eq!(
            (event.verdict, event.effect.clone()),
            ("valid", Some(Notified::Unchanged)),
            "{amount}: {event:?}"
        );
        let entry = rig
            .journal
            .lock()
            .unwrap()
            .get(&merchant, "it_listen_odd_amount")
            .unwrap()
            .unwrap();
        assert_eq!(
            entry.state,
            State::Unknown,
            "{amount}: never rounded into a match"
        );
        assert_eq!(entry.gateway_status, None);
    }
    sb.stop().await;
}

/// A GatePay stand-in whose sub-order search answers `page(n)` for page `n`.
async fn suborder_server(
    sb: &SandboxHandle,
    page: fn(i64) -> serde_json::Value,
) -> (
    paydesk::gateway::gatepay::GatePayClient,
    tokio::task::JoinHandle<()>,
) {
    let app = axum::Router::new().fallback(
        move |q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
            let n = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            axum::Json(serde_json::json!({
                "status": "SUCCESS", "code": "000000", "errorMessage": "", "data": page(n)
            }))
        },
    );
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(tcp, app).await.unwrap();
    });
    let mut config = gatepay_config(sb);
    config.base_url = paydesk::gateway::http::parse_base_url(&format!("http://{addr}/")).unwrap();
    let client = paydesk::gateway::gatepay::GatePayClient::new(
        config,
        Arc::new(SystemClock),
        Arc::new(paydesk::clock::RandomNonce),
    )
    .unwrap();
    (client, task)
}

fn suborder_rows(ids: std::ops::Range<i64>) -> Vec<serde_json::Value> {
    ids.map(|i| {
        serde_json::json!({"batch_id": "b1", "suborder_id": i.to_string(),
            "merchant_withdraw_id": format!("m{i}"), "currency": "USDT", "chain": "TRX",
            "address": "T1", "amount": "1", "status": "DONE"})
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suborder_search_whose_pages_shift_or_never_end_lists_each_once_and_stops() {
    let sb = sandbox(small_config()).await;
    // A sub-order created while paging pushes the list down by one: row 499 comes again.
    let (client, task) = suborder_server(&sb, |n| {
        let rows = match n {
            1 => suborder_rows(0..500),
            2 => suborder_rows(499..999),
            3 => suborder_rows(999..1000),
            _ => Vec::new(),
        };
        serde_json::json!({"total": 1000, "list": rows})
    })
    .await;
    let found = client.search_suborders(0, 1, None, None).await.unwrap();
    let ids: std::collections::BTreeSet<&str> =
        found.iter().map(|f| f.sub.suborder_id.as_str()).collect();
    assert_eq!(
        (found.len(), ids.len()),
        (1000, 1000),
        "each sub-order once"
    );
    task.abort();

    // A gateway that ignores `page` and gives no total answers the same full page for ever.
    let (client, task) =
        suborder_server(&sb, |_| serde_json::Value::Array(suborder_rows(0..500))).await;
    let found = tokio::time::timeout(
        Duration::from_secs(20),
        client.search_suborders(0, 1, None, None),
    )
    .await
    .expect("the search ends")
    .unwrap();
    assert_eq!(found.len(), 500);
    task.abort();

    let reversed = gatepay(&sb).search_suborders(2, 1, None, None).await;
    assert!(
        reversed.is_err(),
        "a reversed range is refused, not an empty list"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_callback_with_an_unfinished_status_does_not_reopen_a_settled_batch() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    sb.set_gatepay_notify_url(Some(rig.url()));
    let batch = BatchRequest {
        batch_id: "it_listen_late_cb".into(),
        withdraw_list: vec![item("l1", "3", "TXYZlisten0031")],
        channel_id: None,
    };
    rig.batches.submit(&batch).await.unwrap();
    let event = rig.next_event().await;
    assert_eq!(event.effect, Some(Notified::StatusChanged), "{event:?}");
    let settled = rig.batches.get("it_listen_late_cb").unwrap().unwrap();
    assert!(settled.is_final);

    let body = format!(
        r#"{{"bizType":"WITHDRAW","bizId":"it_listen_late_cb","bizStatus":"PROCESSING","client_id":"{}","data":{{"main_order":{{"batch_id":"it_listen_late_cb","status":"PROCESSING","pay_back_status":"NO"}},"suborders":[{{"suborder_id":"1","merchant_withdraw_id":"l1","currency":"USDT","chain":"TRX","address":"TXYZlisten0031","amount":3,"fee":0,"status":"PROCESSING"}}]}}}}"#,
        sb.info.gatepay.client_id
    );
    let ts = now_ms().to_string();
    let sig = independent_hmac(sb.info.gatepay.secret.expose(), &ts, "late1", &body);
    let reply = reqwest::Client::new()
        .post(rig.url())
        .header("Content-Type", "application/json")
        .header("X-GatePay-Timestamp", &ts)
        .header("X-GatePay-Nonce", "late1")
        .header("X-GatePay-Signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let event = rig.next_event().await;
    assert_eq!(event.effect, Some(Notified::Unchanged), "{event:?}");
    let entry = rig.batches.get("it_listen_late_cb").unwrap().unwrap();
    assert!(entry.is_final, "not reopened");
    assert_eq!(entry.batch_status, settled.batch_status);
    sb.stop().await;
}

/// Whether the peer closed `tcp` (end of stream or reset) within `within`, and what it sent.
async fn closed_within(tcp: &mut tokio::net::TcpStream, within: Duration) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_trickled_one_byte_a_second_are_cut_off_within_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = sandbox(small_config()).await;
    let rig = rig(&sb, AllowList::default()).await;
    let mut tcp = tokio::net::TcpStream::connect(rig.listener.addr)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let head =
        b"POST /n HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut buf = [0u8; 512];
    let mut cut = false;
    for byte in head {
        if tcp.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        match tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => {
                cut = true;
                break;
            }
            // A 408 before closing is as good as closing.
            Ok(Ok(_)) => {}
        }
    }
    assert!(
        cut,
        "a header trickle held the connection for {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < HEADER_TIMEOUT + Duration::from_secs(5),
        "cut off only after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() + Duration::from_secs(1) >= HEADER_TIMEOUT);
    assert_eq!(rig.journal.lock().unwrap().notification_count().unwrap(), 0);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_and_the_listener_still_answers() {
    let sb = sandbox(small_config()).await;
    let mut rig = rig(&sb, AllowList::default()).await;
    rig.payouts
        .submit(&request("it_listen_conns"))
        .await
        .unwrap();
    let mut held = Vec::with_capacity(MAX_CONNECTIONS);
    for _ in 0..MAX_CONNECTIONS {
        held.push(
            tokio::net::TcpStream::connect(rig.listener.addr)
                .await
                .unwrap(),
        );
    }
    // Let the listener accept them all before the extra ones arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..8 {
        let mut extra = tokio::net::TcpStream::connect(rig.listener.addr)
            .await
            .unwrap();
        let said = closed_within(&mut extra, Duration::from_secs(3)).await;
        assert_eq!(
            said,
            Some(Vec::new()),
            "a connection beyond the limit was kept open"
        );
    }
    // The idle ones are cut by the header timeout, so a notification gets through while
    // they are still held open by their client.
    let started = std::time::Instant::now();
    loop {
        let acks = sb
            .send_payout_notification("it_listen_conns", &rig.url(), 1, false)
            .await
            .unwrap();
        if acks == [true] {
            break;
        }
        assert!(
            started.elapsed() < HEADER_TIMEOUT + Duration::from_secs(10),
            "the listener stopped answering"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let event = rig.next_event().await;
    assert_eq!((event.verdict, event.acknowledged), ("valid", true));
    drop(held);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_not_allowed_is_closed_at_accept_without_a_reply() {
    use tokio::io::AsyncWriteExt;
    let sb = sandbox(small_config()).await;
    let allow = AllowList(vec![Cidr::parse("203.0.113.0/24").unwrap()]);
    let mut rig = rig(&sb, allow).await;
    let mut tcp = tokio::net::TcpStream::connect(rig.listener.addr)
        .await
        .unwrap();
    // The write may already fail: the listener closed the connection unread.
    let _ = tcp
        .write_all(b"POST /n HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await;
    let said = closed_within(&mut tcp, Duration::from_secs(5)).await;
    assert_eq!(
        said,
        Some(Vec::new()),
        "a peer not allowed got a reply or was held"
    );
    let event = rig.next_event().await;
    assert_eq!(
        (event.source, event.verdict, event.acknowledged),
        ("tcp", "not-allowed", false)
    );
    assert_eq!(rig.journal.lock().unwrap().notification_count().unwrap(), 0);
    sb.stop().await;
}
