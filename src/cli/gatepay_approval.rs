//! `paydesk gatepay pending|approve|reject`: four-eyes approval of GatePay batches on a
//! profile's team journal. The rule is the database's and the domain's
//! (`BatchDesk::approve`); this parses, calls and shows.

use std::process::ExitCode;

use paydesk::domain::dates::{GATEWAY_TZ, format_secs, zone};
use paydesk::gateway::http::HttpSettings;

use super::gatepay::{desk, entry_json, show_sent};
use super::output::{Column, table};

/// Lists the batches waiting for a second operator.
pub(crate) fn pending(
    json_out: bool,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let pending = desk.pending_approvals()?;
    if json_out {
        let rows: Vec<_> = pending.iter().map(entry_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for rule in desk.approval_rules()? {
        println!("{} (set by {})", rule.describe(), rule.set_by);
    }
    if pending.is_empty() {
        println!("No GatePay batch is waiting for approval.");
        return Ok(ExitCode::SUCCESS);
    }
    let tz = zone(GATEWAY_TZ)?;
    let columns = [
        Column::left("batch ID", 32),
        Column::right("sub-orders", 10),
        Column::left("totals", 40),
        Column::left("recorded by", 24),
        Column::left("recorded (Asia/Shanghai)", 24),
    ];
    print!(
        "{}",
        table(&columns, &pending, |e| {
            vec![
                e.batch_id.clone(),
                e.sub_orders.to_string(),
                e.totals.clone(),
                e.team
                    .as_ref()
                    .map(|t| t.created_by.clone())
                    .unwrap_or_default(),
                format_secs(e.created_at, &tz),
            ]
        })
    );
    println!(
        "\nApprove one with `paydesk gatepay approve BATCH_ID` (it is then sent), or reject it \
         with `paydesk gatepay reject BATCH_ID --reason TEXT`; the operator who recorded it cannot."
    );
    Ok(ExitCode::SUCCESS)
}

/// Approves a batch another operator recorded, and sends it.
pub(crate) async fn approve(
    batch_id: &str,
    reason: Option<&str>,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let sent = desk.approve(batch_id, reason).await?;
    eprint!("approved; ");
    show_sent(&sent)
}

/// Rejects a batch another operator recorded: it is never sent.
pub(crate) fn reject(
    batch_id: &str,
    reason: &str,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let entry = desk.reject(batch_id, reason)?;
    println!("{}", serde_json::to_string(&entry_json(&entry))?);
    eprintln!("{}", entry.describe());
    Ok(ExitCode::SUCCESS)
}
