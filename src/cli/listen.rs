//! `paydesk listen`: receive CNY withdraw notifications and GatePay payout callbacks until
//! SIGINT or SIGTERM, printing one JSON line per notification.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use paydesk::clock::SystemClock;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::credentials::{Need, process_env, resolve_cny};
use paydesk::domain::listener::{
    AllowList, Cidr, CnySide, GatePaySide, Listener, MAX_BODY_BYTES, serve,
};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::http::HttpSettings;
use tokio::sync::mpsc;

use super::gatepay::client as gatepay_client;
use super::load_profiles;
use super::orders::cny_client;
use crate::ListenArgs;

pub async fn run(
    args: &ListenArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let bind: IpAddr = args
        .bind
        .parse()
        .with_context(|| format!("--bind {} is not an IP address", args.bind))?;
    let allow = AllowList(
        args.allow_ip
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<_, _>>()?,
    );
    let journal = Arc::new(Mutex::new(super::payout::open_journal_for(
        profile,
        paydesk::domain::profiles::GatewayKind::Cny,
    )?));
    let clock = Arc::new(SystemClock);
    let mut notes = Vec::new();

    // Each gateway is served when its credentials resolve; the other is refused.
    let cny = match cny_client(profile, Need::All, http) {
        Ok(client) => {
            let key = client
                .config()
                .md5_key
                .clone()
                .context("the CNY profile has no MD5 key: notifications cannot be verified")?;
            let options = client.config().sign_options;
            notes.push(format!("CNY merchant {}", client.config().platform_id));
            Some(CnySide {
                key,
                options,
                desk: Some(PayoutDesk::new(Arc::clone(&journal), client, clock.clone())),
            })
        }
        Err(full) => {
            let profiles = load_profiles()?;
            let key_only = resolve_cny(&process_env, profiles.as_ref(), profile, Need::SigningKey)
                .ok()
                .and_then(|c| c.md5_key.map(|k| (k, c.sign_options)));
            if let Some((key, options)) = key_only {
                notes.push("CNY (record only: no full profile)".to_owned());
                Some(CnySide {
                    key,
                    options,
                    desk: None,
                })
            } else {
                notes.push(format!("no CNY ({full:#})"));
                None
            }
        }
    };
    let gatepay = match gatepay_client(profile, http) {
        Ok(client) => {
            notes.push(format!("GatePay client {}", client.config().client_id));
            Some(GatePaySide {
                secret: client.config().secret.clone(),
                desk: Some(BatchDesk::new(Arc::clone(&journal), client, clock.clone())),
            })
        }
        Err(e) => {
            notes.push(format!("no GatePay ({e:#})"));
            None
        }
    };
    if cny.is_none() && gatepay.is_none() {
        bail!(
            "neither gateway is configured: {}; add a profile (paydesk profile add) or set the PAYDESK_* variables",
            notes.join("; ")
        );
    }
    let (tx, mut rx) = mpsc::channel(256);
    let handle = serve(
        SocketAddr::new(bind, args.port),
        Listener {
            cny,
            gatepay,
            journal,
            clock,
            allow: allow.clone(),
            max_body: MAX_BODY_BYTES,
        },
        tx,
    )
    .await?;
    eprintln!(
        "paydesk listen: receiving notifications on http://{}/ ({}); accepting from {}; each is recorded in the journal before it is acknowledged; Ctrl+C stops it",
        handle.addr,
        notes.join("; "),
        allow.describe()
    );
    let stop = super::sandbox::wait_for_stop();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            event = rx.recv() => {
                let Some(event) = event else { break };
                let line = serde_json::to_string(&event)?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")?;
                out.flush()?;
            }
        }
    }
    handle.stop().await;
    Ok(ExitCode::SUCCESS)
}
