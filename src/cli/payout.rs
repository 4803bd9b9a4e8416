//! `paydesk payout`: create, import, reconcile, retry and list CNY payouts, every one
//! journaled before it is sent.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use paydesk::clock::SystemClock;
use paydesk::domain::bulk::plan;
use paydesk::domain::credentials::Need;
use paydesk::domain::duplicates::{Confirmation, DuplicateReport, DuplicateWindow, HoldError};
use paydesk::domain::journal::{Entry, ListFilter, State, UNVERIFIED_MEANING, journal_path};
use paydesk::domain::payouts::{NOT_FOUND_GRACE_SECS, PayoutDesk, ReconcileReport, Sent};
use paydesk::domain::profiles::{GatewayKind, banks_for, config_dir, data_dir};
use paydesk::gateway::cny::banks::find_bank;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::gateway::http::HttpSettings;
use paydesk::money::{Fen, Zero};
use serde_json::json;

pub(crate) use super::journal::{daily_copy, open_journal_for};
use super::orders::cny_client;
use super::output::{Column, table};
use super::{AfterSend, EXIT_ACCEPTED, EXIT_ERROR, EXIT_REFUSED, EXIT_UNKNOWN};
use crate::{DuplicateArgs, PayoutArgs, PayoutCommand};

pub(crate) fn desk(profile: Option<&str>, http: HttpSettings) -> anyhow::Result<PayoutDesk> {
    let client = cny_client(profile, Need::All, http)?;
    let journal = Arc::new(Mutex::new(open_journal_for(profile, GatewayKind::Cny)?));
    let mut desk = PayoutDesk::new(journal, client, Arc::new(SystemClock));
    desk.not_found_grace_secs = not_found_grace_secs();
    Ok(desk)
}

/// How long an unanswered send waits before "not found" means "never created":
/// `PAYDESK_NOT_FOUND_GRACE_SECS`, else the default (both desks).
pub(crate) fn not_found_grace_secs() -> i64 {
    std::env::var("PAYDESK_NOT_FOUND_GRACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(NOT_FOUND_GRACE_SECS)
}

/// Shows what stays for the operator to read in red when stderr is a terminal.
pub(crate) fn red(text: &str) -> String {
    if std::io::stderr().is_terminal() {
        format!("\x1b[31m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Reports a bookkeeping failure after a send: beside the outcome, never in its place.
pub(crate) fn report_bookkeeping(error: Option<&str>) {
    if let Some(e) = error {
        eprintln!(
            "{}",
            red(&format!(
                "bookkeeping error (the outcome above stands): {e}"
            ))
        );
    }
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

/// The duplicate window: `--duplicate-window-days`, else `PAYDESK_DUPLICATE_WINDOW_DAYS`, else 7.
pub(crate) fn duplicate_window(flag: Option<u32>) -> anyhow::Result<DuplicateWindow> {
    Ok(DuplicateWindow::resolve(flag, |k| std::env::var(k).ok())?)
}

/// An import file as read from disk (bounded), with the operator's duplicate flags.
pub(crate) struct ImportFile {
    pub window: DuplicateWindow,
    pub confirmation: Confirmation,
    pub bytes: Vec<u8>,
    pub name: String,
}

/// The import file name that means standard input.
pub(crate) const STDIN_NAME: &str = "-";

/// Reads an import file within the size limit and the duplicate flags that go with it; `-`
/// reads standard input (CSV, or XLSX known by its bytes), bounded by the same limit.
pub(crate) fn read_import(file: &Path, duplicates: &DuplicateArgs) -> anyhow::Result<ImportFile> {
    let window = duplicate_window(duplicates.duplicate_window_days)?;
    let limits = paydesk::domain::sheet::Limits::configured();
    let (bytes, name) = if file == Path::new(STDIN_NAME) {
        if std::io::stdin().is_terminal() {
            bail!(
                "`-` reads the file from standard input: pipe it in (paydesk payout import - --yes < pay.csv)"
            );
        }
        let bytes =
            paydesk::domain::sheet::read_stream(std::io::stdin().lock(), "standard input", &limits)
                .map_err(anyhow::Error::msg)?;
        (bytes, "standard input".to_owned())
    } else {
        let bytes = paydesk::domain::sheet::read_file(file, &limits).map_err(anyhow::Error::msg)?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (bytes, name)
    };
    Ok(ImportFile {
        window,
        confirmation: Confirmation::from_flags(
            duplicates.allow_duplicates,
            duplicates.allow_duplicate.iter().cloned(),
        ),
        bytes,
        name,
    })
}

/// Nothing was sent: the likely duplicates are listed with how to confirm them.
pub(crate) fn refuse_held(report: &DuplicateReport, single: bool) -> anyhow::Result<ExitCode> {
    eprintln!("{}", report.refusal());
    eprintln!(
        "{}",
        if single {
            "To send it anyway, run again with --allow-duplicate."
        } else {
            "To send them anyway, confirm each by name with --allow-duplicate ID (repeat the flag), \
             or all with --allow-duplicates."
        }
    );
    println!(
        "{}",
        serde_json::to_string(&json!({ "sent": 0, "held_back": report }))?
    );
    Ok(ExitCode::from(EXIT_ERROR))
}

pub(crate) fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "payout_cl_id": e.payout_cl_id,
        "state": e.state,
        "state_meaning": e.describe(),
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
        "batch_id": e.import_id,
        "unverified": e.unverified().then_some(UNVERIFIED_MEANING),
        "origin": e.origin,
        "team": e.team,
    })
}

pub(crate) fn sent_json(s: &Sent) -> serde_json::Value {
    let mut out = entry_json(&s.entry);
    out["bookkeeping_error"] = json!(s.bookkeeping_error);
    out
}

/// The exit code of one CNY payout after a send, a retry or an approval: held for approval
/// is not unknown (nothing was sent).
pub(crate) fn exit_for_payout(e: &Entry) -> ExitCode {
    if e.held_for_approval() {
        return ExitCode::from(super::EXIT_HELD);
    }
    exit_for(e.state)
}

/// The exit code of one payout or GatePay batch after a send or a retry.
pub(crate) fn exit_for(state: State) -> ExitCode {
    match state {
        State::Accepted => ExitCode::from(EXIT_ACCEPTED),
        State::Rejected => ExitCode::from(EXIT_REFUSED),
        // Not created at the gateway after a send: nothing was paid, it may be sent again.
        State::NotCreated => ExitCode::from(EXIT_REFUSED),
        State::Unknown | State::Sending | State::Queued => ExitCode::from(EXIT_UNKNOWN),
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
    let window = duplicate_window(args.duplicate_window_days)?;
    let desk = desk(profile, http)?;
    // Whatever it matches when it is sent, as documented for `--allow-duplicate`.
    let allowed = Confirmation::from_flags(args.allow_duplicate, []);
    // What the send would hold back, the gateway's payouts after a restored copy included,
    // so that the operator is told before being asked.
    let duplicates = desk.review_duplicates(&request, window, &allowed).await?;
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
    if !duplicates.is_clear() {
        return refuse_held(&duplicates, true);
    }
    for h in &duplicates.held {
        eprintln!("warning: {}", h.describe());
    }
    let question = super::approval::question_for(&desk, &request)?;
    if !confirm(question, args.yes)? {
        eprintln!("not sent");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let sent = match desk
        .submit_unless_duplicate(&request, window, &allowed)
        .await
    {
        Ok((sent, _)) => sent,
        Err(HoldError::Held(report)) => return refuse_held(&report, true),
        Err(HoldError::Other(e)) => return Err(e.into()),
    };
    daily_copy(&paydesk::lock_unpoisoned(&desk.journal), true);
    let mut out = sent_json(&sent);
    out["amount_capital"] = json!(amount.capital_numerals());
    out["likely_duplicates"] = json!(
        duplicates
            .held
            .iter()
            .flat_map(|h| &h.earlier)
            .filter_map(|e| match e {
                paydesk::domain::duplicates::Earlier::Journal(p) => Some(p.payout_cl_id.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    );
    println!("{}", serde_json::to_string(&out)?);
    report_bookkeeping(sent.bookkeeping_error.as_deref());
    Ok(exit_for_payout(&sent.entry))
}

async fn import(
    file: &Path,
    yes: bool,
    duplicates: &DuplicateArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let import = read_import(file, duplicates)?;
    let desk = desk(profile, http)?;
    let existing = |id: &str| {
        paydesk::lock_unpoisoned(&desk.journal)
            .get(&desk.merchant, id)
            .ok()
            .flatten()
            .map(|e| e.import_id)
    };
    let banks =
        banks_for(config_dir().as_deref(), profile.unwrap_or("")).map_err(anyhow::Error::msg)?;
    let plan = match plan(&import.name, import.bytes, &banks, existing) {
        Ok(p) => p,
        Err(errors) => return Ok(refuse_rows(&errors)),
    };
    eprintln!(
        "{} payouts, total {} ({}), batch {}",
        plan.len(),
        plan.total,
        plan.total.capital_numerals(),
        plan.import_id
    );
    if let Some(before) = desk.imported_before(&plan)? {
        eprintln!("{before}");
    }
    if !yes {
        // At a terminal, the operator learns of held rows before being asked.
        let held = desk
            .review_plan_duplicates(&plan, import.window, &import.confirmation)
            .await?;
        if !held.is_clear() {
            return refuse_held(&held, false);
        }
    }
    if !confirm("Send them all?", yes)? {
        eprintln!("not sent");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    // Records the rows and the operator's confirmations; a failure here sent nothing.
    let added = match desk
        .enqueue_plan_unless_duplicate(&plan, import.window, &import.confirmation)
        .await
    {
        Ok((added, held)) => {
            if held.held_total > 0 {
                eprintln!(
                    "{} likely duplicate(s) confirmed by name and sent anyway",
                    held.held_total
                );
            }
            added
        }
        Err(HoldError::Held(report)) => return refuse_held(&report, false),
        Err(HoldError::Other(e)) => return Err(e.into()),
    };
    if added < plan.len() {
        eprintln!(
            "resuming batch {}: {} of its payouts were recorded before",
            plan.import_id,
            plan.len() - added
        );
    }
    let terminal = std::io::stderr().is_terminal();
    let to_send =
        paydesk::lock_unpoisoned(&desk.journal).import_to_send(&desk.merchant, &plan.import_id)?;
    let elsewhere = to_send.iter().filter_map(|e| desk.elsewhere(e)).count();
    if elsewhere > 0 {
        eprintln!(
            "{}",
            red(&format!(
                "{elsewhere} row(s) of this import were recorded for another gateway address: they are not sent through this one (use a profile for that address)"
            ))
        );
    }
    let stop = AtomicBool::new(false);
    let sent_now = std::sync::atomic::AtomicUsize::new(0);
    let run = desk
        .run_import(&plan, &stop, |n, total, e| {
            sent_now.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    if run.checked_first > 0 {
        eprintln!(
            "checked {} earlier payouts with the gateway first",
            run.checked_first
        );
    }
    daily_copy(&paydesk::lock_unpoisoned(&desk.journal), true);
    let sent_any = sent_now.load(std::sync::atomic::Ordering::Relaxed) > 0;
    let (bookkeeping, send_error) = (run.bookkeeping_errors, run.stopped);
    let standing = match desk.import_standing(&plan.import_id) {
        Ok(s) => s,
        // Rows may have left: whatever failed now, the outcome is not known here.
        Err(e) if sent_any => return Err(AfterSend(e.into()).into()),
        Err(e) => return Err(e.into()),
    };
    eprintln!("{standing}");
    let summary = &standing.summary;
    let mut out = serde_json::to_value(&standing)?;
    out["bookkeeping_error"] = json!((!bookkeeping.is_empty()).then(|| bookkeeping.join("; ")));
    out["error"] = json!(send_error.as_ref().map(ToString::to_string));
    println!("{}", serde_json::to_string(&out)?);
    for b in &bookkeeping {
        report_bookkeeping(Some(b));
    }
    if summary.unverified > 0 {
        eprintln!(
            "{}",
            red(&format!(
                "{} payout(s): {UNVERIFIED_MEANING}",
                summary.unverified
            ))
        );
    }
    if let Some(e) = send_error {
        eprintln!("error: {e}");
        if !sent_any {
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    }
    if standing.has_elsewhere() {
        // Not this run's to settle: nothing sent by it at all is 2; otherwise those rows are
        // not settled by this run, like rows not sent yet.
        let own_open = summary.unknown + summary.not_sent + summary.unverified > 0;
        return Ok(ExitCode::from(if !sent_any && !own_open {
            EXIT_ERROR
        } else {
            EXIT_UNKNOWN
        }));
    }
    Ok(import_exit(summary))
}

/// An import's exit code: 3 while anything is unknown, unverified or not sent; else 4 while
/// rows wait for a second operator's approval (team journal); else 1 when any row was
/// refused; else 0.
fn import_exit(s: &paydesk::domain::payouts::ImportSummary) -> ExitCode {
    if s.unknown + s.not_sent + s.unverified > 0 {
        ExitCode::from(EXIT_UNKNOWN)
    } else if s.held_for_approval > 0 {
        ExitCode::from(super::EXIT_HELD)
    } else if s.rejected > 0 {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Checks every unknown and unfinished payout at once (whatever the background backoff
/// says); with `--wait-secs`, what the gateway could not answer is asked again every second
/// until nothing is unknown or the time is up.
async fn reconcile(
    wait_secs: u64,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait_secs);
    let mut first = true;
    let mut total = ReconcileReport::default();
    let mut passes = 0u32;
    loop {
        let report = desk.reconcile_now(first).await?;
        first = false;
        passes += 1;
        eprintln!("{}", serde_json::to_string(&report)?);
        total.checked += report.checked;
        total.found += report.found;
        total.not_created += report.not_created;
        total.status_updates += report.status_updates;
        let entries = paydesk::lock_unpoisoned(&desk.journal).list(&ListFilter {
            merchant: Some(desk.merchant.clone()),
            ..ListFilter::default()
        })?;
        let unknown = entries
            .iter()
            .filter(|e| matches!(e.state, State::Unknown | State::Sending))
            .count();
        // Another address's payouts are not waited for: only a profile for it can settle them.
        let unknown_here = entries
            .iter()
            .filter(|e| matches!(e.state, State::Unknown | State::Sending))
            .filter(|e| desk.elsewhere(e).is_none())
            .count();
        let unverified: Vec<&Entry> = entries.iter().filter(|e| e.unverified()).collect();
        let done = unknown == 0 && unverified.is_empty();
        let settled_here = unknown_here == 0 && unverified.is_empty();
        if done || settled_here || std::time::Instant::now() >= deadline {
            for note in report.other_origin_notes() {
                eprintln!("{}", red(&note));
            }
            for e in &unverified {
                eprintln!(
                    "{}",
                    red(&format!(
                        "{}: {UNVERIFIED_MEANING} ({})",
                        e.payout_cl_id,
                        e.state.describe()
                    ))
                );
            }
            println!(
                "{}",
                json!({
                    "unknown": unknown,
                    "unverified": unverified.len(),
                    "passes": passes,
                    "checked": total.checked,
                    "found": total.found,
                    "not_created": total.not_created,
                    "status_updates": total.status_updates,
                    "other_origins": report.other_origins,
                    "last_errors": report.errors,
                })
            );
            return Ok(if done {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_UNKNOWN)
            });
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn retry(
    cl_id: &str,
    allow_duplicate: bool,
    window_days: Option<u32>,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let window = duplicate_window(window_days)?;
    let desk = desk(profile, http)?;
    let sent = desk.retry_confirmed(cl_id, window, allow_duplicate).await?;
    println!("{}", serde_json::to_string(&sent_json(&sent))?);
    report_bookkeeping(sent.bookkeeping_error.as_deref());
    Ok(exit_for_payout(&sent.entry))
}

fn list(json_out: bool, state: Option<&str>, profile: Option<&str>) -> anyhow::Result<ExitCode> {
    let state = state
        .map(|s| State::parse(s).with_context(|| format!("unknown state {s}")))
        .transpose()?;
    let path = journal_path(
        &data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?,
    );
    // Where the payouts shown were read: the team journal's server, or this desktop's file.
    let mut source = path.display().to_string();
    let (entries, refused) = match open_journal_for(profile, GatewayKind::Cny) {
        Ok(journal) => {
            if let Some(team) = journal.team() {
                source = format!(
                    "the team journal {} (signed in as {})",
                    team.url().target(),
                    team.role()
                );
            }
            (
                journal.list(&ListFilter {
                    state,
                    ..ListFilter::default()
                })?,
                false,
            )
        }
        // A team journal that cannot be opened is not stood in for by this desktop's file.
        Err(e) if super::journal::uses_team_journal(profile, GatewayKind::Cny) => return Err(e),
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
        Column::left("Merchant order ID", 32),
        Column::right("Amount", 20),
        Column::left("Recipient", 12),
        Column::left("Account", 16),
        Column::left("State", 12),
        Column::left("Payout ID", 16),
        Column::left("Gateway status", 14),
        Column::left("Detail", 48),
    ];
    print!(
        "{}",
        table(&columns, &entries, |e| {
            vec![
                e.payout_cl_id.clone(),
                e.amount.yuan_grouped(),
                e.recipient_name.clone(),
                e.account_masked.clone(),
                e.state.as_str().to_owned(),
                e.payout_id.clone().unwrap_or_default(),
                e.gateway_status_label.clone().unwrap_or_default(),
                if e.unverified() {
                    UNVERIFIED_MEANING.to_owned()
                } else if e.held_for_approval() {
                    e.describe()
                } else {
                    e.reject_code
                        .as_ref()
                        .map(|c| format!("{c} {}", e.reject_meaning.as_deref().unwrap_or("")))
                        .or_else(|| e.unknown_why.clone())
                        .unwrap_or_default()
                },
            ]
        })
    );
    println!("{} payouts in {source}", entries.len());
    let unverified = entries.iter().filter(|e| e.unverified()).count();
    if unverified > 0 {
        eprintln!(
            "{}",
            red(&format!("{unverified} payout(s): {UNVERIFIED_MEANING}"))
        );
    }
    Ok(exit)
}

pub async fn run(
    cmd: PayoutCommand,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    match cmd {
        PayoutCommand::Create(args) => create(args, profile, http).await,
        PayoutCommand::Import {
            file,
            yes,
            duplicates,
        } => import(&file, yes, &duplicates, profile, http).await,
        PayoutCommand::Reconcile { wait_secs } => reconcile(wait_secs, profile, http).await,
        PayoutCommand::Retry {
            cl_id,
            allow_duplicate,
            duplicate_window_days,
        } => {
            retry(
                &cl_id,
                allow_duplicate,
                duplicate_window_days,
                profile,
                http,
            )
            .await
        }
        PayoutCommand::List { format, state } => list(format == "json", state.as_deref(), profile),
        PayoutCommand::Pending { format } => {
            super::approval::pending(format == "json", profile, http)
        }
        PayoutCommand::Approve { cl_id, reason } => {
            super::approval::approve(&cl_id, reason.as_deref(), profile, http).await
        }
        PayoutCommand::Reject { cl_id, reason } => {
            super::approval::reject(&cl_id, &reason, profile, http)
        }
    }
}
