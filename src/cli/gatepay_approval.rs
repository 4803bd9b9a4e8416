//! `paydesk gatepay pending|approve|reject`: four-eyes approval of GatePay batches on a
//! profile's team journal. The rule is the database's and the domain's
//! (`BatchDesk::approve`); this parses, calls and shows.

use std::process::ExitCode;

use paydesk::domain::dates::{GATEWAY_TZ, format_secs, zone};
use paydesk::domain::duplicates::{DuplicateWindow, Earlier};
use paydesk::domain::journal::State;
use paydesk::gateway::http::HttpSettings;
use serde_json::Value;

use super::gatepay::{desk, entry_json, show_sent};

/// Lists the batches waiting for a second operator: each with what it pays, sub-order by
/// sub-order, and the sub-orders that look like those of an earlier batch of the team.
pub(crate) fn pending(
    json_out: bool,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let desk = desk(profile, http)?;
    // A window set wrong falls back to the default: the check is never off.
    let window = DuplicateWindow::resolve(None, |k| std::env::var(k).ok()).unwrap_or_default();
    let pending = desk.pending_approvals_checked(window)?;
    if json_out {
        let rows: Vec<_> = pending
            .iter()
            .map(|p| {
                let mut row = entry_json(&p.batch);
                // Every sub-order, as the recorded body says (what an approval sends).
                row["withdraw_list"] = serde_json::from_str::<Value>(&p.batch.body)
                    .ok()
                    .and_then(|b| b.get("withdraw_list").cloned())
                    .unwrap_or(Value::Null);
                row["likely_duplicates"] = match &p.duplicates {
                    Ok(report) => serde_json::to_value(report).unwrap_or(Value::Null),
                    Err(why) => serde_json::json!({ "error": why }),
                };
                row
            })
            .collect();
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
    for p in &pending {
        let e = &p.batch;
        println!(
            "\n{} · {} sub-order(s) · {} · recorded by {} at {} ({GATEWAY_TZ}){}",
            e.batch_id,
            e.sub_orders,
            e.totals,
            e.team
                .as_ref()
                .map(|t| t.created_by.as_str())
                .unwrap_or_default(),
            format_secs(e.created_at, &tz),
            if e.state == State::Queued {
                String::new()
            } else {
                format!(" · now {}", e.state_words())
            }
        );
        // One line per sub-order, nothing shortened: an address or a memo (a destination tag)
        // cut short is one an approver cannot check.
        for (i, item) in p.sub_orders.iter().enumerate() {
            println!(
                "  {:>4}. {} {} · {} · to {}{} · fee {} · ID {}",
                i + 1,
                item.amount,
                item.currency.trim().to_uppercase(),
                item.chain,
                item.address,
                if item.memo.is_empty() {
                    String::new()
                } else {
                    format!(" memo {}", item.memo)
                },
                if item.fee_type == 1 {
                    "from the balance"
                } else {
                    "inside the amount"
                },
                item.merchant_withdraw_id
            );
        }
        let total = usize::try_from(e.sub_orders).unwrap_or(0);
        if total > p.sub_orders.len() {
            println!(
                "and {} more sub-order(s): `--format json` lists every one",
                total - p.sub_orders.len()
            );
        }
        match &p.duplicates {
            Ok(report) if report.held_total == 0 => println!(
                "no sub-order like one of an earlier batch in the team journal (last {} days)",
                report.window_days
            ),
            Ok(report) => {
                println!(
                    "{} sub-order(s) like one of an earlier batch in the team journal (last {} days):",
                    report.held_total, report.window_days
                );
                for h in &report.held {
                    let earlier: Vec<String> = h.earlier.iter().map(Earlier::describe).collect();
                    println!("  {} ({}) looks like: {}", h.id, h.what, earlier.join("; "));
                }
            }
            Err(why) => println!("its likely duplicates could not be looked for: {why}"),
        }
    }
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
