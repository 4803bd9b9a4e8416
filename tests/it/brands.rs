//! The CNY brand variants end to end over real HTTP: the sandbox playing each brand, and a
//! client set up by its profile's brand settings (bank field, API paths) searching, paying
//! with each bank field and reading the balance; request bodies built by hand as real clients
//! build them, accepted or refused as the platform documents.

use crate::common;

use std::sync::Arc;

use common::*;
use paydesk::clock::SystemClock;
use paydesk::domain::banks::{default_banks, find_bank};
use paydesk::domain::credentials::{Need, resolve_cny};
use paydesk::domain::profiles::{
    GatewayKind, MemoryStore, Profile, Profiles, SecretKind, export_profile, import_profile,
};
use paydesk::gateway::cny::sign::{SignOptions, UPPER_CASE_WARNING};
use paydesk::gateway::cny::wire::{
    CreateOutcome, OrderKind, OrderQuery, PayoutRequest, parse_query_reply,
};
use paydesk::gateway::cny::{BankField, Brand, CnyClient, CnyError};
use paydesk::money::Fen;
use paydesk::sandbox::{SandboxBrand, SandboxConfig, SandboxHandle};
use paydesk::secret::Secret;
use serde_json::Value;

fn config(brand: SandboxBrand) -> SandboxConfig {
    SandboxConfig {
        brand,
        ..small_config()
    }
}

fn client(sb: &SandboxHandle, brand: Brand) -> CnyClient {
    let mut c = cny_config(sb);
    c.brand = brand;
    CnyClient::new(c, Arc::new(SystemClock)).unwrap()
}

fn payout(cl_id: &str, bank: &str) -> PayoutRequest {
    PayoutRequest {
        payout_cl_id: cl_id.to_owned(),
        amount: Fen::from_fen(123_456),
        // The operator may type any spelling; the list's text is what a request carries.
        bank_name: find_bank(&default_banks(), bank).unwrap().bank_name.clone(),
        name: "王小头".to_owned(),
        number: "6216 6674 5167 4374".to_owned(),
        bank_branch: None,
        province: None,
        city: None,
        notify_url: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_brand_searches_pays_with_each_bank_field_and_reads_its_balance() {
    for brand in SandboxBrand::ALL {
        let sb = sandbox(config(brand)).await;
        let settings = brand.client_brand();
        let deposits = client(&sb, settings.clone())
            .query(OrderKind::Deposit, &OrderQuery::default())
            .await
            .unwrap();
        assert_eq!(deposits.orders.len(), 25, "{brand:?}");
        for o in &deposits.orders {
            // Tampered seed orders are invalid on purpose; every other one reads exactly.
            if !o.signature.is_invalid() {
                assert!(
                    o.amount.is_some() && o.create_time_secs.is_some(),
                    "{brand:?}"
                );
            }
        }
        for (i, field) in BankField::ALL.into_iter().enumerate() {
            let client = client(
                &sb,
                Brand {
                    bank_field: field,
                    ..settings.clone()
                },
            );
            let cl_id = format!("brand_{}_{i}", brand.name().replace('-', "_"));
            let prepared = client.prepare_payout(&payout(&cl_id, "工商银行")).unwrap();
            let body: Value = serde_json::from_slice(&prepared.body).unwrap();
            let sent = body[field.key()].as_str().unwrap();
            assert_eq!(
                sent,
                ["中国工商银行", "ICBC", "BK0003"][i],
                "{brand:?} {field:?}"
            );
            for other in BankField::ALL.into_iter().filter(|f| *f != field) {
                assert!(body.get(other.key()).is_none(), "only {field:?} is sent");
            }
            let outcome = client.send_payout(&prepared).await;
            assert!(
                matches!(outcome, CreateOutcome::Accepted { .. }),
                "{brand:?} {field:?}: {outcome:?}"
            );
            let found = client.find_payout(&cl_id).await.unwrap();
            let order = &found.orders[0];
            assert_eq!(order.signature.word(), "valid", "{brand:?}");
            assert_eq!(order.amount, Some(Fen::from_fen(123_456)), "{brand:?}");
            assert!(order.create_time_secs.is_some());
            if brand == SandboxBrand::V1Paths {
                let raw = order.raw();
                assert_eq!(raw["amount"], "1234.560000");
                assert!(raw["create_time"].as_str().unwrap().ends_with("+08:00"));
            }
        }
        let created = sb.created_payouts();
        assert_eq!(created.len(), 3);
        assert!(created.iter().all(|c| c.bank_name == "中国工商银行"));
        let fields: Vec<&str> = created.iter().map(|c| c.bank_fields[0].as_str()).collect();
        assert_eq!(fields, ["bank_name", "bank_code", "bank_id"]);
        let balance = client(&sb, settings.clone()).balance().await.unwrap();
        let spent: i64 = 3 * (123_456 + paydesk::sandbox::data::fee_fen(123_456));
        assert_eq!(
            balance.balance,
            Some(Fen::from_fen(small_config().balance_fen - spent)),
            "{brand:?}"
        );
        let word = if brand == SandboxBrand::BankCode {
            "not signed"
        } else {
            "valid"
        };
        assert_eq!(balance.signature_word(), word, "{brand:?}");
        sb.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_paths_brand_is_reached_only_through_the_profile_paths() {
    let sb = sandbox(config(SandboxBrand::V1Paths)).await;
    let seed_client = client(&sb, Brand::default());
    let err = seed_client
        .query(OrderKind::Payout, &OrderQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CnyError::Reply(_) | CnyError::Transport(_)),
        "{err}"
    );
    let page = client(&sb, Brand::preset("v1-paths").unwrap())
        .query(OrderKind::Payout, &OrderQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 400);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_shared_as_toml_drives_the_client_of_its_brand() {
    let sb = sandbox(config(SandboxBrand::V1Paths)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let profile = Profile {
        name: "Wutong".into(),
        gateway: GatewayKind::Cny,
        base_url: sb.base_url().to_owned(),
        platform_id: sb.info.cny.platform_id.clone(),
        client_id: String::new(),
        on_behalf_of: String::new(),
        live: false,
        sign: SignOptions::default(),
        brand: Brand {
            bank_field: BankField::BankId,
            ..Brand::preset("v1-paths").unwrap()
        },
        team_journal: None,
    };
    let file = dir.path().join("wutong.toml");
    std::fs::write(&file, export_profile(&profile).unwrap()).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("bank_id") && text.contains("gateway/api/v1/payouts"),
        "{text}"
    );
    let imported = import_profile(&file, Some("Wutong copy")).unwrap();
    let mut profiles = Profiles::load(dir.path(), store).unwrap();
    profiles
        .save(
            imported,
            &[
                (SecretKind::AuthToken, sb.info.cny.auth_token.clone()),
                (SecretKind::Md5Key, sb.info.cny.md5_key.clone()),
            ],
            false,
        )
        .unwrap();
    let no_env = |_: &str| None;
    let creds = resolve_cny(&no_env, Some(&profiles), Some("Wutong copy"), Need::All).unwrap();
    let client = CnyClient::new(
        creds.client_config(http(10)).unwrap(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let prepared = client
        .prepare_payout(&payout("shared_1", "农业银行"))
        .unwrap();
    let body: Value = serde_json::from_slice(&prepared.body).unwrap();
    assert_eq!(body["bank_id"], "BK0002");
    assert!(matches!(
        client.send_payout(&prepared).await,
        CreateOutcome::Accepted { .. }
    ));
    assert_eq!(client.find_payout("shared_1").await.unwrap().total, 1);
    // A bank the list has no ID for is refused before anything is sent, never guessed.
    let err = client
        .prepare_payout(&payout("shared_2", "交通银行"))
        .unwrap_err();
    assert!(err.to_string().contains("no ID"), "{err}");
    sb.stop().await;
}

/// A create body as the real clients build it by hand: string pairs, `amount` and
/// `request_time` as strings like the published example, signed by the independent signer.
async fn post_hand_built(sb: &SandboxHandle, bank: Option<(&str, &str)>, cl_id: &str) -> Value {
    let mut pairs: Vec<(&str, String)> = vec![
        ("amount", "100000".into()),
        ("name", "王小头".into()),
        ("number", "6216667451674374".into()),
        ("payout_cl_id", cl_id.into()),
        ("platform_id", sb.info.cny.platform_id.clone()),
        (
            "request_time",
            paydesk::clock::Clock::now_secs(&SystemClock).to_string(),
        ),
        ("service_id", "SVC0004".into()),
    ];
    if let Some((k, v)) = bank {
        pairs.push((k, v.to_owned()));
    }
    let body = signed_json(&pairs, &[], sb.info.cny.md5_key.expose());
    let reply = reqwest::Client::new()
        .post(format!("{}/gateway/api/v2/payouts", sb.base_url()))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&reply).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_built_bodies_with_each_bank_field_are_judged_as_the_platform_documents() {
    for brand in SandboxBrand::ALL {
        let sb = sandbox(config(brand)).await;
        for (i, (bank, code)) in [
            (Some(("bank_code", "ICBC")), "0000"),
            (Some(("bank_id", "BK0003")), "0000"),
            (Some(("bank_name", "农业银行")), "0000"),
            (Some(("bank_name", "中国农业银行")), "0000"),
            (Some(("bank_name", "民生银行")), "0000"),
            (Some(("bank_code", "BCOM")), "0000"),
            (None, "0002"),
            (Some(("bank_code", "NOPE")), "0012"),
            (Some(("bank_id", "BK9999")), "0012"),
            (Some(("bank_name", "火星银行")), "0012"),
        ]
        .into_iter()
        .enumerate()
        {
            let reply = post_hand_built(&sb, bank, &format!("hand_{i}")).await;
            assert_eq!(reply["error_code"], code, "{brand:?} {bank:?}: {reply}");
        }
        sb.stop().await;
    }
}

#[test]
fn an_upper_case_sign_in_a_query_reply_is_valid_with_a_warning() {
    let key = "2I9Q4nExEddsH6zo";
    let pairs: Vec<(&str, String)> = vec![
        ("amount", "30000".into()),
        ("payout_id", "POT1".into()),
        ("payout_cl_id", "x1".into()),
        ("status", "3".into()),
    ];
    let order = signed_json(&pairs, &["amount", "status"], key);
    let upper = order.replace(
        &independent_md5_sign(&pairs, key),
        &independent_md5_sign(&pairs, key).to_uppercase(),
    );
    for (text, warning) in [(order, None), (upper, Some(UPPER_CASE_WARNING))] {
        let body = format!(r#"{{"error_code":"0000","data":[{text}],"total":1}}"#);
        let page = parse_query_reply(
            OrderKind::Payout,
            &OrderQuery::default(),
            200,
            body.as_bytes(),
            Some(&Secret::new(key)),
            SignOptions::default(),
        )
        .unwrap();
        let sig = &page.orders[0].signature;
        assert!(!sig.is_invalid());
        assert_eq!(sig.warning(), warning);
        let word = if warning.is_some() {
            "valid, with a warning"
        } else {
            "valid"
        };
        assert_eq!(sig.word(), word);
    }
}

/// `paydesk` with no credentials from the test's own environment and its own config dir.
fn paydesk_cmd(config_dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_paydesk"));
    for v in [
        "PAYDESK_CNY_BASE_URL",
        "PAYDESK_CNY_PLATFORM_ID",
        "PAYDESK_CNY_AUTH_TOKEN",
        "PAYDESK_CNY_MD5_KEY",
    ] {
        c.env_remove(v);
    }
    c.env("PAYDESK_CONFIG_DIR", config_dir);
    c
}

#[test]
fn the_binary_serves_a_brand_and_a_profile_of_it_is_shared_without_secrets() {
    use std::io::BufRead;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let mut child = paydesk_cmd(dir.path())
        .args([
            "sandbox",
            "--port",
            "0",
            "--deposits",
            "50",
            "--payouts",
            "30",
        ])
        .args(["--brand", "v1-paths"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let base = info["base_url"].as_str().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[[profiles]]\nname = \"Wutong\"\ngateway = \"cny\"\nbase_url = \"{base}\"\nplatform_id = \"{}\"\n\n[profiles.brand.paths]\npayouts_query = \"gateway/api/v1/payouts\"\n",
            info["cny"]["platform_id"].as_str().unwrap()
        ),
    )
    .unwrap();
    let with_secrets = |mut c: std::process::Command| {
        c.env(
            "PAYDESK_CNY_AUTH_TOKEN",
            info["cny"]["auth_token"].as_str().unwrap(),
        )
        .env(
            "PAYDESK_CNY_MD5_KEY",
            info["cny"]["md5_key"].as_str().unwrap(),
        );
        c
    };
    let mut orders = with_secrets(paydesk_cmd(dir.path()));
    orders.args([
        "--profile",
        "Wutong",
        "orders",
        "payouts",
        "--limit",
        "3",
        "--format",
        "json",
    ]);
    let out = orders.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["total"], 30);
    let amount = page["orders"][0]["amount"].as_str().unwrap();
    assert!(amount.ends_with("0000"), "a decimal string: {amount}");

    let file = dir.path().join("wutong.toml");
    let mut export = paydesk_cmd(dir.path());
    export.args(["profile", "export", "Wutong"]).arg(&file);
    let out = export.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("gateway/api/v1/payouts"), "{text}");
    assert!(!text.contains(info["cny"]["md5_key"].as_str().unwrap()));
    // A file carrying a secret is refused whole.
    std::fs::write(&file, format!("md5_key = \"abc\"\n{text}")).unwrap();
    let mut import = paydesk_cmd(dir.path());
    import.args(["profile", "import"]).arg(&file);
    let out = import.stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("looks like a secret"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_pays_by_bank_id_on_a_v1_paths_brand_from_its_profile() {
    let sb = sandbox(config(SandboxBrand::V1Paths)).await;
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[[profiles]]\nname = \"Wutong\"\ngateway = \"cny\"\nbase_url = \"{}\"\nplatform_id = \"{}\"\n\n[profiles.brand]\nbank_field = \"bank_id\"\n\n[profiles.brand.paths]\npayouts_query = \"gateway/api/v1/payouts\"\n",
            sb.base_url(),
            sb.info.cny.platform_id
        ),
    )
    .unwrap();
    let cny = &sb.info.cny;
    let command = |args: &[&str]| {
        let mut c = paydesk_cmd(&config_dir);
        c.env("PAYDESK_DATA_DIR", dir.path().join("data"))
            .env("PAYDESK_NOT_FOUND_GRACE_SECS", "0")
            .env_remove("PAYDESK_DUPLICATE_WINDOW_DAYS")
            .env("PAYDESK_CNY_AUTH_TOKEN", cny.auth_token.expose())
            .env("PAYDESK_CNY_MD5_KEY", cny.md5_key.expose())
            .args(["--profile", "Wutong"])
            .args(args);
        c
    };
    let create = command(&[
        "payout",
        "create",
        "--amount",
        "321.00",
        "--bank",
        "民生银行",
        "--name",
        "张伟",
        "--number",
        "6222020200007001",
        "--cl-id",
        "cli_brand_1",
        "--yes",
    ]);
    let out = tokio::task::spawn_blocking(move || { create }.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let created = sb.created_payouts();
    assert_eq!(created.len(), 1, "{text}");
    assert_eq!(created[0].bank_name, "中国民生银行");
    assert_eq!(created[0].bank_fields, ["bank_id"]);
    assert_eq!(created[0].amount_fen, 32_100);
    let balance = command(&["balance"]);
    let out = tokio::task::spawn_blocking(move || { balance }.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("(signature valid)"),
        "{text}"
    );
    sb.stop().await;
}

#[test]
fn a_shared_profile_with_a_plain_http_url_or_a_disguised_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.toml");
    let profile = |url: &str, name: &str| Profile {
        name: name.into(),
        gateway: GatewayKind::Cny,
        base_url: url.into(),
        platform_id: "PF0060".into(),
        client_id: String::new(),
        on_behalf_of: String::new(),
        live: true,
        sign: SignOptions::default(),
        brand: Brand::default(),
        team_journal: None,
    };
    for (url, name) in [
        ("http://evil.example.com", "Acme"),
        ("ftp://gw.example.com", "Acme"),
        ("https://user:pw@gw.example.com", "Acme"),
        ("https://gw.example.com", " "),
        ("https://gw.example.com", "Acme\u{202e}evil"),
        ("https://gw.example.com", "Acme\nLive"),
    ] {
        std::fs::write(&file, export_profile(&profile(url, name)).unwrap()).unwrap();
        let err = import_profile(&file, None).err();
        assert!(err.is_some(), "{url} {name:?} imported");
    }
    let local = profile("http://127.0.0.1:8080", "Sandbox");
    std::fs::write(&file, export_profile(&local).unwrap()).unwrap();
    assert!(
        import_profile(&file, None).is_ok(),
        "loopback HTTP, as `profile add` allows"
    );
}
