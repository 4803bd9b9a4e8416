//! Outcomes are never misreported (issue 10, findings 3a, 4, 5b, 11, 13, 14), over real
//! HTTP against the sandbox: `0014` means the order exists; only signed truth settles a
//! payout; a bookkeeping failure after acceptance is reported beside the outcome; exit codes
//! say what happened; an explicit reconcile checks everything at once.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::journal::{Journal, ListFilter, State, journal_path};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use paydesk::money::Fen;
use paydesk::sandbox::{Faults, SandboxHandle};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");

fn request(cl_id: &str, i: i64) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(20_000 + i * 97),
        bank_name: "中国工商银行".to_owned(),
        name: "张伟".to_owned(),
        number: format!("62220203{:08}", 30_000 + i),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

fn journal(dir: &Path) -> Arc<Mutex<Journal>> {
    Arc::new(Mutex::new(Journal::open(&journal_path(dir)).unwrap()))
}

fn desk(sb: &SandboxHandle, dir: &Path) -> PayoutDesk {
    let mut desk = PayoutDesk::new(journal(dir), cny(sb), Arc::new(SystemClock));
    desk.not_found_grace_secs = 0;
    desk
}

/// The binary with the sandbox's credentials and its own config and data directories.
fn paydesk(sb: &SandboxHandle, dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    let cny = &sb.info.cny;
    let gp = &sb.info.gatepay;
    c.env("PAYDESK_CONFIG_DIR", dir.join("config"))
        .env("PAYDESK_DATA_DIR", dir.join("data"))
        .env("PAYDESK_NOT_FOUND_GRACE_SECS", "0")
        .env("PAYDESK_CNY_BASE_URL", sb.base_url())
        .env("PAYDESK_CNY_PLATFORM_ID", &cny.platform_id)
        .env("PAYDESK_CNY_AUTH_TOKEN", cny.auth_token.expose())
        .env("PAYDESK_CNY_MD5_KEY", cny.md5_key.expose())
        .env("PAYDESK_GATEPAY_BASE_URL", sb.base_url())
        .env("PAYDESK_GATEPAY_CLIENT_ID", &gp.client_id)
        .env("PAYDESK_GATEPAY_SECRET", gp.secret.expose())
        .env("PAYDESK_GATEPAY_ON_BEHALF_OF", &gp.on_behalf_of);
    c
}

/// Runs the binary off the runtime's threads, so the in-process sandbox keeps serving.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn faults(spec: &str) -> Faults {
    Faults::parse(spec).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_attempt_0014_is_looked_up_and_accepted_never_rejected() {
    let sb = sandbox(small_config()).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The order exists at the gateway, created through another journal (a lost one).
    let first = desk(&sb, a.path())
        .submit(&request("dup_first_1", 1))
        .await
        .unwrap();
    assert_eq!(first.state, State::Accepted);
    let restored = desk(&sb, b.path());
    let again = restored.submit(&request("dup_first_1", 1)).await.unwrap();
    assert_eq!(
        again.state,
        State::Accepted,
        "0014 on a first attempt is looked up: {:?}",
        again.entry
    );
    assert_eq!(again.payout_id, first.payout_id);
    assert_eq!(again.reject_code, None);
    assert_eq!(again.attempts, 1);
    assert_eq!(
        cny(&sb).find_payout("dup_first_1").await.unwrap().total,
        1,
        "still one payout at the gateway"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_refused_0014_then_found_keeps_no_reject_code() {
    let sb = sandbox(small_config()).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    desk(&sb, a.path())
        .submit(&request("dup_retry_1", 2))
        .await
        .unwrap();
    // A journal written by an earlier version: the row says "refused 0014".
    let restored = desk(&sb, b.path());
    {
        let mut j = restored.journal.lock().unwrap();
        j.record_intents(
            &[paydesk::domain::journal::Intent {
                merchant: restored.merchant.clone(),
                origin: None,
                request: request("dup_retry_1", 2),
                state: State::Queued,
                import: None,
            }],
            1,
        )
        .unwrap();
        j.claim_payout(
            &restored.merchant,
            &request("dup_retry_1", 2),
            b"{}",
            &[State::Queued],
            2,
        )
        .unwrap();
        j.record_outcome(
            &restored.merchant,
            "dup_retry_1",
            &CreateOutcome::Rejected {
                code: "0014".into(),
                meaning: "duplicate order number".into(),
                message: String::new(),
            },
            3,
        )
        .unwrap();
    }
    let sent = restored.retry("dup_retry_1").await.unwrap();
    assert_eq!(sent.state, State::Accepted);
    assert_eq!(
        (
            sent.reject_code.as_deref(),
            sent.reject_meaning.as_deref(),
            sent.reject_message.as_deref()
        ),
        (None, None, None),
        "an accepted row carries no refusal"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badly_signed_orders_settle_nothing_until_signed_truth_returns() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, dir.path());
    // One accepted payout whose status is still to be learned…
    let tracked = desk.submit(&request("sign_acc", 10)).await.unwrap();
    assert_eq!(tracked.state, State::Accepted);
    let status_before = tracked.gateway_status;
    // …and three whose replies were lost after the gateway recorded them.
    sb.set_faults(faults("drop-after-commit=1.0"));
    for i in 0..3 {
        let e = desk
            .submit(&request(&format!("sign_unk_{i}"), 11 + i))
            .await
            .unwrap();
        assert_eq!(e.state, State::Unknown);
    }
    // Every order the gateway serves now fails its signature check.
    sb.set_faults(faults("bad-sign=1.0"));
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let report = desk.reconcile_now(false).await.unwrap();
    assert_eq!(report.checked, 4, "{report:?}");
    assert_eq!(report.unverified, 4, "{report:?}");
    assert_eq!(
        (report.found, report.not_created, report.status_updates),
        (0, 0, 0),
        "nothing settled from unsigned truth: {report:?}"
    );
    let entries = desk
        .journal
        .lock()
        .unwrap()
        .list(&ListFilter::default())
        .unwrap();
    for e in &entries {
        assert!(e.unverified(), "{} is marked", e.payout_cl_id);
        if e.payout_cl_id == "sign_acc" {
            assert_eq!(e.state, State::Accepted);
            assert_eq!(e.gateway_status, status_before, "no status from a bad sign");
        } else {
            assert_eq!(e.state, State::Unknown, "neither found nor not created");
            assert_eq!(e.payout_id, None);
        }
    }
    // Signed truth again: everything settles, the marks go.
    sb.set_faults(Faults::default());
    let report = desk.reconcile_now(false).await.unwrap();
    assert_eq!((report.found, report.unverified), (3, 0), "{report:?}");
    let entries = desk
        .journal
        .lock()
        .unwrap()
        .list(&ListFilter::default())
        .unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.state == State::Accepted && !e.unverified() && e.gateway_status.is_some()),
        "{entries:?}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_failure_after_acceptance_prints_the_outcome_and_exits_0() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let j = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
        drop(j);
        let conn = rusqlite::Connection::open(journal_path(&dir.path().join("data"))).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER audit_read_only BEFORE INSERT ON audit
             BEGIN SELECT RAISE(ABORT, 'the audit table is read-only'); END;",
        )
        .unwrap();
    }
    let mut cmd = paydesk(&sb, dir.path());
    cmd.args([
        "payout",
        "create",
        "--amount",
        "123.45",
        "--bank",
        "ICBC",
        "--name",
        "张伟",
        "--number",
        "6222020312345678",
        "--cl-id",
        "audit_fail_1",
        "--yes",
    ]);
    let out = run(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("the outcome is printed");
    assert_eq!(json["state"], "accepted");
    assert!(json["payout_id"].is_string());
    assert!(
        json["bookkeeping_error"]
            .as_str()
            .is_some_and(|e| e.contains("read-only")),
        "{json}"
    );
    assert!(stderr.contains("bookkeeping error"), "{stderr}");
    sb.stop().await;
}

fn batch_csv(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("batch.csv");
    std::fs::write(
        &file,
        "merchant_withdraw_id,currency,amount,chain,address\nw_out_1,USDT,12.5,TRX,TXyzOutcome1\n",
    )
    .unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatepay_create_resume_with_the_lookup_failing_exits_3() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = batch_csv(dir.path());
    let create = || {
        let mut c = paydesk(&sb, dir.path());
        c.args([
            "gatepay",
            "create",
            "--batch-id",
            "B_OUTCOME_1",
            "--file",
            file.to_str().unwrap(),
            "--yes",
        ]);
        c
    };
    // GatePay records the batch, the reply is lost: unknown.
    sb.set_faults(faults("drop-after-commit=1.0"));
    let out = run(create()).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The resume's lookup fails: still unknown, never "error with nothing sent".
    sb.set_faults(faults("http500=1.0"));
    let out = run(create()).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["state"], "unknown");
    assert!(json["lookup_error"].is_string(), "{json}");
    // The lookup works again: the batch is found, its unknown_why is gone.
    sb.set_faults(Faults::default());
    let out = run(create()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["state"], "accepted");
    assert_eq!(json["attempts"], 1, "found, never sent twice: {json}");
    assert!(json["unknown_why"].is_null(), "{json}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_with_55_percent_failing_queries_checks_all_at_once_and_settles_all() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let desk = desk(&sb, &dir.path().join("data"));
    sb.set_faults(faults("drop-after-commit=1.0"));
    for i in 0..20 {
        let e = desk
            .submit(&request(&format!("busy_{i}"), 40 + i))
            .await
            .unwrap();
        assert_eq!(e.state, State::Unknown);
    }
    sb.set_faults(faults("http500=0.55"));
    let mut cmd = paydesk(&sb, dir.path());
    cmd.args(["payout", "reconcile", "--wait-secs", "25"]);
    let out = run(cmd).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let first: Value = serde_json::from_str(stderr.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["checked"], 20,
        "the first pass checks every unknown payout, whatever the backoff says: {stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["unknown"], 0, "{summary}");
    sb.set_faults(Faults::default());
    let entries = desk
        .journal
        .lock()
        .unwrap()
        .list(&ListFilter::default())
        .unwrap();
    assert_eq!(entries.len(), 20);
    assert!(entries.iter().all(|e| e.state == State::Accepted));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatepay_reconcile_checks_every_unknown_batch_at_once() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = batch_csv(dir.path());
    sb.set_faults(faults("drop-after-commit=1.0"));
    let mut create = paydesk(&sb, dir.path());
    create.args([
        "gatepay",
        "create",
        "--batch-id",
        "B_OUTCOME_NOW",
        "--file",
        file.to_str().unwrap(),
        "--yes",
    ]);
    let out = run(create).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The background would wait out its backoff; the operator's reconcile does not.
    sb.set_faults(Faults::default());
    let mut reconcile = paydesk(&sb, dir.path());
    reconcile.args(["gatepay", "reconcile"]);
    let out = run(reconcile).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            &report["checked"],
            &report["found"],
            &report["still_unknown"]
        ),
        (&Value::from(1), &Value::from(1), &Value::from(0)),
        "{report}"
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_row_that_exists_at_the_gateway_is_accepted_and_a_refusal_exits_1() {
    let sb = sandbox(small_config()).await;
    let (lost, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Created through a journal that was lost since.
    let first = desk(&sb, lost.path())
        .submit(&request("imp_exists_1", 60))
        .await
        .unwrap();
    assert_eq!(first.state, State::Accepted);
    let file = dir.path().join("rows.csv");
    std::fs::write(
        &file,
        format!(
            "payout_cl_id,amount,bank,name,number\n\
             imp_exists_1,{},ICBC,张伟,{}\n\
             imp_too_big_1,60000.00,ICBC,李娜,6222020399990001\n",
            request("x", 60).amount.yuan_plain(),
            request("x", 60).number
        ),
    )
    .unwrap();
    let mut import = paydesk(&sb, dir.path());
    import.args(["payout", "import", file.to_str().unwrap(), "--yes"]);
    let out = run(import).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refusal and nothing unknown: {stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&Value::from(1), &Value::from(1)),
        "{summary}"
    );
    let j = Journal::open(&journal_path(&dir.path().join("data"))).unwrap();
    let found = j
        .list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .find(|e| e.payout_cl_id == "imp_exists_1")
        .unwrap();
    assert_eq!(found.state, State::Accepted, "never shown as refused");
    assert_eq!(found.payout_id, first.payout_id);
    assert_eq!(found.reject_code, None);
    sb.stop().await;
}
