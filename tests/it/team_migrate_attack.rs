//! Adversarial reproductions (helpers "adv" and "adv2"): `journal migrate` and four-eyes on
//! the team journal. Each test asserts what should happen (each failed before its fix): a
//! migrated row that may still be sent waits for approval (also one migrated under version 2,
//! after the upgrade), a journal keeps one source ID of its own and a copy is named a copy, a
//! batch's totals are what its body pays, and a currency is read one way only.

use std::path::{Path, PathBuf};

use paydesk::domain::journal::team::install_schema;
use paydesk::domain::journal::team::migrate::{MigrateOptions, MigrationOutcome, migrate};
use paydesk::domain::journal::team::testing::{TestDb, server};
use paydesk::domain::journal::{Claim, Intent, Journal, ListFilter, State, journal_path};
use paydesk::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use paydesk::money::Fen;

const M: &str = "PF0060";
const C: &str = "C1";

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

fn intent(id: &str, fen: i64) -> Intent {
    Intent {
        merchant: M.into(),
        origin: None,
        request: request(id, fen),
        state: State::Queued,
        import: None,
    }
}

fn batch_body(id: &str, amount: &str) -> String {
    format!(
        r#"{{"batch_id":"{id}","withdraw_list":[{{"merchant_withdraw_id":"w-{id}","currency":"USDT","amount":"{amount}","address":"T1","chain":"TRX"}}]}}"#
    )
}

/// A team journal with alice and bob: CNY payouts of ¥1,000.00 and more, and GatePay batches
/// of 1000 USDT and more, need a second operator.
fn team() -> Option<TestDb> {
    let db = server()?.fresh(&["alice", "bob"]);
    db.owner_sql(
        "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ($1, 100000)",
        &[&M],
    );
    db.owner_sql(
        "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ($1, 'USDT', 1000)",
        &[&C],
    );
    Some(db)
}

fn opts() -> MigrateOptions {
    MigrateOptions {
        now: 1_000,
        dry_run: false,
    }
}

fn desktop(dir: &Path) -> PathBuf {
    journal_path(dir)
}

/// A desktop payout of ¥5,000.00 the gateway refused (e.g. balance too low) is migrated as
/// `rejected`: what `payout retry` does (move it to sending) is refused to an operator alone,
/// since the team's rule says ¥1,000.00 and more needs a second operator; once another
/// approves it, it may be sent.
#[test]
fn a_migrated_refused_payout_above_the_rule_waits_for_a_second_operator() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_intents(&[intent("big_rej", 500_000)], 10).unwrap();
        assert!(matches!(
            j.claim_payout(M, &request("big_rej", 500_000), b"{}", &[State::Queued], 11)
                .unwrap(),
            Claim::Claimed(_)
        ));
        j.record_outcome(
            M,
            "big_rej",
            &CreateOutcome::Rejected {
                code: "1004".into(),
                meaning: "balance".into(),
                message: "not enough".into(),
            },
            12,
        )
        .unwrap();
    }
    let report = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(report.payouts_copied, 1);
    // alice, alone, moves it to sending (what `payout retry` does): the database should
    // refuse, as it refuses a queued payout of the same amount that no one approved.
    let sent = db.raw("alice").execute(
        "UPDATE paydesk.payouts SET state = 'sending' WHERE merchant = $1 AND payout_cl_id = 'big_rej'",
        &[&M],
    );
    assert!(
        sent.is_err(),
        "a migrated refused ¥5,000.00 payout was re-sent by one operator without approval"
    );
    // It waits for a second operator like an intent: bob approves it, then it may be sent.
    let bob = db.open("bob");
    assert_eq!(bob.pending_approvals(M).unwrap().len(), 1);
    bob.approve(M, "big_rej", Some("balance topped up"))
        .unwrap();
    db.raw("alice")
        .execute(
            "UPDATE paydesk.payouts SET state = 'sending' WHERE merchant = $1 AND payout_cl_id = 'big_rej'",
            &[&M],
        )
        .unwrap();
}

/// The same for a GatePay batch of 5000 USDT that GatePay never created: `gatepay retry`
/// cannot send it without a second operator.
#[test]
fn a_migrated_never_created_batch_above_the_rule_waits_for_approval() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_batch_intent(
            C,
            None,
            "B_nc",
            &batch_body("B_nc", "5000"),
            1,
            "5000 USDT (1)",
            10,
        )
        .unwrap();
        assert!(matches!(
            j.claim_batch(C, "B_nc", &batch_body("B_nc", "5000"), &[State::Queued], 11)
                .unwrap(),
            Claim::Claimed(_)
        ));
    }
    // What a lookup that found nothing at GatePay leaves (BatchChange::NotCreated).
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE gatepay_batches SET state = 'not-created' WHERE batch_id = 'B_nc'",
            [],
        )
        .unwrap();
    let report = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(report.batches_copied, 1);
    let sent = db.raw("alice").execute(
        "UPDATE paydesk.batches SET state = 'sending' WHERE merchant = $1 AND batch_id = 'B_nc'",
        &[&C],
    );
    assert!(
        sent.is_err(),
        "a migrated never-created 5000 USDT batch was sent by one operator without approval"
    );
}

/// Two different desktops whose journals hold only GatePay batches not yet sent (no payout,
/// no audit entry: recording a batch writes none) get two source IDs: the second is not taken
/// for the first.
#[test]
fn two_desktops_holding_only_batches_get_two_source_ids() {
    let Some(db) = team() else { return };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (p1, p2) = (desktop(d1.path()), desktop(d2.path()));
    for (p, id) in [(&p1, "B_one"), (&p2, "B_two")] {
        let mut j = Journal::open(p).unwrap();
        j.record_batch_intent(C, None, id, &batch_body(id, "10"), 1, "10 USDT (1)", 10)
            .unwrap();
    }
    let r1 = migrate(&p1, &mut db.owner(), opts()).unwrap();
    let r2 = migrate(&p2, &mut db.owner(), opts()).unwrap();
    assert_eq!(r1.outcome, MigrationOutcome::Migrated);
    assert_ne!(
        r1.source_id, r2.source_id,
        "two desktops' journals must have different source IDs (README: each differs)"
    );
}

/// A desktop journal migrated while it had no audit entry, then used (a send writes its first
/// audit entry, another payout is recorded): its source ID stays, so the second migration is
/// refused as "migrated before and changed since", not taken as a new desktop.
#[test]
fn a_desktop_used_after_its_migration_without_audit_is_refused() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = desktop(dir.path());
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_intents(&[intent("q_1", 10_000)], 10).unwrap();
    }
    let first = migrate(&path, &mut db.owner(), opts()).unwrap();
    assert_eq!(first.outcome, MigrationOutcome::Migrated);
    assert_eq!(first.source_head, None);
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_intents(&[intent("q_2", 20_000)], 20).unwrap();
        j.audit("zhang", "payout submitted", "q_2 ¥200.00", 21)
            .unwrap();
    }
    let second = migrate(&path, &mut db.owner(), opts());
    match second {
        Err(e) => assert!(e.to_string().contains("migrated before"), "{e}"),
        Ok(r) => panic!(
            "the same desktop journal, used after its migration, migrated again as a new source \
             ({} then {}): {:?}, {} payout(s) copied",
            first.source_id, r.source_id, r.outcome, r.payouts_copied
        ),
    }
}

/// An operator (psql as her role, or a patched client) records a 200000 USDT batch saying
/// "1 USDT (1)": the database writes the totals it reads off the body, so the approver's
/// `gatepay pending`, the console and the audit entry show what the body pays.
#[test]
fn a_batch_recorded_with_false_totals_shows_what_its_body_pays() {
    let Some(db) = team() else { return };
    let body = batch_body("B_lie", "200000");
    let recorded = db.raw("alice").execute(
        "INSERT INTO paydesk.batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
            created_at, updated_at, created_by, approval)
         VALUES ($1, 'B_lie', $2, encode(sha256(convert_to($2, 'UTF8')), 'hex'), 1, '1 USDT (1)', 'queued',
            1, 1, '', '')",
        &[&C, &body],
    );
    // Recorded, with the totals the database read off the body: what bob is shown, and what
    // the audit chain says, is what it pays.
    recorded.unwrap();
    let bob = db.open("bob");
    let seen = bob.pending_batches(C).unwrap();
    let shown = seen.iter().find(|b| b.batch_id == "B_lie").unwrap();
    assert_eq!(shown.totals, "200000 USDT (1)");
    let audited: String = db
        .owner()
        .query_one(
            "SELECT detail FROM paydesk.audit WHERE action LIKE 'batch recorded%' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        audited.contains("(1 sub-orders: 200000 USDT (1))"),
        "{audited}"
    );
}

fn refused_desktop(path: &Path) {
    let mut j = Journal::open(path).unwrap();
    j.record_intents(&[intent("v2_rej", 500_000)], 10).unwrap();
    assert!(matches!(
        j.claim_payout(M, &request("v2_rej", 500_000), b"{}", &[State::Queued], 11)
            .unwrap(),
        Claim::Claimed(_)
    ));
    j.record_outcome(
        M,
        "v2_rej",
        &CreateOutcome::Rejected {
            code: "1004".into(),
            meaning: "balance".into(),
            message: "not enough".into(),
        },
        12,
    )
    .unwrap();
}

/// A team journal at version 2 into which a desktop was migrated: its refused ¥5,000.00
/// payout got `approval = not-needed` (version 2's rule for every non-queued row). The
/// owner upgrades with `team-setup`: version 3 must put such a row under the rule as well,
/// otherwise the round-1 hole stays open for every desktop migrated before the upgrade.
/// (Also reproduced with the real version-2 binary built from 2a8129d.)
#[test]
fn a_row_migrated_under_version_2_still_waits_for_approval_after_the_upgrade() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    refused_desktop(&path);
    migrate(
        &path,
        &mut db.owner(),
        MigrateOptions {
            now: 1_000,
            dry_run: false,
        },
    )
    .unwrap();
    // As version 2 left it: a migrated non-queued row was `not-needed`.
    db.owner()
        .batch_execute(
            "ALTER TABLE paydesk.payouts DISABLE TRIGGER USER;
             UPDATE paydesk.payouts SET approval = 'not-needed' WHERE payout_cl_id = 'v2_rej';
             ALTER TABLE paydesk.payouts ENABLE TRIGGER USER;
             UPDATE paydesk.meta SET value = '2' WHERE key = 'schema_version';",
        )
        .unwrap();
    assert!(install_schema(&mut db.owner(), "ignored").unwrap());
    let sent = db.raw("alice").execute(
        "UPDATE paydesk.payouts SET state = 'sending' WHERE merchant = $1 AND payout_cl_id = 'v2_rej'",
        &[&M],
    );
    assert!(
        sent.is_err(),
        "after the v2->v3 upgrade a payout migrated under v2 (refused, ¥5,000.00) is re-sent by one operator"
    );
}

/// alice records (psql as her role) a 50000 USDT batch whose currency is "\tUSDT" /
/// "USDT\u00a0" / "\u3000USDT": GatePay would trim it into USDT, so the database refuses
/// any currency not written as Paydesk writes it (or, recorded, holds it under the rule).
#[test]
fn a_currency_padded_with_other_whitespace_still_falls_under_the_rule() {
    let Some(db) = team() else { return };
    for (id, cur) in [
        ("B_tab", "\tUSDT"),
        ("B_nbsp", "USDT\u{a0}"),
        ("B_ideo", "\u{3000}USDT"),
        ("B_nl", "USDT\n"),
    ] {
        let body = serde_json::json!({"batch_id": id, "withdraw_list": [
            {"merchant_withdraw_id": "w1", "currency": cur, "amount": "50000", "address": "T1", "chain": "TRX"}
        ]})
        .to_string();
        let recorded = db.raw("alice").execute(
            "INSERT INTO paydesk.batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
                created_at, updated_at, created_by, approval)
             VALUES ($1, $2, $3, encode(sha256(convert_to($3, 'UTF8')), 'hex'), 1, '', 'queued', 1, 1, '', '')",
            &[&C, &id, &body],
        );
        if recorded.is_err() {
            continue; // refused: fine
        }
        let approval: String = db
            .owner()
            .query_one(
                "SELECT approval FROM paydesk.batches WHERE merchant = $1 AND batch_id = $2",
                &[&C, &id],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            approval, "pending",
            "batch {id} ({cur:?} 50000) was recorded needing no approval"
        );
    }
}

/// A desktop journal copied to set up a second desktop (a copy is the same journal, same ID)
/// and used on both: the first is migrated, then the second is refused, named a copy, with
/// `journal new-id` as the way out; given an ID of its own it moves in.
#[test]
fn a_copied_journal_used_as_a_second_desktop_can_be_migrated_or_is_named_a_copy() {
    let Some(db) = team() else { return };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (journal_path(d1.path()), journal_path(d2.path()));
    {
        let mut j = Journal::open(&a).unwrap();
        j.audit("zhang", "payout submitted", "x", 5).unwrap();
    }
    std::fs::create_dir_all(d2.path()).unwrap();
    std::fs::copy(&a, &b).unwrap();
    for (p, id, who) in [(&a, "on_a", "zhang"), (&b, "on_b", "wang")] {
        let mut j = Journal::open(p).unwrap();
        j.record_intents(&[intent(id, 10_000)], 10).unwrap();
        j.audit(who, "payout submitted", id, 11).unwrap();
    }
    let o = MigrateOptions {
        now: 1_000,
        dry_run: false,
    };
    migrate(&a, &mut db.owner(), o).unwrap();
    let refused = migrate(&b, &mut db.owner(), o).unwrap_err().to_string();
    assert!(
        refused.contains("it is a copy of that journal") && refused.contains("journal new-id"),
        "{refused}"
    );
    // Given an ID of its own, the second desktop's journal moves in: its own payout copied.
    Journal::open(&b).unwrap().renew_id("wang", 12).unwrap();
    let moved = migrate(&b, &mut db.owner(), o).unwrap();
    assert_eq!(moved.outcome, MigrationOutcome::Migrated);
    assert_eq!(moved.payouts_copied, 1);
    assert_eq!(
        db.open("alice").list(&ListFilter::default()).unwrap().len(),
        2
    );
}
