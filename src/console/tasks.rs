//! Work that commands start off the UI thread: reading a dropped file, sending a checked
//! import, verifying a pasted reply.

use super::connection::Connection;
use super::files::{self, FileDialogs, OpenKind};
use crate::console::panels::payouts::BulkEnd;
use crate::console::panels::workbench::{WorkbenchInput, WorkbenchResult};
use eframe::egui;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::bulk::BulkPlan;
use paydesk::domain::duplicates::{Confirmation, DuplicateWindow, HoldError};
use paydesk::domain::journal::DEFAULT_BACKUP_DAYS;
use paydesk::domain::payouts::{ImportSent, PayoutDesk};
use paydesk::domain::verify::{parse_cny_input, verify_cny, verify_gatepay};
use paydesk::lock_unpoisoned as lock;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::mpsc;

/// The file the operator dropped on the window, else the one they pick in the dialog
/// (`Ok(None)`: cancelled). A dropped file is read off the UI thread within the size limit.
/// Says in a notice which file was read, or why it could not be.
pub(super) async fn open_or_read(
    dialogs: &dyn FileDialogs,
    kind: OpenKind,
    dropped: Option<PathBuf>,
    ctx: &egui::Context,
) -> Result<Option<(String, Vec<u8>)>, String> {
    let file = match dropped {
        Some(path) => tokio::task::spawn_blocking(move || files::read_dropped(&path))
            .await
            .map_err(|e| e.to_string())
            .and_then(|read| read.map(Some)),
        None => Ok(dialogs.open_file(kind).await),
    };
    match &file {
        Ok(Some((name, bytes))) => {
            super::feedback::info(ctx, format!("Read {name} ({} bytes)", bytes.len()));
        }
        Ok(None) => {}
        Err(e) => super::feedback::error(ctx, format!("The file could not be read: {e}")),
    }
    file
}

/// Records every row of a checked file, settles what an earlier run left in flight, then
/// sends the rest one by one, reporting progress.
pub(super) async fn send_bulk(
    desk: &PayoutDesk,
    plan: &BulkPlan,
    window: DuplicateWindow,
    confirmation: &Confirmation,
    stop: &AtomicBool,
    progress: &mpsc::Sender<(usize, usize)>,
    ctx: &egui::Context,
) -> BulkEnd {
    // Records the rows and the confirmations' audit records; a failure here sent nothing.
    match desk
        .enqueue_plan_unless_duplicate(plan, window, confirmation)
        .await
    {
        Ok(_) => {}
        Err(HoldError::Held(report)) => return BulkEnd::Held(report),
        Err(HoldError::Other(e)) => return BulkEnd::Summary(format!("Nothing was sent: {e}")),
    }
    let result = desk
        .run_import(plan, stop, |n, total, _| {
            if progress.try_send((n, total)).is_ok() {
                ctx.request_repaint();
            }
        })
        .await;
    // The day's copy of the journal now holds this session's sends (off the async threads:
    // it copies the whole file).
    let journal = Arc::clone(&desk.journal);
    let _ = tokio::task::spawn_blocking(move || {
        lock(&journal).rolling_backup(DEFAULT_BACKUP_DAYS, true)
    })
    .await;
    let summary = desk
        .import_standing(&plan.import_id)
        .map_or_else(|e| e.to_string(), |s| s.to_string());
    BulkEnd::Summary(match result {
        Ok(ImportSent {
            stopped: Some(e), ..
        })
        | Err(e) => format!("{summary}. Stopped: {e}"),
        Ok(done) if done.bookkeeping_errors.is_empty() => summary,
        Ok(done) => format!(
            "{summary}. Bookkeeping errors (the outcomes stand): {}",
            done.bookkeeping_errors.join("; ")
        ),
    })
}

pub(super) fn verify_input(
    input: WorkbenchInput,
    connection: Option<&Connection>,
) -> Result<WorkbenchResult, String> {
    match input {
        WorkbenchInput::Cny { text } => {
            let Some((key, options)) = connection.and_then(Connection::md5_key) else {
                return Err("The active profile has no MD5 key to verify with".to_owned());
            };
            match parse_cny_input(&text) {
                Ok(objects) => Ok(WorkbenchResult::Cny(verify_cny(&objects, &key, options))),
                Err(e) => Err(e.to_string()),
            }
        }
        WorkbenchInput::GatePay {
            timestamp,
            nonce,
            signature,
            body,
        } => {
            let Some(secret) = connection
                .and_then(|c| c.gatepay.as_ref())
                .map(|g| g.config().secret.clone())
            else {
                return Err("The active profile has no GatePay secret to verify with".to_owned());
            };
            let report = verify_gatepay(
                &secret,
                timestamp.trim(),
                nonce.trim(),
                body.as_bytes(),
                signature.trim(),
                SystemClock.now_ms(),
            );
            Ok(WorkbenchResult::GatePay(report))
        }
    }
}
