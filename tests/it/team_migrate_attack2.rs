//! Adversarial reproductions, round 2 (helper "adv2"): team journal version 3. Each test
//! asserts what should happen (each failed before its fix): rows migrated under version 2
//! take the rule at the upgrade, a currency is read one way only, a copied journal is named
//! a copy and can be given an ID of its own.

use std::path::Path;

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

fn refused_desktop(path: &Path) {
    let mut j = Journal::open(path).unwrap();
    j.record_intents(
        &[Intent {
            merchant: M.into(),
            origin: None,
            request: request("v2_rej", 500_000),
            state: State::Queued,
            import: None,
        }],
        10,
    )
    .unwrap();
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
        j.record_intents(
            &[Intent {
                merchant: M.into(),
                origin: None,
                request: request(id, 10_000),
                state: State::Queued,
                import: None,
            }],
            10,
        )
        .unwrap();
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
