//! `paydesk payout pending|approve|reject`: four-eyes approval on a profile's team journal.
//! The rule is the database's and the domain's (`PayoutDesk::approve`); this parses, calls
//! and shows.

use std::process::ExitCode;

use paydesk::domain::dates::{GATEWAY_TZ, format_secs, zone};
use paydesk::domain::duplicates::Earlier;
use paydesk::gateway::http::HttpSettings;
use serde_json::json;

use super::output::{Column, table};
use super::payout::{desk, entry_json, exit_for_payout, report_bookkeeping, sent_json};

/// Says, before asking, when the team's rule will hold the payout for a second operator;
/// returns the question to ask.
pub(crate) fn question_for(
    desk: &paydesk::domain::payouts::PayoutDesk,
    request: &paydesk::gateway::cny::wire::PayoutRequest,
) -> anyhow::Result<&'static str> {
    let Some(rule) = desk.approval_forecast(request)? else {
        return Ok("Send it?");
    };
    eprintln!(
        "needs approval: {rule}; this payout is recorded and waits for another operator \
         (`paydesk payout approve {}`)",
        request.payout_cl_id
    );
    Ok("Record this payout for approval?")
}

/// Lists the payouts waiting for a second operator.
pub(crate) fn pending(
    json_out: bool,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let pending = desk.pending_approvals()?;
    if json_out {
        let rows: Vec<_> = pending
            .iter()
            .map(|p| {
                let mut row = entry_json(&p.payout);
                row["likely_duplicates"] = json!(
                    p.likely_duplicates
                        .iter()
                        .map(entry_json)
                        .collect::<Vec<_>>()
                );
                row
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if pending.is_empty() {
        println!("No payout is waiting for approval.");
        return Ok(ExitCode::SUCCESS);
    }
    let tz = zone(GATEWAY_TZ)?;
    let columns = [
        Column::left("merchant order ID", 40),
        Column::right("amount", 18),
        Column::left("bank", 16),
        Column::left("name", 16),
        Column::left("account", 16),
        Column::left("recorded by", 24),
        Column::left("recorded", 19),
        Column::right("duplicates", 10),
    ];
    print!(
        "{}",
        table(&columns, &pending, |p| {
            let e = &p.payout;
            vec![
                e.payout_cl_id.clone(),
                e.amount.to_string(),
                e.bank_name.clone(),
                e.recipient_name.clone(),
                e.account_masked.clone(),
                e.team
                    .as_ref()
                    .map(|t| t.created_by.clone())
                    .unwrap_or_default(),
                format_secs(e.created_at, &tz),
                p.likely_duplicates.len().to_string(),
            ]
        })
    );
    for p in pending.iter().filter(|p| !p.likely_duplicates.is_empty()) {
        println!(
            "\n{} looks like {} earlier payout(s) to the same account for the same amount:",
            p.payout.payout_cl_id,
            p.likely_duplicates.len()
        );
        for d in &p.likely_duplicates {
            println!("  {}", Earlier::Journal(d.into()).describe());
        }
    }
    println!(
        "\nApprove one with `paydesk payout approve ID` (it is then sent), or reject it with \
         `paydesk payout reject ID --reason TEXT`; the operator who recorded it cannot."
    );
    Ok(ExitCode::SUCCESS)
}

/// Approves a payout another operator recorded, and sends it.
pub(crate) async fn approve(
    cl_id: &str,
    reason: Option<&str>,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let sent = desk.approve(cl_id, reason).await?;
    println!("{}", serde_json::to_string(&sent_json(&sent))?);
    eprintln!(
        "{}: approved; {}",
        sent.entry.payout_cl_id,
        sent.entry.describe()
    );
    report_bookkeeping(sent.bookkeeping_error.as_deref());
    Ok(exit_for_payout(&sent.entry))
}

/// Rejects a payout another operator recorded: it is never sent.
pub(crate) fn reject(
    cl_id: &str,
    reason: &str,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    let entry = desk.reject(cl_id, reason)?;
    println!("{}", serde_json::to_string(&entry_json(&entry))?);
    eprintln!("{}: {}", entry.payout_cl_id, entry.describe());
    Ok(ExitCode::SUCCESS)
}
