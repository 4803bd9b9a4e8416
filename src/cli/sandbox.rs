//! `paydesk sandbox`: serve both gateways until SIGINT or SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use paydesk::gateway::cny::wire::OrderKind;
use paydesk::money::{Fen, Zero};
use paydesk::sandbox::ledger::{LedgerFaults, LedgerSpec, write_ledger};
use paydesk::sandbox::{Faults, SandboxBrand, SandboxConfig, start};

use crate::{Kind, SandboxArgs};

/// `paydesk sandbox`'s flags for writing a ledger of its seeded orders.
#[derive(clap::Args, Debug)]
pub struct LedgerArgs {
    /// Also write the merchant's ledger of the seeded orders to this file (.csv or .xlsx),
    /// and the exact expected reconciliation beside it (FILE.truth.json).
    #[arg(long, requires_all = ["ledger_from", "ledger_to"])]
    pub ledger: Option<PathBuf>,
    /// Which orders the ledger books.
    #[arg(long, value_enum, default_value = "deposits")]
    pub ledger_kind: Kind,
    /// The ledger's first day (YYYY-MM-DD in --ledger-tz).
    #[arg(long)]
    pub ledger_from: Option<String>,
    /// The ledger's last day (YYYY-MM-DD in --ledger-tz).
    #[arg(long)]
    pub ledger_to: Option<String>,
    /// The zone of the ledger's dates and booking times.
    #[arg(long, default_value = "Asia/Shanghai")]
    pub ledger_tz: String,
    /// Shares of ledger rows with a difference:
    /// amount=P,status=P,missing=P,extra=P,duplicate=P,edge=P.
    #[arg(long, default_value = "")]
    pub ledger_faults: String,
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let faults = Faults::parse(&args.faults).context("--faults")?;
    let ledger = ledger_spec(&args.ledger)?;
    // A ledger is written from the seeded orders, which the anchor fixes: take it now.
    let anchor = match (args.anchor, &ledger) {
        (None, Some(_)) => Some(jiff::Timestamp::now().as_second()),
        (anchor, _) => anchor,
    };
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
        anchor_secs: anchor,
        balance_fen: balance.fen(),
        brand: SandboxBrand::parse(&args.brand)
            .with_context(|| format!("--brand: no brand is named '{}'", args.brand))?,
        gatepay_notify_url: args.gatepay_notify_url,
    };
    if let Some(spec) = &ledger {
        let config = config.clone();
        let spec = spec.clone();
        let written = tokio::task::spawn_blocking(move || write_ledger(&config, &spec))
            .await?
            .map_err(|e| anyhow::anyhow!("--ledger: {e}"))?;
        let t = &written.truth;
        eprintln!(
            "paydesk sandbox: wrote the {} ledger {} ({} rows, {} to {} in {}) and its truth {}",
            t.kind,
            written.file.display(),
            t.ledger_rows,
            t.from,
            t.to,
            t.tz,
            written.truth_file.display()
        );
        eprintln!(
            "paydesk sandbox: reconcile it with --from {} --to {} --tz {} --map '{}'",
            t.from, t.to, t.tz, written.map
        );
    }
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

fn ledger_spec(args: &LedgerArgs) -> anyhow::Result<Option<LedgerSpec>> {
    let Some(path) = &args.ledger else {
        return Ok(None);
    };
    let faults = LedgerFaults::parse(&args.ledger_faults)
        .map_err(|e| anyhow::anyhow!("--ledger-faults: {e}"))?;
    Ok(Some(LedgerSpec {
        path: path.clone(),
        kind: match args.ledger_kind {
            Kind::Deposits => OrderKind::Deposit,
            Kind::Payouts => OrderKind::Payout,
        },
        from: args
            .ledger_from
            .clone()
            .context("--ledger needs --ledger-from")?,
        to: args
            .ledger_to
            .clone()
            .context("--ledger needs --ledger-to")?,
        tz_name: args.ledger_tz.clone(),
        faults,
    }))
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
