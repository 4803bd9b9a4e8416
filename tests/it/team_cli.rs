//! Four-eyes approval through the `paydesk` binary: two operators, two config directories,
//! two profiles naming the same team journal as two roles, passwords in a real keyring.

use super::cli::{Sandbox, paydesk, run, text};
use paydesk::domain::journal::team::testing::{TestDb, server};

/// Adds profile `name` for operator `who` of `db`; `None` when there is no keyring here.
fn add_profile(
    dir: &std::path::Path,
    sb: &Sandbox,
    db: &TestDb,
    who: &str,
    name: &str,
) -> Option<()> {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let mut add = paydesk(dir);
    add.args([
        "profile",
        "add",
        name,
        "--gateway",
        "cny",
        "--base-url",
        sb.info["base_url"].as_str().unwrap(),
        "--platform-id",
        sb.info["cny"]["platform_id"].as_str().unwrap(),
        "--team-journal",
        &db.url(who).to_string(),
    ]);
    let secrets = format!(
        "{}\n{}\n{}\n",
        sb.info["cny"]["auth_token"].as_str().unwrap(),
        sb.info["cny"]["md5_key"].as_str().unwrap(),
        db.password(who).expose()
    );
    let out = run(add, &secrets);
    if !out.status.success() && !required && text(&out.stderr).contains("keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        return None;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(())
}

#[test]
fn an_operator_records_another_approves_and_it_is_paid_once() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var("PAYDESK_REQUIRE_KEYRING").map_or(true, |v| v != "1"),
            "PAYDESK_REQUIRE_KEYRING=1 but no session bus"
        );
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let Some(server) = server() else { return };
    let db = server.fresh(&["alice", "bob"]);
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sb = Sandbox::start(home_a.path(), &[]);
    db.owner_sql(
        "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ($1, 100000)",
        &[&sb.info["cny"]["platform_id"].as_str().unwrap()],
    );
    let tag = std::process::id();
    let (pa, pb) = (format!("team-a-{tag}"), format!("team-b-{tag}"));
    if add_profile(home_a.path(), &sb, &db, "alice", &pa).is_none() {
        sb.stop();
        return;
    }
    add_profile(home_b.path(), &sb, &db, "bob", &pb).unwrap();
    let cmd = |home: &tempfile::TempDir, profile: &str, args: &[&str]| {
        let mut c = paydesk(home.path());
        c.arg("--profile").arg(profile).args(args);
        run(c, "")
    };

    let out = cmd(
        &home_a,
        &pa,
        &[
            "payout",
            "create",
            "--amount",
            "2500.00",
            "--bank",
            "ICBC",
            "--name",
            "张伟",
            "--number",
            "6222020200004321",
            "--yes",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "held: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let sent: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let id = sent["payout_cl_id"].as_str().unwrap().to_owned();
    assert_eq!(sent["team"]["approval"], "pending");
    assert_eq!(sent["team"]["created_by"], db.role("alice"));
    assert!(
        text(&out.stderr).contains("needs approval: payouts of ¥1,000.00 and more"),
        "told before being asked: {}",
        text(&out.stderr)
    );

    let own = cmd(&home_a, &pa, &["payout", "approve", &id]);
    assert_eq!(own.status.code(), Some(2));
    assert!(
        text(&own.stderr).contains("four eyes"),
        "{}",
        text(&own.stderr)
    );

    let pending = cmd(&home_b, &pb, &["payout", "pending"]);
    assert!(pending.status.success(), "{}", text(&pending.stderr));
    assert!(
        text(&pending.stdout).contains(&id),
        "{}",
        text(&pending.stdout)
    );
    assert!(text(&pending.stdout).contains(db.role("alice")));

    let approved = cmd(
        &home_b,
        &pb,
        &["payout", "approve", &id, "--reason", "invoice 4321"],
    );
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        text(&approved.stderr)
    );
    let sent: serde_json::Value = serde_json::from_str(text(&approved.stdout).trim()).unwrap();
    assert_eq!(sent["state"], "accepted");
    assert_eq!(sent["team"]["decided_by"], db.role("bob"));
    assert_eq!(sent["team"]["sent_by"], db.role("bob"));

    // Both operators list the same payout, sent once.
    let list = cmd(&home_a, &pa, &["payout", "list", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&text(&list.stdout)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["attempts"], 1);
    for (home, p) in [(&home_a, &pa), (&home_b, &pb)] {
        let mut remove = paydesk(home.path());
        remove.args(["profile", "remove", p]);
        run(remove, "");
    }
    sb.stop();
}

/// Adds a GatePay profile `name` for operator `who` of `db`; `None` when there is no keyring.
fn add_gatepay_profile(
    dir: &std::path::Path,
    sb: &Sandbox,
    db: &TestDb,
    who: &str,
    name: &str,
) -> Option<()> {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let mut add = paydesk(dir);
    add.args([
        "profile",
        "add",
        name,
        "--gateway",
        "gatepay",
        "--base-url",
        sb.info["base_url"].as_str().unwrap(),
        "--client-id",
        sb.info["gatepay"]["client_id"].as_str().unwrap(),
        "--on-behalf-of",
        sb.info["gatepay"]["on_behalf_of"].as_str().unwrap(),
        "--team-journal",
        &db.url(who).to_string(),
    ]);
    let secrets = format!(
        "{}\n{}\n",
        sb.info["gatepay"]["secret"].as_str().unwrap(),
        db.password(who).expose()
    );
    let out = run(add, &secrets);
    if !out.status.success() && !required && text(&out.stderr).contains("keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        return None;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(())
}

#[test]
fn a_gatepay_batch_held_by_the_rule_is_approved_by_another_operator_and_sent_once() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var("PAYDESK_REQUIRE_KEYRING").map_or(true, |v| v != "1"),
            "PAYDESK_REQUIRE_KEYRING=1 but no session bus"
        );
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let Some(server) = server() else { return };
    let db = server.fresh(&["alice", "bob"]);
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sb = Sandbox::start(home_a.path(), &[]);
    db.owner_sql(
        "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold) VALUES ($1, 'USDT', 100)",
        &[&sb.info["gatepay"]["client_id"].as_str().unwrap()],
    );
    let tag = std::process::id();
    let (pa, pb) = (format!("gp-team-a-{tag}"), format!("gp-team-b-{tag}"));
    if add_gatepay_profile(home_a.path(), &sb, &db, "alice", &pa).is_none() {
        sb.stop();
        return;
    }
    add_gatepay_profile(home_b.path(), &sb, &db, "bob", &pb).unwrap();
    let cmd = |home: &tempfile::TempDir, profile: &str, args: &[&str]| {
        let mut c = paydesk(home.path());
        c.arg("--profile").arg(profile).args(args);
        run(c, "")
    };
    let file = home_a.path().join("batch.csv");
    std::fs::write(
        &file,
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
         gw1,USDT,60,TRX,TXgw1,,0\ngw2,USDT,40.00,TRX,TXgw2,,0\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = cmd(
        &home_a,
        &pa,
        &[
            "gatepay",
            "create",
            "--batch-id",
            "gwteam1",
            "--file",
            file,
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "held: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("awaiting approval"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("needs approval: GatePay batches of 100 USDT and more"),
        "the rule is said before anything is recorded: {}",
        text(&out.stderr)
    );

    // Never sent: its detail is the journal's word, not GatePay's "order not found".
    let looked = cmd(&home_b, &pb, &["gatepay", "batch", "gwteam1"]);
    assert_eq!(looked.status.code(), Some(2));
    assert!(
        text(&looked.stderr).contains("was never sent to GatePay")
            && text(&looked.stderr).contains("awaiting approval"),
        "{}",
        text(&looked.stderr)
    );

    let own = cmd(&home_a, &pa, &["gatepay", "approve", "gwteam1"]);
    assert_eq!(own.status.code(), Some(2));
    assert!(
        text(&own.stderr).contains("four eyes"),
        "{}",
        text(&own.stderr)
    );

    let pending = cmd(&home_b, &pb, &["gatepay", "pending"]);
    assert!(pending.status.success(), "{}", text(&pending.stderr));
    let shown = text(&pending.stdout);
    assert!(
        shown.contains("gwteam1") && shown.contains("100 USDT"),
        "{shown}"
    );
    assert!(shown.contains(db.role("alice")), "{shown}");
    // Where each amount goes is what bob approves.
    assert!(
        shown.contains("TXgw1") && shown.contains("TXgw2") && shown.contains("40.00"),
        "{shown}"
    );
    let listed = cmd(&home_b, &pb, &["gatepay", "pending", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&text(&listed.stdout)).unwrap();
    assert_eq!(rows[0]["withdraw_list"].as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["totals"], "100.00 USDT (2)");
    assert_eq!(rows[0]["likely_duplicates"]["held_total"], 0);

    let approved = cmd(
        &home_b,
        &pb,
        &["gatepay", "approve", "gwteam1", "--reason", "ok"],
    );
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        text(&approved.stderr)
    );
    let sent: serde_json::Value = serde_json::from_str(&text(&approved.stdout)).unwrap();
    assert_eq!(sent["state"], "accepted");
    assert_eq!(sent["team"]["sent_by"], db.role("bob"));
    // Resumed by alice: already accepted, never sent again.
    let again = cmd(
        &home_a,
        &pa,
        &[
            "gatepay",
            "create",
            "--batch-id",
            "gwteam1",
            "--file",
            file,
            "--yes",
        ],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let list = cmd(&home_a, &pa, &["gatepay", "list", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&text(&list.stdout)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["attempts"], 1);
    for (home, p) in [(&home_a, &pa), (&home_b, &pb)] {
        let mut remove = paydesk(home.path());
        remove.args(["profile", "remove", p]);
        run(remove, "");
    }
    sb.stop();
}
