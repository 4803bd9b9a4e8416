//! The arguments of `paydesk gatepay …`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::{DuplicateArgs, Format};

#[derive(Subcommand, Debug)]
pub enum GatepayCommand {
    /// Show a batch and its sub-orders.
    Batch {
        batch_id: String,
        #[arg(long, default_value = "ALL", value_parser = ["ALL", "INIT", "PENDING", "PROCESSING", "CHECK", "FAIL", "DONE"], ignore_case = true)]
        status: String,
        #[arg(long, default_value = paydesk::domain::dates::GATEWAY_TZ)]
        tz: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Send a batch payout from a CSV or XLSX file (columns merchant_withdraw_id, currency,
    /// amount, chain, address, memo, fee_type), journaled first. Every row is checked
    /// before anything is sent. The same batch ID again resumes it: an unknown outcome is
    /// looked up, a batch GatePay never created is sent again under the same ID.
    /// A sub-order whose merchant_withdraw_id was in an earlier batch, or whose address,
    /// currency and amount match a sub-order of the last 7 days, is held back: nothing is
    /// sent (exit 2) until each is confirmed by name.
    /// Exit 0 accepted, 1 refused, 3 outcome unknown (being checked), 4 recorded and held for a
    /// second operator's approval (team journal).
    Create {
        #[arg(long)]
        batch_id: String,
        #[arg(long)]
        file: PathBuf,
        /// Send without asking.
        #[arg(long)]
        yes: bool,
        // A sub-order whose merchant_withdraw_id was in an earlier batch, or whose address,
        // currency and amount match one of the window, is held back until confirmed.
        #[command(flatten)]
        duplicates: DuplicateArgs,
    },
    /// Check every unknown and unfinished batch with GatePay at once (whatever the background
    /// backoff says). Exit 0: nothing unknown; 3: something is.
    Reconcile,
    /// The batches in the journal (on a team journal, every operator's), newest first.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Find payout sub-orders by creation time, without a batch ID (every page, 500 a page).
    Suborders {
        /// Created from: a date, a date and time, or Unix seconds.
        #[arg(long)]
        from: String,
        /// Created until (a bare date means its end).
        #[arg(long)]
        to: String,
        /// Only this status: INIT, PENDING, PROCESSING, CHECK, DONE, FAIL, or an audit
        /// status: AUDITING, AUDIT_SUCCESS, AUDIT_REJECT, AUDIT_TIMEOUT.
        #[arg(long, ignore_case = true, value_parser = ["INIT", "PENDING", "PROCESSING", "CHECK", "DONE", "FAIL", "AUDITING", "AUDIT_SUCCESS", "AUDIT_REJECT", "AUDIT_TIMEOUT"])]
        status: Option<String>,
        #[arg(long, default_value = paydesk::domain::dates::GATEWAY_TZ)]
        tz: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Team journal: the GatePay batches waiting for a second operator's approval, with who
    /// recorded them.
    Pending {
        #[arg(long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
    },
    /// Team journal: approve a batch another operator recorded; it is sent at once. Exit
    /// codes as for `create`.
    Approve {
        batch_id: String,
        /// Why (kept with the approval and in the audit chain).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Team journal: reject a batch another operator recorded; it is never sent.
    Reject {
        batch_id: String,
        /// Why, for the operator who recorded it (required).
        #[arg(long)]
        reason: String,
    },
}
