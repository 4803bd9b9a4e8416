//! `paydesk gatepay batch|create|reconcile|list`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use paydesk::clock::{RandomNonce, SystemClock};
use paydesk::domain::batches::{
    BatchDesk, BatchEntry, BatchError, SentBatch, currency_totals, describe_totals, plan_batch_file,
};
use paydesk::domain::credentials::{process_env, resolve_gatepay};
use paydesk::domain::dates::{Bound, format_ms, parse_bound, zone};
use paydesk::domain::duplicates::HoldError;
use paydesk::domain::export::{
    AmountUnit, ExportFormat, ExportKind, Layout, found_sub_order_cells,
};
use paydesk::domain::journal::{State, sha256_hex};
use paydesk::gateway::gatepay::GatePayClient;
use paydesk::gateway::gatepay::search::status_filter;
use paydesk::gateway::gatepay::wire::{DetailStatus, SubOrder};
use paydesk::gateway::http::HttpSettings;
use paydesk::money::CryptoAmount;
use serde_json::Value;

use super::load_profiles;
use super::output::{Column, csv_line, table};
use super::payout::{confirm, read_import, red, refuse_held, refuse_rows, report_bookkeeping};
use super::{EXIT_ERROR, EXIT_UNKNOWN};
use crate::{DuplicateArgs, Format};

pub fn client(profile: Option<&str>, http: HttpSettings) -> anyhow::Result<GatePayClient> {
    let profiles = load_profiles()?;
    let config = resolve_gatepay(&process_env, profiles.as_ref(), profile, http)?;
    Ok(GatePayClient::new(
        config,
        Arc::new(SystemClock),
        Arc::new(RandomNonce),
    )?)
}

fn amount(a: Option<CryptoAmount>) -> String {
    a.map_or_else(|| "?".to_owned(), |a| a.to_string())
}

const CSV_FIELDS: &[&str] = &[
    "merchant_withdraw_id",
    "suborder_id",
    "currency",
    "chain",
    "address",
    "amount",
    "fee",
    "done_amount",
    "status",
    "tx_id",
    "err_msg",
    "create_time",
    "update_time",
    "finish_time",
];

pub async fn batch(
    batch_id: &str,
    status: &str,
    tz_name: &str,
    format: Format,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let filter = DetailStatus::parse(status).context("unknown --status")?;
    let tz = zone(tz_name)?;
    // A batch the journal holds that was never sent: GatePay knows nothing of it, so its
    // "order not found" would only mislead. (A journal that cannot be opened does not stop
    // the lookup: reading GatePay needs no journal.)
    if let Ok(desk) = desk(profile, http)
        && let Ok(Some(e)) = desk.get(batch_id)
        && e.never_sent()
    {
        eprintln!(
            "batch {batch_id} was never sent to GatePay, so GatePay has no detail of it: {}",
            e.state_words()
        );
        println!("{}", serde_json::to_string(&entry_json(&e))?);
        return Ok(ExitCode::from(super::EXIT_ERROR));
    }
    let client = client(profile, http)?;
    let detail = client
        .batch_detail(batch_id, filter)
        .await
        .with_context(|| format!("reading batch {batch_id}"))?;
    if let Some(w) = client.clock_warning() {
        eprintln!("warning: {w}");
    }
    match format {
        Format::Json => {
            let mut raw = detail.raw.clone();
            raw.insert(
                "withdraw_list".into(),
                Value::Array(
                    detail
                        .withdraw_list
                        .iter()
                        .map(|s| Value::Object(s.raw.clone()))
                        .collect(),
                ),
            );
            println!("{}", serde_json::to_string_pretty(&Value::Object(raw))?);
        }
        Format::Csv => {
            let header: Vec<String> = CSV_FIELDS.iter().map(|s| (*s).to_owned()).collect();
            println!("{}", csv_line(&header));
            for s in &detail.withdraw_list {
                let row: Vec<String> = CSV_FIELDS
                    .iter()
                    .map(|f| paydesk::gateway::cny::wire::field_text(&s.raw, f))
                    .collect();
                println!("{}", csv_line(&row));
            }
        }
        Format::Table => {
            println!(
                "Batch {}  status {} ({})  merchant {}  client {}  created {}",
                detail.batch_id,
                detail.status,
                detail.status.meaning(),
                detail.merchant_id,
                detail.client_id,
                detail
                    .create_time_ms
                    .map(|t| format_ms(t, &tz))
                    .unwrap_or_default()
            );
            print!("{}", sub_order_table(&detail.withdraw_list, &tz));
            println!(
                "{} sub-order(s) shown (filter {}) · times in {tz_name}",
                detail.withdraw_list.len(),
                filter.as_str()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `paydesk gatepay suborders`: the sub-order search by time, every page.
pub async fn suborders(
    from: &str,
    to: &str,
    status: Option<&str>,
    tz_name: &str,
    format: Format,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let tz = zone(tz_name)?;
    let from_ms = parse_bound(from, &tz, Bound::Start).context("--from")? * 1000;
    let to_ms = parse_bound(to, &tz, Bound::End).context("--to")? * 1000 + 999;
    let (status, audit) = status_filter(status);
    let client = client(profile, http)?;
    let found = client
        .search_suborders(from_ms, to_ms, status, audit)
        .await
        .context("searching sub-orders")?;
    match format {
        Format::Json => {
            let list: Vec<Value> = found
                .iter()
                .map(|f| Value::Object(f.sub.raw.clone()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        Format::Csv => {
            // The console's export of the same search: one definition of its columns.
            let kind = ExportKind::SubOrdersByDate;
            let layout = Layout {
                kind,
                format: ExportFormat::Csv,
                columns: kind.default_columns(),
                tz: tz.clone(),
                tz_name: tz_name.to_owned(),
                unit: AmountUnit::default(),
            };
            // Keys for a header, as every CSV this command family prints.
            println!("{}", csv_line(&layout.columns));
            for f in &found {
                let row: Vec<String> = found_sub_order_cells(f, &layout.columns)
                    .iter()
                    .map(|c| layout.csv_text(c))
                    .collect();
                println!("{}", csv_line(&row));
            }
        }
        Format::Table => {
            let subs: Vec<SubOrder> = found.iter().map(|f| f.sub.clone()).collect();
            print!("{}", sub_order_table(&subs, &tz));
            println!(
                "{} sub-order(s) created {} to {} · times in {tz_name}",
                found.len(),
                format_ms(from_ms, &tz),
                format_ms(to_ms, &tz)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sub_order_table(list: &[SubOrder], tz: &jiff::tz::TimeZone) -> String {
    let columns = [
        Column::left("Merchant withdraw ID", 32),
        Column::left("Currency", 8),
        Column::left("Chain", 8),
        Column::left("Address", 44),
        Column::right("Amount", 24),
        Column::right("Fee", 16),
        Column::left("Status", 10),
        Column::left("Updated", 23),
        Column::left("Error", 40),
    ];
    table(&columns, list, |s| {
        vec![
            s.merchant_withdraw_id.clone(),
            s.currency.clone(),
            s.chain.clone(),
            s.address.clone(),
            amount(s.amount),
            amount(s.fee),
            s.status.to_string(),
            s.update_time_ms
                .map(|t| format_ms(t, tz))
                .unwrap_or_default(),
            s.err_msg.clone(),
        ]
    })
}

pub(super) fn desk(profile: Option<&str>, http: HttpSettings) -> anyhow::Result<BatchDesk> {
    let client = client(profile, http)?;
    let journal = Arc::new(Mutex::new(super::payout::open_journal_for(
        profile,
        paydesk::domain::profiles::GatewayKind::Gatepay,
    )?));
    let mut desk = BatchDesk::new(journal, client, Arc::new(SystemClock));
    desk.not_found_grace_secs = super::payout::not_found_grace_secs();
    Ok(desk)
}

pub(super) fn entry_json(e: &BatchEntry) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

/// Prints a batch after a send or a resume, what failed beside it, and its exit code.
pub(super) fn show_sent(sent: &SentBatch) -> anyhow::Result<ExitCode> {
    let mut out = entry_json(&sent.entry);
    out["bookkeeping_error"] = serde_json::json!(sent.bookkeeping_error);
    out["lookup_error"] = serde_json::json!(sent.lookup_error);
    println!("{}", serde_json::to_string_pretty(&out)?);
    eprintln!("{}", sent.describe());
    if let Some(e) = &sent.lookup_error {
        eprintln!(
            "{}",
            red(&format!(
                "the lookup failed ({e}): the batch may exist; `paydesk gatepay reconcile` checks it again"
            ))
        );
    }
    report_bookkeeping(sent.bookkeeping_error.as_deref());
    Ok(if sent.held_for_approval() {
        ExitCode::from(super::EXIT_HELD)
    } else {
        super::payout::exit_for(sent.state)
    })
}

pub async fn create(
    batch_id: &str,
    file: &Path,
    yes: bool,
    duplicates: &DuplicateArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let import = read_import(file, duplicates)?;
    let request = match plan_batch_file(&import.name, &import.bytes, batch_id) {
        Ok(r) => r,
        Err(errors) => return Ok(refuse_rows(&errors)),
    };
    let desk = desk(profile, http)?;
    // Whatever an earlier run left mid-send is settled first.
    desk.reconcile(true).await?;
    if let Some(existing) = desk.get(batch_id)? {
        let prepared = desk.client.prepare_batch(&request)?;
        if sha256_hex(&prepared.body) != existing.body_sha256 {
            bail!(
                "batch {batch_id} is already in the journal with different sub-orders; \
                 choose a new batch ID (it is {})",
                existing.state.describe()
            );
        }
        eprintln!("batch {batch_id} was recorded before: resuming it");
        let sent = match existing.state {
            State::Accepted | State::Rejected => SentBatch {
                entry: existing,
                bookkeeping_error: None,
                lookup_error: None,
            },
            // An earlier run may have sent it: a failure now leaves the outcome unknown,
            // except a refusal to send, which comes before this process sends anything.
            _ => match desk.retry(batch_id).await {
                Ok(sent) => sent,
                Err(BatchError::NotAllowed(why)) => {
                    eprintln!("error: {why}; nothing was sent by this command");
                    return Ok(ExitCode::from(EXIT_ERROR));
                }
                Err(e) => return Err(super::AfterSend(e.into()).into()),
            },
        };
        return show_sent(&sent);
    }
    let totals = currency_totals(&request.withdraw_list);
    eprintln!(
        "batch {batch_id}: {} sub-order(s); totals {}",
        request.withdraw_list.len(),
        describe_totals(&totals)
    );
    let held = desk
        .review_batch_duplicates(&request, import.window, &import.confirmation)
        .await?;
    if !held.is_clear() {
        return refuse_held(&held, false);
    }
    for h in &held.held {
        eprintln!("warning: {}", h.describe());
    }
    let forecast = desk.approval_forecast(&request)?;
    if let Some(rule) = &forecast {
        eprintln!(
            "needs approval: {rule}; this batch is recorded and waits for another operator \
             (`paydesk gatepay approve {batch_id}`)"
        );
    }
    let question = if forecast.is_some() {
        "Record this batch for approval?"
    } else {
        "Send this batch?"
    };
    if !confirm(question, yes)? {
        eprintln!("not sent");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let sent = match desk
        .submit_unless_duplicate(&request, import.window, &import.confirmation)
        .await
    {
        Ok((sent, _)) => sent,
        Err(HoldError::Held(report)) => return refuse_held(&report, false),
        Err(HoldError::Other(e)) => return Err(e.into()),
    };
    super::payout::daily_copy(&paydesk::lock_unpoisoned(&desk.journal), true);
    if let Some(w) = desk.client.clock_warning() {
        eprintln!("warning: {w}");
    }
    show_sent(&sent)
}

/// Checks every unknown and unfinished batch at once, whatever the background backoff says.
pub async fn reconcile(profile: Option<&str>, http: HttpSettings) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let report = desk.reconcile_now(true).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    for (origin, n) in &report.other_origins {
        eprintln!(
            "{}",
            red(&paydesk::domain::journal::other_origin_message(
                *n,
                "batch(es) were",
                origin
            ))
        );
    }
    Ok(if report.still_unknown > 0 {
        ExitCode::from(EXIT_UNKNOWN)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn list(format: Format, profile: Option<&str>, http: HttpSettings) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let entries = desk.list(1_000)?;
    match format {
        Format::Json => {
            let all: Vec<Value> = entries.iter().map(entry_json).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Format::Csv => {
            let header = [
                "batch_id",
                "state",
                "batch_status",
                "sub_orders",
                "totals",
                "reject_code",
                "created_at",
            ];
            println!("{}", csv_line(&header.map(str::to_owned)));
            for e in &entries {
                println!(
                    "{}",
                    csv_line(&[
                        e.batch_id.clone(),
                        e.state.as_str().to_owned(),
                        e.batch_status.clone().unwrap_or_default(),
                        e.sub_orders.to_string(),
                        e.totals.clone(),
                        e.reject_code.clone().unwrap_or_default(),
                        e.created_at.to_string(),
                    ])
                );
            }
        }
        Format::Table => {
            for e in &entries {
                println!("{}", e.describe());
            }
            println!("{} batch(es)", entries.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}
