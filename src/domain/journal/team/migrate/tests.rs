//! Migrating desktop journals into a real team journal (see `team::testing`): a round trip,
//! a second run, clashes, broken and changed chains, GatePay batches, the owner alone.

use std::path::{Path, PathBuf};

use super::*;
use crate::domain::journal::team::testing::{TestDb, server};
use crate::domain::journal::team::{Approval, TeamJournal};
use crate::domain::journal::{AuditCheck, Claim, Intent, Journal, ListFilter, State, journal_path};
use crate::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use crate::money::Fen;

const M: &str = "PF0060";

fn request(id: &str, fen: i64) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: id.into(),
        amount: Fen::from_fen(fen),
        bank_name: "中国银行".into(),
        name: "李娜".into(),
        number: "6222 0202 0202 0202".into(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

fn intent(id: &str, fen: i64, import: Option<(&str, i64)>) -> Intent {
    Intent {
        merchant: M.into(),
        origin: Some("http://127.0.0.1:1".into()),
        request: request(id, fen),
        state: State::Queued,
        import: import.map(|(i, r)| (i.to_owned(), r)),
    }
}

fn claim(j: &mut Journal, id: &str, fen: i64) {
    match j
        .claim_payout(M, &request(id, fen), b"{}", &[State::Queued], 20)
        .unwrap()
    {
        Claim::Claimed(_) => {}
        other => panic!("{other:?}"),
    }
}

/// A desktop journal: one payout accepted, one refused, one being sent when the desktop
/// stopped, two of an import still queued (one above the team's threshold), three audit
/// entries.
fn desktop(dir: &Path) -> PathBuf {
    let path = journal_path(dir);
    let mut j = Journal::open(&path).unwrap();
    j.record_intents(&[intent("acc", 20_000, None)], 10)
        .unwrap();
    j.record_intents(&[intent("rej", 30_000, None)], 11)
        .unwrap();
    j.record_intents(&[intent("mid", 40_000, None)], 12)
        .unwrap();
    j.record_intents(
        &[
            intent("imp_1", 50_000, Some(("imp", 1))),
            intent("imp_2", 200_000, Some(("imp", 2))),
        ],
        13,
    )
    .unwrap();
    claim(&mut j, "acc", 20_000);
    j.record_outcome(
        M,
        "acc",
        &CreateOutcome::Accepted {
            payout_id: "P123".into(),
        },
        21,
    )
    .unwrap();
    claim(&mut j, "rej", 30_000);
    j.record_outcome(
        M,
        "rej",
        &CreateOutcome::Rejected {
            code: "1004".into(),
            meaning: "balance".into(),
            message: "not enough".into(),
        },
        22,
    )
    .unwrap();
    claim(&mut j, "mid", 40_000);
    for (i, what) in [
        "acc ¥200.00 (accepted)",
        "rej ¥300.00 (refused)",
        "mid ¥400.00",
    ]
    .iter()
    .enumerate()
    {
        j.audit(
            "zhang",
            "payout submitted",
            what,
            30 + i64::try_from(i).unwrap(),
        )
        .unwrap();
    }
    path
}

/// A team journal with alice and bob, where ¥1,000.00 and above needs approval.
fn team() -> Option<TestDb> {
    let db = server()?.fresh(&["alice", "bob"]);
    db.owner()
        .execute(
            "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ($1, 100000)",
            &[&M],
        )
        .unwrap();
    Some(db)
}

fn opts() -> MigrateOptions {
    MigrateOptions {
        now: 1_000,
        dry_run: false,
    }
}

fn refused(r: Result<MigrationReport, TeamError>, words: &[&str]) -> String {
    match r {
        Err(TeamError::Refused(why)) => {
            for w in words {
                assert!(why.contains(w), "{w:?} not in {why}");
            }
            why
        }
        other => panic!("expected a refusal naming {words:?}, got {other:?}"),
    }
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.owner().query_one(sql, &[]).unwrap().get(0)
}

fn owner_role(db: &TestDb) -> String {
    db.owner()
        .query_one("SELECT session_user::text", &[])
        .unwrap()
        .get(0)
}

fn get(alice: &TeamJournal, id: &str) -> crate::domain::journal::team::TeamEntry {
    alice.get(M, id).unwrap().unwrap()
}

#[test]
fn a_desktop_journal_moves_whole_and_a_second_run_changes_nothing() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());

    let report = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(report.outcome, MigrationOutcome::Migrated);
    assert_eq!(report.source_payouts, 5);
    assert_eq!(report.payouts_copied, 5);
    assert_eq!(report.payouts_already_there, 0);
    assert_eq!(report.sending_made_unknown, 1);
    assert_eq!(report.awaiting_approval, 1);
    assert_eq!(report.audit_entries_copied, 3);
    assert_eq!(report.source_chain, AuditCheck::Intact(3));
    assert_eq!(report.migrated_chain, AuditCheck::Intact(3));
    // Five "payout recorded" entries and the migration's own.
    assert_eq!(report.team_chain, AuditCheck::Intact(6));
    // acc and rej: a send each; mid: its send, under way when the desktop stopped.
    assert_eq!(report.attempts_copied, 3, "{report:?}");
    assert_eq!(report.source_attempts, 3);
    assert_eq!(report.left_in_desktop, LeftBehind::default());
    assert!(report.source_id.starts_with("desktop-"));

    let alice = db.open("alice");
    let all = alice.list(&ListFilter::default()).unwrap();
    assert_eq!(all.len(), 5);
    let owner = owner_role(&db);
    assert!(
        all.iter()
            .all(|e| e.team.as_ref().unwrap().created_by == owner)
    );
    let acc = get(&alice, "acc");
    assert_eq!(acc.state, State::Accepted);
    assert_eq!(acc.payout_id.as_deref(), Some("P123"));
    assert_eq!(acc.team.unwrap().approval, Approval::NotNeeded);
    assert_eq!(acc.created_at, 10);
    let tried = alice.attempts(M, "acc").unwrap();
    assert_eq!(tried.len(), 1);
    assert_eq!(
        (tried[0].kind.as_str(), tried[0].outcome.as_deref()),
        ("send", Some("accepted"))
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM paydesk.attempts WHERE actor LIKE 'desktop-%'"
        ),
        3
    );
    assert_eq!(get(&alice, "rej").reject_code.as_deref(), Some("1004"));
    let mid = get(&alice, "mid");
    assert_eq!(mid.state, State::Unknown);
    assert_eq!(mid.unknown_why.as_deref(), Some(MIGRATED_MID_SEND));
    assert_eq!(mid.next_check_at, Some(1_000));
    assert_eq!(
        get(&alice, "imp_1").team.unwrap().approval,
        Approval::NotNeeded
    );
    let imp_2 = get(&alice, "imp_2");
    assert_eq!(
        (imp_2.state, imp_2.team.clone().unwrap().approval),
        (State::Queued, Approval::Pending)
    );
    assert_eq!(imp_2.import_id.as_deref(), Some("imp"));
    assert_eq!(imp_2.import_row, Some(2));
    // The migrated payout waits for someone other than the owner who recorded it.
    db.open("bob").approve(M, "imp_2", None).unwrap();

    assert_eq!(alice.verify_audit().unwrap(), AuditCheck::Intact(7));
    let migrated = db
        .owner()
        .query_one(
            "SELECT action, detail FROM paydesk.audit WHERE action = $1",
            &[&MIGRATED_ACTION],
        )
        .unwrap();
    let detail: String = migrated.get(1);
    assert!(
        detail.starts_with(&format!("source {}:", report.source_id)),
        "{detail}"
    );
    assert!(detail.contains("5 payout(s) copied"), "{detail}");
    assert!(
        detail.contains(report.source_head.as_deref().unwrap()),
        "{detail}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.migrated_audit"), 3);

    // Again, after the team moved a payout on: nothing is written.
    let team_entries = count(&db, "SELECT count(*) FROM paydesk.audit");
    let again = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(again.outcome, MigrationOutcome::AlreadyMigrated);
    assert_eq!(again.payouts_copied, 0);
    assert_eq!(again.payouts_already_there, 5);
    assert_eq!(again.source_id, report.source_id);
    assert_eq!(again.migrated_chain, AuditCheck::Intact(3));
    assert_eq!(
        count(&db, "SELECT count(*) FROM paydesk.audit"),
        team_entries
    );

    // The desktop journal was only read.
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.get(M, "mid").unwrap().unwrap().state, State::Sending);
    assert_eq!(j.verify_audit().unwrap(), AuditCheck::Intact(3));
}

#[test]
fn a_clash_refuses_everything_and_an_identical_payout_is_skipped() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    let alice = db.open("alice");
    // The same import row as the desktop's (queued, same payout): skipped. Another amount
    // under the desktop's ID: a clash.
    alice
        .record_intents(&[intent("imp_1", 50_000, Some(("imp", 1)))], 5)
        .unwrap();
    alice
        .record_intents(&[intent("acc", 20_001, None)], 5)
        .unwrap();
    let before = count(&db, "SELECT count(*) FROM paydesk.audit");
    let why = refused(
        migrate(&path, &mut db.owner(), opts()),
        &[
            "1 payout(s) clash",
            "PF0060/acc (amount, state)",
            "nothing was migrated",
        ],
    );
    assert!(!why.contains("imp_1"), "{why}");
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.payouts"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.audit"), before);
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.migrated_audit"), 0);

    // Without the clash, the identical row is skipped and the rest copied.
    let db = team().unwrap();
    db.open("alice")
        .record_intents(&[intent("imp_1", 50_000, Some(("imp", 1)))], 5)
        .unwrap();
    let report = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(
        (report.payouts_copied, report.payouts_already_there),
        (4, 1)
    );
}

#[test]
fn a_broken_or_changed_desktop_chain_is_refused() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());

    // Changed after a migration: refused, the team journal as it was.
    migrate(&path, &mut db.owner(), opts()).unwrap();
    Journal::open(&path)
        .unwrap()
        .audit("zhang", "payout submitted", "late ¥1.00", 99)
        .unwrap();
    refused(
        migrate(&path, &mut db.owner(), opts()),
        &["migrated before", "has changed since", "now 4 entries"],
    );
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.migrated_audit"), 3);

    // Edited: refused before anything is written, naming the entry.
    let db = team().unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE audit SET detail = 'acc ¥2000.00' WHERE id = 2", [])
        .unwrap();
    refused(
        migrate(&path, &mut db.owner(), opts()),
        &["audit chain is broken at entry 2", "journal check"],
    );
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.payouts"), 0);
}

#[test]
fn only_the_owner_migrates_and_only_a_journal_no_one_has_open() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    refused(
        migrate(&path, &mut db.raw("alice"), opts()),
        &["only the team journal's owner"],
    );
    let open = Journal::open(&path).unwrap();
    refused(
        migrate(&path, &mut db.owner(), opts()),
        &["another Paydesk", "close it first"],
    );
    drop(open);
    let dry = migrate(
        &path,
        &mut db.owner(),
        MigrateOptions {
            now: 1,
            dry_run: true,
        },
    )
    .unwrap();
    assert_eq!(dry.outcome, MigrationOutcome::DryRun);
    assert_eq!(dry.payouts_copied, 5);
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.payouts"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.audit"), 0);
}

const C: &str = "C1";

fn batch_body(id: &str, amount: &str) -> String {
    format!(
        r#"{{"batch_id":"{id}","withdraw_list":[{{"currency":"USDT","amount":"{amount}","address":"T1","chain":"TRX"}}]}}"#
    )
}

/// Adds GatePay batches to a desktop journal: one accepted and final, one being sent when
/// the desktop stopped, one still queued (above the team's batch rule of 1000 USDT).
fn with_batches(path: &Path) {
    let mut j = Journal::open(path).unwrap();
    for (id, amount, at) in [
        ("B-done", "10", 40),
        ("B-mid", "20", 41),
        ("B-big", "5000", 42),
    ] {
        j.record_batch_intent(
            C,
            Some("http://127.0.0.1:2"),
            id,
            &batch_body(id, amount),
            1,
            &format!("{amount} USDT (1)"),
            at,
        )
        .unwrap();
    }
    for id in ["B-done", "B-mid"] {
        match j
            .claim_batch(
                C,
                id,
                &batch_body(id, if id == "B-done" { "10" } else { "20" }),
                &[State::Queued],
                50,
            )
            .unwrap()
        {
            Claim::Claimed(_) => {}
            other => panic!("{other:?}"),
        }
    }
    j.change_batch(
        C,
        "B-done",
        &crate::domain::batches::store::BatchChange::Accepted { next_check_at: 60 },
        51,
    )
    .unwrap();
    drop(j);
    rusqlite::Connection::open(path)
        .unwrap()
        .execute(
            "UPDATE gatepay_batches SET is_final = 1, batch_status = 'SUCCESS' WHERE batch_id = 'B-done'",
            [],
        )
        .unwrap();
}

fn batch_rule(db: &TestDb) {
    db.owner()
        .execute(
            "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ($1, 'USDT', 1000)",
            &[&C],
        )
        .unwrap();
}

#[test]
fn gatepay_batches_move_with_the_journal_one_being_sent_becomes_unknown() {
    let Some(db) = team() else { return };
    batch_rule(&db);
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    with_batches(&path);

    let report = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(report.outcome, MigrationOutcome::Migrated);
    assert_eq!(report.source_batches, 3);
    assert_eq!(report.batches_copied, 3);
    assert_eq!(report.batches_made_unknown, 1);
    assert_eq!(report.batches_awaiting_approval, 1);

    let bob = db.open("bob");
    let done = bob.get_batch(C, "B-done").unwrap().unwrap();
    assert_eq!(
        (done.state, done.is_final, done.batch_status.as_deref()),
        (State::Accepted, true, Some("SUCCESS"))
    );
    assert_eq!(done.body, batch_body("B-done", "10"));
    assert_eq!(done.origin.as_deref(), Some("http://127.0.0.1:2"));
    let mid = bob.get_batch(C, "B-mid").unwrap().unwrap();
    assert_eq!(mid.state, State::Unknown);
    assert_eq!(mid.unknown_why.as_deref(), Some(MIGRATED_BATCH_MID_SEND));
    assert_eq!(mid.next_check_at, Some(1_000));
    let big = bob.get_batch(C, "B-big").unwrap().unwrap();
    assert!(big.held_for_approval(), "{big:?}");
    // The owner recorded it by migrating; another role decides.
    assert_eq!(big.team.as_ref().unwrap().created_by, owner_role(&db));
    bob.decide_batch(C, "B-big", Approval::Approved, None)
        .unwrap();
    assert!(matches!(bob.verify_audit().unwrap(), AuditCheck::Intact(_)));

    let again = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(again.outcome, MigrationOutcome::AlreadyMigrated);
    assert_eq!((again.batches_copied, again.batches_already_there), (0, 3));
    // The desktop journal was only read.
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(
        j.get_batch(C, "B-mid").unwrap().unwrap().state,
        State::Sending
    );
}

#[test]
fn a_batch_clash_or_an_edited_batch_refuses_everything() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    with_batches(&path);
    // Another body under B-big's ID in the team journal: a clash, nothing copied.
    db.open("alice")
        .record_batch_intent(
            C,
            None,
            "B-big",
            &batch_body("B-big", "5001"),
            1,
            "5001 USDT (1)",
            5,
        )
        .unwrap();
    let payouts = count(&db, "SELECT count(*) FROM paydesk.payouts");
    refused(
        migrate(&path, &mut db.owner(), opts()),
        &[
            "1 GatePay batch(es) clash",
            "C1/B-big (body)",
            "nothing was migrated",
        ],
    );
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.payouts"), payouts);
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.batches"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.attempts"), 0);

    // The same batch already there (same body, same state) is skipped.
    let db = team().unwrap();
    db.open("alice")
        .record_batch_intent(
            C,
            None,
            "B-big",
            &batch_body("B-big", "5000"),
            1,
            "5000 USDT (1)",
            5,
        )
        .unwrap();
    let report = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(
        (report.batches_copied, report.batches_already_there),
        (2, 1)
    );

    // A body edited in the desktop journal after it was recorded: refused, named.
    let db = team().unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE gatepay_batches SET body = replace(body, '\"10\"', '\"99\"') WHERE batch_id = 'B-done'",
            [],
        )
        .unwrap();
    refused(
        migrate(&path, &mut db.owner(), opts()),
        &[
            "C1/B-done no longer matches the hash",
            "nothing was migrated",
        ],
    );
    assert_eq!(count(&db, "SELECT count(*) FROM paydesk.payouts"), 0);
}

#[test]
fn an_empty_or_foreign_file_is_refused_and_an_empty_journal_has_nothing_to_move() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.sqlite3");
    std::fs::write(&empty, b"").unwrap();
    refused(migrate(&empty, &mut db.owner(), opts()), &["empty"]);
    let foreign = dir.path().join("other.sqlite3");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    refused(
        migrate(&foreign, &mut db.owner(), opts()),
        &["not a Paydesk journal"],
    );
    let fresh = journal_path(&dir.path().join("fresh"));
    drop(Journal::open(&fresh).unwrap());
    let report = migrate(&fresh, &mut db.owner(), opts()).unwrap();
    assert_eq!(report.outcome, MigrationOutcome::NothingToMigrate);
}
