//! `paydesk export`: every order matching a filter, to CSV, XLSX or JSON Lines, with a
//! manifest; a progress line on a terminal and none when piped.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use paydesk::domain::credentials::Need;
use paydesk::domain::dates::zone;
use paydesk::domain::export::{
    AmountUnit, ExportFormat, ExportKind, ExportRequest, Layout, ManifestProfile, Progress,
    export_all_orders,
};
use paydesk::gateway::cny::wire::MAX_LIMIT;
use paydesk::gateway::http::HttpSettings;
use paydesk::lock_unpoisoned as lock;

use super::load_profiles;
use super::orders::{build_query, cny_client};
use crate::ExportArgs;

pub async fn run(
    args: &ExportArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let kind = args.kind.order_kind();
    let format = match args.format.as_deref() {
        Some(f) => ExportFormat::parse(f).context("--format is csv, xlsx or jsonl")?,
        None => ExportFormat::from_path(&args.out).context(
            "name the format with --format csv|xlsx|jsonl (the file has no known extension)",
        )?,
    };
    let export_kind = ExportKind::of(kind);
    let columns = match &args.columns {
        Some(c) => export_kind.parse_columns(c).map_err(anyhow::Error::msg)?,
        None => export_kind.default_columns(),
    };
    let Some(unit) = AmountUnit::parse(&args.amounts) else {
        bail!("--amounts is yuan or fen, not '{}'", args.amounts);
    };
    let tz = zone(&args.filter.tz)?;
    let query = build_query(
        &args.filter,
        0,
        MAX_LIMIT,
        jiff::Timestamp::now().as_second(),
    )?;
    let client = cny_client(profile, Need::All, http)?;
    let profile_name = match profile {
        Some(p) => p.to_owned(),
        None if std::env::var_os("PAYDESK_CNY_BASE_URL").is_some() => "environment".to_owned(),
        None => load_profiles()?
            .and_then(|p| p.active_name().map(str::to_owned))
            .unwrap_or_else(|| "environment".to_owned()),
    };
    let config = client.config();
    let request = ExportRequest {
        layout: Layout {
            kind: export_kind,
            format,
            columns,
            tz,
            tz_name: args.filter.tz.clone(),
            unit,
        },
        profile: ManifestProfile {
            name: profile_name,
            marker: String::new(),
            base_url: config.base_url.to_string(),
            merchant: config.platform_id.clone(),
        },
    };
    let plan = request.plan(args.out.clone(), "all pages");
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let last = Arc::new(std::sync::Mutex::new(Instant::now()));
    let progress = move |p: Progress| {
        if !terminal {
            return;
        }
        let mut last = lock(&last);
        if last.elapsed().as_millis() < 100 && p.done < p.total {
            return;
        }
        *last = Instant::now();
        eprint!("\r\x1b[2K{}", p.describe(started.elapsed()));
        let _ = std::io::stderr().flush();
    };
    let cancel = Arc::new(AtomicBool::new(false));
    // Ctrl-C cancels rather than kills: the writer then removes its partial file, which a
    // killed process would leave behind.
    let on_ctrl_c = {
        let cancel = Arc::clone(&cancel);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::Relaxed);
            }
        })
    };
    let report = export_all_orders(
        &client,
        kind,
        &query,
        args.concurrency.clamp(1, 16),
        plan,
        cancel,
        progress,
    )
    .await;
    on_ctrl_c.abort();
    if terminal {
        eprintln!();
    }
    let report = report?;
    eprintln!("{}", report.describe());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
