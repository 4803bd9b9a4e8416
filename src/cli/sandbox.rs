//! `paydesk sandbox`: serve both gateways until SIGINT or SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use paydesk::money::{Fen, Zero};
use paydesk::sandbox::{Faults, SandboxBrand, SandboxConfig, start};

use crate::SandboxArgs;

pub async fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let faults = Faults::parse(&args.faults).context("--faults")?;
    let balance = Fen::parse_yuan(&args.balance, Zero::Allowed).context("--balance")?;
    let config = SandboxConfig {
        port: args.port,
        seed: args.seed,
        deposits: args.deposits,
        payouts: args.payouts,
        settle_secs: args.settle_secs,
        latency_ms: args.latency_ms,
        faults,
        stall_ms: args.stall_ms,
        notify_retry_ms: args.notify_retry_ms,
        arrivals_per_sec: args.arrivals_per_sec,
        anchor_secs: args.anchor,
        balance_fen: balance.fen(),
        brand: SandboxBrand::parse(&args.brand)
            .with_context(|| format!("--brand: no brand is named '{}'", args.brand))?,
        gatepay_notify_url: args.gatepay_notify_url,
    };
    let handle = start(config).await?;
    let line = serde_json::to_string(&handle.info)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    eprintln!(
        "paydesk sandbox: seeded {} deposits and {} payouts in {:.2} s",
        args.deposits,
        args.payouts,
        handle.seeded_in.as_secs_f64()
    );
    eprintln!(
        "paydesk sandbox: serving the CNY gateway (brand {}) and GatePay on {} (demo data, no real money); Ctrl+C stops it",
        args.brand,
        handle.base_url()
    );
    wait_for_stop().await;
    handle.stop().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
pub(crate) async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
pub(crate) async fn wait_for_stop() {
    let _ = tokio::signal::ctrl_c().await;
}
