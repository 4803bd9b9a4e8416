//! Payouts that are never lost or doubled: a fault matrix against the sandbox over real HTTP,
//! and a `kill -9` in the middle of a bulk import.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::journal::{Journal, ListFilter, State, journal_path};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::CnyClient;
use paydesk::gateway::cny::wire::{PAYOUTS_PATH, PayoutRequest};
use paydesk::gateway::http::parse_base_url;
use paydesk::money::Fen;
use paydesk::sandbox::{FaultKind, Faults, FaultsFired, SandboxConfig};
use serde_json::Value;

/// A clock the test moves forward, so backoff does not make it wait.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::Relaxed)
    }
}

fn request(cl_id: &str, i: i64) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(10_000 + i * 101),
        bank_name: "中国工商银行".to_owned(),
        name: "张伟".to_owned(),
        number: format!("62220202{:08}", 10_000 + i),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_every_payout_once() {
    const N: i64 = 12;
    let mut figures = Vec::new();
    for fault in [
        "drop-after-commit",
        "http500",
        "timeout",
        "malformed",
        "refused",
    ] {
        let kind = match fault {
            "drop-after-commit" => Some(FaultKind::DropAfterCommit),
            "http500" => Some(FaultKind::Http500),
            "timeout" => Some(FaultKind::Timeout),
            "malformed" => Some(FaultKind::Malformed),
            _ => None,
        };
        let faults = if fault == "refused" {
            Faults::default()
        } else {
            Faults::parse(&format!("{fault}=0.5")).unwrap()
        };
        let sb = sandbox(SandboxConfig {
            faults,
            stall_ms: 1_500,
            seed: 3,
            ..small_config()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Mutex::new(
            Journal::open(&journal_path(dir.path())).unwrap(),
        ));
        let clock = Arc::new(TestClock(AtomicI64::new(0)));
        let mut config = cny_config(&sb);
        config.http = http(1);
        if fault == "refused" {
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = closed.local_addr().unwrap().port();
            drop(closed);
            config.base_url = parse_base_url(&format!("http://127.0.0.1:{port}")).unwrap();
        }
        let sending = CnyClient::new(config, clock.clone()).unwrap();
        let mut desk = PayoutDesk::new(Arc::clone(&journal), sending, clock.clone());
        desk.merchant = "PF0060@sandbox".into();
        desk.not_found_grace_secs = 0;
        let mut first: HashMap<&'static str, usize> = HashMap::new();
        let mut first_state: HashMap<String, State> = HashMap::new();
        let ids: Vec<String> = (0..N)
            .map(|i| format!("{}_{i}", fault.replace('-', "_")))
            .collect();
        for (i, id) in (0..N).zip(&ids) {
            let e = desk.submit(&request(id, i)).await.unwrap();
            *first.entry(e.state.as_str()).or_default() += 1;
            first_state.insert(id.clone(), e.state);
        }
        // The fault fired on creates, and each outcome is the one its fault implies. The quick
        // lookup after an unknown outcome may itself be hit (then the payout stays unknown).
        let fired = sb.faults_fired();
        let hit: Vec<&String> = ids
            .iter()
            .filter(|id| !fired.on("POST", PAYOUTS_PATH, id).is_empty())
            .collect();
        match kind {
            Some(kind) => {
                assert!(
                    fired.requests.iter().all(|f| f.kind == kind),
                    "{fault}: only this fault fires: {fired:?}"
                );
                assert!(
                    !hit.is_empty() && hit.len() < ids.len(),
                    "{fault}: the fault hit some creates and spared others: {fired:?}"
                );
            }
            None => assert_eq!(
                fired,
                FaultsFired::default(),
                "{fault}: the sandbox injected nothing"
            ),
        }
        for id in &ids {
            let state = first_state[id];
            let create_hit = hit.contains(&id);
            let lookup_hit = !fired.on("GET", PAYOUTS_PATH, id).is_empty();
            let allowed: &[State] = match kind {
                // Nothing reached the gateway: unknown, since a lookup could not say either.
                None => &[State::Unknown],
                // Not recorded: the lookup finds nothing, so it was never created.
                Some(FaultKind::Http500) if create_hit && lookup_hit => &[State::Unknown],
                Some(FaultKind::Http500) if create_hit => &[State::NotCreated],
                // Recorded, then the reply was lost: the lookup finds the payout.
                Some(_) if create_hit && lookup_hit => &[State::Unknown],
                Some(_) if create_hit => &[State::Accepted],
                Some(_) => &[State::Accepted],
            };
            assert!(
                allowed.contains(&state),
                "{fault}: {id} first {state:?}, expected one of {allowed:?} (create hit \
                 {create_hit}, lookup hit {lookup_hit})"
            );
        }
        if kind.is_some() {
            assert_eq!(
                sb.payout_create_requests().values().sum::<usize>(),
                ids.len() - hit.len() * usize::from(kind == Some(FaultKind::Http500)),
                "{fault}: every create reached the gateway once, but those the fault cut off \
                 before they were recorded"
            );
        } else {
            assert!(
                sb.payout_create_requests().is_empty(),
                "{fault}: nothing reached the gateway"
            );
        }
        // The network heals; unknown outcomes are settled by querying, and only payouts
        // never created are sent again, under their own IDs.
        sb.set_faults(Faults::default());
        let mut settle = PayoutDesk::new(Arc::clone(&journal), cny(&sb), clock.clone());
        settle.merchant = desk.merchant.clone();
        // The closed port stood for the same gateway while the network was down.
        settle.origin = desk.origin.clone();
        settle.not_found_grace_secs = 0;
        let mut retried = 0;
        for _ in 0..30 {
            clock.0.fetch_add(1_000_000, Ordering::Relaxed);
            settle.reconcile(false).await.unwrap();
            let entries = journal
                .lock()
                .unwrap()
                .list(&ListFilter::default())
                .unwrap();
            let pending: Vec<_> = entries
                .iter()
                .filter(|e| e.state != State::Accepted)
                .collect();
            if pending.is_empty() {
                break;
            }
            for e in pending
                .iter()
                .filter(|e| matches!(e.state, State::NotCreated | State::Rejected))
            {
                settle.retry(&e.payout_cl_id).await.unwrap();
                retried += 1;
            }
        }
        let entries = journal
            .lock()
            .unwrap()
            .list(&ListFilter::default())
            .unwrap();
        assert_eq!(
            entries.len(),
            N as usize,
            "{fault}: the journal holds every payout"
        );
        assert!(
            entries.iter().all(|e| e.state == State::Accepted),
            "{fault}: {entries:?}"
        );
        let gateway = cny(&sb);
        for e in &entries {
            let found = gateway.find_payout(&e.payout_cl_id).await.unwrap();
            assert_eq!(
                found.total, 1,
                "{fault}: exactly one payout for {}",
                e.payout_cl_id
            );
            assert_eq!(found.orders[0].system_id, e.payout_id.clone().unwrap());
        }
        // Only what was never created is sent again, under its own ID: never a second order,
        // never a new ID.
        let never_created = match kind {
            Some(FaultKind::Http500) => hit.len(),
            Some(_) => 0,
            None => ids.len(),
        };
        assert_eq!(retried, never_created, "{fault}: sent again");
        let requests = sb.payout_create_requests();
        let mut sent_ids: Vec<&String> = requests.keys().collect();
        sent_ids.sort();
        let mut want: Vec<&String> = ids.iter().collect();
        want.sort();
        assert_eq!(sent_ids, want, "{fault}: only the journal's IDs were sent");
        assert!(
            requests.values().all(|n| *n == 1),
            "{fault}: each ID was recorded by the gateway once: {requests:?}"
        );
        assert_eq!(
            sb.created_payouts().len(),
            ids.len(),
            "{fault}: one order each"
        );
        figures.push(format!(
            "{fault}: fired on {} creates, first outcomes {first:?}, sent again {retried}, all {N} accepted once",
            hit.len()
        ));
        sb.stop().await;
    }
    for f in figures {
        eprintln!("{f}");
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");

fn paydesk(env: &[(&str, String)]) -> Command {
    let mut c = Command::new(BIN);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

#[test]
fn kill_dash_nine_during_a_bulk_import_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = Command::new(BIN)
        .args([
            "sandbox",
            "--port",
            "0",
            "--deposits",
            "10",
            "--payouts",
            "10",
            "--latency-ms",
            "40",
            "--settle-secs",
            "1",
        ])
        .env("PAYDESK_CONFIG_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sandbox.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let env = vec![
        (
            "PAYDESK_CNY_BASE_URL",
            info["base_url"].as_str().unwrap().to_owned(),
        ),
        (
            "PAYDESK_CNY_PLATFORM_ID",
            info["cny"]["platform_id"].as_str().unwrap().to_owned(),
        ),
        (
            "PAYDESK_CNY_AUTH_TOKEN",
            info["cny"]["auth_token"].as_str().unwrap().to_owned(),
        ),
        (
            "PAYDESK_CNY_MD5_KEY",
            info["cny"]["md5_key"].as_str().unwrap().to_owned(),
        ),
        ("PAYDESK_CONFIG_DIR", dir.path().display().to_string()),
        (
            "PAYDESK_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("PAYDESK_NOT_FOUND_GRACE_SECS", "0".to_owned()),
    ];
    let rows = 80;
    let csv: String = std::iter::once("amount,bank,name,number\n".to_owned())
        .chain((0..rows).map(|i| {
            format!(
                "{}.{:02},ICBC,王小头,62220202{:08}\n",
                10 + i,
                i % 100,
                20_000 + i
            )
        }))
        .collect();
    let file = dir.path().join("payouts.csv");
    std::fs::write(&file, csv).unwrap();

    let mut import = paydesk(&env)
        .args(["payout", "import", file.to_str().unwrap(), "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    import.kill().unwrap(); // SIGKILL
    import.wait().unwrap();
    let journal = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
    let before = journal.list(&ListFilter::default()).unwrap();
    assert_eq!(
        before.len(),
        rows,
        "every row was recorded before the first was sent"
    );
    let sent_before = before.iter().filter(|e| e.state != State::Queued).count();
    assert!(
        sent_before > 0 && sent_before < rows,
        "killed half way: {sent_before} of {rows} sent"
    );

    // Run the same import again: it settles what was in flight and sends the rest.
    let out = paydesk(&env)
        .args(["payout", "import", file.to_str().unwrap(), "--yes"])
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = paydesk(&env)
        .args(["payout", "reconcile", "--wait-secs", "10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let after = journal.list(&ListFilter::default()).unwrap();
    assert_eq!(after.len(), rows);
    assert!(
        after.iter().all(|e| e.state == State::Accepted),
        "{:?}",
        after.iter().map(|e| e.state).collect::<Vec<_>>()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = CnyClient::new(
        paydesk::gateway::cny::CnyConfig {
            base_url: parse_base_url(info["base_url"].as_str().unwrap()).unwrap(),
            platform_id: "PF0060".into(),
            auth_token: paydesk::secret::Secret::new(info["cny"]["auth_token"].as_str().unwrap()),
            md5_key: None,
            sign_options: paydesk::gateway::cny::SignOptions::default(),
            brand: paydesk::gateway::cny::Brand::default(),
            banks: paydesk::domain::banks::default_banks(),
            http: http(10),
        },
        Arc::new(SystemClock),
    )
    .unwrap();
    for e in &after {
        let found = rt.block_on(client.find_payout(&e.payout_cl_id)).unwrap();
        assert_eq!(
            found.total, 1,
            "exactly one payout at the gateway for {}",
            e.payout_cl_id
        );
    }
    eprintln!(
        "killed after {sent_before} of {rows} were sent; after resuming: {rows} accepted, each once"
    );
    sandbox.kill().unwrap();
    sandbox.wait().unwrap();
}

/// A create whose reply is lost, and the first two looks at it too: the desk keeps the send
/// (its body hash, written before it left, and "unknown"), then each check in order, the last
/// one finding the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_left_unknown_and_checked_twice_then_found_keeps_four_attempts_in_order() {
    let sb = sandbox(SandboxConfig {
        faults: Faults::parse("drop-after-commit=1").unwrap(),
        seed: 5,
        ..small_config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Mutex::new(
        Journal::open(&journal_path(dir.path())).unwrap(),
    ));
    let clock = Arc::new(TestClock(AtomicI64::new(0)));
    let mut config = cny_config(&sb);
    config.http = http(2);
    let client = CnyClient::new(config, clock.clone()).unwrap();
    let desk = PayoutDesk::new(Arc::clone(&journal), client, clock.clone());
    // The send, and its quick first look, both lose their replies.
    let sent = desk.submit(&request("lost_reply_1", 1)).await.unwrap();
    assert_eq!(sent.entry.state, State::Unknown);
    clock.0.fetch_add(60, Ordering::Relaxed);
    assert_eq!(desk.reconcile_now(false).await.unwrap().found, 0);
    sb.set_faults(Faults::default());
    clock.0.fetch_add(60, Ordering::Relaxed);
    assert_eq!(desk.reconcile_now(false).await.unwrap().found, 1);
    let attempts = journal
        .lock()
        .unwrap()
        .attempts(&desk.merchant, "lost_reply_1")
        .unwrap();
    let seen: Vec<(i64, &str, Option<&str>)> = attempts
        .iter()
        .map(|a| (a.number, a.kind.as_str(), a.outcome.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "send", Some("unknown")),
            (2, "check", Some("check failed")),
            (3, "check", Some("check failed")),
            (4, "check", Some("found")),
        ]
    );
    assert!(attempts[0].body_sha256.is_some());
    assert_eq!(attempts[0].body_sha256, sent.entry.body_sha256);
    assert!(
        attempts
            .windows(2)
            .all(|w| w[0].started_at <= w[1].started_at),
        "{seen:?}"
    );
    // Nothing the gateway might echo (the name, the account) is kept.
    for a in &attempts {
        let summary = a.summary.as_deref().unwrap_or_default();
        assert!(
            !summary.contains("张伟") && !summary.contains("62220202"),
            "{summary}"
        );
    }
}
