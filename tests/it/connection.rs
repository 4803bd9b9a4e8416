//! "Test connection" against the sandbox: the one probe the CLI and the console share.

use paydesk::domain::connection::{ConnectionError, ConnectionReport, test_connection};
use paydesk::domain::profiles::{GatewayKind, Profile, SecretKind};
use paydesk::gateway::cny::SignOptions;
use paydesk::sandbox::{SandboxConfig, SandboxHandle};
use paydesk::secret::Secret;

use crate::common::{http, sandbox};

fn profile(sb: &SandboxHandle, gateway: GatewayKind) -> Profile {
    Profile {
        name: "probe".into(),
        gateway,
        base_url: sb.base_url().to_owned(),
        platform_id: sb.info.cny.platform_id.clone(),
        client_id: sb.info.gatepay.client_id.clone(),
        on_behalf_of: sb.info.gatepay.on_behalf_of.clone(),
        live: false,
        sign: SignOptions::default(),
        brand: paydesk::gateway::cny::Brand::default(),
        team_journal: None,
    }
}

#[tokio::test]
async fn test_connection_proves_both_gateways_credentials() {
    let sb = sandbox(SandboxConfig::default()).await;
    let cny = [(SecretKind::AuthToken, sb.info.cny.auth_token.clone())];
    let report = test_connection(&profile(&sb, GatewayKind::Cny), &cny, http(10))
        .await
        .unwrap();
    assert!(
        matches!(report, ConnectionReport::Cny { ref platform_id, .. } if *platform_id == sb.info.cny.platform_id),
        "{report:?}"
    );
    let gp = [(SecretKind::GatepaySecret, sb.info.gatepay.secret.clone())];
    let report = test_connection(&profile(&sb, GatewayKind::Gatepay), &gp, http(10))
        .await
        .unwrap();
    assert!(
        matches!(
            report,
            ConnectionReport::GatePay {
                batch_found: false,
                ..
            }
        ),
        "{report:?}"
    );
}

#[tokio::test]
async fn test_connection_refuses_a_wrong_or_missing_secret() {
    let sb = sandbox(SandboxConfig::default()).await;
    let wrong = [(SecretKind::GatepaySecret, Secret::new("not-the-secret"))];
    let err = test_connection(&profile(&sb, GatewayKind::Gatepay), &wrong, http(10))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectionError::GatePay(_)), "{err:?}");
    let err = test_connection(&profile(&sb, GatewayKind::Cny), &[], http(10))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectionError::MissingSecret {
                kind: SecretKind::AuthToken,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A wrong MD5 key used to read "Connected": the query answers, but every order it sent
/// fails its signature, so every later reply would show as invalid.
#[tokio::test]
async fn test_connection_refuses_an_md5_key_that_verifies_nothing() {
    let sb = sandbox(SandboxConfig::default()).await;
    let token = (SecretKind::AuthToken, sb.info.cny.auth_token.clone());
    let wrong = [
        token.clone(),
        (SecretKind::Md5Key, Secret::new("not-the-key")),
    ];
    let err = test_connection(&profile(&sb, GatewayKind::Cny), &wrong, http(10))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectionError::SignaturesFail { checked } if checked > 1),
        "{err:?}"
    );
    assert!(err.to_string().contains("check the MD5 key"), "{err}");
    let right = [token, (SecretKind::Md5Key, sb.info.cny.md5_key.clone())];
    test_connection(&profile(&sb, GatewayKind::Cny), &right, http(10))
        .await
        .unwrap();
}
