//! The team journal against a real PostgreSQL server (see `testing`): two operators as two
//! database roles, and clients that skip every check Paydesk makes.

use std::time::Duration;

use super::testing::{TestDb, server};
use super::{Approval, TeamError, TeamJournal, TeamListener};
use crate::domain::journal::{AuditCheck, Claim, Intent, State};
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

/// A team database with alice and bob, and a rule: ¥1,000.00 and above needs approval.
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

fn refused(r: Result<impl std::fmt::Debug, TeamError>, words: &str) {
    match r {
        Err(TeamError::Refused(why)) => assert!(why.contains(words), "{why}"),
        other => panic!("expected a refusal naming {words:?}, got {other:?}"),
    }
}

#[test]
fn identity_comes_from_the_database_and_approval_needs_a_second_role() {
    let Some(db) = team() else { return };
    let alice = db.open("alice");
    let bob = db.open("bob");
    assert_eq!(alice.role(), db.role("alice"));
    alice
        .record_intents(
            &[intent("big", 500_000, None), intent("small", 9_999, None)],
            10,
        )
        .unwrap();
    let big = alice.get(M, "big").unwrap().unwrap();
    assert_eq!(big.team.as_ref().unwrap().created_by, db.role("alice"));
    assert_eq!(big.team.as_ref().unwrap().approval, Approval::Pending);
    assert_eq!(
        alice
            .get(M, "small")
            .unwrap()
            .unwrap()
            .team
            .unwrap()
            .approval,
        Approval::NotNeeded
    );

    // Alice cannot send it, nor approve it herself.
    match alice
        .claim_payout(M, &request("big", 500_000), b"{}", &[State::Queued], 11)
        .unwrap()
    {
        Claim::NotSendable(e) => {
            assert!(e.held_for_approval());
            assert!(
                e.describe().contains("awaiting approval"),
                "{}",
                e.describe()
            );
        }
        other => panic!("{other:?}"),
    }
    refused(alice.approve(M, "big", None), "four eyes");

    // Bob sees it waiting, approves it, and alice may send it.
    let pending = bob.pending_approvals(M).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payout.payout_cl_id, "big");
    assert_eq!(
        pending[0].payout.team.as_ref().unwrap().created_by,
        db.role("alice")
    );
    let approved = bob.approve(M, "big", Some("checked the invoice")).unwrap();
    assert_eq!(approved.team.as_ref().unwrap().approval, Approval::Approved);
    assert_eq!(
        approved.team.as_ref().unwrap().decided_by.as_deref(),
        Some(db.role("bob"))
    );
    refused(
        bob.reject(M, "big", "too late"),
        "not waiting for approval (approved by",
    );
    match alice
        .claim_payout(M, &request("big", 500_000), b"{}", &[State::Queued], 12)
        .unwrap()
    {
        Claim::Claimed(e) => assert_eq!(e.state, State::Sending),
        other => panic!("{other:?}"),
    }
    let sent = alice.get(M, "big").unwrap().unwrap();
    assert_eq!(
        sent.team.as_ref().unwrap().sent_by.as_deref(),
        Some(db.role("alice"))
    );

    // A rejected payout is never sent; a rejection needs a reason.
    alice
        .record_intents(&[intent("big2", 100_000, None)], 13)
        .unwrap();
    refused(bob.reject(M, "big2", "  "), "reason");
    bob.reject(M, "big2", "wrong account").unwrap();
    match alice
        .claim_payout(M, &request("big2", 100_000), b"{}", &[State::Queued], 14)
        .unwrap()
    {
        Claim::NotSendable(e) => {
            assert!(e.describe().contains("wrong account"), "{}", e.describe());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alice.verify_audit().unwrap(), AuditCheck::Intact(6));
}

#[test]
fn a_client_that_skips_every_check_is_still_refused_by_the_database() {
    let Some(db) = team() else { return };
    let alice = db.open("alice");
    alice
        .record_intents(&[intent("big", 500_000, None)], 10)
        .unwrap();
    let mut raw = db.raw("alice");
    let refused_sql = |raw: &mut postgres::Client, sql: &str| {
        let e = raw.batch_execute(sql).expect_err(sql);
        e.as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default()
    };
    let why = refused_sql(
        &mut raw,
        "UPDATE paydesk.payouts SET state = 'sending' WHERE payout_cl_id = 'big'",
    );
    assert!(why.contains("needs approval"), "{why}");
    let why = refused_sql(
        &mut raw,
        "UPDATE paydesk.payouts SET approval = 'approved' WHERE payout_cl_id = 'big'",
    );
    assert!(why.contains("four eyes"), "{why}");
    // Naming someone else as the creator, or approving at insert, changes nothing.
    let json = serde_json::to_string(&request("forged", 700_000)).unwrap();
    raw.execute(
        "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name, recipient_name, account_masked,
            account_fingerprint, request_json, state, created_at, updated_at, created_by, approval, decided_by)
         VALUES ($1, 'forged', 700000, '中国银行', '李娜', 'x', $2, $3, 'queued', 1, 1, $4, 'approved', $4)",
        &[&M, &crate::domain::journal::account_fingerprint("6222 0202 0202 0202"), &json, &db.role("bob")],
    )
    .unwrap();
    let forged = alice.get(M, "forged").unwrap().unwrap();
    assert_eq!(forged.team.as_ref().unwrap().created_by, db.role("alice"));
    assert_eq!(forged.team.as_ref().unwrap().approval, Approval::Pending);
    assert_eq!(forged.team.as_ref().unwrap().decided_by, None);
    // Columns that disagree with the request, a row born sent, edits of what it pays,
    // deletions and audit edits are refused.
    let why = refused_sql(
        &mut raw,
        &format!(
            "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name, recipient_name, account_masked,
                account_fingerprint, request_json, state, created_at, updated_at, created_by, approval)
             VALUES ('{M}', 'small', 100, '中国银行', '李娜', 'x', 'f', '{}', 'queued', 1, 1, '', '')",
            json.replace("forged", "small")
        ),
    );
    assert!(why.contains("do not match"), "{why}");
    let why = refused_sql(
        &mut raw,
        "UPDATE paydesk.payouts SET amount_fen = 1 WHERE payout_cl_id = 'big'",
    );
    assert!(why.contains("cannot change"), "{why}");
    let why = refused_sql(&mut raw, "DELETE FROM paydesk.payouts");
    assert!(
        why.contains("permission denied") || why.contains("not allowed"),
        "{why}"
    );
    let why = refused_sql(&mut raw, "UPDATE paydesk.audit SET detail = 'x'");
    assert!(why.contains("permission denied"), "{why}");
    let why = refused_sql(
        &mut raw,
        "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ('other', 0)",
    );
    assert!(why.contains("permission denied"), "{why}");
    let why = refused_sql(&mut raw, "ALTER TABLE paydesk.payouts DISABLE TRIGGER ALL");
    assert!(why.contains("must be owner"), "{why}");
    refused(alice.set_approval_rule(M, None), "permission denied");
    assert!(matches!(
        alice.verify_audit().unwrap(),
        AuditCheck::Intact(_)
    ));
}

#[test]
fn two_operators_sending_one_import_at_once_send_each_row_once() {
    let Some(db) = team() else { return };
    const ROWS: i64 = 300;
    let intents: Vec<Intent> = (1..=ROWS)
        .map(|r| intent(&format!("imp_{r}"), 100 + r, Some(("imp", r))))
        .collect();
    let db = &db;
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = ["alice", "bob"]
            .into_iter()
            .map(|who| {
                let intents = intents.clone();
                s.spawn(move || {
                    let j = db.open(who);
                    // Both record the same file (each row once), then both send it.
                    j.record_intents(&intents, 1).unwrap();
                    let mut mine = Vec::new();
                    while let Some(e) = j.claim_next_in_import(M, "imp", 2).unwrap() {
                        j.record_outcome(
                            M,
                            &e.payout_cl_id,
                            &CreateOutcome::Accepted {
                                payout_id: format!("P{}", e.payout_cl_id),
                            },
                            3,
                        )
                        .unwrap();
                        mine.push(e.payout_cl_id.clone());
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut all: Vec<&String> = claimed.iter().flatten().collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, ROWS as usize, "every row claimed once: {total}");
    assert_eq!(all.len(), ROWS as usize);
    assert!(
        claimed.iter().all(|c| !c.is_empty()),
        "both shared the work"
    );
    let j = db.open("alice");
    let rows = j
        .list(&crate::domain::journal::ListFilter {
            merchant: Some(M.into()),
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rows.len(), ROWS as usize);
    assert!(
        rows.iter()
            .all(|e| e.attempts == 1 && e.state == State::Accepted)
    );
    assert_eq!(
        j.verify_audit().unwrap(),
        AuditCheck::Intact(ROWS as usize * 3)
    );
}

#[test]
fn the_audit_chain_stays_one_chain_under_concurrent_writers() {
    let Some(db) = team() else { return };
    let db = &db;
    std::thread::scope(|s| {
        for who in ["alice", "bob", "alice", "bob"] {
            s.spawn(move || {
                let j = db.open(who);
                for i in 0..40 {
                    j.audit(Some(M), "note", &format!("{who} {i}")).unwrap();
                }
            });
        }
    });
    let j = db.open("bob");
    assert_eq!(j.verify_audit().unwrap(), AuditCheck::Intact(160));
    // The owner can still edit it (by dropping the guard); the walk shows where.
    let mut owner = db.owner();
    owner
        .batch_execute(
            "ALTER TABLE paydesk.audit DISABLE TRIGGER audit_append_only;
             UPDATE paydesk.audit SET detail = 'edited' WHERE id = 100;",
        )
        .unwrap();
    assert_eq!(j.verify_audit().unwrap(), AuditCheck::BrokenAt(100));
}

#[test]
fn a_claim_is_busy_while_its_session_lives_and_unknown_once_it_is_gone() {
    let Some(db) = team() else { return };
    let alice = db.open("alice");
    alice.record_intents(&[intent("p1", 500, None)], 1).unwrap();
    let r = request("p1", 500);
    assert!(matches!(
        alice
            .claim_payout(M, &r, b"{}", &[State::Queued], 2)
            .unwrap(),
        Claim::Claimed(_)
    ));
    let bob = db.open("bob");
    assert!(matches!(
        bob.claim_payout(M, &r, b"{}", &[State::Queued], 3).unwrap(),
        Claim::Busy { .. }
    ));
    drop(alice);
    // The server notices the closed session at once; give it a moment.
    let mut last = None;
    for _ in 0..50 {
        match bob.claim_payout(M, &r, b"{}", &[State::Queued], 4).unwrap() {
            Claim::Busy { .. } => std::thread::sleep(Duration::from_millis(20)),
            other => {
                last = Some(other);
                break;
            }
        }
    }
    match last {
        Some(Claim::Stale { entry, .. }) => assert_eq!(entry.state, State::Unknown),
        other => panic!("{other:?}"),
    }
    assert_eq!(bob.get(M, "p1").unwrap().unwrap().state, State::Unknown);
}

#[test]
fn a_console_hears_what_another_operator_does() {
    let Some(db) = team() else { return };
    let mut listener = TeamListener::open(&db.url("bob"), Some(&db.password("bob"))).unwrap();
    let alice = db.open("alice");
    alice
        .record_intents(&[intent("big", 500_000, None)], 1)
        .unwrap();
    let event = listener
        .next(Duration::from_secs(5))
        .unwrap()
        .expect("bob hears alice");
    assert_eq!(event.actor, db.role("alice"));
    assert_eq!(event.merchant.as_deref(), Some(M));
    assert!(event.action.contains("awaiting approval"), "{event:?}");
    assert_eq!(listener.next(Duration::from_millis(100)).unwrap(), None);
}

#[test]
fn a_journal_set_up_by_a_newer_paydesk_or_not_at_all_is_refused() {
    let Some(server) = server() else { return };
    let db = server.fresh(&["alice"]);
    db.owner()
        .execute(
            "UPDATE paydesk.meta SET value = '99' WHERE key = 'schema_version'",
            &[],
        )
        .unwrap();
    let err = TeamJournal::open(&db.url("alice"), Some(&db.password("alice"))).unwrap_err();
    assert!(
        matches!(err, TeamError::NewerSchema { found: 99, .. }),
        "{err}"
    );
    db.owner()
        .batch_execute("DROP SCHEMA paydesk CASCADE")
        .unwrap();
    let err = TeamJournal::open(&db.url("alice"), Some(&db.password("alice"))).unwrap_err();
    assert!(matches!(err, TeamError::NotSetUp(_)), "{err}");
}

/// A team journal set up by the Paydesk before GatePay batches (schema version 1) is refused
/// until its owner runs `team-setup` again, which brings it to this version and keeps what it
/// holds; running it again changes nothing.
#[test]
fn a_journal_of_an_older_version_is_brought_up_to_date_by_its_owner() {
    let Some(db) = team() else { return };
    let alice = db.open("alice");
    alice
        .record_intents(&[intent("old_1", 5_000, None)], 1)
        .unwrap();
    drop(alice);
    // What version 1 had: no batches, no batch rules.
    db.owner()
        .batch_execute(
            "DROP TABLE paydesk.batches, paydesk.batch_approval_rules;
             DROP FUNCTION paydesk.batch_insert(), paydesk.batch_update(), paydesk.batch_audit(),
                 paydesk.batch_totals(jsonb);
             UPDATE paydesk.meta SET value = '1' WHERE key = 'schema_version';",
        )
        .unwrap();
    let refused = TeamJournal::open(&db.url("alice"), Some(&db.password("alice"))).unwrap_err();
    assert!(
        refused.to_string().contains("schema version 1")
            && refused.to_string().contains("team-setup"),
        "{refused}"
    );
    // A role that does not own the journal cannot upgrade it.
    let mut raw = db.raw("alice");
    assert!(super::install_schema(&mut raw, "whatever").is_err());
    drop(raw);
    let mut owner = db.owner();
    assert!(super::install_schema(&mut owner, "ignored_name").unwrap());
    assert!(!super::install_schema(&mut owner, "ignored_name").unwrap());
    drop(owner);
    let bob = db.open("bob");
    assert!(
        bob.get(M, "old_1").unwrap().is_some(),
        "what it held is kept"
    );
    assert!(bob.list_batches("c1", 10).unwrap().is_empty());
    // The operators' role is still the one it was set up with (its grants work).
    bob.record_batch_intent(
        "c1",
        None,
        "up_1",
        r#"{"batch_id":"up_1","withdraw_list":[{"currency":"USDT","amount":"1"}]}"#,
        1,
        "1 USDT (1)",
        2,
    )
    .unwrap();
    assert!(matches!(bob.verify_audit().unwrap(), AuditCheck::Intact(_)));
}

#[test]
fn the_upgrade_to_version_3_shows_a_waiting_batch_what_its_body_pays() {
    let Some(db) = team() else { return };
    db.owner_sql(
        "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ('c1', '*', 0)",
        &[],
    );
    let body = r#"{"batch_id":"v2_1","withdraw_list":[{"currency":"USDT","amount":"4.50"},{"currency":"USDT","amount":"1"}]}"#;
    let bob = db.open("bob");
    // A currency read one way only: padded (with a tab here) or in lower case, it is refused.
    for currency in ["\\tUSDT", "usdt", "USDT ", "\\u00a0USDT"] {
        let odd = format!(
            r#"{{"batch_id":"v2_0","withdraw_list":[{{"currency":"{currency}","amount":"50000"}}]}}"#
        );
        let refused = bob
            .record_batch_intent("c1", None, "v2_0", &odd, 1, "", 2)
            .unwrap_err();
        assert!(
            refused.to_string().contains("currency"),
            "{currency}: {refused}"
        );
    }
    bob.record_batch_intent("c1", None, "v2_1", body, 2, "whatever the client says", 2)
        .unwrap();
    // Version 3 writes what the body pays, whatever the client said.
    assert_eq!(
        bob.get_batch("c1", "v2_1").unwrap().unwrap().totals,
        "5.50 USDT (2)"
    );
    // As version 2 left it: the totals as its recorder wrote them.
    db.owner()
        .batch_execute(
            "ALTER TABLE paydesk.batches DISABLE TRIGGER USER;
             UPDATE paydesk.batches SET totals = '1 USDT (1)';
             ALTER TABLE paydesk.batches ENABLE TRIGGER USER;
             UPDATE paydesk.meta SET value = '2' WHERE key = 'schema_version';",
        )
        .unwrap();
    assert!(super::install_schema(&mut db.owner(), "ignored").unwrap());
    let alice = db.open("alice");
    let shown = alice.pending_batches("c1").unwrap();
    assert_eq!(shown[0].totals, "5.50 USDT (2)");
    assert!(matches!(
        alice.verify_audit().unwrap(),
        AuditCheck::Intact(_)
    ));
}
