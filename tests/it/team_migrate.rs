//! `paydesk journal team-setup` and `paydesk journal migrate`, the binary against a real
//! PostgreSQL server (`team::testing`): an owner that is no superuser sets the team journal
//! up, carries a desktop journal over, twice; an operator then reads it and its chains.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use paydesk::domain::journal::team::testing::server;
use paydesk::domain::journal::team::{Approval, TeamJournal, TeamUrl};
use paydesk::domain::journal::{
    AuditCheck, Claim, Intent, Journal, ListFilter, State, journal_path,
};
use paydesk::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use paydesk::money::Fen;
use paydesk::secret::Secret;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");
const M: &str = "PF0060";
const GP: &str = "C1";

fn request(id: &str, fen: i64) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: id.into(),
        amount: Fen::from_fen(fen),
        bank_name: "中国工商银行".into(),
        name: "张伟".into(),
        number: "6222020200001234".into(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

/// A desktop journal as a day of work leaves it: accepted, being sent, queued above the
/// team's threshold; audit entries for each send; a GatePay batch queued above the team's
/// batch rule.
fn desktop(data: &Path) {
    let mut j = Journal::open(&journal_path(data)).unwrap();
    let intents: Vec<Intent> = [("d_1", 10_000), ("d_2", 20_000), ("d_3", 500_000)]
        .iter()
        .map(|(id, fen)| Intent {
            merchant: M.into(),
            origin: Some("http://127.0.0.1:9".into()),
            request: request(id, *fen),
            state: State::Queued,
            import: Some(("day".into(), fen / 10_000)),
        })
        .collect();
    j.record_intents(&intents, 100).unwrap();
    for (id, fen) in [("d_1", 10_000), ("d_2", 20_000)] {
        let claimed = j
            .claim_payout(M, &request(id, fen), b"{}", &[State::Queued], 101)
            .unwrap();
        assert!(matches!(claimed, Claim::Claimed(_)));
        j.audit("zhang", "payout submitted", id, 102).unwrap();
    }
    j.record_outcome(
        M,
        "d_1",
        &CreateOutcome::Accepted {
            payout_id: "P1".into(),
        },
        103,
    )
    .unwrap();
    let body = r#"{"batch_id":"B-1","withdraw_list":[{"currency":"USDT","amount":"5000.5","address":"T1","chain":"TRX"}]}"#;
    j.record_batch_intent(GP, None, "B-1", body, 1, "5000.5 USDT (1)", 104)
        .unwrap();
}

/// A database owned by a role of its own (no superuser), removed afterwards with its roles.
struct Team {
    admin: postgres::Client,
    host: String,
    port: i32,
    database: String,
    owner: String,
    owner_password: String,
    group: String,
    operator: String,
}

impl Team {
    fn new() -> Option<Team> {
        let mut admin = server()?.admin();
        let row = admin
            .query_one("SELECT host(inet_server_addr()), inet_server_port()", &[])
            .unwrap();
        let suffix: String = (0..8)
            .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
            .collect();
        let team = Team {
            host: row.get(0),
            port: row.get(1),
            database: format!("pdm_{suffix}"),
            owner: format!("pdm_{suffix}_owner"),
            owner_password: format!("pw-{suffix}-owner"),
            group: format!("pdm_{suffix}_ops"),
            operator: format!("pdm_{suffix}_alice"),
            admin,
        };
        let mut team = team;
        // One statement each: CREATE DATABASE runs outside any transaction block.
        for sql in [
            format!(
                "CREATE ROLE {} LOGIN CREATEROLE PASSWORD '{}'",
                team.owner, team.owner_password
            ),
            format!("CREATE DATABASE {} OWNER {}", team.database, team.owner),
        ] {
            team.admin.batch_execute(&sql).unwrap();
        }
        Some(team)
    }

    fn url(&self, role: &str) -> String {
        format!(
            "postgres://{role}@{}:{}/{}?sslmode=disable",
            self.host, self.port, self.database
        )
    }

    fn paydesk(&self, data: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("PAYDESK_CONFIG_DIR", data.join("config"))
            .env("PAYDESK_DATA_DIR", data)
            .env("PAYDESK_TEAM_PASSWORD", &self.owner_password)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ));
        for role in [&self.operator, &self.group, &self.owner] {
            let _ = self
                .admin
                .batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn an_owner_sets_up_a_team_journal_and_moves_a_desktop_journal_into_it() {
    let Some(mut team) = Team::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    desktop(&data);
    let owner_url = team.url(&team.owner);

    let setup = [
        "journal",
        "team-setup",
        "--url",
        owner_url.as_str(),
        "--operators",
        team.group.as_str(),
        "--approve-above",
        "1,000",
        "--merchant",
        M,
        "--batch-approve-above",
        "1,000 USDT",
        "--gatepay-client",
        GP,
    ];
    let first = team.paydesk(&data, &setup);
    let out = json(&first);
    assert_eq!(out["installed"], true);
    assert_eq!(out["rule"]["threshold_fen"], 100_000);
    assert_eq!(out["batch_rule"]["gatepay_client"], GP);
    assert_eq!(out["batch_rule"]["currency"], "USDT");
    assert_eq!(out["batch_rule"]["threshold"], "1000");
    assert!(
        text(&first).contains("batches of 1000 USDT and more need approval"),
        "{}",
        text(&first)
    );
    let grants = out["grants"].to_string();
    assert!(
        grants.contains(&format!("GRANT {} TO alice", team.group)),
        "{grants}"
    );
    assert!(
        grants.contains(&format!("ON DATABASE \\\"{}\\\"", team.database)),
        "{grants}"
    );
    assert!(!text(&first).contains(&team.owner_password));
    let second = team.paydesk(&data, &setup);
    assert_eq!(json(&second)["installed"], false);
    assert!(text(&second).contains("(set already)"), "{}", text(&second));
    // A batch rule without its GatePay client, or with no currency: refused.
    for bad in [
        vec!["--batch-approve-all"],
        vec!["--batch-approve-above", "1000", "--gatepay-client", GP],
    ] {
        let mut args = vec!["journal", "team-setup", "--url", owner_url.as_str()];
        args.extend(bad);
        let o = team.paydesk(&data, &args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }

    // Refused before anything: a password in the URL, an amount that is no amount.
    let with_password = team.url(&format!("{}:{}", team.owner, team.owner_password));
    let refused = team.paydesk(&data, &["journal", "migrate", "--to", &with_password]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("carries a password")
            && !text(&refused).contains(&team.owner_password),
        "{}",
        text(&refused)
    );
    let bad = team.paydesk(
        &data,
        &[
            "journal",
            "team-setup",
            "--url",
            &owner_url,
            "--approve-above",
            "1e5",
            "--merchant",
            M,
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    let migrate = ["journal", "migrate", "--to", owner_url.as_str()];
    let dry = json(&team.paydesk(
        &data,
        &["journal", "migrate", "--dry-run", "--to", &owner_url],
    ));
    assert_eq!(dry["outcome"], "dry-run");
    let moved = team.paydesk(&data, &migrate);
    let report = json(&moved);
    assert_eq!(report["outcome"], "migrated", "{}", text(&moved));
    assert_eq!(report["payouts_copied"], 3);
    assert_eq!(report["sending_made_unknown"], 1);
    assert_eq!(report["awaiting_approval"], 1);
    assert_eq!(report["audit_entries_copied"], 2);
    assert_eq!(report["attempts_copied"], 2);
    assert_eq!(report["batches_copied"], 1);
    assert_eq!(report["batches_awaiting_approval"], 1);
    assert_eq!(report["migrated_chain"]["intact"], true);
    assert_eq!(report["team_chain"]["intact"], true);
    assert!(
        text(&moved).contains("looks each up at the gateway before anything else"),
        "{}",
        text(&moved)
    );
    let again = json(&team.paydesk(&data, &migrate));
    assert_eq!(again["outcome"], "already-migrated");
    assert_eq!(again["payouts_already_there"], 3);

    // An operator, as the printed grants say, sees the team's payouts and one chain.
    team.admin
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN PASSWORD 'alice-pw'; GRANT {} TO {};",
            team.operator, team.group, team.operator
        ))
        .unwrap();
    let alice = TeamJournal::open(
        &TeamUrl::parse(&team.url(&team.operator)).unwrap(),
        Some(&Secret::new("alice-pw")),
    )
    .unwrap();
    let payouts = alice.list(&ListFilter::default()).unwrap();
    assert_eq!(payouts.len(), 3);
    let d2 = payouts.iter().find(|p| p.payout_cl_id == "d_2").unwrap();
    assert_eq!(d2.state, State::Unknown);
    let d3 = payouts.iter().find(|p| p.payout_cl_id == "d_3").unwrap();
    assert_eq!(d3.team.as_ref().unwrap().approval, Approval::Pending);
    assert!(
        payouts
            .iter()
            .all(|p| p.team.as_ref().unwrap().created_by == team.owner)
    );
    assert_eq!(
        alice.approval_rule(M).unwrap().unwrap().threshold,
        Fen::from_fen(100_000)
    );
    let batch = alice.get_batch(GP, "B-1").unwrap().unwrap();
    assert!(batch.held_for_approval(), "{batch:?}");
    assert_eq!(batch.totals, "5000.5 USDT (1)");
    // The two rules, three payouts and a batch recorded, the migration.
    assert_eq!(alice.verify_audit().unwrap(), AuditCheck::Intact(7));

    // An operator cannot migrate: the owner alone records payouts already sent.
    let other = dir.path().join("other");
    desktop(&other);
    let as_alice = Command::new(BIN)
        .args(["journal", "migrate", "--to", &team.url(&team.operator)])
        .env("PAYDESK_DATA_DIR", &other)
        .env("PAYDESK_CONFIG_DIR", other.join("config"))
        .env("PAYDESK_TEAM_PASSWORD", "alice-pw")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(as_alice.status.code(), Some(2), "{}", text(&as_alice));
    assert!(
        text(&as_alice).contains("only the team journal's owner"),
        "{}",
        text(&as_alice)
    );
}
