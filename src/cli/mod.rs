//! The subcommands: each reads its input, calls the library, prints, and maps the outcome to
//! an exit code, defined once below.

mod approval;
mod export;
mod gatepay;
mod gatepay_approval;
pub mod gatepay_args;
mod journal;
mod listen;
mod orders;
mod output;
mod payout;
mod profile;
pub use profile::ProfileAddArgs;
mod reconcile;
mod sandbox;
mod team;
mod verify;

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use paydesk::domain::profiles::{KeyringStore, Profiles, config_dir};
use paydesk::gateway::http::HttpSettings;

pub use reconcile::ReconcileArgs;
pub use sandbox::LedgerArgs;
pub use team::{MigrateArgs, TeamSetupArgs};

use crate::{BenchCommand, Command, GatepayCommand, SignCommand, VerifyCommand};

// The exit codes, everywhere (the README's table says the same):
//
// | code | payouts and batches (`payout create/retry/import/reconcile`, `gatepay create/reconcile`) | other commands |
// |------|-------------------------------------------------------------------|----------------|
// | 0    | accepted (an import: every row accepted; a reconcile: nothing left unknown or unverified) | success |
// | 1    | refused by the gateway, nothing created (an import: some refused, none unknown or unsent) | negative verdict (invalid signature) |
// | 2    | error, and nothing was sent                                        | error |
// | 3    | outcome unknown: something may have been sent and is not settled (an import: any row unknown, unverified or not sent yet; any error after a send) | – |
// | 4    | held for a second operator's approval on a team journal (or rejected by one): nothing was sent | – |
//
// A bookkeeping failure after a send never changes the code: it is printed beside the outcome.

/// Exit code of an accepted payout or batch, or of any command that succeeded.
pub const EXIT_ACCEPTED: u8 = 0;
/// Exit code of a refusal by the gateway (nothing created), or of a negative verdict.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code of a negative verdict (an invalid signature).
pub const EXIT_INVALID: u8 = EXIT_REFUSED;
/// Exit code of an error with nothing sent (unreadable input, missing key, refused check).
pub const EXIT_ERROR: u8 = 2;
/// Exit code of an outcome not known: something may have been sent and is not settled yet.
pub const EXIT_UNKNOWN: u8 = 3;
/// Exit code of a payout recorded on a team journal and held for a second operator's
/// approval (or rejected by one): nothing was sent.
pub const EXIT_HELD: u8 = 4;

/// An error after something may have been sent: exit 3, never 2.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct AfterSend(pub anyhow::Error);

pub async fn run(command: Command, profile: Option<String>, timeout_secs: u64) -> ExitCode {
    let http = HttpSettings {
        timeout_secs,
        ..HttpSettings::default()
    };
    let profile = profile.as_deref();
    let result = match command {
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Orders(args) => orders::run(&args, profile, http).await,
        Command::Balance => orders::balance(profile, http).await,
        Command::Verify(VerifyCommand::Cny {
            file,
            explain,
            json,
        }) => verify::cny(file.as_deref(), profile, explain, json),
        Command::Verify(VerifyCommand::Gatepay {
            timestamp,
            nonce,
            signature,
            file,
            json,
        }) => verify::gatepay(
            file.as_deref(),
            profile,
            &timestamp,
            &nonce,
            &signature,
            json,
        ),
        Command::Sign(SignCommand::Cny { file }) => verify::sign_cny(file.as_deref(), profile),
        Command::Gatepay(GatepayCommand::Batch {
            batch_id,
            status,
            tz,
            format,
        }) => gatepay::batch(&batch_id, &status, &tz, format, profile, http).await,
        Command::Gatepay(GatepayCommand::Create {
            batch_id,
            file,
            yes,
            duplicates,
        }) => gatepay::create(&batch_id, &file, yes, &duplicates, profile, http).await,
        Command::Gatepay(GatepayCommand::Reconcile) => gatepay::reconcile(profile, http).await,
        Command::Gatepay(GatepayCommand::List { format }) => gatepay::list(format, profile, http),
        Command::Gatepay(GatepayCommand::Pending { format }) => {
            gatepay_approval::pending(format == "json", profile, http)
        }
        Command::Gatepay(GatepayCommand::Approve { batch_id, reason }) => {
            gatepay_approval::approve(&batch_id, reason.as_deref(), profile, http).await
        }
        Command::Gatepay(GatepayCommand::Reject { batch_id, reason }) => {
            gatepay_approval::reject(&batch_id, &reason, profile, http)
        }
        Command::Gatepay(GatepayCommand::Suborders {
            from,
            to,
            status,
            tz,
            format,
        }) => gatepay::suborders(&from, &to, status.as_deref(), &tz, format, profile, http).await,
        Command::Listen(args) => listen::run(&args, profile, http).await,
        Command::Profile(cmd) => profile::run(cmd, http).await,
        Command::Export(args) => export::run(&args, profile, http).await,
        Command::Reconcile(args) => reconcile::run(&args, profile, http).await,
        Command::Payout(cmd) => payout::run(cmd, profile, http).await,
        Command::Journal(cmd) => journal::run(cmd),
        Command::Bench(BenchCommand::Export {
            orders,
            latency_ms,
            rows,
        }) => crate::bench::export(orders, latency_ms, rows)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Team { operators, rows }) => {
            crate::bench_team::run(&operators, rows)
                .await
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Reconcile { orders }) => crate::bench_reconcile::run(&orders)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Console { rows, frames }) => {
            crate::bench::console(&rows, frames.max(20));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is::<AfterSend>() => {
            eprintln!("error: {e:#}");
            eprintln!("something may have been sent: the outcome is unknown until it is checked");
            ExitCode::from(EXIT_UNKNOWN)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The profiles file with the OS keyring behind it, when a config directory exists.
pub fn load_profiles() -> anyhow::Result<Option<Profiles>> {
    let Some(dir) = config_dir() else {
        return Ok(None);
    };
    Ok(Some(Profiles::load(&dir, Arc::new(KeyringStore))?))
}

/// Reads FILE, or standard input when no file (or `-`) is given.
pub fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    if let Some(path) = file.filter(|f| f.as_os_str() != "-") {
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("cannot read standard input")?;
    Ok(buf)
}
