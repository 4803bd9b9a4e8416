//! `paydesk gatepay batch`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use paydesk::clock::{RandomNonce, SystemClock};
use paydesk::domain::credentials::{process_env, resolve_gatepay};
use paydesk::domain::dates::{format_ms, zone};
use paydesk::gateway::gatepay::GatePayClient;
use paydesk::gateway::gatepay::wire::{DetailStatus, SubOrder, batch_status_meaning};
use paydesk::gateway::http::HttpSettings;
use paydesk::money::CryptoAmount;
use serde_json::Value;

use super::load_profiles;
use super::output::{Column, csv_line, table};
use crate::Format;

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
                batch_status_meaning(&detail.status),
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

fn sub_order_table(list: &[SubOrder], tz: &jiff::tz::TimeZone) -> String {
    let columns = [
        Column {
            header: "Merchant withdraw ID",
            right: false,
            max: 32,
        },
        Column {
            header: "Currency",
            right: false,
            max: 8,
        },
        Column {
            header: "Chain",
            right: false,
            max: 8,
        },
        Column {
            header: "Address",
            right: false,
            max: 44,
        },
        Column {
            header: "Amount",
            right: true,
            max: 24,
        },
        Column {
            header: "Fee",
            right: true,
            max: 16,
        },
        Column {
            header: "Status",
            right: false,
            max: 10,
        },
        Column {
            header: "Updated",
            right: false,
            max: 23,
        },
        Column {
            header: "Error",
            right: false,
            max: 40,
        },
    ];
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.merchant_withdraw_id.clone(),
                s.currency.clone(),
                s.chain.clone(),
                s.address.clone(),
                amount(s.amount),
                amount(s.fee),
                s.status.clone(),
                s.update_time_ms
                    .map(|t| format_ms(t, tz))
                    .unwrap_or_default(),
                s.err_msg.clone(),
            ]
        })
        .collect();
    table(&columns, &rows)
}
