//! Profiles: settings to the file, secrets to the keyring, shared files without secrets.

use super::*;

fn cny_profile(name: &str) -> Profile {
    Profile {
        name: name.into(),
        gateway: GatewayKind::Cny,
        base_url: "https://gw.example.com".into(),
        platform_id: "PF0060".into(),
        client_id: String::new(),
        on_behalf_of: String::new(),
        live: true,
        sign: SignOptions::default(),
        brand: Brand::default(),
        team_journal: None,
    }
}

#[test]
fn secrets_never_reach_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut profiles = Profiles::load(dir.path(), store.clone()).unwrap();
    profiles
        .save(
            cny_profile("Acme live"),
            &[
                (SecretKind::AuthToken, Secret::new("tok-VERY-SECRET-1")),
                (SecretKind::Md5Key, Secret::new("md5-VERY-SECRET-2")),
            ],
            false,
        )
        .unwrap();
    let text = fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(text.contains("Acme live") && text.contains("PF0060"));
    assert!(!text.contains("VERY-SECRET"), "{text}");
    let reloaded = Profiles::load(dir.path(), store).unwrap();
    assert_eq!(reloaded.active_name(), Some("Acme live"));
    assert_eq!(
        reloaded
            .secret("Acme live", SecretKind::Md5Key)
            .unwrap()
            .expose(),
        "md5-VERY-SECRET-2"
    );
    assert!(matches!(
        reloaded.secret("Acme live", SecretKind::GatepaySecret),
        Err(ProfileError::SecretMissing { .. })
    ));
}

#[test]
fn picks_profiles_by_gateway_and_removes_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut profiles = Profiles::load(dir.path(), store.clone()).unwrap();
    let gp = Profile {
        gateway: GatewayKind::Gatepay,
        client_id: "cid".into(),
        on_behalf_of: "1".into(),
        ..cny_profile("GP")
    };
    profiles
        .save(gp, &[(SecretKind::GatepaySecret, Secret::new("s"))], false)
        .unwrap();
    profiles.save(cny_profile("CNY"), &[], false).unwrap();
    assert_eq!(
        profiles.pick(None, GatewayKind::Cny).unwrap().unwrap().name,
        "CNY"
    );
    assert_eq!(
        profiles
            .pick(None, GatewayKind::Gatepay)
            .unwrap()
            .unwrap()
            .name,
        "GP"
    );
    assert!(matches!(
        profiles.save(cny_profile("CNY"), &[], false),
        Err(ProfileError::Exists(_))
    ));
    assert!(matches!(
        profiles.save(cny_profile("a:b"), &[], false),
        Err(ProfileError::BadName)
    ));
    profiles.remove("GP").unwrap();
    assert!(
        store
            .get("GP", SecretKind::GatepaySecret)
            .unwrap()
            .is_none()
    );
    assert_eq!(profiles.active_name(), Some("CNY"));
}

#[test]
fn a_profile_exports_and_imports_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = cny_profile("Acme");
    p.brand = Brand::preset("bank-code").unwrap();
    p.brand.paths.payouts_query = "gateway/api/v1/payouts".into();
    let path = dir.path().join("acme.toml");
    fs::write(&path, export_profile(&p).unwrap()).unwrap();
    assert_eq!(import_profile(&path, None).unwrap(), p);
    assert_eq!(import_profile(&path, Some("Copy")).unwrap().name, "Copy");
}

#[test]
fn an_imported_file_with_a_secret_or_too_large_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = export_profile(&cny_profile("Acme")).unwrap();
    let path = dir.path().join("p.toml");
    for extra in [
        "md5_key = \"abc\"\n",
        "auth_token = \"t\"\n",
        "[brand]\nsecret = 1\n",
    ] {
        fs::write(&path, format!("{extra}{text}")).unwrap();
        assert!(
            matches!(
                import_profile(&path, None),
                Err(ProfileError::SecretInFile { .. })
            ),
            "{extra}"
        );
    }
    let big = format!("{text}\n# {}\n", "x".repeat(70_000));
    fs::write(&path, big).unwrap();
    assert!(matches!(
        import_profile(&path, None),
        Err(ProfileError::FileTooLarge { .. })
    ));
}

#[test]
fn a_broken_file_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.toml"), "profiles = 3").unwrap();
    let err = Profiles::load(dir.path(), Arc::new(MemoryStore::default()))
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a valid profiles file"));
}

const TEAM_URL: &str = "postgres://alice@db.example.com/paydesk?sslmode=verify-full";

#[test]
fn a_team_journal_address_is_saved_and_its_password_kept_in_the_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut profiles = Profiles::load(dir.path(), store.clone()).unwrap();
    let p = Profile {
        team_journal: Some(format!("  {TEAM_URL} ")),
        ..cny_profile("Team")
    };
    profiles
        .save(
            p,
            &[(
                SecretKind::TeamJournalPassword,
                Secret::new("TEAM-PW-VERY-SECRET"),
            )],
            false,
        )
        .unwrap();
    let text = fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(text.contains("team_journal = \"postgres://alice@db.example.com"));
    assert!(!text.contains("VERY-SECRET"), "{text}");
    let reloaded = Profiles::load(dir.path(), store.clone()).unwrap();
    let team = reloaded.get("Team").unwrap();
    assert_eq!(team.team_journal.as_deref(), Some(TEAM_URL), "trimmed");
    let url = team.team_journal_url().unwrap().unwrap();
    assert_eq!(url.target(), "alice@db.example.com:5432/paydesk");
    assert_eq!(
        reloaded
            .secret("Team", SecretKind::TeamJournalPassword)
            .unwrap()
            .expose(),
        "TEAM-PW-VERY-SECRET"
    );
    let exported = export_profile(team).unwrap();
    assert!(exported.contains(TEAM_URL) && !exported.contains("VERY-SECRET"));
    assert_eq!(
        SecretKind::TeamJournalPassword.label(),
        "Team journal password"
    );
}

#[test]
fn a_team_journal_address_with_a_password_is_never_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut profiles = Profiles::load(dir.path(), Arc::new(MemoryStore::default())).unwrap();
    for bad in [
        "postgres://alice:hunter2@db.example.com/paydesk",
        "postgres://alice@db.example.com/paydesk?password=hunter2",
        "mysql://alice@db/x",
    ] {
        let p = Profile {
            team_journal: Some(bad.to_owned()),
            ..cny_profile("Team")
        };
        let err = profiles.save(p, &[], false).unwrap_err();
        assert!(
            matches!(err, ProfileError::TeamJournal { .. }),
            "{bad}: {err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    assert!(!dir.path().join("config.toml").exists(), "nothing written");
    // A shared profile file is held to the same rule.
    let path = dir.path().join("shared.toml");
    let text = export_profile(&cny_profile("Shared")).unwrap();
    fs::write(
        &path,
        format!("team_journal = \"postgres://alice:hunter2@db/x\"\n{text}"),
    )
    .unwrap();
    let err = import_profile(&path, None).unwrap_err();
    assert!(
        err.to_string().contains("team_journal") && !err.to_string().contains("hunter2"),
        "{err}"
    );
    fs::write(&path, format!("team_journal = \"{TEAM_URL}\"\n{text}")).unwrap();
    assert_eq!(
        import_profile(&path, None).unwrap().team_journal.as_deref(),
        Some(TEAM_URL)
    );
}

#[test]
fn dropping_the_team_journal_or_the_profile_removes_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mut profiles = Profiles::load(dir.path(), store.clone()).unwrap();
    let with_team = || Profile {
        team_journal: Some(TEAM_URL.to_owned()),
        ..cny_profile("Team")
    };
    let password = [(SecretKind::TeamJournalPassword, Secret::new("pw"))];
    profiles.save(with_team(), &password, false).unwrap();
    // Saved again without a new password: the keyring keeps the one it has.
    profiles.save(with_team(), &[], true).unwrap();
    assert!(
        store
            .get("Team", SecretKind::TeamJournalPassword)
            .unwrap()
            .is_some()
    );
    profiles.save(cny_profile("Team"), &[], true).unwrap();
    assert!(
        store
            .get("Team", SecretKind::TeamJournalPassword)
            .unwrap()
            .is_none()
    );
    profiles.save(with_team(), &password, true).unwrap();
    profiles.remove("Team").unwrap();
    assert!(
        store
            .get("Team", SecretKind::TeamJournalPassword)
            .unwrap()
            .is_none()
    );
}
