//! `paydesk payout`: create, import, reconcile, retry and list CNY payouts, every one
//! journaled before it is sent.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::bulk::plan;
use paydesk::domain::credentials::Need;
use paydesk::domain::journal::{Entry, Journal, ListFilter, State, journal_path};
use paydesk::domain::payouts::{NOT_FOUND_GRACE_SECS, PayoutDesk};
use paydesk::domain::profiles::{banks_for, config_dir, data_dir};
use paydesk::gateway::cny::banks::find_bank;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::http::HttpSettings;
use paydesk::money::{Fen, Zero};
use serde_json::json;

use super::orders::cny_client;
use super::output::{Column, table};
use super::{EXIT_ERROR, EXIT_INVALID};
use crate::{PayoutArgs, PayoutCommand};

/// Exit code of a payout whose outcome is still unknown (being checked).
pub const EXIT_UNKNOWN: u8 = 3;

pub(crate) fn open_journal() -> anyhow::Result<Journal> {
    let dir = data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?;
    let journal = Journal::open(&journal_path(&dir))?;
    daily_copy(&journal, false);
    Ok(journal)
}

/// The rolling copy of a healthy journal (once a day, and again after sending); a failure
/// is reported, not fatal: the journal itself is fine.
pub(crate) fn daily_copy(journal: &Journal, after_send: bool) {
    let keep = std::env::var("PAYDESK_JOURNAL_BACKUP_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(paydesk::domain::journal::DEFAULT_BACKUP_DAYS);
    if let Err(e) = journal.rolling_backup(keep, after_send) {
        eprintln!("warning: the daily copy of the journal was not made: {e}");
    }
}

fn desk(profile: Option<&str>, http: HttpSettings) -> anyhow::Result<PayoutDesk> {
    let client = cny_client(profile, Need::All, http)?;
    let journal = Arc::new(Mutex::new(open_journal()?));
    let mut desk = PayoutDesk::new(journal, client, Arc::new(SystemClock));
    desk.not_found_grace_secs = std::env::var("PAYDESK_NOT_FOUND_GRACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(NOT_FOUND_GRACE_SECS);
    Ok(desk)
}

pub(crate) fn actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".to_owned())
}

fn audit(desk: &PayoutDesk, action: &str, detail: &str) -> anyhow::Result<()> {
    paydesk::lock_unpoisoned(&desk.journal).audit(
        &actor(),
        action,
        detail,
        SystemClock.now_secs(),
    )?;
    Ok(())
}

/// Lists every problem of an imported file; nothing was sent.
pub(crate) fn refuse_rows(errors: &[paydesk::domain::bulk::RowError]) -> ExitCode {
    eprintln!("{} problem(s); nothing was sent:", errors.len());
    for e in errors {
        eprintln!("  {e}");
    }
    ExitCode::from(EXIT_ERROR)
}

pub(crate) fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("not sent: pass --yes to confirm when not at a terminal");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "payout_cl_id": e.payout_cl_id,
        "state": e.state,
        "state_meaning": e.state.describe(),
        "payout_id": e.payout_id,
        "amount_yuan": e.amount.yuan_plain(),
        "bank_name": e.bank_name,
        "recipient": e.recipient_name,
        "account": e.account_masked,
        "reject_code": e.reject_code,
        "reject_meaning": e.reject_meaning,
        "reject_message": e.reject_message,
        "unknown_why": e.unknown_why,
        "gateway_status": e.gateway_status,
        "gateway_status_label": e.gateway_status_label,
        "final": e.is_final,
        "attempts": e.attempts,
        "batch_id": e.batch_id,
    })
}

fn exit_for(e: &Entry) -> ExitCode {
    match e.state {
        State::Accepted => ExitCode::SUCCESS,
        State::Rejected | State::NotCreated => ExitCode::from(EXIT_INVALID),
        _ => ExitCode::from(EXIT_UNKNOWN),
    }
}

async fn create(
    args: PayoutArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let amount = Fen::parse_yuan(&args.amount, Zero::Refused).context("--amount")?;
    let banks =
        banks_for(config_dir().as_deref(), profile.unwrap_or("")).map_err(anyhow::Error::msg)?;
    let bank = find_bank(&banks, &args.bank)
        .with_context(|| format!("--bank: “{}” is not in the bank list", args.bank))?;
    let request = PayoutRequest {
        payout_cl_id: args
            .cl_id
            .unwrap_or_else(paydesk::domain::payouts::new_payout_cl_id),
        amount,
        bank_name: bank.bank_name.clone(),
        name: args.name,
        number: args.number,
        bank_branch: args.branch,
        province: args.province,
        city: args.city,
        notify_url: args.notify_url,
    };
    let problems = request.validate();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let desk = desk(profile, http)?;
    let duplicates = desk.likely_duplicates(&request)?;
    eprintln!(
        "Payout {} of {} ({} = {} fen) to {} at {} account {}",
        request.payout_cl_id,
        amount,
        amount.capital_numerals(),
        amount.fen(),
        request.name,
        request.bank_name,
        paydesk::domain::journal::mask_account(&request.number)
    );
    for d in &duplicates {
        eprintln!(
            "warning: likely duplicate of {} ({} to the same account, {})",
            d.payout_cl_id,
            d.amount,
            d.state.describe()
        );
    }
    if !confirm("Send it?", args.yes)? {
        eprintln!("not sent");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let entry = desk.submit(&request).await?;
    daily_copy(&paydesk::lock_unpoisoned(&desk.journal), true);
    audit(
        &desk,
        "payout submitted",
        &format!(
            "{} {} to {} ({})",
            entry.payout_cl_id,
            entry.amount,
            entry.account_masked,
            entry.state.as_str()
        ),
    )?;
    let mut out = entry_json(&entry);
    out["amount_capital"] = json!(amount.capital_numerals());
    out["likely_duplicates"] = json!(
        duplicates
            .iter()
            .map(|d| d.payout_cl_id.clone())
            .collect::<Vec<_>>()
    );
    println!("{}", serde_json::to_string(&out)?);
    Ok(exit_for(&entry))
}

async fn import(
    file: &Path,
    yes: bool,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let desk = desk(profile, http)?;
    let existing = |id: &str| {
        paydesk::lock_unpoisoned(&desk.journal)
            .get(&desk.merchant, id)
            .ok()
            .flatten()
            .is_some()
    };
    let banks =
        banks_for(config_dir().as_deref(), profile.unwrap_or("")).map_err(anyhow::Error::msg)?;
    let plan = match plan(&name, &bytes, &banks, existing) {
        Ok(p) => p,
        Err(errors) => return Ok(refuse_rows(&errors)),
    };
    eprintln!(
        "{} payouts, total {} ({}), batch {}",
        plan.rows.len(),
        plan.total,
        plan.total.capital_numerals(),
        plan.batch_id
    );
    if !confirm("Send them all?", yes)? {
        eprintln!("not sent");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let added = desk.enqueue_batch(&plan)?;
    if added < plan.rows.len() {
        eprintln!(
            "resuming batch {}: {} of its payouts were recorded before",
            plan.batch_id,
            plan.rows.len() - added
        );
    }
    audit(
        &desk,
        "bulk payouts confirmed",
        &format!(
            "batch {} from {name}: {} payouts, {}",
            plan.batch_id,
            plan.rows.len(),
            plan.total
        ),
    )?;
    // Whatever a previous run left mid-send is settled before anything more is sent.
    let report = desk.reconcile(true).await?;
    if report.checked > 0 {
        eprintln!(
            "checked {} earlier payouts with the gateway first",
            report.checked
        );
    }
    let total = plan.rows.len();
    let terminal = std::io::stderr().is_terminal();
    let done = std::sync::atomic::AtomicUsize::new(
        total
            - paydesk::lock_unpoisoned(&desk.journal)
                .batch_to_send(&desk.merchant, &plan.batch_id)?
                .len(),
    );
    let stop = AtomicBool::new(false);
    desk.send_batch(&plan.batch_id, &stop, |e| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if terminal {
            eprint!(
                "\r{n}/{total} sent, last {} {}          ",
                e.payout_cl_id,
                e.state.as_str()
            );
        }
    })
    .await?;
    if terminal {
        eprintln!();
    }
    daily_copy(&paydesk::lock_unpoisoned(&desk.journal), true);
    let summary = desk.batch_summary(&plan.batch_id)?;
    eprintln!("{summary}");
    println!("{}", serde_json::to_string(&summary)?);
    Ok(if summary.unknown + summary.not_sent > 0 {
        ExitCode::from(EXIT_UNKNOWN)
    } else {
        ExitCode::SUCCESS
    })
}

async fn reconcile(
    wait_secs: u64,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait_secs);
    let mut first = true;
    loop {
        let report = desk.reconcile(first).await?;
        first = false;
        eprintln!("{}", serde_json::to_string(&report)?);
        let unknown = paydesk::lock_unpoisoned(&desk.journal)
            .list(&ListFilter {
                merchant: Some(desk.merchant.clone()),
                state: Some(State::Unknown),
                ..ListFilter::default()
            })?
            .len();
        if unknown == 0 {
            println!("{}", json!({"unknown": 0}));
            return Ok(ExitCode::SUCCESS);
        }
        if std::time::Instant::now() >= deadline {
            println!("{}", json!({"unknown": unknown}));
            return Ok(ExitCode::from(EXIT_UNKNOWN));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn retry(cl_id: &str, profile: Option<&str>, http: HttpSettings) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let entry = desk.retry(cl_id).await?;
    audit(
        &desk,
        "payout retried",
        &format!("{} ({})", entry.payout_cl_id, entry.state.as_str()),
    )?;
    println!("{}", serde_json::to_string(&entry_json(&entry))?);
    Ok(exit_for(&entry))
}

fn list(json_out: bool, state: Option<&str>) -> anyhow::Result<ExitCode> {
    let state = state
        .map(|s| State::parse(s).with_context(|| format!("unknown state {s}")))
        .transpose()?;
    let path = journal_path(
        &data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?,
    );
    let (entries, refused) = match open_journal() {
        Ok(journal) => (
            journal.list(&ListFilter {
                state,
                ..ListFilter::default()
            })?,
            false,
        ),
        // A refused journal still shows what reads; nothing can be sent with it.
        Err(e) => {
            let (read, unreadable) = paydesk::domain::journal::read_what_reads(&path);
            eprintln!("error: {e:#}");
            eprintln!(
                "showing the {} payout(s) that still read ({unreadable} could not be read)",
                read.len()
            );
            let shown = read
                .into_iter()
                .filter(|e| state.is_none_or(|s| e.state == s))
                .collect();
            (shown, true)
        }
    };
    let exit = if refused {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    };
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&entries.iter().map(entry_json).collect::<Vec<_>>())?
        );
        return Ok(exit);
    }
    let columns = [
        Column {
            header: "Merchant order ID",
            right: false,
            max: 32,
        },
        Column {
            header: "Amount",
            right: true,
            max: 20,
        },
        Column {
            header: "Recipient",
            right: false,
            max: 12,
        },
        Column {
            header: "Account",
            right: false,
            max: 16,
        },
        Column {
            header: "State",
            right: false,
            max: 12,
        },
        Column {
            header: "Payout ID",
            right: false,
            max: 16,
        },
        Column {
            header: "Gateway status",
            right: false,
            max: 14,
        },
        Column {
            header: "Detail",
            right: false,
            max: 48,
        },
    ];
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.payout_cl_id.clone(),
                e.amount.yuan_grouped(),
                e.recipient_name.clone(),
                e.account_masked.clone(),
                e.state.as_str().to_owned(),
                e.payout_id.clone().unwrap_or_default(),
                e.gateway_status_label.clone().unwrap_or_default(),
                e.reject_code
                    .as_ref()
                    .map(|c| format!("{c} {}", e.reject_meaning.as_deref().unwrap_or("")))
                    .or_else(|| e.unknown_why.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table(&columns, &rows));
    println!("{} payouts in {}", entries.len(), path.display());
    Ok(exit)
}

pub async fn run(
    cmd: PayoutCommand,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    match cmd {
        PayoutCommand::Create(args) => create(args, profile, http).await,
        PayoutCommand::Import { file, yes } => import(&file, yes, profile, http).await,
        PayoutCommand::Reconcile { wait_secs } => reconcile(wait_secs, profile, http).await,
        PayoutCommand::Retry { cl_id } => retry(&cl_id, profile, http).await,
        PayoutCommand::List { format, state } => list(format == "json", state.as_deref()),
    }
}
