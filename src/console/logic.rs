//! The shell's first phase: take in what tasks reported and what the timers say is due,
//! then run the queued commands. Draws nothing.

use super::commands::Command;
use super::connection::Connection;
use super::context::take_reply;
use super::feedback;
use super::{JournalOpened, Opened, PaydeskApp};

use eframe::egui;
use paydesk::clock::{Clock, SystemClock};
use paydesk::gateway::cny::wire::OrderKind;

use paydesk::domain::bulk::{BulkPlan, RowError};
use paydesk::domain::journal::Entry;
use paydesk::domain::payouts::{ReconcileReport, Sent};
use paydesk::lock_unpoisoned as lock;

use paydesk::domain::batches::{BatchEntry, BatchReconcileReport};

impl PaydeskApp {
    /// Takes in what requests replied and what the timers say is due, then runs the queued
    /// commands. Draws nothing.
    pub fn logic(&mut self) {
        self.take_in_replies();
        // Unknown outcomes and unfinished payouts are checked in the background.
        let due = self
            .last_reconcile
            .is_none_or(|t| t.elapsed() > RECONCILE_EVERY);
        if due && !self.sent.is_checking() && self.desk().is_some() {
            self.commands.push(Command::Reconcile);
        }
        if due && self.batches_check.is_none() && self.batch_desk().is_some() {
            if self.desk().is_none() {
                self.last_reconcile = Some(std::time::Instant::now());
            }
            self.commands.push(Command::ReconcileBatches);
        }
        // The check runs in `logic`, which runs only when a frame is drawn: while anything
        // waits on the gateway, the window wakes itself for the next check, or nobody at
        // the window would see the outcome until they moved the mouse.
        if self.anything_unsettled() {
            let since = self.last_reconcile.map_or(RECONCILE_EVERY, |t| t.elapsed());
            self.ctx
                .request_repaint_after(RECONCILE_EVERY.saturating_sub(since).max(MIN_WAKE));
        }
        if self.batches.refresh_due() {
            self.commands.push(Command::LoadBatch);
        }
        if self.batches.auto_refresh && self.batches.detail.is_some() {
            // Wake up for the next automatic refresh even without input.
            self.ctx
                .request_repaint_after(std::time::Duration::from_secs(1));
        }
        for command in std::mem::take(&mut self.commands) {
            self.run(command);
        }
        let title = match &self.connection {
            Some(c) => format!("Paydesk — {} [{}]", c.profile_name, c.marker.label()),
            None => "Paydesk".to_owned(),
        };
        if title != self.title {
            self.ctx
                .send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Whether a payout or a batch of this profile still waits on its gateway (rows sent
    /// through another gateway address are not checked from here, so they wake nothing).
    fn anything_unsettled(&self) -> bool {
        use paydesk::domain::journal::same_origin;
        let payouts = self.desk().is_some_and(|d| {
            self.sent
                .entries
                .iter()
                .any(|e| e.outcome().unsettled() && same_origin(e.origin.as_deref(), &d.origin))
        });
        let batches = self.batch_desk().is_some_and(|d| {
            self.batches
                .sent
                .iter()
                .any(|b| b.unsettled() && b.elsewhere(&d.origin).is_none())
        });
        payouts || batches
    }

    /// Takes in every reply that has come: each request's receiver is kept by whoever asked,
    /// so a reply lands where it was asked for.
    fn take_in_replies(&mut self) {
        if let Some(opened) = self.journal_opening.as_mut().and_then(take_reply) {
            self.journal_opening = None;
            self.journal_opened(opened.unwrap_or_else(|why| JournalOpened::Refused {
                why,
                readable: Vec::new(),
            }));
        }
        match self.journal_listing.as_mut().and_then(take_reply) {
            Some(Ok(entries)) => {
                self.journal_listing = None;
                self.journal_listed(entries);
            }
            Some(Err(e)) => {
                self.journal_listing = None;
                self.sent.message = Some(format!("The payout journal could not be read: {e}"));
            }
            None => {}
        }
        match self.batches_listing.as_mut().and_then(take_reply) {
            Some(Ok(list)) => {
                self.batches_listing = None;
                self.batches.sent = list;
            }
            Some(Err(e)) => {
                self.batches_listing = None;
                self.new_batch.message = Some(format!("The batches sent could not be read: {e}"));
            }
            None => {}
        }
        if let Some(opened) = self.connecting.as_mut().and_then(take_reply) {
            self.connecting = None;
            match opened {
                Ok(Opened::Profile(c)) => self.connected(*c),
                Ok(Opened::Sandbox(started)) => {
                    let (handle, c) = *started;
                    self.sandbox = Some(handle);
                    self.connected(c);
                }
                Err(e) => {
                    self.connection_status = e;
                    self.connection = None;
                    // The profile went: its team journal and its listener go with it; the
                    // desktop's journal still shows what was sent.
                    if self.team.is_some() {
                        self.use_journal_of(None);
                    } else {
                        self.apply_desktop();
                    }
                }
            }
        }
        for kind in [OrderKind::Deposit, OrderKind::Payout] {
            let panel = self.orders_panel(kind);
            let was_pending = panel.result.is_pending();
            panel.poll();
            if was_pending && !panel.result.is_pending() {
                let said = search_outcome(kind, &panel.result);
                match said {
                    Ok(text) => feedback::status(&self.ctx, text),
                    Err(text) => feedback::error(&self.ctx, text),
                }
            }
        }
        self.workbench.poll();
        self.new_batch.poll_import();
        self.batches
            .poll(SystemClock.now_ms(), &self.time_zone().zone());
        self.profiles.poll();
        self.poll_listener();
        self.poll_team();
        self.suborders.poll();
        let asked = self.reconcile.poll();
        self.commands.extend(asked.into_iter().map(Command::from));
        self.export.poll();
        if let Some((_, held)) = &mut self.payout_form.review {
            held.poll();
        }
        self.bulk.held.poll();
        if let Some(import) = self.bulk.import.as_mut().and_then(take_reply) {
            self.bulk.import = None;
            match import {
                Ok(Some((name, plan))) => {
                    match &plan {
                        Ok(p) => feedback::success(
                            &self.ctx,
                            format!("Imported {name}: {} payouts, total {}", p.len(), p.total),
                        ),
                        Err(rows) => feedback::warning(
                            &self.ctx,
                            format!("{name}: {} problem(s), nothing will be sent", rows.len()),
                        ),
                    }
                    self.bulk_planned(name, plan);
                }
                // The dialog was cancelled.
                Ok(None) => {}
                Err(e) => {
                    feedback::error(&self.ctx, format!("The file could not be imported: {e}"));
                    self.bulk.summary = Some(e);
                    self.commands.push(Command::LoadJournal);
                }
            }
        }
        if let Some(summary) = self.bulk.poll_sending() {
            feedback::info(&self.ctx, summary.clone());
            self.bulk.summary = Some(summary);
            self.commands.push(Command::LoadJournal);
        }
        if let Some((_, held)) = &mut self.new_batch.review {
            held.poll();
        }
        if let Some(sent) = self.payout_form.sending.as_mut().and_then(take_reply) {
            self.payout_form.sending = None;
            self.payout_sent(sent);
        }
        if let Some(sent) = self.new_batch.sending.as_mut().and_then(take_reply) {
            self.new_batch.sending = None;
            self.batch_sent(sent);
        }
        if let Some(history) = self.sent.details_reading.as_mut().and_then(take_reply) {
            self.sent.details_reading = None;
            self.sent.details_history = Some(history);
        }
        if let Some(report) = self.sent.check.as_mut().and_then(take_reply) {
            self.sent.check = None;
            self.reconciled(report);
        }
        if let Some(report) = self.batches_check.as_mut().and_then(take_reply) {
            self.batches_check = None;
            self.batches_reconciled(report);
        }
    }

    /// The desktop's journal opened (or was refused): the active one unless the active
    /// profile keeps its payouts in a team journal.
    fn journal_opened(&mut self, opened: JournalOpened) {
        match opened {
            JournalOpened::Open(journal) => {
                let damage = lock(&journal).damage_watch();
                self.desktop = super::team::Desktop::Open(journal, damage);
                if self.team.is_none() {
                    self.apply_desktop();
                    self.commands.push(Command::LoadBatches);
                }
            }
            JournalOpened::Refused { why, readable } => {
                self.desktop = super::team::Desktop::Refused(journal_open_message(&why));
                if self.team.is_none() {
                    if !readable.is_empty() {
                        self.journal_listed(readable);
                    }
                    self.apply_desktop();
                }
            }
        }
    }

    fn journal_listed(&mut self, entries: Vec<Entry>) {
        self.sent.entries = entries;
        // Damage found while sending shows in the Payouts sent panel too.
        if let Some(damaged) = self.journal_damage_message() {
            self.sent.message = Some(damaged);
        }
    }

    fn bulk_planned(&mut self, name: String, plan: Result<BulkPlan, Vec<RowError>>) {
        self.bulk.file_name = Some(name);
        self.bulk.held = crate::console::panels::payouts::HeldReview::default();
        if let Ok(p) = &plan {
            self.commands
                .push(Command::CheckBulkDuplicates(Box::new(p.clone())));
        }
        self.bulk.plan = Some(plan);
        self.bulk.progress = None;
        self.bulk.summary = None;
    }

    fn payout_sent(&mut self, result: Result<Box<Sent>, String>) {
        if result.is_ok() {
            // A fresh form (and a fresh merchant order ID) for the next payout.
            self.payout_form.reset();
        }
        if let Ok(sent) = &result
            && let Some(e) = &sent.bookkeeping_error
        {
            self.sent.message = Some(format!(
                "{}: {}. Bookkeeping error (the outcome stands): {e}",
                sent.payout_cl_id,
                sent.entry.describe()
            ));
        }
        match &result {
            Ok(sent) => feedback::notify(
                &self.ctx,
                if sent.entry.state == paydesk::domain::journal::State::Accepted {
                    feedback::Level::Success
                } else {
                    feedback::Level::Warning
                },
                format!("{}: {}", sent.payout_cl_id, sent.entry.describe()),
            ),
            Err(e) => feedback::error(&self.ctx, format!("The payout was not sent: {e}")),
        }
        self.payout_form.result = Some(result.map(|s| s.entry));
        self.commands.push(Command::LoadJournal);
    }

    fn reconciled(&mut self, result: Result<ReconcileReport, String>) {
        self.last_reconcile = Some(std::time::Instant::now());
        match result {
            Err(e) => {
                // The journal's failure is not the gateway's; the same failure every few
                // seconds is said once.
                let text = if e.contains("team journal") {
                    format!("The background check is paused: {e}")
                } else {
                    format!("Checking with the gateway failed: {e}")
                };
                if self.sent.message.as_deref() != Some(text.as_str()) {
                    feedback::error(&self.ctx, text.clone());
                }
                self.sent.message = Some(text);
            }
            Ok(report) => {
                // A failure of an earlier check no longer stands.
                if self.sent.message.as_deref().is_some_and(|m| {
                    m.starts_with("Checking with the gateway failed")
                        || m.starts_with("The background check is paused")
                }) {
                    self.sent.message = None;
                }
                // The background check runs every few seconds: only news is posted.
                if report.status_updates + report.found + report.not_created > 0 {
                    feedback::info(
                        &self.ctx,
                        format!(
                            "Checked with the gateway: {} status change(s), {} found, {} not created",
                            report.status_updates, report.found, report.not_created
                        ),
                    );
                }
                self.sent.last_report = Some(report);
                self.sent.last_checked_ms = Some(SystemClock.now_ms());
            }
        }
        self.commands.push(Command::LoadJournal);
    }

    fn batch_sent(&mut self, result: Result<Box<BatchEntry>, String>) {
        if let Ok(e) = &result
            && e.state != paydesk::domain::journal::State::Rejected
        {
            self.new_batch.reset();
        }
        match &result {
            Ok(e) => feedback::info(
                &self.ctx,
                format!("Batch {}: {}", e.batch_id, e.state.describe()),
            ),
            Err(e) => feedback::error(&self.ctx, format!("The batch was not sent: {e}")),
        }
        self.new_batch.result = Some(result.map(|e| *e));
        self.commands.push(Command::LoadBatches);
    }

    fn batches_reconciled(&mut self, result: Result<BatchReconcileReport, String>) {
        if let Err(e) = result {
            feedback::error(
                &self.ctx,
                format!("Checking batches with GatePay failed: {e}"),
            );
            self.new_batch.message = Some(format!("Checking batches with GatePay failed: {e}"));
        }
        self.commands.push(Command::LoadBatches);
    }

    pub(super) fn connected(&mut self, c: Connection) {
        self.connection_status = String::new();
        self.use_journal_of(c.team_journal.clone());
        self.connection = Some(c);
        // Fresh results for the new merchant; the old ones belong to another profile.
        for kind in [OrderKind::Deposit, OrderKind::Payout] {
            self.orders_panel(kind).clear();
            self.commands.push(Command::Search(kind));
        }
        self.batches.detail = None;
        self.batches.rows.clear();
        self.batches.error = None;
        self.batches.sent.clear();
        self.commands.push(Command::LoadBatches);
    }
}

/// Why the journal could not be opened, said once: a damaged or newer journal's own
/// message already says nothing can be sent with it, and saying it twice in one sentence
/// only pushed the way out further along.
fn journal_open_message(e: &str) -> String {
    if e.contains("nothing can be sent") {
        let mut chars = e.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_uppercase().chain(chars).collect()
        })
    } else {
        format!("The payout journal cannot be opened, so nothing can be sent: {e}")
    }
}

/// How often unknown outcomes and unfinished payouts are checked while the console runs.
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The shortest wait before waking for a check: a check that is due but waits for the one
/// running must not turn into a busy loop.
const MIN_WAKE: std::time::Duration = std::time::Duration::from_millis(250);

/// What a finished search says in the status bar, or the error it ended with.
fn search_outcome(
    kind: OrderKind,
    result: &crate::console::requested::Requested<crate::console::panels::orders::LoadedPage>,
) -> Result<String, String> {
    let name = match kind {
        OrderKind::Deposit => "Deposits",
        OrderKind::Payout => "Payouts",
    };
    if let Some(err) = result.error() {
        return Err(format!("{name}: the search failed: {err}"));
    }
    match result.shown() {
        Some(page) if page.all_pages => Ok(format!(
            "{name}: {} orders loaded of {} matching",
            page.rows.len(),
            page.total
        )),
        Some(page) => Ok(format!(
            "{name}: {} orders shown of {} matching",
            page.rows.len(),
            page.total
        )),
        None => Ok(format!("{name}: the search was stopped")),
    }
}
