//! `paydesk journal team-setup|migrate`: set up a team journal on PostgreSQL as its owner,
//! and carry a desktop journal into it. The owner's password is asked on the terminal, never
//! echoed or kept; for automation, PAYDESK_TEAM_PASSWORD, as the gateways' secrets have theirs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::credentials::process_env;
use paydesk::domain::journal::team::connect::{connect, off_runtime};
use paydesk::domain::journal::team::migrate::{MigrateOptions, MigrationOutcome, migrate};
use paydesk::domain::journal::team::{TeamJournal, TeamUrl, install_schema};
use paydesk::domain::journal::{AuditCheck, journal_path};
use paydesk::domain::profiles::data_dir;
use paydesk::money::{CryptoAmount, Fen, Zero};
use paydesk::secret::Secret;

/// Copy a desktop journal into a team journal on PostgreSQL, as the team journal's owner, in
/// one transaction: every CNY payout with its sends and checks, every GatePay batch (one being
/// sent becomes unknown, to be looked up) and the audit chain, checked before and after.
/// Refused, with nothing copied: a broken chain, a payout or batch whose ID the team journal
/// holds for a different one, a journal a Paydesk has open. A second run copies nothing. The
/// owner's password is asked on the terminal (or PAYDESK_TEAM_PASSWORD).
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// The team journal: postgres://OWNER@HOST[:PORT]/DATABASE[?sslmode=…], no password.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The desktop journal to copy (default: the data directory's).
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// Check everything and report what would be copied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Set up a team journal on PostgreSQL (as the role that will own it) and, with --merchant,
/// the merchant's four-eyes rule; prints what operators' roles need. Safe to run again. The
/// owner's password is asked on the terminal (or PAYDESK_TEAM_PASSWORD).
#[derive(clap::Args, Debug)]
pub struct TeamSetupArgs {
    /// postgres://OWNER@HOST[:PORT]/DATABASE[?sslmode=…], no password.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The group role whose members are the operators (created if missing).
    #[arg(long, default_value = "paydesk_operators", value_name = "ROLE")]
    pub operators: String,
    /// Payouts of AMOUNT yuan and more need approval by a second operator.
    #[arg(
        long,
        value_name = "AMOUNT",
        requires = "merchant",
        conflicts_with = "approve_all"
    )]
    pub approve_above: Option<String>,
    /// Every payout needs approval by a second operator.
    #[arg(long, requires = "merchant")]
    pub approve_all: bool,
    /// The merchant (its platform_id) the rule is for.
    #[arg(long, value_name = "PLATFORM_ID")]
    pub merchant: Option<String>,
    /// GatePay batches whose total in CURRENCY is AMOUNT or more need approval by a second
    /// operator ("10000 USDT"; one rule per currency, run again for another).
    #[arg(
        long,
        value_name = "AMOUNT CURRENCY",
        requires = "gatepay_client",
        conflicts_with = "batch_approve_all"
    )]
    pub batch_approve_above: Option<String>,
    /// Every GatePay batch needs approval by a second operator.
    #[arg(long, requires = "gatepay_client")]
    pub batch_approve_all: bool,
    /// The GatePay client (its client_id) the batch rule is for.
    #[arg(long, value_name = "CLIENT_ID")]
    pub gatepay_client: Option<String>,
}

/// The team journal owner's password, for automation (as PAYDESK_CNY_MD5_KEY is the key's).
pub const ENV_TEAM_PASSWORD: &str = "PAYDESK_TEAM_PASSWORD";

/// The owner's connection, with the password from the environment or typed on the terminal
/// (nothing typed: none, for a server that asks none, such as a local socket).
fn connect_owner(url: &TeamUrl) -> anyhow::Result<(postgres::Client, Option<Secret>)> {
    let password = if let Some(p) = process_env(ENV_TEAM_PASSWORD) {
        Some(Secret::new(p))
    } else {
        let prompt = format!("Password of {} (Enter: none): ", url.target());
        let typed = rpassword::prompt_password(prompt).with_context(|| {
            format!("the password cannot be asked on this terminal; set {ENV_TEAM_PASSWORD}")
        })?;
        (!typed.is_empty()).then(|| Secret::new(typed))
    };
    Ok((connect(url, password.as_ref())?, password))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `paydesk journal team-setup`. Off the runtime as a whole: the blocking PostgreSQL client
/// may neither run nor be dropped on a runtime's thread.
pub fn setup(args: &TeamSetupArgs) -> anyhow::Result<ExitCode> {
    off_runtime(|| setup_here(args))
}

/// A batch rule as typed: `(currency or None for every batch, threshold)`.
type BatchRule = (Option<String>, CryptoAmount);

fn batch_rule(args: &TeamSetupArgs) -> anyhow::Result<Option<(BatchRule, String)>> {
    let rule = match (&args.batch_approve_above, args.batch_approve_all) {
        (Some(text), _) => {
            let mut parts = text.split_whitespace();
            let (Some(amount), Some(currency), None) = (parts.next(), parts.next(), parts.next())
            else {
                bail!(
                    "--batch-approve-above {text:?}: give an amount and a currency, as \"10000 USDT\""
                );
            };
            let amount = CryptoAmount::parse_payout(amount)
                .with_context(|| format!("--batch-approve-above {text:?}"))?;
            let currency = currency.to_uppercase();
            if !paydesk::gateway::gatepay::wire::is_currency_code(&currency) {
                bail!("--batch-approve-above {text:?}: {currency:?} is not a currency code");
            }
            Some((Some(currency), amount))
        }
        (None, true) => Some((None, CryptoAmount::parse_wire("0")?)),
        (None, false) => None,
    };
    match (rule, args.gatepay_client.as_deref().map(str::trim)) {
        (Some(r), Some(c)) if !c.is_empty() => Ok(Some((r, c.to_owned()))),
        (Some(_), _) => {
            bail!("--gatepay-client names the GatePay client (its client_id) the rule is for")
        }
        (None, Some(_)) => {
            bail!(
                "--gatepay-client goes with --batch-approve-above \"AMOUNT CURRENCY\" or --batch-approve-all"
            )
        }
        (None, None) => Ok(None),
    }
}

fn setup_here(args: &TeamSetupArgs) -> anyhow::Result<ExitCode> {
    let url = TeamUrl::parse(&args.url)?;
    let operators = args.operators.as_str();
    let threshold = match (args.approve_above.as_deref(), args.approve_all) {
        (Some(text), _) => Some(
            Fen::parse_yuan(text, Zero::Refused)
                .with_context(|| format!("--approve-above {text:?}"))?,
        ),
        (None, true) => Some(Fen::ZERO),
        (None, false) => None,
    };
    let rule = match (threshold, args.merchant.as_deref()) {
        (Some(t), Some(m)) if !m.trim().is_empty() => Some((t, m.trim())),
        (Some(_), _) => bail!("--merchant names the merchant (its platform_id) the rule is for"),
        (None, Some(_)) => bail!("--merchant goes with --approve-above AMOUNT or --approve-all"),
        (None, None) => None,
    };
    let batch = batch_rule(args)?;
    let (mut client, password) = connect_owner(&url)?;
    let installed = install_schema(&mut client, operators)?;
    let (database, group): (String, String) = client
        .query_one(
            "SELECT current_database()::text,
                    (SELECT value FROM paydesk.meta WHERE key = 'operators')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .context("reading the team journal's settings")?;
    if installed {
        eprintln!(
            "the team journal is set up in {database} (owner {})",
            url.user()
        );
    } else {
        eprintln!("the team journal in {database} was set up already: left as it is");
    }
    if group != operators {
        eprintln!("its operators' role is {group} (set when it was first set up)");
    }
    if let Some((threshold, merchant)) = rule {
        let journal = TeamJournal::open(&url, password.as_ref())?;
        let what = if threshold == Fen::ZERO {
            format!("{merchant}: every payout needs approval by a second operator")
        } else {
            format!(
                "{merchant}: payouts of {threshold} and more need approval by a second operator"
            )
        };
        let before = journal.approval_rule(merchant)?;
        if before.is_some_and(|r| r.threshold == threshold) {
            eprintln!("{what} (set already)");
        } else {
            journal.set_approval_rule(merchant, Some(threshold))?;
            journal.audit(Some(merchant), "approval rule set", &what)?;
            eprintln!("{what}");
        }
    }
    if let Some(((currency, threshold), client_id)) = &batch {
        let journal = TeamJournal::open(&url, password.as_ref())?;
        let what = match currency {
            None => format!(
                "GatePay client {client_id}: every batch needs approval by a second operator"
            ),
            Some(c) => format!(
                "GatePay client {client_id}: batches of {threshold} {c} and more need approval by a second operator"
            ),
        };
        let set = journal
            .batch_approval_rules(client_id)?
            .into_iter()
            .any(|r| {
                r.currency == *currency
                    && CryptoAmount::parse_wire(&r.threshold).is_ok_and(|t| t == *threshold)
            });
        if set {
            eprintln!("{what} (set already)");
        } else {
            journal.set_batch_approval_rule(client_id, currency.as_deref(), Some(threshold))?;
            journal.audit(Some(client_id), "batch approval rule set", &what)?;
            eprintln!("{what}");
        }
    }
    let grants = [
        "CREATE ROLE alice LOGIN PASSWORD 'ask-alice-to-choose';".to_owned(),
        format!("GRANT {group} TO alice;"),
        format!(
            "GRANT CONNECT ON DATABASE {} TO {group};",
            quoted(&database)
        ),
    ];
    eprintln!(
        "Each operator connects as a role of their own, a member of {group} (run as a role allowed \
         to create roles; `\\password alice` in psql sets a password without it being shown):"
    );
    for g in &grants {
        eprintln!("  {g}");
    }
    println!(
        "{}",
        serde_json::json!({
            "installed": installed,
            "database": database,
            "operators": group,
            "rule": rule.map(|(t, m)| serde_json::json!({"merchant": m, "threshold_fen": t.fen()})),
            "batch_rule": batch.as_ref().map(|((c, t), client)| serde_json::json!({
                "gatepay_client": client, "currency": c, "threshold": t.to_string()})),
            "grants": grants,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn chain(check: AuditCheck) -> String {
    match check {
        AuditCheck::Intact(n) => format!("{n} entries, intact"),
        AuditCheck::BrokenAt(id) => format!("BROKEN at entry {id}"),
    }
}

/// `paydesk journal migrate` (off the runtime, as `setup`).
pub fn migrate_to(to: &str, from: Option<&Path>, dry_run: bool) -> anyhow::Result<ExitCode> {
    off_runtime(|| migrate_here(to, from, dry_run))
}

fn migrate_here(to: &str, from: Option<&Path>, dry_run: bool) -> anyhow::Result<ExitCode> {
    let url = TeamUrl::parse(to)?;
    let source = match from {
        Some(f) => f.to_path_buf(),
        None => journal_path(
            &data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?,
        ),
    };
    if !source.is_file() {
        bail!("there is no desktop journal at {}", source.display());
    }
    let (mut client, _password) = connect_owner(&url)?;
    let r = migrate(
        &source,
        &mut client,
        MigrateOptions {
            now: SystemClock.now_secs(),
            dry_run,
        },
    )?;
    let l = &r.left_in_desktop;
    match r.outcome {
        MigrationOutcome::NothingToMigrate => {
            eprintln!(
                "{}: no payouts and no audit entries, nothing to migrate",
                source.display()
            );
        }
        MigrationOutcome::AlreadyMigrated => eprintln!(
            "{} (source {}) is in the team journal already: its {} payout(s) and {} GatePay batch(es) are there; \
             nothing was written",
            source.display(),
            r.source_id,
            r.payouts_already_there,
            r.batches_already_there
        ),
        MigrationOutcome::Migrated | MigrationOutcome::DryRun => {
            let (verb, note) = if r.outcome == MigrationOutcome::DryRun {
                ("would be copied", " (dry run: nothing was written)")
            } else {
                ("copied", "")
            };
            eprintln!(
                "{} (source {}) into {}: {} payout(s) {verb} with {} send(s) and check(s), {} already there; \
                 {} GatePay batch(es) {verb}, {} already there; {} audit entries{note}",
                source.display(),
                r.source_id,
                url.target(),
                r.payouts_copied,
                r.attempts_copied,
                r.payouts_already_there,
                r.batches_copied,
                r.batches_already_there,
                r.audit_entries_copied
            );
            let mid_send = r.sending_made_unknown + r.batches_made_unknown;
            if mid_send > 0 {
                eprintln!(
                    "{} payout(s) and {} batch(es) were being sent: they are unknown now. The team profile's \
                     background check (or `paydesk payout reconcile`, `paydesk gatepay reconcile`) looks each \
                     up at the gateway before anything else is done with it",
                    r.sending_made_unknown, r.batches_made_unknown
                );
            }
            let held = r.awaiting_approval + r.batches_awaiting_approval;
            if held > 0 {
                eprintln!(
                    "{} queued payout(s) and {} queued batch(es) need approval by a second operator before they \
                     are sent",
                    r.awaiting_approval, r.batches_awaiting_approval
                );
            }
        }
    }
    eprintln!(
        "audit chains: the desktop's {}; its copy {}; the team's {}",
        chain(r.source_chain),
        chain(r.migrated_chain),
        chain(r.team_chain)
    );
    eprintln!(
        "left in the desktop journal: {} notification(s), {} restore gap(s); send nothing more from it: use \
         the team journal",
        l.notifications, l.restore_gaps
    );
    println!("{}", serde_json::to_string(&r)?);
    Ok(ExitCode::SUCCESS)
}
