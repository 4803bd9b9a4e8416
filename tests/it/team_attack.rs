//! Adversarial tests of the team journal: an operator with a raw client and only an
//! operator's grants (`db.raw`) tries to get money sent that should not be, to rewrite what
//! others did, or to bury evidence. Each test is a finding (fixed in the schema, or ignored
//! with the finding's number where it is not fixed yet).

use crate::common::*;
use crate::team::{desk, request, team};
use paydesk::domain::journal::State;
use paydesk::domain::journal::team::testing::TestDb;

/// Runs `sql` as operator `who` on a raw client (off the async runtime): `Err` with the
/// server's words where the database refused it.
fn raw_sql(db: &TestDb, who: &str, sql: &str) -> Result<u64, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            db.raw(who).execute(sql, &[]).map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_owned())
            })
        })
        .join()
        .unwrap()
    })
}

/// Finding 1: the database fixed who may approve and what may be sent unapproved, but not
/// where a payout's state may go. With an operator's grants, a payout the gateway accepted
/// could be put back to `queued`, `not-created` or `rejected` (all states a retry or an import
/// sends from), and the next honest `retry` of any operator paid it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_put_an_accepted_payout_back_where_it_is_sent_again() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let (alice, bob) = (desk(&sb, &db, "alice"), desk(&sb, &db, "bob"));
    let paid = alice
        .submit(&request("atk_paid_1", 50_000, "6222020200009001"))
        .await
        .unwrap();
    assert_eq!(paid.state, State::Accepted);
    for to in ["queued", "not-created", "rejected", "unknown"] {
        let moved = raw_sql(
            &db,
            "alice",
            &format!("UPDATE paydesk.payouts SET state = '{to}' WHERE payout_cl_id = 'atk_paid_1'"),
        );
        if moved.is_ok() {
            // What an honest second operator then does with it.
            let _ = bob.retry("atk_paid_1").await;
        }
        assert_eq!(
            sb.payout_create_requests().get("atk_paid_1"),
            Some(&1),
            "an accepted payout moved to {to} by raw SQL was sent again"
        );
        let why = moved.expect_err(&format!("accepted -> {to} must be refused"));
        assert!(why.contains("atk_paid_1"), "{why}");
    }
    // A queued payout cannot be declared not created or refused by the gateway without a send.
    alice
        .submit(&request("atk_big_1", 500_000, "6222020200009002"))
        .await
        .unwrap();
    for to in ["not-created", "rejected", "accepted", "unknown"] {
        let moved = raw_sql(
            &db,
            "alice",
            &format!("UPDATE paydesk.payouts SET state = '{to}' WHERE payout_cl_id = 'atk_big_1'"),
        );
        assert!(moved.is_err(), "queued -> {to} was allowed");
    }
    // The legitimate way still works: bob approves, it is sent once.
    let sent = bob.approve("atk_big_1", Some("ok")).await.unwrap();
    assert_eq!(sent.state, State::Accepted, "{:?}", sent.entry);
    assert_eq!(sb.payout_create_requests().get("atk_big_1"), Some(&1));
    sb.stop().await;
}

/// Finding 2: `paydesk.attempt_add` (SECURITY DEFINER, granted to every operator) kept only
/// the last 100 attempts of a payout: any operator calling it 100 times with made-up checks
/// erased the record of another operator's send (when, which body) from the team journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_erase_anothers_send_attempts_by_adding_checks() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let alice = desk(&sb, &db, "alice");
    let merchant = cny(&sb).config().platform_id.clone();
    alice
        .submit(&request("atk_att_1", 50_000, "6222020200009101"))
        .await
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut bob = db.raw("bob");
            for _ in 0..120 {
                // Refused or not: what matters is that the send stays on record.
                let _ = bob.execute(
                    "SELECT paydesk.attempt_add($1, 'atk_att_1', 'check', 1, NULL, 1, 'found', NULL, NULL, NULL, 'x')",
                    &[&merchant],
                );
            }
            let sends: i64 = bob
                .query_one(
                    "SELECT count(*) FROM paydesk.attempts WHERE payout_cl_id = 'atk_att_1' AND kind = 'send'",
                    &[],
                )
                .unwrap()
                .get(0);
            assert_eq!(sends, 1, "alice's send is no longer on record");
        })
        .join()
        .unwrap();
    });
    sb.stop().await;
}

/// Finding 3: `paydesk.audit_append` is granted to operators (Paydesk audits confirmations
/// through it), so an operator could append the entries only the triggers should write:
/// "payout approved" of a payout nobody approved, in the chain with a valid hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_write_a_decision_into_the_audit_chain_by_hand() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let alice = desk(&sb, &db, "alice");
    alice
        .submit(&request("atk_aud_1", 500_000, "6222020200009201"))
        .await
        .unwrap();
    for action in [
        "payout approved",
        "payout rejected",
        "payout accepted",
        "payout recorded",
        "payout sending",
    ] {
        let forged = raw_sql(
            &db,
            "alice",
            &format!(
                "SELECT paydesk.audit_append('{action}', 'atk_aud_1 ¥5000.00 to 6222****9201', 'x')"
            ),
        );
        assert!(forged.is_err(), "{action} appended by hand");
    }
    sb.stop().await;
}

/// Finding 4: bounded reading. An operator could record a payout whose request carries
/// megabytes of padding, or append megabytes to the audit chain, and every console listing the
/// team's payouts or checking its chain read all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_stuff_megabytes_into_rows_every_console_reads() {
    let sb = sandbox(small_config()).await;
    let Some(db) = team(&sb) else { return };
    let merchant = cny(&sb).config().platform_id.clone();
    let pad = "x".repeat(2 * 1024 * 1024);
    let number = "6222020200009301";
    let request = format!(
        r#"{{"payout_cl_id":"atk_fat_1","amount":"1000","bank_name":"B","name":"N","number":"{number}","pad":"{pad}"}}"#
    );
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut alice = db.raw("alice");
            let fat = alice.execute(
                "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name, recipient_name,
                    account_masked, account_fingerprint, request_json, state, created_at, updated_at,
                    created_by, approval)
                 VALUES ($1, 'atk_fat_1', 1000, 'B', 'N', '6222****9301',
                    encode(sha256(convert_to($2::text, 'UTF8')), 'hex'), $3, 'queued', 0, 0, '', '')",
                &[&merchant, &number, &request],
            );
            assert!(fat.is_err(), "a 2 MiB request was recorded");
            // The same row without the padding is recorded: the size is what was refused.
            let lean = request.replace(&format!(r#","pad":"{pad}""#), "");
            alice
                .execute(
                    "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name, recipient_name,
                        account_masked, account_fingerprint, request_json, state, created_at, updated_at,
                        created_by, approval)
                     VALUES ($1, 'atk_fat_1', 1000, 'B', 'N', '6222****9301',
                        encode(sha256(convert_to($2::text, 'UTF8')), 'hex'), $3, 'queued', 0, 0, '', '')",
                    &[&merchant, &number, &lean],
                )
                .unwrap();
            let fat = alice.execute(
                "SELECT paydesk.audit_append('note', $1, 'x')",
                &[&pad],
            );
            assert!(fat.is_err(), "a 2 MiB audit entry was appended");
        })
        .join()
        .unwrap();
    });
    sb.stop().await;
}
