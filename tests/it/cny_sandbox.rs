//! The CNY gateway client against the sandbox over real HTTP: every query parameter, every
//! error code path, payouts moving to a final status with signed notifications, and every
//! fault leaving an *unknown* outcome that a query by merchant order ID settles.

use crate::common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use common::*;
use paydesk::clock::Clock;
use paydesk::gateway::cny::brand::relative;
use paydesk::gateway::cny::wire::{
    CreateOutcome, DEPOSITS_PATH, OrderKind, OrderQuery, PAYOUTS_PATH, PayoutRequest, StatusClass,
    TimeRange,
};
use paydesk::gateway::cny::{
    CnyClient, CnyError,
    sign::{SignOptions, Verdict, verify_object},
};
use paydesk::money::Fen;
use paydesk::sandbox::{FaultKind, Faults, FaultsFired, SandboxBrand, SandboxConfig};
use paydesk::secret::Secret;
use serde_json::{Map, Value};

fn payout(cl_id: &str, fen: i64) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(fen),
        bank_name: "中国农业银行".to_owned(),
        name: "王小头".to_owned(),
        number: "6216 6674 5167 4374".to_owned(),
        bank_branch: Some("北京朝阳支行".to_owned()),
        province: Some("北京".to_owned()),
        city: Some("北京".to_owned()),
        notify_url: None,
    }
}

async fn create(client: &CnyClient, req: &PayoutRequest) -> CreateOutcome {
    let prepared = client.prepare_payout(req).unwrap();
    client.send_payout(&prepared).await
}

fn code_of(outcome: &CreateOutcome) -> &str {
    match outcome {
        CreateOutcome::Rejected { code, .. } => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_page_newest_first_with_totals() {
    let sb = sandbox(small_config()).await;
    let client = cny(&sb);
    let mut seen = HashSet::new();
    let mut last_time = i64::MAX;
    let mut total = None;
    for offset in (0..600).step_by(250) {
        let page = client
            .query(
                OrderKind::Deposit,
                &OrderQuery {
                    offset,
                    limit: 250,
                    ..OrderQuery::default()
                },
            )
            .await
            .unwrap();
        total = Some(page.total);
        for o in &page.orders {
            assert!(seen.insert(o.system_id.clone()), "{} twice", o.system_id);
            let t = o.create_time_secs.unwrap();
            assert!(t <= last_time, "newest first");
            last_time = t;
        }
    }
    assert_eq!(total, Some(600));
    assert_eq!(seen.len(), 600);
    // A date range, sent as a pair.
    let all = client
        .query(
            OrderKind::Payout,
            &OrderQuery {
                limit: 500,
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    let times: Vec<i64> = all
        .orders
        .iter()
        .map(|o| o.create_time_secs.unwrap())
        .collect();
    let (from, to) = (times[300], times[100]);
    let ranged = client
        .query(
            OrderKind::Payout,
            &OrderQuery {
                limit: 500,
                created: Some(TimeRange {
                    from_secs: from,
                    to_secs: to,
                }),
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ranged.total,
        times.iter().filter(|t| (from..=to).contains(*t)).count() as u64
    );
    assert!(
        ranged
            .orders
            .iter()
            .all(|o| (from..=to).contains(&o.create_time_secs.unwrap()))
    );
    // By IDs.
    let one = &all.orders[7];
    let by_id = client
        .query(
            OrderKind::Payout,
            &OrderQuery {
                system_id: Some(one.system_id.clone()),
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_id.total, 1);
    assert_eq!(by_id.orders[0].merchant_id, one.merchant_id);
    let by_cl = client.find_payout(&one.merchant_id).await.unwrap();
    assert_eq!(by_cl.orders[0].system_id, one.system_id);
    // The client never sends a page above 500.
    let err = client
        .query(
            OrderKind::Payout,
            &OrderQuery {
                limit: 501,
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CnyError::Query(_)));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_caps_pages_and_needs_both_bounds() {
    let sb = sandbox(SandboxConfig {
        deposits: 800,
        ..small_config()
    })
    .await;
    let token = sb.info.cny.auth_token.expose().to_owned();
    let get = |query: &str| {
        let url = format!("{}/gateway/api/v1/payments?{query}", sb.base_url());
        let token = token.clone();
        async move {
            let text = reqwest::Client::new()
                .get(url)
                .header("Authorization", token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    let capped = get("limit=600").await;
    assert_eq!(capped["data"].as_array().unwrap().len(), 500);
    assert_eq!(capped["total"], 800);
    let default = get("").await;
    assert_eq!(default["data"].as_array().unwrap().len(), 25);
    // One bound alone is ignored, as the seeds say.
    let one_bound = get("create_time__gte=9999999999").await;
    assert_eq!(one_bound["total"], 800);
    let both = get("create_time__gte=9999999998&create_time__lte=9999999999").await;
    assert_eq!(both["total"], 0);
    let bad = get("limit=abc").await;
    assert_eq!(bad["error_code"], "0002");
    // Every order carries a sign, made by the independent rule too.
    let key = sb.info.cny.md5_key.expose().to_owned();
    let first = default["data"][0].as_object().unwrap();
    let pairs: Vec<(&str, String)> = first
        .iter()
        .filter(|(k, _)| *k != "sign")
        .map(|(k, v)| {
            (
                k.as_str(),
                match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            )
        })
        .collect();
    assert_eq!(
        first["sign"].as_str().unwrap(),
        independent_md5_sign(&pairs, &key)
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_errors_carry_their_meaning() {
    let sb = sandbox(small_config()).await;
    let missing: Value = serde_json::from_str(
        &reqwest::get(format!("{}/gateway/api/v2/payouts", sb.base_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(missing["error_code"], "0005");
    let mut config = cny_config(&sb);
    config.auth_token = Secret::new("wrong");
    let client = CnyClient::new(config, Arc::new(paydesk::clock::SystemClock)).unwrap();
    let err = client
        .query(OrderKind::Deposit, &OrderQuery::default())
        .await
        .unwrap_err();
    assert_eq!(err.gateway_code(), Some("0006"));
    assert_eq!(err.to_string(), "gateway error 0006: invalid Authorization");
    let err = client.balance().await.unwrap_err();
    assert_eq!(err.gateway_code(), Some("0006"));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_orders_are_always_found() {
    let sb = sandbox(small_config()).await;
    let client = cny(&sb);
    for kind in [OrderKind::Deposit, OrderKind::Payout] {
        let mut invalid = Vec::new();
        let mut offset = 0;
        loop {
            let page = client
                .query(
                    kind,
                    &OrderQuery {
                        offset,
                        limit: 500,
                        ..OrderQuery::default()
                    },
                )
                .await
                .unwrap();
            invalid.extend(
                page.orders
                    .iter()
                    .filter(|o| o.signature.is_invalid())
                    .map(|o| o.system_id.clone()),
            );
            offset += 500;
            if offset >= page.total {
                break;
            }
        }
        assert_eq!(invalid.len(), 5, "{kind:?}: {invalid:?}");
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_settles_and_notifies_until_acknowledged() {
    let sb = sandbox(small_config()).await;
    let key = sb.info.cny.md5_key.clone();
    // The merchant's listener refuses the first two notifications.
    let received: Arc<Mutex<Vec<Map<String, Value>>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = Router::new().route(
        "/notify",
        post(move |body: String| {
            let sink = Arc::clone(&sink);
            async move {
                let note: Map<String, Value> = serde_json::from_str(&body).unwrap();
                let mut list = sink.lock().unwrap();
                list.push(note);
                if list.len() < 3 {
                    r#"{"error_code":"9999"}"#
                } else {
                    r#"{"error_code":"0000"}"#
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = cny(&sb);
    let before = client.balance().await.unwrap().balance.unwrap();
    let mut req = payout("it_settles_1", 123_456);
    req.notify_url = Some(notify_url);
    let outcome = create(&client, &req).await;
    let CreateOutcome::Accepted { payout_id } = outcome else {
        panic!("{outcome:?}")
    };
    let page = client.find_payout("it_settles_1").await.unwrap();
    assert_eq!(page.orders[0].system_id, payout_id);
    assert_eq!(page.orders[0].status.class(), StatusClass::InProgress);
    let after = client.balance().await.unwrap().balance.unwrap();
    assert_eq!(
        before.fen() - after.fen(),
        123_456 + 123_456 * 8 / 1000 + 200
    );
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let done = client.find_payout("it_settles_1").await.unwrap();
    assert_eq!(done.orders[0].status.label(), "success");
    assert_eq!(done.orders[0].real_amount, Some(Fen::from_fen(123_456)));
    assert_eq!(done.orders[0].signature.word(), "valid");
    // Generous: CI runs every test at once on two cores.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notes = received.lock().unwrap().clone();
    assert_eq!(notes.len(), 3, "retried until 0000, then stopped");
    for n in &notes {
        assert_eq!(
            verify_object(n, &key, SignOptions::default()).verdict,
            Verdict::Valid
        );
        assert_eq!(n["payout_cl_id"], "it_settles_1");
        assert_eq!(n["status"], 3);
    }
    // An account ending in 4444 fails and its money comes back.
    let mut failing = payout("it_fails_1", 50_000);
    failing.number = "6216667451674444".into();
    assert!(matches!(
        create(&client, &failing).await,
        CreateOutcome::Accepted { .. }
    ));
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let failed = client.find_payout("it_fails_1").await.unwrap();
    assert_eq!(failed.orders[0].status.label(), "failed");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_refusal_has_its_code() {
    let sb = sandbox(SandboxConfig {
        balance_fen: 3_000_000,
        ..small_config()
    })
    .await;
    let client = cny(&sb);
    assert!(matches!(
        create(&client, &payout("dup_1", 10_000)).await,
        CreateOutcome::Accepted { .. }
    ));
    assert_eq!(
        code_of(&create(&client, &payout("dup_1", 10_000)).await),
        "0014"
    );
    let mut bank = payout("bank_1", 10_000);
    bank.bank_name = "火星银行".into();
    let rejected = create(&client, &bank).await;
    assert_eq!(code_of(&rejected), "0012");
    if let CreateOutcome::Rejected { meaning, .. } = &rejected {
        assert_eq!(meaning, "this gateway does not support that bank");
    }
    assert_eq!(
        code_of(&create(&client, &payout("small_1", 999)).await),
        "0028"
    );
    assert_eq!(
        code_of(&create(&client, &payout("big_1", 5_000_001)).await),
        "0029"
    );
    assert_eq!(
        code_of(&create(&client, &payout("broke_1", 4_000_000)).await),
        "0018"
    );
    let mut wrong_key = cny_config(&sb);
    wrong_key.md5_key = Some(Secret::new("not-the-key"));
    let wrong = CnyClient::new(wrong_key, Arc::new(paydesk::clock::SystemClock)).unwrap();
    assert_eq!(
        code_of(&create(&wrong, &payout("key_1", 10_000)).await),
        "0004"
    );

    // Raw requests, signed by hand, for what the client never sends.
    let key = sb.info.cny.md5_key.expose().to_owned();
    let url = format!("{}/gateway/api/v2/payouts", sb.base_url());
    let post = |body: String, content_type: &'static str| {
        let url = url.clone();
        async move {
            let text = reqwest::Client::new()
                .post(url)
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            serde_json::from_str::<Value>(&text).unwrap()["error_code"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let base = |service: &str, cl: &str| -> Vec<(&'static str, String)> {
        vec![
            ("amount", "10000".into()),
            ("bank_name", "中国银行".into()),
            ("name", "李娜".into()),
            ("number", "6222020202020202".into()),
            ("payout_cl_id", cl.into()),
            ("platform_id", "PF0060".into()),
            ("request_time", "1707220674".into()),
            ("service_id", service.into()),
        ]
    };
    let numeric = ["amount", "request_time"];
    assert_eq!(
        post(
            signed_json(&base("SVC0004", "raw_ok"), &numeric, &key),
            "application/json"
        )
        .await,
        "0000"
    );
    assert_eq!(
        post(
            signed_json(&base("SVC0001", "raw_svc"), &numeric, &key),
            "application/json"
        )
        .await,
        "0009"
    );
    let mut no_name = base("SVC0004", "raw_noname");
    no_name.retain(|(k, _)| *k != "name");
    assert_eq!(
        post(signed_json(&no_name, &numeric, &key), "application/json").await,
        "0002"
    );
    assert_eq!(post("{not json".into(), "application/json").await, "0021");
    assert_eq!(
        post(
            signed_json(&base("SVC0004", "raw_ct"), &numeric, &key),
            "text/plain"
        )
        .await,
        "0022"
    );
    let delete: Value = serde_json::from_str(
        &reqwest::Client::new()
            .delete(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(delete["error_code"], "0023");
    // Invalid payouts are refused before anything is sent.
    let err = client.prepare_payout(&payout("x", 0)).unwrap_err();
    assert!(err.to_string().contains("amount"), "{err}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_unknown_and_a_query_settles_it() {
    for (fault, kind, committed, says) in [
        (
            "drop-after-commit",
            FaultKind::DropAfterCommit,
            true,
            "connection",
        ),
        ("http500", FaultKind::Http500, false, "HTTP 500"),
        (
            "timeout",
            FaultKind::Timeout,
            true,
            "did not answer in time",
        ),
        (
            "malformed",
            FaultKind::Malformed,
            true,
            "not what the API describes",
        ),
    ] {
        let sb = sandbox(SandboxConfig {
            faults: Faults::parse(&format!("{fault}=1")).unwrap(),
            ..small_config()
        })
        .await;
        let mut config = cny_config(&sb);
        config.http = http(1);
        let client = CnyClient::new(config, Arc::new(paydesk::clock::SystemClock)).unwrap();
        let cl_id = format!("fault_{}", fault.replace('-', "_"));
        let req = payout(&cl_id, 20_000);
        let prepared = client.prepare_payout(&req).unwrap();
        let outcome = client.send_payout(&prepared).await;
        assert!(
            matches!(outcome, CreateOutcome::Unknown { .. }),
            "{fault}: {outcome:?}"
        );
        // The fault fired on this create, once, and it was recorded only if it commits first.
        let fired = sb.faults_fired();
        assert_eq!(fired.requests.len(), 1, "{fault}: {fired:?}");
        assert_eq!(fired.on("POST", PAYOUTS_PATH, &cl_id), [kind], "{fault}");
        assert_eq!(
            sb.payout_create_requests().get(&cl_id).copied(),
            committed.then_some(1),
            "{fault}: recorded before the reply failed"
        );
        let CreateOutcome::Unknown { why } = &outcome else {
            unreachable!()
        };
        assert!(why.contains(says), "{fault}: {why}");
        // Settle it by the merchant order ID, then retry under the same ID only.
        sb.set_faults(Faults::default());
        let found = client.find_payout(&cl_id).await.unwrap();
        assert_eq!(found.total, u64::from(committed), "{fault}");
        let retry = client.send_payout(&prepared).await;
        if committed {
            assert_eq!(
                code_of(&retry),
                "0014",
                "{fault}: the gateway refuses a second payout"
            );
        } else {
            assert!(
                matches!(retry, CreateOutcome::Accepted { .. }),
                "{fault}: {retry:?}"
            );
        }
        assert_eq!(
            client.find_payout(&cl_id).await.unwrap().total,
            1,
            "{fault}: exactly one payout"
        );
        assert_eq!(
            sb.payout_create_requests().get(&cl_id).copied(),
            Some(1 + usize::from(committed)),
            "{fault}: sent again under the same ID only"
        );
        assert_eq!(sb.faults_fired(), fired, "{fault}: no fault once healed");
        sb.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_unknown_too() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let sb = sandbox(small_config()).await;
    let mut config = cny_config(&sb);
    config.base_url =
        paydesk::gateway::http::parse_base_url(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = CnyClient::new(config, Arc::new(paydesk::clock::SystemClock)).unwrap();
    let outcome = create(&client, &payout("refused_1", 20_000)).await;
    let CreateOutcome::Unknown { why } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("connect"), "{why}");
    let err = client
        .query(OrderKind::Payout, &OrderQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CnyError::Transport(_)), "{err:?}");
    // The sandbox saw nothing: the outcome is unknown because nothing answered.
    assert_eq!(sb.faults_fired(), FaultsFired::default());
    assert!(sb.payout_create_requests().is_empty());
    sb.stop().await;
}

/// The last request fault the sandbox injected, as (kind, method, path).
fn last_fault(
    sb: &paydesk::sandbox::SandboxHandle,
) -> Option<(FaultKind, &'static str, &'static str)> {
    sb.faults_fired()
        .requests
        .last()
        .map(|f| (f.kind, f.method, f.path))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_faults_are_errors_and_bad_signs_are_flagged() {
    let sb = sandbox(SandboxConfig {
        faults: Faults::parse("http500=1").unwrap(),
        ..small_config()
    })
    .await;
    let client = cny(&sb);
    let err = client
        .query(OrderKind::Deposit, &OrderQuery::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(
        last_fault(&sb),
        Some((FaultKind::Http500, "GET", DEPOSITS_PATH))
    );
    sb.set_faults(Faults::parse("malformed=1").unwrap());
    let err = client
        .query(OrderKind::Deposit, &OrderQuery::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not what the API describes"),
        "{err}"
    );
    assert_eq!(
        last_fault(&sb),
        Some((FaultKind::Malformed, "GET", DEPOSITS_PATH))
    );
    sb.set_faults(Faults::parse("drop-after-commit=1").unwrap());
    let err = client
        .query(OrderKind::Deposit, &OrderQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CnyError::Transport(_)), "{err:?}");
    assert_eq!(
        last_fault(&sb),
        Some((FaultKind::DropAfterCommit, "GET", DEPOSITS_PATH))
    );
    assert_eq!(sb.faults_fired().requests.len(), 3, "one fault per query");
    // Seeded tampered orders fail whatever the fault does; count them on the same page first.
    sb.set_faults(Faults::default());
    let page_of_200 = OrderQuery {
        limit: 200,
        ..OrderQuery::default()
    };
    let tampered = client
        .query(OrderKind::Deposit, &page_of_200)
        .await
        .unwrap()
        .invalid_signatures();
    sb.set_faults(Faults::parse("bad-sign=0.5").unwrap());
    let page = client
        .query(
            OrderKind::Deposit,
            &OrderQuery {
                limit: 200,
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    let invalid = page.invalid_signatures();
    assert!((50..150).contains(&invalid), "{invalid} of 200");
    let broken = sb.faults_fired().bad_signs;
    assert!((50..150).contains(&broken), "{broken} broken of 200");
    assert!(
        invalid.abs_diff(broken) <= tampered,
        "{invalid} invalid: the {broken} the sandbox broke, give or take {tampered} tampered"
    );
    sb.stop().await;
}

/// One page of `kind` as the sandbox sends it, read raw: what a client would verify.
async fn raw_page(sb: &paydesk::sandbox::SandboxHandle, path: &str, query: &str) -> Value {
    let url = format!("{}/{}?{query}", sb.base_url(), relative(path));
    let text = reqwest::Client::new()
        .get(url)
        .header("Authorization", sb.info.cny.auth_token.expose())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_is_served_signed_with_the_new_status() {
    for brand in [SandboxBrand::Seed, SandboxBrand::V1Paths] {
        let sb = sandbox(SandboxConfig {
            brand,
            settle_secs: 1,
            ..small_config()
        })
        .await;
        let key = sb.info.cny.md5_key.clone();
        let paths = brand.client_brand().paths;
        let mut config = cny_config(&sb);
        config.brand = brand.client_brand();
        let client = CnyClient::new(config, Arc::new(paydesk::clock::SystemClock)).unwrap();
        let outcome = create(&client, &payout("it_refresh_1", 20_000)).await;
        assert!(
            matches!(outcome, CreateOutcome::Accepted { .. }),
            "{outcome:?}"
        );
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while seen.last() != Some(&3) && std::time::Instant::now() < deadline {
            let page = raw_page(&sb, &paths.payouts_query, "payout_cl_id=it_refresh_1").await;
            assert_eq!(page["total"], 1, "{brand:?}");
            let order = page["data"][0].as_object().unwrap();
            assert_eq!(
                verify_object(order, &key, SignOptions::default()).verdict,
                Verdict::Valid,
                "{brand:?}: {order:?}"
            );
            let status = order["status"].as_i64().unwrap();
            if seen.last() != Some(&status) {
                seen.push(status);
            }
            if status == 3 {
                let paid = if brand == SandboxBrand::V1Paths {
                    Value::from("200.000000")
                } else {
                    Value::from(20_000)
                };
                assert_eq!(order["real_amount"], paid, "{brand:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(seen.first(), Some(&1), "{brand:?}: {seen:?}");
        assert_eq!(seen.last(), Some(&3), "{brand:?}: {seen:?}");
        assert!(seen.is_sorted(), "{brand:?}: {seen:?}");
        sb.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_come_first_and_inside_their_time_range() {
    let started = paydesk::clock::SystemClock.now_secs();
    let sb = sandbox(SandboxConfig {
        arrivals_per_sec: 40,
        ..small_config()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let client = cny(&sb);
    for kind in [OrderKind::Deposit, OrderKind::Payout] {
        let seeded = if kind == OrderKind::Deposit { 600 } else { 400 };
        let newest = client
            .query(
                kind,
                &OrderQuery {
                    limit: 500,
                    ..OrderQuery::default()
                },
            )
            .await
            .unwrap();
        let arrived: Vec<&str> = newest
            .orders
            .iter()
            .take_while(|o| o.create_time_secs.unwrap() >= started)
            .map(|o| o.system_id.as_str())
            .collect();
        assert!(!arrived.is_empty(), "{kind:?}");
        assert_eq!(newest.total, seeded + arrived.len() as u64, "{kind:?}");
        // Everything after the arrivals is seeded, older than the start.
        assert!(
            newest.orders[arrived.len()..]
                .iter()
                .all(|o| o.create_time_secs.unwrap() < started)
        );
        let now = paydesk::clock::SystemClock.now_secs();
        let window = client
            .query(
                kind,
                &OrderQuery {
                    limit: 500,
                    created: Some(TimeRange {
                        from_secs: started,
                        to_secs: now + 5,
                    }),
                    ..OrderQuery::default()
                },
            )
            .await
            .unwrap();
        // Later arrivals come first; those seen before keep their order after them.
        let ids: Vec<&str> = window.orders.iter().map(|o| o.system_id.as_str()).collect();
        assert_eq!(window.total, ids.len() as u64, "{kind:?}");
        assert!(ids.ends_with(&arrived), "{kind:?}: {ids:?} vs {arrived:?}");
        assert!(
            window.orders.iter().all(|o| o.signature.word() == "valid"),
            "{kind:?}"
        );
    }
    sb.stop().await;
}

/// Queries whose replies were recorded from the sandbox as it was before its orders were
/// indexed: plain pages, deep offsets, time ranges, IDs, an empty range, the cap.
const RECORDED_QUERIES: &[&str] = &[
    "",
    "limit=500&offset=1234",
    "create_time__gte=1695000000&create_time__lte=1697000000&limit=500&offset=100",
    "payout_id=POT00000077",
    "payment_id=PM00000077",
    "payout_cl_id=nope",
    "create_time__gte=1&create_time__lte=2",
    "limit=600&offset=19990",
    "create_time__gte=1699000000&limit=7",
    "offset=5&limit=3&create_time__lte=1699999999&create_time__gte=1690000000",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_pages_are_served_byte_for_byte_as_before() {
    use sha2::{Digest, Sha256};
    // The SHA-256 of every reply, each followed by a newline, as the earlier sandbox sent them.
    let recorded = [
        (
            SandboxBrand::Seed,
            "fdf5bd6337bbcb09784ed251195eba6e33313525014511d844b3cccbf9562a36",
        ),
        (
            SandboxBrand::V1Paths,
            "16deac9c48ae05d7165769d1b60bad26b79ad3fca9e3c661f5d773dac32af7d3",
        ),
    ];
    for (brand, expected) in recorded {
        let sb = sandbox(SandboxConfig {
            seed: 7,
            anchor_secs: Some(1_700_000_000),
            deposits: 20_000,
            payouts: 20_000,
            brand,
            ..SandboxConfig::default()
        })
        .await;
        let paths = brand.client_brand().paths;
        let mut all = Vec::new();
        for path in [&paths.payments_query, &paths.payouts_query] {
            for query in RECORDED_QUERIES {
                let url = format!("{}/{}?{query}", sb.base_url(), relative(path));
                let body = reqwest::Client::new()
                    .get(url)
                    .header("Authorization", sb.info.cny.auth_token.expose())
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                all.extend_from_slice(&body);
                all.push(b'\n');
            }
        }
        assert_eq!(hex::encode(Sha256::digest(&all)), expected, "{brand:?}");
        sb.stop().await;
    }
}
