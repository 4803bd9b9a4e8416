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
                request: r.clone(),
                state: State::Queued,
                batch: Some(("batch-1".into(), i)),
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
                request: request(&format!("L{i:06}"), i),
                state: State::Queued,
                batch: Some(("large".into(), i)),
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
    a.record_batch_intent("C1@gp", "B1", body, 0, "", 1_000)
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
