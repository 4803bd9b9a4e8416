//! The `attempts` table: every send of a payout and every check of it with the gateway, in
//! order, so that what happened to a payout can be read back attempt by attempt. A send's row
//! is written with its body hash before the request leaves (with the claim), and finished by
//! its reply; a check's row is written with its result.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Journal, JournalError};
use crate::gateway::cny::wire::CreateOutcome;

/// Version 6 of the journal: the `attempts` table.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    merchant TEXT NOT NULL,
    payout_cl_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    body_sha256 TEXT,
    finished_at INTEGER,
    outcome TEXT,
    gateway_code TEXT,
    code_meaning TEXT,
    http_status INTEGER,
    summary TEXT,
    reconstructed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (merchant, payout_cl_id, number)
);
";

/// Version 6: the payouts sent before attempts were kept get one attempt each, rebuilt from
/// what their row holds (the last send's time and body hash, the outcome as it stands).
pub(super) const RECONSTRUCT: &str = "
INSERT OR IGNORE INTO attempts (merchant, payout_cl_id, number, kind, started_at, body_sha256,
    outcome, gateway_code, code_meaning, summary, reconstructed)
SELECT merchant, payout_cl_id, 1, 'send', COALESCE(last_sent_at, created_at), body_sha256,
    CASE state WHEN 'accepted' THEN 'accepted' WHEN 'rejected' THEN 'refused'
        WHEN 'unknown' THEN 'unknown' WHEN 'not-created' THEN 'not created' END,
    reject_code, reject_meaning,
    'rebuilt from the payout as it stood when attempts began to be kept', 1
FROM payouts WHERE attempts > 0 OR last_sent_at IS NOT NULL;
";

/// The attempts and checks kept per payout: the oldest go first.
pub const MAX_ATTEMPTS_KEPT: i64 = 100;

/// A send of the payout's request.
pub const SEND: &str = "send";
/// A lookup of the payout at the gateway (or a signed notification about it).
pub const CHECK: &str = "check";

/// One send or check of a payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// 1, 2, … per payout, sends and checks together, in the order they happened.
    pub number: i64,
    /// [`SEND`] or [`CHECK`].
    pub kind: String,
    pub started_at: i64,
    /// The SHA-256 of the body sent (sends only).
    pub body_sha256: Option<String>,
    /// `None`: no reply was recorded (a send interrupted, or still under way).
    pub finished_at: Option<i64>,
    /// accepted, refused, unknown, found, not created, not found yet, unverified, check failed.
    pub outcome: Option<String>,
    pub gateway_code: Option<String>,
    pub code_meaning: Option<String>,
    /// The HTTP status, where Paydesk's reading of the reply names it.
    pub http_status: Option<i64>,
    /// What the reply said, in Paydesk's own words (never a name or an account).
    pub summary: Option<String>,
    /// Rebuilt by the migration from a payout sent before attempts were kept.
    pub reconstructed: bool,
}

/// The result of one check, as the desk read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckNote {
    pub outcome: String,
    pub gateway_code: Option<String>,
    pub code_meaning: Option<String>,
    /// Paydesk's own words: cut to them by [`own_words`](crate::logging::own_words) here.
    pub summary: String,
}

/// The HTTP status Paydesk's words name ("… answered HTTP 502 …"), if any.
fn http_status_in(words: &str) -> Option<i64> {
    let rest = &words[words.find("HTTP ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|s| (100..600).contains(s))
}

/// The next number of a payout's attempts.
fn next_number(conn: &Connection, merchant: &str, cl_id: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE merchant = ?1 AND payout_cl_id = ?2",
        params![merchant, cl_id],
        |r| r.get(0),
    )
}

/// Keeps the newest [`MAX_ATTEMPTS_KEPT`] of a payout's attempts.
fn bound(conn: &Connection, merchant: &str, cl_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM attempts WHERE merchant = ?1 AND payout_cl_id = ?2 AND number <=
            (SELECT MAX(number) FROM attempts WHERE merchant = ?1 AND payout_cl_id = ?2) - ?3",
        params![merchant, cl_id, MAX_ATTEMPTS_KEPT],
    )?;
    Ok(())
}

/// Writes a send's attempt before the request leaves: in the caller's transaction (the claim).
pub(super) fn begin_send(
    conn: &Connection,
    merchant: &str,
    cl_id: &str,
    body_sha256: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let number = next_number(conn, merchant, cl_id)?;
    conn.execute(
        "INSERT INTO attempts (merchant, payout_cl_id, number, kind, started_at, body_sha256)
            VALUES (?1, ?2, ?3, 'send', ?4, ?5)",
        params![merchant, cl_id, number, now, body_sha256],
    )?;
    bound(conn, merchant, cl_id)
}

/// What an attempt keeps of a send's reply: one reading for both journals.
pub(crate) struct Reply<'a> {
    pub word: &'static str,
    pub code: Option<&'a str>,
    pub meaning: Option<&'a str>,
    pub http: Option<i64>,
    pub summary: &'a str,
}

impl Reply<'_> {
    pub(crate) fn of(outcome: &CreateOutcome) -> Reply<'_> {
        let (word, code, meaning, summary) = match outcome {
            CreateOutcome::Accepted { .. } => {
                ("accepted", None, None, "the gateway took the payout")
            }
            CreateOutcome::Rejected { code, meaning, .. } => (
                "refused",
                Some(code.as_str()),
                Some(meaning.as_str()),
                "the gateway refused it: nothing was created",
            ),
            CreateOutcome::Unknown { why } => {
                ("unknown", None, None, crate::logging::own_words(why))
            }
        };
        let http = match outcome {
            CreateOutcome::Unknown { why } => http_status_in(crate::logging::own_words(why)),
            _ => None,
        };
        Reply {
            word,
            code,
            meaning,
            http,
            summary,
        }
    }

    /// The same reply as a check's result (no send was open for it).
    pub(crate) fn as_check(&self) -> CheckNote {
        CheckNote {
            outcome: self.word.to_owned(),
            gateway_code: self.code.map(str::to_owned),
            code_meaning: self.meaning.map(str::to_owned),
            summary: self.summary.to_owned(),
        }
    }
}

/// A check's summary in Paydesk's own words, and the HTTP status they name.
pub(crate) fn check_words(note: &CheckNote) -> (&str, Option<i64>) {
    let summary = crate::logging::own_words(&note.summary);
    (summary, http_status_in(summary))
}

/// Finishes the payout's open send with its reply; a reply with no send open (the gateway's
/// order under this ID found to be another payout's) is a check's result.
pub(super) fn finish_send(
    conn: &Connection,
    merchant: &str,
    cl_id: &str,
    outcome: &CreateOutcome,
    now: i64,
) -> rusqlite::Result<()> {
    let Reply {
        word,
        code,
        meaning,
        http,
        summary,
    } = Reply::of(outcome);
    let updated = conn.execute(
        "UPDATE attempts SET finished_at = ?3, outcome = ?4, gateway_code = ?5, code_meaning = ?6,
            http_status = ?7, summary = ?8
         WHERE id = (SELECT MAX(id) FROM attempts WHERE merchant = ?1 AND payout_cl_id = ?2
            AND kind = 'send' AND finished_at IS NULL AND reconstructed = 0)",
        params![merchant, cl_id, now, word, code, meaning, http, summary],
    )?;
    if updated == 0 {
        insert_check(conn, merchant, cl_id, &Reply::of(outcome).as_check(), now)?;
    }
    Ok(())
}

fn insert_check(
    conn: &Connection,
    merchant: &str,
    cl_id: &str,
    note: &CheckNote,
    now: i64,
) -> rusqlite::Result<()> {
    let number = next_number(conn, merchant, cl_id)?;
    let (summary, http) = check_words(note);
    conn.execute(
        "INSERT INTO attempts (merchant, payout_cl_id, number, kind, started_at, finished_at, outcome,
            gateway_code, code_meaning, http_status, summary)
         VALUES (?1, ?2, ?3, 'check', ?4, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            merchant,
            cl_id,
            number,
            now,
            note.outcome,
            note.gateway_code,
            note.code_meaning,
            http,
            summary
        ],
    )?;
    bound(conn, merchant, cl_id)
}

impl Journal {
    /// Records one check of a payout with the gateway and what it found.
    pub fn record_check(
        &mut self,
        merchant: &str,
        cl_id: &str,
        note: &CheckNote,
        now: i64,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.record_check(merchant, cl_id, note, now)?);
        }
        insert_check(&self.conn, merchant, cl_id, note, now)?;
        Ok(())
    }

    /// Every attempt and check of a payout kept, oldest first.
    pub fn attempts(&self, merchant: &str, cl_id: &str) -> Result<Vec<Attempt>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.attempts(merchant, cl_id)?);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT number, kind, started_at, body_sha256, finished_at, outcome, gateway_code,
                code_meaning, http_status, summary, reconstructed
             FROM attempts WHERE merchant = ?1 AND payout_cl_id = ?2 ORDER BY number",
        )?;
        let rows = stmt.query_map(params![merchant, cl_id], |r| {
            Ok(Attempt {
                number: r.get(0)?,
                kind: r.get(1)?,
                started_at: r.get(2)?,
                body_sha256: r.get(3)?,
                finished_at: r.get(4)?,
                outcome: r.get(5)?,
                gateway_code: r.get(6)?,
                code_meaning: r.get(7)?,
                http_status: r.get(8)?,
                summary: r.get(9)?,
                reconstructed: r.get::<_, i64>(10)? != 0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Carries the attempts of the replaced journal that the restored one lacks, for payouts it
/// holds. Returns how many rows did not read or insert.
pub(super) fn carry(old: &Connection, new: &Connection) -> usize {
    let Ok(mut read) = old.prepare(
        "SELECT merchant, payout_cl_id, number, kind, started_at, body_sha256, finished_at, outcome,
            gateway_code, code_meaning, http_status, summary, reconstructed FROM attempts ORDER BY id",
    ) else {
        // A copy from before attempts were kept has none to carry.
        return 0;
    };
    let Ok(mut insert) = new.prepare(
        "INSERT OR IGNORE INTO attempts (merchant, payout_cl_id, number, kind, started_at, body_sha256,
            finished_at, outcome, gateway_code, code_meaning, http_status, summary, reconstructed)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
         WHERE EXISTS (SELECT 1 FROM payouts WHERE merchant = ?1 AND payout_cl_id = ?2)",
    ) else {
        return 1;
    };
    let Ok(mut rows) = read.query([]) else {
        return 1;
    };
    let mut bad = 0;
    loop {
        match rows.next() {
            Ok(Some(r)) => {
                let values: Result<Vec<rusqlite::types::Value>, _> =
                    (0..13).map(|i| r.get(i)).collect();
                if !matches!(
                    values.map(|v| insert.execute(rusqlite::params_from_iter(v))),
                    Ok(Ok(_))
                ) {
                    bad += 1;
                }
            }
            Ok(None) => break,
            Err(_) => {
                bad += 1;
                break;
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::super::{Claim, Intent, SCHEMA_VERSION, State, journal_path};
    use super::*;
    use crate::gateway::cny::wire::PayoutRequest;
    use crate::money::Fen;

    const M: &str = "PF0060";

    fn request(id: &str) -> PayoutRequest {
        PayoutRequest {
            payout_cl_id: id.into(),
            amount: Fen::from_fen(50_000),
            bank_name: "中国银行".into(),
            name: "李娜".into(),
            number: "6222 0202 0202 0202".into(),
            bank_branch: None,
            province: None,
            city: None,
            notify_url: None,
        }
    }

    fn intent(id: &str) -> Intent {
        Intent {
            merchant: M.into(),
            origin: None,
            request: request(id),
            state: State::Queued,
            import: None,
        }
    }

    fn note(outcome: &str, summary: &str) -> CheckNote {
        CheckNote {
            outcome: outcome.into(),
            summary: summary.into(),
            ..CheckNote::default()
        }
    }

    #[test]
    fn a_send_left_unknown_then_checked_until_found_keeps_four_attempts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        j.record_intents(&[intent("A1")], 100).unwrap();
        let claim = j
            .claim_payout(M, &request("A1"), b"{\"body\":1}", &[State::Queued], 101)
            .unwrap();
        assert!(matches!(claim, Claim::Claimed(_)));
        // The attempt and its body hash are there before any reply.
        let before = j.attempts(M, "A1").unwrap();
        assert_eq!(before.len(), 1);
        assert_eq!(
            before[0].body_sha256.as_deref(),
            Some(super::super::sha256_hex(b"{\"body\":1}").as_str())
        );
        assert_eq!(before[0].finished_at, None);
        let unknown = CreateOutcome::Unknown {
            why: "the gateway answered HTTP 502: {\"name\":\"李娜\"}".into(),
        };
        j.record_outcome(M, "A1", &unknown, 102).unwrap();
        j.record_check(M, "A1", &note("not found yet", "no such order yet"), 110)
            .unwrap();
        j.record_check(
            M,
            "A1",
            &note("check failed", "the gateway did not answer in time"),
            130,
        )
        .unwrap();
        j.record_check(
            M,
            "A1",
            &CheckNote {
                outcome: "found".into(),
                gateway_code: Some("3".into()),
                code_meaning: Some("success".into()),
                summary: "the gateway has the order, status success".into(),
            },
            170,
        )
        .unwrap();
        let all = j.attempts(M, "A1").unwrap();
        let seen: Vec<(i64, &str, Option<&str>, Option<i64>)> = all
            .iter()
            .map(|a| {
                (
                    a.number,
                    a.kind.as_str(),
                    a.outcome.as_deref(),
                    a.finished_at,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (1, SEND, Some("unknown"), Some(102)),
                (2, CHECK, Some("not found yet"), Some(110)),
                (3, CHECK, Some("check failed"), Some(130)),
                (4, CHECK, Some("found"), Some(170)),
            ]
        );
        // The reply is kept in Paydesk's own words: what the gateway echoed is not.
        assert_eq!(
            all[0].summary.as_deref(),
            Some("the gateway answered HTTP 502")
        );
        assert_eq!(all[0].http_status, Some(502));
        assert!(all.iter().all(|a| !a.reconstructed));
    }

    #[test]
    fn a_payout_keeps_only_its_newest_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        j.record_intents(&[intent("B1")], 100).unwrap();
        for at in 0..MAX_ATTEMPTS_KEPT + 5 {
            j.record_check(
                M,
                "B1",
                &note("not found yet", "no such order yet"),
                200 + at,
            )
            .unwrap();
        }
        let all = j.attempts(M, "B1").unwrap();
        assert_eq!(i64::try_from(all.len()).unwrap(), MAX_ATTEMPTS_KEPT);
        assert_eq!(all[0].number, 6);
        assert_eq!(all.last().unwrap().number, MAX_ATTEMPTS_KEPT + 5);
    }

    #[test]
    fn a_journal_of_the_previous_version_gets_one_rebuilt_attempt_per_sent_payout() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path());
        // Version 6: the last before attempts were kept.
        let previous = 6;
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            super::super::schema::write_version(&mut conn, previous);
        }
        // Payouts are written as the program writes them (so the journal's check accepts them
        // on open), then the journal is put back as the previous version left it.
        {
            let mut j = Journal::open(&path).unwrap();
            j.conn
                .execute_batch("DROP TABLE attempts; DROP TABLE journal_meta;")
                .unwrap();
            j.conn.pragma_update(None, "user_version", 6_i64).unwrap();
            j.record_intents(&[intent("S1"), intent("Q1")], 100)
                .unwrap();
            j.conn
                .execute(
                    "UPDATE payouts SET state = 'rejected', attempts = 2, last_sent_at = 150,
                        body_sha256 = 'abc123', reject_code = '0005', reject_meaning = 'bad account'
                     WHERE payout_cl_id = 'S1'",
                    [],
                )
                .unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let version: i64 = j
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let sent = j.attempts(M, "S1").unwrap();
        assert_eq!(sent.len(), 1);
        let a = &sent[0];
        assert!(a.reconstructed);
        assert_eq!(
            (
                a.kind.as_str(),
                a.started_at,
                a.body_sha256.as_deref(),
                a.outcome.as_deref(),
                a.gateway_code.as_deref()
            ),
            (SEND, 150, Some("abc123"), Some("refused"), Some("0005"))
        );
        // A queued payout was never sent: nothing to rebuild.
        assert!(j.attempts(M, "Q1").unwrap().is_empty());
    }
}
