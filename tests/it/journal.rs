//! The journal proves itself and has one sender per row (issue 10, findings 3b, 5 and 6):
//! empty and damaged journals are refused and block every send, two processes never post
//! the same row, a dead sender's claim is looked up, backups restore, newer schemas refuse.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use common::*;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::journal::{
    Intent, Journal, JournalError, ListFilter, SCHEMA_VERSION, State, check_file, claimer_id,
    journal_path,
};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use paydesk::gateway::gatepay::wire::DetailStatus;
use paydesk::money::Fen;
use paydesk::sandbox::SandboxHandle;
use rand::{Rng, SeedableRng};

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");

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

/// The binary with the sandbox's credentials (when given) and its own config and data dirs.
fn paydesk(dir: &Path, sb: Option<&SandboxHandle>) -> Command {
    let mut c = Command::new(BIN);
    for v in [
        "PAYDESK_CNY_BASE_URL",
        "PAYDESK_CNY_PLATFORM_ID",
        "PAYDESK_CNY_AUTH_TOKEN",
        "PAYDESK_CNY_MD5_KEY",
        "PAYDESK_GATEPAY_BASE_URL",
        "PAYDESK_GATEPAY_CLIENT_ID",
        "PAYDESK_GATEPAY_SECRET",
        "PAYDESK_GATEPAY_ON_BEHALF_OF",
    ] {
        c.env_remove(v);
    }
    c.env("PAYDESK_CONFIG_DIR", dir.join("config"))
        .env("PAYDESK_DATA_DIR", dir.join("data"))
        .env("PAYDESK_NOT_FOUND_GRACE_SECS", "0")
        .stdin(Stdio::null());
    if let Some(sb) = sb {
        c.env("PAYDESK_CNY_BASE_URL", sb.base_url())
            .env("PAYDESK_CNY_PLATFORM_ID", &sb.info.cny.platform_id)
            .env("PAYDESK_CNY_AUTH_TOKEN", sb.info.cny.auth_token.expose())
            .env("PAYDESK_CNY_MD5_KEY", sb.info.cny.md5_key.expose());
    }
    c
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn create_payout(dir: &Path, sb: &SandboxHandle, cl_id: &str) -> Output {
    paydesk(dir, Some(sb))
        .args([
            "payout",
            "create",
            "--amount",
            "123.45",
            "--bank",
            "ICBC",
            "--name",
            "王芳",
            "--number",
            "6222020212345678",
            "--cl-id",
            cl_id,
            "--yes",
        ])
        .output()
        .unwrap()
}

fn posts(sb: &SandboxHandle) -> usize {
    sb.payout_create_requests().values().sum()
}

/// A journal with payouts in every state and an audit trail, as Paydesk leaves it.
fn journal_with_payouts(path: &Path, n: i64) {
    let mut j = Journal::open(path).unwrap();
    let merchant = "PF0060@127.0.0.1:1";
    for i in 0..n {
        let r = request(&format!("J{i:03}"), i);
        j.record_intents(
            &[Intent {
                merchant: merchant.into(),
                origin: None,
                request: r.clone(),
                state: State::Queued,
                import: Some(("batch-1".into(), i)),
            }],
            1_000 + i,
        )
        .unwrap();
        if i % 4 == 3 {
            continue; // stays queued
        }
        j.claim_payout(merchant, &r, b"{}", &[State::Queued], 1_100 + i)
            .unwrap();
        let outcome = match i % 4 {
            0 => CreateOutcome::Accepted {
                payout_id: format!("POT{i:08}"),
            },
            1 => CreateOutcome::Rejected {
                code: "0018".into(),
                meaning: "insufficient balance".into(),
                message: String::new(),
            },
            _ => CreateOutcome::Unknown {
                why: "timeout".into(),
            },
        };
        j.record_outcome(merchant, &r.payout_cl_id, &outcome, 1_200 + i)
            .unwrap();
        j.audit("test", "payout submitted", &r.payout_cl_id, 1_200 + i)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_byte_journal_is_refused_and_not_replaced() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let path = journal_path(&data);
    std::fs::write(&path, b"").unwrap();

    let err = Journal::open(&path).unwrap_err();
    assert!(matches!(err, JournalError::Damaged { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("empty (0 bytes)"), "{message}");
    assert!(message.contains("paydesk journal restore"), "{message}");
    assert!(
        message.contains(&path.display().to_string()),
        "names the file: {message}"
    );

    let before = posts(&sb);
    let out = tokio::task::block_in_place(|| create_payout(dir.path(), &sb, "ZERO1"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("damaged"), "{}", text(&out));
    assert_eq!(posts(&sb), before, "nothing was sent");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "the empty file is refused, never replaced by a new journal"
    );
    // GatePay batches are blocked the same way.
    let batch = dir.path().join("batch.csv");
    std::fs::write(
        &batch,
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\nz1,USDT,12.5,TRX,TXzero1,,0\n",
    )
    .unwrap();
    let out = tokio::task::block_in_place(|| {
        paydesk(dir.path(), None)
            .env("PAYDESK_GATEPAY_BASE_URL", sb.base_url())
            .env("PAYDESK_GATEPAY_CLIENT_ID", &sb.info.gatepay.client_id)
            .env("PAYDESK_GATEPAY_SECRET", sb.info.gatepay.secret.expose())
            .env(
                "PAYDESK_GATEPAY_ON_BEHALF_OF",
                &sb.info.gatepay.on_behalf_of,
            )
            .args([
                "gatepay",
                "create",
                "--batch-id",
                "zero_batch_1",
                "--file",
                batch.to_str().unwrap(),
                "--yes",
            ])
            .output()
            .unwrap()
    });
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("damaged"), "{}", text(&out));
    assert!(
        gatepay(&sb)
            .batch_detail("zero_batch_1", DetailStatus::All)
            .await
            .is_err(),
        "no batch was created"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let check = check_file(&path);
    assert!(!check.healthy);
}

/// A console that refused its journal keeps refusing it until it is started again: the way out
/// it shows must say to close it first and start it again after the restore, or an operator
/// who restores beside it is told to restore again. Read once, without nested brackets.
#[test]
fn a_refused_journal_s_way_out_says_to_close_paydesk_first_and_start_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let path = journal_path(&data);
    std::fs::write(&path, b"").unwrap();
    let message = Journal::open(&path).unwrap_err().to_string();
    assert!(
        message.contains("is damaged: the file is empty (0 bytes); nothing can be sent"),
        "{message}"
    );
    assert!(
        message.contains("Close the console and stop every paydesk command"),
        "{message}"
    );
    assert!(message.contains("then start Paydesk again"), "{message}");
    let out = journal_cmd(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("then start Paydesk again"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_corruptions_either_refuse_or_read_and_a_damaged_journal_never_sends() {
    let runs: u64 = std::env::var("PAYDESK_CORRUPTION_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let sb = sandbox(small_config()).await;
    let pristine_dir = tempfile::tempdir().unwrap();
    let pristine = journal_path(pristine_dir.path());
    journal_with_payouts(&pristine, 40);
    let bytes = std::fs::read(&pristine).unwrap();
    let rows = 40;
    let (mut refused, mut readable) = (0, 0);
    for seed in 0..runs {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut damaged = bytes.clone();
        let at = rng.random_range(0..damaged.len());
        let len = rng.random_range(1..=16).min(damaged.len() - at);
        for b in &mut damaged[at..at + len] {
            *b = rng.random();
        }
        // The same damaged bytes twice: one to open here, one for the binary to send with.
        let dir = tempfile::tempdir().unwrap();
        let here = journal_path(&dir.path().join("here"));
        std::fs::create_dir_all(here.parent().unwrap()).unwrap();
        std::fs::write(&here, &damaged).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(journal_path(&dir.path().join("data")), &damaged).unwrap();

        let opened = Journal::open(&here);
        let before = posts(&sb);
        let cl_id = format!("corrupt{seed}");
        let out = tokio::task::block_in_place(|| create_payout(dir.path(), &sb, &cl_id));
        match opened {
            Err(e) => {
                refused += 1;
                assert!(
                    matches!(
                        e,
                        JournalError::Damaged { .. } | JournalError::NewerSchema { .. }
                    ),
                    "seed {seed} (offset {at}, {len} bytes): {e}"
                );
                assert_eq!(
                    posts(&sb),
                    before,
                    "seed {seed}: a damaged journal sent a payout: {}",
                    text(&out)
                );
                assert_eq!(out.status.code(), Some(2), "seed {seed}: {}", text(&out));
            }
            Ok(j) => {
                readable += 1;
                let listed = j.list(&ListFilter::default());
                assert!(
                    listed.as_ref().is_ok_and(|l| l.len() == rows),
                    "seed {seed} (offset {at}, {len} bytes): opened, but the rows do not all read: {:?}",
                    listed.map(|l| l.len())
                );
                assert!(check_file(&here).healthy, "seed {seed}");
            }
        }
    }
    eprintln!("{runs} corruptions: {refused} refused at open, {readable} left every row readable");
    assert!(refused > 0, "some corruption is noticed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_imports_at_once_never_post_a_row_twice() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let rows = 100;
    let csv: String = std::iter::once("amount,bank,name,number\n".to_owned())
        .chain((0..rows).map(|i| {
            format!(
                "{}.{:02},ICBC,王小头,62220202{:08}\n",
                10 + i,
                i % 100,
                30_000 + i
            )
        }))
        .collect();
    let file = dir.path().join("payouts.csv");
    std::fs::write(&file, csv).unwrap();
    let spawn = || {
        paydesk(dir.path(), Some(&sb))
            .args(["payout", "import", file.to_str().unwrap(), "--yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = tokio::task::block_in_place(|| {
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    });
    let counts = sb.payout_create_requests();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "posted more than once: {twice:?}\nA: {}\nB: {}",
        text(&a),
        text(&b)
    );
    assert_eq!(
        counts.len(),
        rows,
        "every row was sent by one of them\nA: {}\nB: {}",
        text(&a),
        text(&b)
    );
}

/// A process whose PID is alive while the test needs it.
fn live_pid() -> std::process::Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

fn set_claim(path: &Path, cl_id: &str, claimer: &str, at: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "UPDATE payouts SET state = 'sending', claimed_by = ?2, claimed_at = ?3 WHERE payout_cl_id = ?1",
        rusqlite::params![cl_id, claimer, at],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_claimer_is_looked_up_and_a_live_one_is_left_alone() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    let journal = Arc::new(Mutex::new(Journal::open(&path).unwrap()));
    let mut desk = PayoutDesk::new(journal.clone(), cny(&sb), Arc::new(SystemClock));
    desk.not_found_grace_secs = 0;
    let host = claimer_id().rsplitn(3, ':').nth(2).unwrap().to_owned();
    let now = SystemClock.now_secs();

    // Sent, then the sender was killed before it wrote the outcome.
    let sent = desk.submit(&request("KILLED1", 1)).await.unwrap();
    assert_eq!(sent.state, State::Accepted);
    let mut sleeper = live_pid();
    let dead_pid = sleeper.id();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    set_claim(&path, "KILLED1", &format!("{host}:{dead_pid}:gone"), now);
    let after = desk.retry("KILLED1").await.unwrap();
    assert_eq!(after.state, State::Accepted, "looked up: {after:?}");
    assert_eq!(
        sb.payout_create_requests().get("KILLED1"),
        Some(&1),
        "a dead sender's row is looked up, never sent again blind"
    );

    // Another live process is sending it: nobody else touches it, not even at start-up.
    desk.submit(&request("LIVE1", 2)).await.unwrap();
    let mut sleeper = live_pid();
    set_claim(
        &path,
        "LIVE1",
        &format!("{host}:{}:busy", sleeper.id()),
        now,
    );
    let refused = desk.retry("LIVE1").await.unwrap_err();
    assert!(
        refused.to_string().contains("being sent right now"),
        "{refused}"
    );
    desk.reconcile(true).await.unwrap();
    assert_eq!(
        journal
            .lock()
            .unwrap()
            .get(&desk.merchant, "LIVE1")
            .unwrap()
            .unwrap()
            .state,
        State::Sending,
        "start-up does not steal a row a live process is sending"
    );
    // Once that process is gone, start-up settles it by a lookup.
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    desk.reconcile(true).await.unwrap();
    let settled = journal
        .lock()
        .unwrap()
        .get(&desk.merchant, "LIVE1")
        .unwrap()
        .unwrap();
    assert_eq!(settled.state, State::Accepted, "{settled:?}");
    assert_eq!(sb.payout_create_requests().get("LIVE1"), Some(&1));
}

fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

#[test]
fn backup_and_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = journal_path(&data);
    journal_with_payouts(&path, 12);
    let copy = dir.path().join("copy.sqlite3");

    let out = paydesk(dir.path(), None)
        .args(["journal", "backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(check_file(&copy).healthy);
    assert!(
        !files_named(&data.join("backups"), "journal-").is_empty(),
        "opening a healthy journal made the daily copy"
    );

    // The journal is lost: check says so and how to recover; nothing reads it.
    std::fs::write(&path, b"").unwrap();
    let out = paydesk(dir.path(), None)
        .args(["journal", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("paydesk journal restore"),
        "{}",
        text(&out)
    );

    // Not while another Paydesk holds it.
    {
        let healthy_again = dir.path().join("other");
        let _held = Journal::open(&journal_path(&healthy_again)).unwrap();
        let out = paydesk(dir.path(), None)
            .env("PAYDESK_DATA_DIR", &healthy_again)
            .args(["journal", "restore", copy.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("has the journal open"),
            "{}",
            text(&out)
        );
    }

    let out = paydesk(dir.path(), None)
        .args(["journal", "restore", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let aside = files_named(&data, "journal.sqlite3.damaged-");
    assert_eq!(aside.len(), 1, "the damaged file is kept aside");
    assert_eq!(std::fs::metadata(&aside[0]).unwrap().len(), 0);

    let out = paydesk(dir.path(), None)
        .args(["journal", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = Journal::open(&path).unwrap();
    let entries = j.list(&ListFilter::default()).unwrap();
    assert_eq!(entries.len(), 12);
    // What was queued or unknown may have been sent after the copy: looked up first.
    assert!(
        entries
            .iter()
            .all(|e| matches!(e.state, State::Accepted | State::Rejected | State::Unknown)),
        "{:?}",
        entries.iter().map(|e| e.state).collect::<Vec<_>>()
    );
    assert_eq!(
        entries.iter().filter(|e| e.state == State::Unknown).count(),
        6
    );
}

#[test]
fn a_journal_from_a_newer_paydesk_is_refused_with_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    drop(Journal::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = Journal::open(&path).unwrap_err();
    assert!(
        matches!(err, JournalError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{err}"
    );
    assert!(!check_file(&path).healthy);
}

/// Measures how long opening (and so proving) a journal of 100,000 payouts takes:
/// `cargo test --test it journal::opening_a_large_journal -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn opening_a_large_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    {
        let mut j = Journal::open(&path).unwrap();
        let intents: Vec<Intent> = (0..100_000)
            .map(|i| Intent {
                merchant: "PF0060@127.0.0.1:1".into(),
                origin: None,
                request: request(&format!("L{i:06}"), i),
                state: State::Queued,
                import: Some(("large".into(), i)),
            })
            .collect();
        j.record_intents(&intents, 1_000).unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let conn = rusqlite::Connection::open(&path).unwrap();
    for pragma in ["integrity_check", "quick_check"] {
        let t = std::time::Instant::now();
        let _: String = conn
            .query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
            .unwrap();
        eprintln!("{pragma}: {:?}", t.elapsed());
    }
    drop(conn);
    let t = std::time::Instant::now();
    drop(Journal::open(&path).unwrap());
    eprintln!(
        "open (integrity check, every row read, audit chain) of 100,000 payouts, {} MB: {:?}",
        size / 1_000_000,
        t.elapsed()
    );
}

#[test]
fn a_row_that_stops_reading_blocks_every_later_send() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    journal_with_payouts(&path, 8);
    let mut j = Journal::open(&path).unwrap();
    let watch = j.damage_watch();
    // Damaged behind the open journal's back (another program, a disk fault).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE payouts SET request_json = '{\"payout_cl_id\":' WHERE payout_cl_id = 'J003'",
        [],
    )
    .unwrap();
    drop(conn);
    let merchant = "PF0060@127.0.0.1:1";
    let err = j
        .claim_payout(
            merchant,
            &request("J003", 3),
            b"{}",
            &[State::Queued],
            2_000,
        )
        .unwrap_err();
    assert!(matches!(err, JournalError::Damaged { .. }), "{err}");
    assert!(
        watch.why().is_some(),
        "the console sees it without the lock"
    );
    // Every later send is refused too, even of a row that reads.
    let err = j
        .claim_payout(
            merchant,
            &request("J007", 7),
            b"{}",
            &[State::Queued],
            2_001,
        )
        .unwrap_err();
    assert!(err.to_string().contains("paydesk journal restore"), "{err}");
    drop(j);
    // And the next open refuses the file.
    assert!(matches!(
        Journal::open(&path),
        Err(JournalError::Damaged { .. })
    ));
}

#[test]
fn a_gatepay_batch_is_claimed_by_one_sender() {
    use paydesk::domain::journal::Claim;
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    // Two connections, as two processes have.
    let mut a = Journal::open(&path).unwrap();
    let mut b = Journal::open(&path).unwrap();
    let body = r#"{"batch_id":"B1","withdraw_list":[]}"#;
    a.record_batch_intent("C1@gp", None, "B1", body, 0, "", 1_000)
        .unwrap();
    assert!(matches!(
        a.claim_batch("C1@gp", "B1", body, &[State::Queued], 1_001),
        Ok(Claim::Claimed(_))
    ));
    assert!(matches!(
        b.claim_batch("C1@gp", "B1", body, &[State::Queued], 1_002),
        Ok(Claim::Busy { .. })
    ));
    // A body other than the recorded one is never sent under its ID.
    assert!(matches!(
        b.claim_batch("C1@gp", "B1", "{}", &[State::Queued], 1_003),
        Err(JournalError::Mismatch { .. })
    ));
}

#[test]
fn a_refused_journal_still_lists_what_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir.path().join("data"));
    journal_with_payouts(&path, 8);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE payouts SET state = 'bogus' WHERE payout_cl_id = 'J002'",
        [],
    )
    .unwrap();
    drop(conn);
    let out = paydesk(dir.path(), None)
        .args(["payout", "list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 7, "{}", text(&out));
    assert!(text(&out).contains("1 could not be read"), "{}", text(&out));
    assert!(
        text(&out).contains("paydesk journal restore"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_rolling_copy_is_made_once_a_day_and_keeps_the_last_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    journal_with_payouts(&path, 4);
    let backups = paydesk::domain::journal::backups_dir(&path);
    std::fs::create_dir_all(&backups).unwrap();
    for day in 1..=20 {
        std::fs::write(
            backups.join(format!("journal-2020-01-{day:02}.sqlite3")),
            b"old",
        )
        .unwrap();
    }
    let j = Journal::open(&path).unwrap();
    let made = j.rolling_backup(3, false).unwrap().expect("today's copy");
    assert!(check_file(&made).healthy);
    assert_eq!(j.rolling_backup(3, false).unwrap(), None, "once a day");
    assert_eq!(
        j.rolling_backup(3, true).unwrap(),
        Some(made.clone()),
        "again after a send session"
    );
    let mut kept: Vec<_> = files_named(&backups, "journal-");
    kept.sort();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert_eq!(kept[2], made);
    assert!(kept[0].ends_with("journal-2020-01-19.sqlite3"), "{kept:?}");
}

/// `payout create` of `amount` to `number` under `cl_id`, with `extra` flags.
fn create_to(
    dir: &Path,
    sb: &SandboxHandle,
    cl_id: &str,
    amount: &str,
    number: &str,
    extra: &[&str],
) -> Output {
    paydesk(dir, Some(sb))
        .args([
            "payout", "create", "--amount", amount, "--bank", "ICBC", "--name", "王芳", "--number",
            number, "--cl-id", cl_id, "--yes",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The journals kept aside by a restore as `journal.sqlite3.<kind>-<time>` (not their logs).
fn kept_aside(data: &Path, kind: &str) -> Vec<PathBuf> {
    files_named(data, &format!("journal.sqlite3.{kind}-"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with("-wal"))
        .collect()
}

fn journal_cmd(dir: &Path, args: &[&str]) -> Output {
    paydesk(dir, None)
        .arg("journal")
        .args(args)
        .output()
        .unwrap()
}

fn journal_entry(path: &Path, cl_id: &str) -> Option<paydesk::domain::journal::Entry> {
    Journal::open(path)
        .unwrap()
        .list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .find(|e| e.payout_cl_id == cl_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_an_older_copy_over_a_healthy_journal_is_refused_and_carries_what_was_paid() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = journal_path(&data);
    let out = create_payout(dir.path(), &sb, "RSTOLD1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let copy = dir.path().join("copy.sqlite3");
    let out = journal_cmd(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Paid after the copy was made.
    let out = create_to(
        dir.path(),
        &sb,
        "RSTNEW1",
        "456.78",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A healthy journal is not replaced by an older copy without being asked explicitly.
    let out = journal_cmd(dir.path(), &["restore", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("is healthy"), "{said}");
    assert!(said.contains("--replace-healthy"), "{said}");
    assert!(
        said.contains("(2 payout(s), 0 batch(es))") && said.contains("(1 payout(s), 0 batch(es))"),
        "{said}"
    );
    assert!(
        said.contains("1 payout(s) and 0 batch(es) of the journal are not in the copy"),
        "{said}"
    );
    assert!(journal_entry(&path, "RSTNEW1").is_some());

    // Asked for: what the copy lacks is carried over, and the healthy file is kept as replaced.
    let out = journal_cmd(
        dir.path(),
        &["restore", copy.to_str().unwrap(), "--replace-healthy"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(kept_aside(&data, "replaced").len(), 1);
    assert!(kept_aside(&data, "damaged").is_empty());
    let carried = journal_entry(&path, "RSTNEW1").expect("carried over");
    assert_eq!(carried.state, State::Accepted);
    assert_eq!(carried.amount, Fen::from_fen(45_678));
    assert_eq!(carried.account_masked, "6222 **** 4321");

    // So paying it again is held back as a likely duplicate.
    let out = create_to(
        dir.path(),
        &sb,
        "RSTNEW2",
        "456.78",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("RSTNEW1"), "{}", text(&out));
    assert_eq!(sb.payout_create_requests().get("RSTNEW2"), None);
    let paid = sb
        .created_payouts()
        .iter()
        .filter(|p| p.amount_fen == 45_678)
        .count();
    assert_eq!(paid, 1, "paid once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_restoring_over_a_lost_journal_the_gateway_is_asked_about_payouts_since_the_copy() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = journal_path(&data);
    let out = create_payout(dir.path(), &sb, "GAPOLD1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let copy = dir.path().join("copy.sqlite3");
    let out = journal_cmd(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = create_to(
        dir.path(),
        &sb,
        "GAPNEW1",
        "456.78",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The journal is lost: nothing of it can be carried over.
    std::fs::write(&path, b"").unwrap();
    for s in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", path.display()));
    }
    let out = journal_cmd(dir.path(), &["restore", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(kept_aside(&data, "damaged").len(), 1);
    assert!(journal_entry(&path, "GAPNEW1").is_none());

    // The same amount again: the gateway's payout made after the copy holds it back.
    let out = create_to(
        dir.path(),
        &sb,
        "GAPNEW2",
        "456.78",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("after the journal's restored copy"), "{said}");
    assert!(
        said.contains("its account is not in this journal"),
        "{said}"
    );
    assert!(said.contains("GAPNEW1"), "{said}");
    assert_eq!(sb.payout_create_requests().get("GAPNEW2"), None);

    // So is a row of the same amount in an import; the file's other row is not held.
    let file = dir.path().join("after.csv");
    std::fs::write(
        &file,
        "merchant order id,amount,bank,name,number\n\
         GAPIMP1,456.78,ICBC,王芳,6222020287654321\n\
         GAPIMP2,33.33,ICBC,王芳,6222020299990000\n",
    )
    .unwrap();
    let out = paydesk(dir.path(), Some(&sb))
        .args(["payout", "import", file.to_str().unwrap(), "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("GAPIMP1 (¥456.78"), "{said}");
    assert!(said.contains("after the journal's restored copy"), "{said}");
    assert!(!said.contains("GAPIMP2 ("), "{said}");
    assert_eq!(sb.payout_create_requests().get("GAPIMP1"), None);
    assert_eq!(sb.payout_create_requests().get("GAPIMP2"), None);

    // Another amount is not held; a confirmed one is sent.
    let out = create_to(
        dir.path(),
        &sb,
        "GAPOTHER",
        "77.77",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = create_to(
        dir.path(),
        &sb,
        "GAPNEW2",
        "456.78",
        "6222020287654321",
        &["--allow-duplicate"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(sb.payout_create_requests().get("GAPNEW2"), Some(&1));
}

/// A review (the CLI's before it asks, the console's before Send) must hold what the send
/// holds: when it showed the journal's matches only, a payout held back by the gateway's
/// payouts after a restored copy was reviewed as "no likely duplicate", refused at Send, and
/// could never be ticked "Send anyway".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_before_asking_shows_the_gateway_s_payouts_after_a_restored_copy() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = journal_path(&data);
    let out = create_payout(dir.path(), &sb, "REVOLD1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let copy = dir.path().join("copy.sqlite3");
    let out = journal_cmd(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = create_to(
        dir.path(),
        &sb,
        "REVNEW1",
        "321.00",
        "6222020200001111",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(&path, b"").unwrap();
    for s in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", path.display()));
    }
    let out = journal_cmd(dir.path(), &["restore", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Without --yes: the review, not the send, names the gateway's payout.
    let out = paydesk(dir.path(), Some(&sb))
        .args([
            "payout",
            "create",
            "--amount",
            "321.00",
            "--bank",
            "ICBC",
            "--name",
            "王芳",
            "--number",
            "6222020200001111",
            "--cl-id",
            "REVNEW2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("after the journal's restored copy"), "{said}");
    assert!(said.contains("REVNEW1"), "{said}");
    assert!(!said.contains("pass --yes"), "{said}");

    let file = dir.path().join("review.csv");
    std::fs::write(
        &file,
        "merchant order id,amount,bank,name,number\n\
         REVIMP1,321.00,ICBC,王芳,6222020200001111\n",
    )
    .unwrap();
    let out = paydesk(dir.path(), Some(&sb))
        .args(["payout", "import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("REVIMP1 (¥321.00"), "{said}");
    assert!(said.contains("after the journal's restored copy"), "{said}");
    assert!(!said.contains("pass --yes"), "{said}");
    assert_eq!(sb.payout_create_requests().get("REVNEW2"), None);
    assert_eq!(sb.payout_create_requests().get("REVIMP1"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_but_readable_journal_s_rows_are_carried_over_by_a_restore() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = journal_path(&data);
    let out = create_payout(dir.path(), &sb, "DMGOLD1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let copy = dir.path().join("copy.sqlite3");
    let out = journal_cmd(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = create_to(
        dir.path(),
        &sb,
        "DMGNEW1",
        "456.78",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = create_to(dir.path(), &sb, "DMGBAD1", "15.55", "6222020211112222", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // One row stops reading: the journal is damaged, the rest still reads.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE payouts SET state = 'bogus' WHERE payout_cl_id = 'DMGBAD1'",
        [],
    )
    .unwrap();
    drop(conn);
    assert!(!check_file(&path).healthy);

    let out = journal_cmd(dir.path(), &["restore", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(kept_aside(&data, "damaged").len(), 1);
    assert!(kept_aside(&data, "replaced").is_empty());
    let carried = journal_entry(&path, "DMGNEW1").expect("carried over");
    assert_eq!(carried.state, State::Accepted);
    assert!(journal_entry(&path, "DMGBAD1").is_none(), "not readable");
    let out = create_to(
        dir.path(),
        &sb,
        "DMGNEW2",
        "456.78",
        "6222020287654321",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("DMGNEW1"), "{}", text(&out));
    // The unreadable row's payout is still found at the gateway through the recorded gap.
    let out = create_to(dir.path(), &sb, "DMGBAD2", "15.55", "6222020211112222", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("DMGBAD1"), "{}", text(&out));
    assert_eq!(sb.payout_create_requests().get("DMGNEW2"), None);
    assert_eq!(sb.payout_create_requests().get("DMGBAD2"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sender_s_old_claim_is_never_taken_over_even_with_grace_0() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir.path().join("data"));
    let merchant = paydesk::domain::payouts::merchant_key(&cny(&sb));
    let r = request("SLOWLIVE1", 7);
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_intents(
            &[Intent {
                merchant: merchant.clone(),
                origin: None,
                request: r.clone(),
                state: State::Queued,
                import: None,
            }],
            SystemClock.now_secs(),
        )
        .unwrap();
    }
    // A sender of this host that still runs, whose request has taken very long.
    let mut sleeper = live_pid();
    let host = claimer_id().rsplitn(3, ':').nth(2).unwrap().to_owned();
    set_claim(
        &path,
        "SLOWLIVE1",
        &format!("{host}:{}:slow", sleeper.id()),
        SystemClock.now_secs() - 10_000,
    );
    for _ in 0..2 {
        let out = paydesk(dir.path(), Some(&sb))
            .args(["payout", "retry", "SLOWLIVE1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("being sent right now"),
            "{}",
            text(&out)
        );
    }
    let out = paydesk(dir.path(), Some(&sb))
        .args(["payout", "reconcile"])
        .output()
        .unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "{}",
        text(&out)
    );
    assert_eq!(
        journal_entry(&path, "SLOWLIVE1").unwrap().state,
        State::Sending,
        "left to its sender"
    );
    assert_eq!(sb.payout_create_requests().get("SLOWLIVE1"), None);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_row_another_process_is_sending_is_not_reported_unknown() {
    let sb = sandbox(small_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(&dir.path().join("data"));
    let file = dir.path().join("two.csv");
    std::fs::write(
        &file,
        "amount,bank,name,number\n11.11,ICBC,王芳,6222020255550001\n22.22,ICBC,王芳,6222020255550002\n",
    )
    .unwrap();
    let import = || {
        paydesk(dir.path(), Some(&sb))
            .args(["payout", "import", file.to_str().unwrap(), "--yes"])
            .output()
            .unwrap()
    };
    let out = import();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = Journal::open(&path)
        .unwrap()
        .list(&ListFilter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.import_row.is_some())
        .min_by_key(|e| e.import_row)
        .unwrap()
        .payout_cl_id;
    let mut sleeper = live_pid();
    let host = claimer_id().rsplitn(3, ':').nth(2).unwrap().to_owned();
    set_claim(
        &path,
        &first,
        &format!("{host}:{}:other", sleeper.id()),
        SystemClock.now_secs(),
    );
    let out = import();
    let said = text(&out);
    assert!(
        said.contains(&format!(
            "{first} is being sent by another process (pid {}, since",
            sleeper.id()
        )),
        "{said}"
    );
    assert!(said.contains("0 unknown"), "{said}");
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing was sent by this run\n{said}"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}
