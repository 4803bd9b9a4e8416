//! `paydesk orders` and `paydesk balance`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::credentials::{Need, process_env, resolve_cny};
use paydesk::domain::dates::{format_secs, zone};
use paydesk::domain::filter::OrderFilter;
use paydesk::gateway::cny::CnyClient;
use paydesk::gateway::cny::sign::ExactValue;
use paydesk::gateway::cny::wire::{Order, OrderKind, OrderQuery, QueryPage};
use paydesk::gateway::http::HttpSettings;
use paydesk::money::Fen;
use serde_json::Value;

use super::load_profiles;
use super::output::{Column, count, csv_line, table, terminal_safe};
use crate::{FilterArgs, Format, Kind, OrdersArgs};

pub fn cny_client(
    profile: Option<&str>,
    need: Need,
    http: HttpSettings,
) -> anyhow::Result<CnyClient> {
    let profiles = load_profiles()?;
    let creds = resolve_cny(&process_env, profiles.as_ref(), profile, need)?;
    let config = creds.client_config(http)?;
    Ok(CnyClient::new(config, Arc::new(SystemClock))?)
}

impl Kind {
    pub(crate) fn order_kind(self) -> OrderKind {
        match self {
            Kind::Deposits => OrderKind::Deposit,
            Kind::Payouts => OrderKind::Payout,
        }
    }
}

pub(crate) fn build_query(
    filter: &FilterArgs,
    offset: u64,
    limit: u32,
    now_secs: i64,
) -> anyhow::Result<OrderQuery> {
    let order_filter = OrderFilter {
        system_id: filter.id.clone().unwrap_or_default(),
        merchant_id: filter.cl_id.clone().unwrap_or_default(),
        ..OrderFilter::default()
    }
    .parse_bounds(
        filter.from.as_deref(),
        filter.to.as_deref(),
        &zone(&filter.tz)?,
    )?;
    Ok(order_filter.query(offset, limit, now_secs)?)
}

pub async fn run(
    args: &OrdersArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let kind = args.kind.order_kind();
    let query = build_query(
        &args.filter,
        args.offset,
        args.limit,
        SystemClock.now_secs(),
    )?;
    let client = cny_client(profile, Need::Query, http)?;
    let page = client
        .query(kind, &query)
        .await
        .with_context(|| format!("querying {}", kind.plural()))?;
    let tz = zone(&args.filter.tz)?;
    match args.format {
        Format::Json => println!("{}", page_json(&page)),
        Format::Csv => print!("{}", page_csv(&page)),
        Format::Table => {
            print!("{}", page_table(&page, &tz));
            println!("{}", summary(&page, &args.filter.tz));
            for o in page
                .orders
                .iter()
                .filter(|o| o.signature.warning().is_some())
            {
                eprintln!(
                    "warning: {} is signed validly but in {}",
                    terminal_safe(&o.system_id),
                    o.signature.warning().unwrap_or_default()
                );
            }
        }
    }
    let invalid = page.invalid_signatures();
    if invalid > 0 && args.format != Format::Table {
        eprintln!("warning: {invalid} order(s) on this page have an invalid signature");
    }
    if client.config().md5_key.is_none() {
        eprintln!("note: no MD5 key configured, so signatures were not checked");
    }
    Ok(ExitCode::SUCCESS)
}

/// One order as JSON text with its verdict added; numbers keep the token text received, so
/// what `orders` prints verifies again with `verify cny` (serde_json would print `1e2` as `1e+2`).
fn order_json_text(order: &Order) -> String {
    let signature = ExactValue::String(order.signature.word().to_owned());
    if let Ok(mut object) = order.exact() {
        object.insert("signature".into(), signature);
        return ExactValue::Object(object).to_json_text();
    }
    let mut raw = order.raw();
    raw.insert("signature".into(), Value::from(order.signature.word()));
    Value::Object(raw).to_string()
}

/// The page as JSON: the envelope, then one order a line.
fn page_json(page: &QueryPage) -> String {
    let orders: Vec<String> = page
        .orders
        .iter()
        .map(|o| format!("    {}", order_json_text(o)))
        .collect();
    format!(
        "{{\n  \"kind\": {},\n  \"total\": {},\n  \"offset\": {},\n  \"limit\": {},\n  \"orders\": [\n{}\n  ]\n}}",
        Value::from(page.kind.plural()),
        Value::from(page.total),
        Value::from(page.offset),
        Value::from(page.limit),
        orders.join(",\n")
    )
}

fn page_csv(page: &QueryPage) -> String {
    let raws: Vec<_> = page.orders.iter().map(Order::raw).collect();
    let mut keys: Vec<String> = Vec::new();
    for raw in &raws {
        for k in raw.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut out = String::new();
    let mut header = keys.clone();
    header.push("signature".into());
    out.push_str(&csv_line(&header));
    out.push('\n');
    for (o, raw) in page.orders.iter().zip(&raws) {
        let mut row: Vec<String> = keys
            .iter()
            .map(|k| paydesk::gateway::cny::wire::field_text(raw, k))
            .collect();
        row.push(o.signature.word().to_owned());
        out.push_str(&csv_line(&row));
        out.push('\n');
    }
    out
}

fn fen(v: Option<Fen>) -> String {
    v.map_or_else(|| "?".to_owned(), Fen::yuan_grouped)
}

/// An order's amount field, or `unreadable` where it was sent but cannot be read exactly
/// (never rounded).
fn order_fen(o: &Order, field: &str, v: Option<Fen>) -> String {
    if o.unreadable_amounts().contains(&field) {
        "unreadable".to_owned()
    } else {
        fen(v)
    }
}

fn page_table(page: &QueryPage, tz: &jiff::tz::TimeZone) -> String {
    let deposit = page.kind == OrderKind::Deposit;
    let mut columns = vec![
        Column::left("Created", 19),
        Column::left("System ID", 24),
        Column::left("Merchant ID", 34),
    ];
    if deposit {
        columns.push(Column::left("Depositor", 16));
    }
    columns.extend([
        Column::right("Amount", 20),
        Column::right("Real", 20),
        Column::right("Fee", 14),
        Column::left("Status", 16),
        Column::left("Channel", 14),
        Column::left("Signature", 10),
        Column::left("Memo", 24),
    ]);
    table(&columns, &page.orders, |o| {
        let mut row = vec![
            o.create_time_secs
                .map(|t| format_secs(t, tz))
                .unwrap_or_default(),
            o.system_id.clone(),
            o.merchant_id.clone(),
        ];
        if deposit {
            row.push(o.depositor_name.clone().unwrap_or_default());
        }
        row.extend([
            order_fen(o, "amount", o.amount),
            order_fen(o, "real_amount", o.real_amount),
            order_fen(o, "fee", o.fee),
            o.status.label(),
            o.channel_id.clone(),
            if o.signature.is_invalid() {
                "INVALID".to_owned()
            } else {
                o.signature.word().to_owned()
            },
            o.memo.clone(),
        ]);
        row
    })
}

fn summary(page: &QueryPage, tz_name: &str) -> String {
    let shown = page.orders.len() as u64;
    let first = if shown == 0 { 0 } else { page.offset + 1 };
    let pages = page.total.div_ceil(u64::from(page.limit)).max(1);
    let current = page.offset / u64::from(page.limit) + 1;
    let sum = Fen::checked_sum(page.orders.iter().filter_map(|o| o.amount))
        .map_or_else(|| "overflow".to_owned(), |f| f.to_string());
    let invalid = page.invalid_signatures();
    format!(
        "{}–{} of {} {} · page {} of {} · sum of amounts on this page {} · {} invalid signature{} · times in {}",
        count(first),
        count(page.offset + shown),
        count(page.total),
        page.kind.plural(),
        count(current),
        count(pages),
        sum,
        invalid,
        if invalid == 1 { "" } else { "s" },
        tz_name
    )
}

pub async fn balance(profile: Option<&str>, http: HttpSettings) -> anyhow::Result<ExitCode> {
    let client = cny_client(profile, Need::Query, http)?;
    let b = client.balance().await.context("reading the balance")?;
    println!(
        "Balance {}  (signature {})",
        fen(b.balance),
        b.signature_word()
    );
    for c in &b.channels {
        println!(
            "  {}  {}  (signature {})",
            c.channel_id,
            fen(c.balance),
            c.signature.word()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use paydesk::gateway::cny::SignOptions;
    use paydesk::gateway::cny::sign::{Canonical, ExactValue, parse_exact};
    use paydesk::secret::Secret;

    use super::*;

    /// `orders --format json` prints numbers as received, so its output verifies again.
    #[test]
    fn printed_orders_keep_exponent_numbers_as_received() {
        let key = Secret::new("k");
        let text = r#"{"payout_cl_id":"P1","amount":1e2,"status":3}"#;
        let Ok(ExactValue::Object(mut exact)) = parse_exact(text) else {
            panic!("readable")
        };
        let raw: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
        let sign =
            Canonical::of_exact(&exact, SignOptions::default()).sign(&key, SignOptions::default());
        exact.insert("sign".into(), ExactValue::String(sign));
        let order = Order::from_exact(
            OrderKind::Payout,
            raw,
            Ok(exact),
            Some(&key),
            SignOptions::default(),
        );
        assert_eq!(order.signature.word(), "valid");
        let printed = order_json_text(&order);
        assert!(printed.contains(r#""amount":1e2"#), "{printed}");
    }
}
