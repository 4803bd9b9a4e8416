//! Profiles that name a team journal, through the `paydesk` binary: the address checked, the
//! password kept in a real keyring, and `profile test` signing in to a real PostgreSQL server.

use super::cli::{Sandbox, paydesk, run, text};

#[test]
fn a_team_journal_address_with_a_password_is_refused_before_any_secret_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = paydesk(dir.path());
    cmd.args([
        "profile",
        "add",
        "Team",
        "--gateway",
        "gatepay",
        "--client-id",
        "c1",
        "--on-behalf-of",
        "1",
        "--team-journal",
        "postgres://alice:hunter2@db.example.com/paydesk",
    ]);
    let out = run(cmd, "gp-secret\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("password") && err.contains("keyring"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!dir.path().join("config.toml").exists());
}

/// As `profile_secrets_round_trip_through_the_keyring`: a real Secret Service in CI.
#[test]
fn a_team_journal_is_named_kept_and_removed_with_its_password_in_the_keyring() {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(!required, "PAYDESK_REQUIRE_KEYRING=1 but no session bus");
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("team-{}", std::process::id());
    let url = "postgres://alice@db.example.com/paydesk?sslmode=verify-full";
    let add = |extra: &[&str], stdin: &str| {
        let mut cmd = paydesk(dir.path());
        cmd.args([
            "profile",
            "add",
            &name,
            "--gateway",
            "gatepay",
            "--client-id",
            "c1",
            "--on-behalf-of",
            "1",
        ])
        .args(extra);
        run(cmd, stdin)
    };
    let out = add(&["--team-journal", url], "gp-secret-1\nTEAM-PW-SECRET\n");
    if !out.status.success() && !required && text(&out.stderr).contains("no OS keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("team journal: alice@db.example.com:5432/paydesk"));
    let config = || std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(config().contains(url), "{}", config());
    assert!(!config().contains("TEAM-PW-SECRET"));

    let shared = dir.path().join("shared.toml");
    let mut export = paydesk(dir.path());
    export.args(["profile", "export", &name]).arg(&shared);
    assert!(run(export, "").status.success());
    let exported = std::fs::read_to_string(&shared).unwrap();
    assert!(exported.contains(url) && !exported.contains("TEAM-PW-SECRET"));

    // Changed without naming it: the team journal stays, and its password is not asked for.
    let out = add(&["--replace", "--live"], "gp-secret-2\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(config().contains(url) && config().contains("live = true"));
    let mut list = paydesk(dir.path());
    list.args(["profile", "list"]);
    assert!(text(&run(list, "").stdout).contains(&format!("team journal {url}")));

    let out = add(&["--replace", "--team-journal", "none"], "gp-secret-3\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!config().contains("team_journal"), "{}", config());

    let mut remove = paydesk(dir.path());
    remove.args(["profile", "remove", &name]);
    assert!(run(remove, "").status.success());
}

/// The whole path of a team journal's password: typed once, kept in the keyring, used by
/// `profile test` to sign in to a real PostgreSQL server as the profile's role. Needs the
/// Secret Service and the server CI provides (`PAYDESK_TEST_PG`, a superuser URL).
#[test]
fn profile_test_signs_in_to_the_team_journal_with_the_keyring_password() {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let pg_required = std::env::var("PAYDESK_REQUIRE_PG").is_ok_and(|v| v == "1");
    let Some(superuser) = std::env::var("PAYDESK_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(!pg_required, "PAYDESK_REQUIRE_PG=1 but no PAYDESK_TEST_PG");
        eprintln!("skipped: no PAYDESK_TEST_PG server");
        return;
    };
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(!required, "PAYDESK_REQUIRE_KEYRING=1 but no session bus");
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let role = format!("it_team_{}", std::process::id());
    let password = "it-team-PW-9";
    let port = {
        let config: postgres::Config = superuser.parse().unwrap();
        config.get_ports()[0]
    };
    let mut su = postgres::Client::connect(&superuser, postgres::NoTls).unwrap();
    su.batch_execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD '{password}'"
    ))
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(dir.path(), &[]);
    let name = format!("team-it-{}", std::process::id());
    let mut add = paydesk(dir.path());
    add.args([
        "profile",
        "add",
        &name,
        "--gateway",
        "cny",
        "--base-url",
        sb.info["base_url"].as_str().unwrap(),
        "--platform-id",
        "PF0060",
        "--team-journal",
        &format!("postgres://{role}@127.0.0.1:{port}/postgres?sslmode=disable"),
    ]);
    let secrets = format!(
        "{}\n{}\n{password}\n",
        sb.info["cny"]["auth_token"].as_str().unwrap(),
        sb.info["cny"]["md5_key"].as_str().unwrap()
    );
    let out = run(add, &secrets);
    if !out.status.success() && !required && text(&out.stderr).contains("no OS keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        sb.stop();
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut test = paydesk(dir.path());
    test.args(["profile", "test", &name]);
    let out = run(test, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "team journal {role}@127.0.0.1:{port}/postgres reached as role {role}"
        )),
        "{}",
        text(&out.stdout)
    );
    // A wrong password in the server: the same command says so, and shows no password.
    su.batch_execute(&format!("ALTER ROLE {role} PASSWORD 'changed-elsewhere'"))
        .unwrap();
    let mut test = paydesk(dir.path());
    test.args(["profile", "test", &name]);
    let out = run(test, "");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("password authentication failed for user {role}")),
        "{err}"
    );
    assert!(!err.contains(password) && !err.contains("changed-elsewhere"));
    let mut remove = paydesk(dir.path());
    remove.args(["profile", "remove", &name]);
    assert!(run(remove, "").status.success());
    su.batch_execute(&format!("DROP ROLE {role}")).unwrap();
    sb.stop();
}
