//! Adversarial reproductions, round 3 (helper "adv3"), each asserting what should happen
//! (each failed before its fix): the upgrade to version 3 holds a batch version 2 let through
//! with an odd currency; a currency Paydesk builds is one the team journal takes; a copy is
//! pointed to `journal new-id`; a journal given a new ID has its history stored once.

use paydesk::domain::batches::{TypedRow, batch_from_rows};
use paydesk::domain::journal::team::install_schema;
use paydesk::domain::journal::team::migrate::{MigrateOptions, MigrationOutcome, migrate};
use paydesk::domain::journal::team::testing::{TestDb, server};
use paydesk::domain::journal::{Intent, Journal, State, journal_path};
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::gatepay::wire::build_create_body;
use paydesk::money::Fen;

const M: &str = "PF0061";
const C: &str = "C3";

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

fn intent(j: &mut Journal, id: &str, at: i64) {
    j.record_intents(
        &[Intent {
            merchant: M.into(),
            origin: None,
            request: request(id, 10_000),
            state: State::Queued,
            import: None,
        }],
        at,
    )
    .unwrap();
}

/// Under version 2 (before round 2), alice recorded as her own role a 50000 USDT batch whose
/// currency was "USDT\u00a0": version 2's rule read it as another currency, so it was
/// recorded `not-needed` and queued. The owner upgrades to version 3: the upgrade block
/// re-decides only rows *migrated* under version 2, so this queued batch keeps needing no
/// approval and alice sends it alone (four eyes skipped for 50000 USDT).
#[test]
fn a_v2_queued_batch_with_a_padded_currency_is_held_after_the_upgrade() {
    let Some(db) = team() else { return };
    let body = serde_json::json!({"batch_id": "B_pad", "withdraw_list": [
        {"merchant_withdraw_id": "w1", "currency": "USDT\u{a0}", "amount": "50000", "address": "T1", "chain": "TRX"}
    ]})
    .to_string();
    // As version 2 left it (its batch_insert read `upper(btrim(currency))`, which keeps the
    // no-break space, so no USDT rule matched): queued, recorded by alice, not-needed.
    let alice_role = db.role("alice").to_owned();
    db.owner()
        .execute("ALTER TABLE paydesk.batches DISABLE TRIGGER USER", &[])
        .unwrap();
    db.owner_sql(
        "INSERT INTO paydesk.batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
            created_at, updated_at, created_by, approval)
         VALUES ($1, 'B_pad', $2, encode(sha256(convert_to($2, 'UTF8')), 'hex'), 1, '50000 USDT\u{a0} (1)',
                 'queued', 1, 1, $3, 'not-needed')",
        &[&C, &body, &alice_role],
    );
    db.owner()
        .batch_execute(
            "ALTER TABLE paydesk.batches ENABLE TRIGGER USER;
             UPDATE paydesk.meta SET value = '2' WHERE key = 'schema_version';",
        )
        .unwrap();
    assert!(install_schema(&mut db.owner(), "ignored").unwrap());
    let sent = db.raw("alice").execute(
        "UPDATE paydesk.batches SET state = 'sending' WHERE merchant = $1 AND batch_id = 'B_pad'",
        &[&C],
    );
    assert!(
        sent.is_err(),
        "after the v2->v3 upgrade alice alone sends the 50000 USDT batch she recorded under v2 with a padded currency"
    );
}

/// Paydesk's own batch checks (console form, CSV/XLSX import, `gatepay create`) accept a
/// currency such as "usdc.e" / "USDT-TRC20" (trimmed and upper-cased), so a desktop sends it,
/// but the team journal refuses it: the desktop journal holding it can then not be migrated
/// at all ("nothing was migrated").
#[test]
fn a_currency_paydesk_itself_accepts_is_accepted_by_the_team_journal() {
    let Some(db) = team() else { return };
    let rows = vec![TypedRow {
        row: 2,
        merchant_withdraw_id: "w1".into(),
        currency: "usdc.e".into(),
        amount: "5".into(),
        chain: "ETH".into(),
        address: "0xabc".into(),
        ..TypedRow::default()
    }];
    let (request, errors) = batch_from_rows("B_dot", rows);
    assert!(errors.is_empty(), "Paydesk refused it itself: {errors:?}");
    let body = String::from_utf8(build_create_body(&request)).unwrap();
    assert!(body.contains("\"USDC.E\""), "{body}");

    let dir = tempfile::tempdir().unwrap();
    let path = journal_path(dir.path());
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_batch_intent(C, None, "B_dot", &body, 1, "5 USDC.E (1)", 10)
            .unwrap();
    }
    let moved = migrate(&path, &mut db.owner(), opts());
    assert!(
        moved.is_ok(),
        "a desktop journal with a batch Paydesk built and sent cannot be migrated: {}",
        moved.unwrap_err()
    );
}

/// A desktop journal migrated while it had no audit entry yet (payouts recorded, nothing
/// audited), then copied and the copy used as a second desktop: the copy should be named a
/// copy with `journal new-id` as the way out, as one migrated with entries is.
#[test]
fn a_copy_of_a_journal_migrated_without_audit_entries_is_named_a_copy() {
    let Some(db) = team() else { return };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (journal_path(d1.path()), journal_path(d2.path()));
    {
        let mut j = Journal::open(&a).unwrap();
        intent(&mut j, "first", 5);
    }
    let first = migrate(&a, &mut db.owner(), opts()).unwrap();
    assert_eq!(first.outcome, MigrationOutcome::Migrated);
    std::fs::create_dir_all(d2.path()).unwrap();
    std::fs::copy(&a, &b).unwrap();
    {
        let mut j = Journal::open(&b).unwrap();
        intent(&mut j, "on_b", 10);
        j.audit("wang", "payout submitted", "on_b", 11).unwrap();
    }
    let refused = migrate(&b, &mut db.owner(), opts())
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("it is a copy of that journal") && refused.contains("journal new-id"),
        "{refused}"
    );
}

/// A desktop journal copied after nothing more happened on the first desktop (its head at
/// the copy is still the head that was migrated), the copy used on a second desktop: migrate
/// calls it "used after the migration; compare it with the team journal" and never names
/// `journal new-id`, although it is exactly the copy that new-id exists for.
#[test]
fn a_copy_taken_at_the_migrated_head_is_named_a_copy() {
    let Some(db) = team() else { return };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (journal_path(d1.path()), journal_path(d2.path()));
    {
        let mut j = Journal::open(&a).unwrap();
        intent(&mut j, "first", 5);
        j.audit("zhang", "payout submitted", "first", 6).unwrap();
    }
    std::fs::create_dir_all(d2.path()).unwrap();
    std::fs::copy(&a, &b).unwrap();
    migrate(&a, &mut db.owner(), opts()).unwrap();
    {
        let mut j = Journal::open(&b).unwrap();
        intent(&mut j, "on_b", 10);
        j.audit("wang", "payout submitted", "on_b", 11).unwrap();
    }
    let refused = migrate(&b, &mut db.owner(), opts())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("journal new-id"), "{refused}");
}

/// The journal that *was* migrated (not a copy), given a new ID (`journal new-id`, e.g. by an
/// operator following the copy advice on the wrong desktop) and migrated again: nothing of it
/// should be stored twice. Its whole audit chain is copied a second time under the new ID.
#[test]
fn a_migrated_journal_given_a_new_id_is_not_copied_twice() {
    let Some(db) = team() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = journal_path(dir.path());
    {
        let mut j = Journal::open(&a).unwrap();
        intent(&mut j, "first", 5);
        for i in 0..5 {
            j.audit("zhang", "payout submitted", &format!("e{i}"), 6 + i)
                .unwrap();
        }
    }
    let first = migrate(&a, &mut db.owner(), opts()).unwrap();
    Journal::open(&a).unwrap().renew_id("zhang", 20).unwrap();
    let again = migrate(&a, &mut db.owner(), opts()).unwrap();
    let stored: i64 = db
        .owner()
        .query_one("SELECT count(*) FROM paydesk.migrated_audit", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        (again.payouts_copied, stored as usize),
        (0, first.audit_entries_copied + 1),
        "first: {first:?}\nagain: {again:?}"
    );
}
