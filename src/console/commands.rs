//! The shell's commands: what the panels' actions and the timers ask for, each run by one
//! arm of an exhaustive `match`, so a new command cannot compile and be ignored.

use super::connection::{self};
use super::feedback;
use super::files::OpenKind;
use super::tasks::verify_input;
use super::{LOAD_ALL_CONCURRENCY, PaydeskApp, Tab, progress_channel};

use std::path::PathBuf;
use std::sync::Arc;

use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::profiles::{Profile, export_profile, profile_from_bytes};
use paydesk::domain::search::fetch_all_into;
use paydesk::gateway::cny::wire::OrderKind;

use std::sync::atomic::Ordering;

use paydesk::domain::bulk::BulkPlan;
use paydesk::domain::duplicates::Confirmation;
use paydesk::gateway::cny::wire::PayoutRequest;

use crate::console::panels::approvals::ApprovalAction;
use crate::console::panels::gatepay::{BatchAction, NewBatchAction};
use crate::console::panels::orders::{LoadedPage, Reread, RowBuilder};
use crate::console::panels::payouts::{BulkAction, PayoutAction, SentAction};
use crate::console::panels::profiles::ProfileForm;
use crate::console::panels::suborders::SubOrderSearch;
use crate::console::panels::workbench::{CheckedWith, WorkbenchInput};
use crate::console::panels::{export, listener, orders, profiles, reconcile, suborders, workbench};
use paydesk::domain::export::ExportKind;
use paydesk::domain::listener::AllowList;
use paydesk::gateway::gatepay::wire::BatchRequest;

/// What the UI asks for; run by `logic`.
#[derive(Debug)]
pub enum Command {
    /// Query the page the panel is on.
    Search(OrderKind),
    /// Fetch every page matching the filter.
    LoadAll(OrderKind),
    Verify(WorkbenchInput),
    /// Show an order's text in the workbench and check it.
    OpenInWorkbench(String),
    OpenFile,
    SaveProfile(Box<ProfileForm>),
    TestProfile(Box<ProfileForm>),
    /// Ask where to save, then write the profile's settings as TOML.
    ExportProfile(Box<Profile>),
    /// Ask for a shared TOML profile and read it into the form.
    ImportProfile,
    DeleteProfile(String),
    Activate(String),
    UseSandbox,
    CheckDuplicates(Box<PayoutRequest>),
    /// Send a payout; `true` when the operator ticked "Send anyway" on its likely duplicate.
    SubmitPayout(Box<PayoutRequest>, Confirmation),
    RetryPayout(String),
    /// Import payouts: from the file dialog, or from a file dropped on the window.
    OpenBulkFile(Option<PathBuf>),
    /// Look for likely duplicates of a checked file.
    CheckBulkDuplicates(Box<BulkPlan>),
    /// Send a checked file with the held rows the operator confirmed.
    SendBulk(Box<BulkPlan>, Confirmation),
    StopBulk,
    /// The background check: what the backoff says is due.
    Reconcile,
    /// "Check with the gateway now": every unknown and unfinished payout at once.
    ReconcileNow,
    LoadJournal,
    /// Open a sent payout's details and read its audit entries.
    PayoutDetails(String),
    /// Read the batch in the batch panel with its status filter.
    LoadBatch,
    /// Show a batch in the batch panel.
    ShowBatch(String),
    /// Import sub-orders: from the file dialog, or from a file dropped on the window.
    OpenBatchFile(Option<PathBuf>),
    /// Look for likely duplicates of a batch under review.
    CheckBatchDuplicates(Box<BatchRequest>),
    SubmitBatch(Box<BatchRequest>, Confirmation),
    RetryBatch(String),
    LoadBatches,
    ReconcileBatches,
    OpenExport(ExportKind),
    /// Show the export dialog set to every order matching the filter.
    OpenExportAll(ExportKind),
    /// Show the export dialog set to the rows selected in the table.
    OpenExportSelection(ExportKind),
    /// Ask where to save, then run the export the dialog describes.
    StartExport,
    /// Start the notification listener for the active profile.
    StartListener(u16, AllowList),
    StopListener,
    /// Search GatePay's sub-orders by date, every page.
    SearchSubOrders(SubOrderSearch),
    /// Export the sub-orders the search found.
    ExportSubOrders,
    /// Ask where to save (suggesting the name), then write a chart's numbers (CSV text).
    SaveChart(String, String),
    /// Reconcile tab: ask for the ledger file.
    OpenLedger,
    /// Reconcile tab: read the mapping remembered for the profile and kind.
    LoadLedgerMapping(OrderKind),
    RunReconciliation(Box<reconcile::RunInput>),
    ReadReconcilePage(reconcile::PageAsk),
    ExportReconcileDifferences(paydesk::domain::export::ExportFormat),
    /// Look a merchant order ID up in the Deposits or Payouts tab, every date.
    SearchOrderId(OrderKind, String),
    /// Awaiting approval: read the list again, approve or reject.
    Approval(ApprovalAction),
}

/// A batch to send: a new one the operator reviewed, or one sent before whose outcome is known
/// to be a refusal.
pub(super) enum BatchSend {
    New(Box<BatchRequest>, Confirmation),
    Retry(String),
}

impl Command {
    /// What an orders panel's action asks, for the panel of this kind.
    pub fn orders(kind: OrderKind, action: orders::Action) -> Command {
        match action {
            orders::Action::Search => Command::Search(kind),
            orders::Action::LoadAll => Command::LoadAll(kind),
            orders::Action::Export => Command::OpenExport(ExportKind::of(kind)),
            orders::Action::ExportAll => Command::OpenExportAll(ExportKind::of(kind)),
            orders::Action::OpenInWorkbench(text) => Command::OpenInWorkbench(text),
            orders::Action::ExportSelection => Command::OpenExportSelection(ExportKind::of(kind)),
            orders::Action::SaveChart {
                suggested_name,
                text,
            } => Command::SaveChart(suggested_name, text),
        }
    }
}

impl From<export::Action> for Command {
    fn from(action: export::Action) -> Command {
        match action {
            export::Action::Start => Command::StartExport,
        }
    }
}

impl From<reconcile::Action> for Command {
    fn from(action: reconcile::Action) -> Command {
        match action {
            reconcile::Action::OpenLedger => Command::OpenLedger,
            reconcile::Action::LoadMapping(kind) => Command::LoadLedgerMapping(kind),
            reconcile::Action::Run(input) => Command::RunReconciliation(input),
            reconcile::Action::ReadPage(ask) => Command::ReadReconcilePage(ask),
            reconcile::Action::Export(format) => Command::ExportReconcileDifferences(format),
            reconcile::Action::SearchOrder(kind, id) => Command::SearchOrderId(kind, id),
            reconcile::Action::CheckSignature(text) => Command::OpenInWorkbench(text),
        }
    }
}

impl From<listener::Action> for Command {
    fn from(action: listener::Action) -> Command {
        match action {
            listener::Action::Start { port, allow } => Command::StartListener(port, allow),
            listener::Action::Stop => Command::StopListener,
        }
    }
}

impl From<suborders::Action> for Command {
    fn from(action: suborders::Action) -> Command {
        match action {
            suborders::Action::Search(search) => Command::SearchSubOrders(search),
            suborders::Action::Export => Command::ExportSubOrders,
        }
    }
}

impl From<workbench::Action> for Command {
    fn from(action: workbench::Action) -> Command {
        match action {
            workbench::Action::Verify(input) => Command::Verify(input),
            workbench::Action::OpenFile => Command::OpenFile,
        }
    }
}

impl From<profiles::Action> for Command {
    fn from(action: profiles::Action) -> Command {
        match action {
            profiles::Action::UseSandbox => Command::UseSandbox,
            profiles::Action::Delete(name) => Command::DeleteProfile(name),
            profiles::Action::Activate(name) => Command::Activate(name),
            profiles::Action::Save(form) => Command::SaveProfile(form),
            profiles::Action::Test(form) => Command::TestProfile(form),
            profiles::Action::Export(profile) => Command::ExportProfile(profile),
            profiles::Action::Import => Command::ImportProfile,
        }
    }
}

impl From<PayoutAction> for Command {
    fn from(action: PayoutAction) -> Command {
        match action {
            PayoutAction::CheckDuplicates(request) => Command::CheckDuplicates(request),
            PayoutAction::Submit(request, confirmation) => {
                Command::SubmitPayout(request, confirmation)
            }
        }
    }
}

impl From<BulkAction> for Command {
    fn from(action: BulkAction) -> Command {
        match action {
            BulkAction::OpenFile => Command::OpenBulkFile(None),
            BulkAction::Send(plan, confirmation) => Command::SendBulk(plan, confirmation),
            BulkAction::Stop => Command::StopBulk,
        }
    }
}

impl From<SentAction> for Command {
    fn from(action: SentAction) -> Command {
        match action {
            SentAction::CheckNow => Command::ReconcileNow,
            SentAction::Retry(cl_id) => Command::RetryPayout(cl_id),
            SentAction::Details(cl_id) => Command::PayoutDetails(cl_id),
        }
    }
}

impl From<BatchAction> for Command {
    fn from(action: BatchAction) -> Command {
        match action {
            BatchAction::Load => Command::LoadBatch,
            BatchAction::Export => Command::OpenExport(ExportKind::BatchSubOrders),
            BatchAction::SaveChart {
                suggested_name,
                text,
            } => Command::SaveChart(suggested_name, text),
        }
    }
}

impl From<NewBatchAction> for Command {
    fn from(action: NewBatchAction) -> Command {
        match action {
            NewBatchAction::OpenFile => Command::OpenBatchFile(None),
            NewBatchAction::CheckDuplicates(request) => Command::CheckBatchDuplicates(request),
            NewBatchAction::Submit(request, confirmation) => {
                Command::SubmitBatch(request, confirmation)
            }
            NewBatchAction::Show(batch_id) => Command::ShowBatch(batch_id),
            NewBatchAction::Retry(batch_id) => Command::RetryBatch(batch_id),
        }
    }
}

impl PaydeskApp {
    /// Runs one command. Every command has its own arm: a new one does not compile until
    /// it is given one.
    pub(super) fn run(&mut self, command: Command) {
        match command {
            Command::Search(kind) => self.search(kind, false),
            Command::LoadAll(kind) => self.search(kind, true),
            Command::Verify(input) => self.verify(input),
            Command::OpenInWorkbench(text) => {
                let input = self.workbench.take_order(text);
                self.tab = Tab::Workbench;
                self.verify(input);
            }
            Command::OpenFile => {
                let dialogs = Arc::clone(&self.file_dialogs);
                let rx = self.request(async move { Ok(dialogs.open_file(OpenKind::Reply).await) });
                self.workbench.opening = Some(rx);
            }
            Command::SaveProfile(form) => self.save_profile(&form),
            Command::TestProfile(form) => {
                let (store, runtime) = (Arc::clone(&self.store), self.runtime.clone());
                self.profiles.pending = Some(self.request(async move {
                    Ok((connection::test_form(*form, store, runtime).await, None))
                }));
            }
            Command::ExportProfile(profile) => self.export_profile(*profile),
            Command::ImportProfile => self.import_profile(),
            Command::DeleteProfile(name) => self.profile_change(move |p| {
                p.remove(&name)?;
                Ok(format!("Removed profile “{name}” and its secrets"))
            }),
            Command::Activate(name) => self.activate(name),
            Command::UseSandbox => self.use_sandbox(),
            Command::CheckDuplicates(request) => self.check_duplicates(request),
            Command::SubmitPayout(request, confirmation) => {
                self.submit_payout(request, confirmation);
            }
            Command::RetryPayout(cl_id) => self.retry_payout(cl_id),
            Command::OpenBulkFile(dropped) => self.open_bulk_file(dropped),
            Command::CheckBulkDuplicates(plan) => self.check_bulk_duplicates(plan),
            Command::SendBulk(plan, confirmation) => self.send_bulk(plan, confirmation),
            Command::StopBulk => self.bulk_stop.store(true, Ordering::Relaxed),
            Command::Reconcile => self.reconcile(false),
            Command::ReconcileNow => self.reconcile(true),
            Command::LoadJournal => self.load_journal(),
            Command::PayoutDetails(cl_id) => self.payout_details(cl_id),
            Command::LoadBatch => self.load_batch(),
            Command::ShowBatch(id) => {
                self.batches.batch_id = id;
                self.batches.filter = paydesk::gateway::gatepay::wire::DetailStatus::All;
                self.tab = Tab::Batches;
                self.commands.push(Command::LoadBatch);
            }
            Command::OpenBatchFile(dropped) => self.open_batch_file(dropped),
            Command::CheckBatchDuplicates(request) => self.check_batch_duplicates(request),
            Command::SubmitBatch(request, confirmation) => {
                self.submit_batch(BatchSend::New(request, confirmation));
            }
            Command::RetryBatch(batch_id) => self.submit_batch(BatchSend::Retry(batch_id)),
            Command::LoadBatches => self.load_batches(),
            Command::ReconcileBatches => self.reconcile_batches(),
            Command::OpenExport(source) => {
                // Ctrl+E and the Export button are for the page or the filter, not a selection.
                let mut note = None;
                if let Some(kind) = source.order_kind() {
                    let panel = self.orders_panel(kind);
                    panel.export_selection = false;
                    note = panel.export_note();
                }
                if self.export.running.is_none() {
                    self.export.shown_note = note;
                }
                self.export.show_for(source);
            }
            Command::OpenExportAll(source) => {
                if self.export.running.is_none() {
                    self.export.all_pages = true;
                    self.export.shown_note = None;
                }
                self.export.show_for(source);
            }
            Command::OpenExportSelection(source) => {
                if let Some(kind) = source.order_kind() {
                    self.orders_panel(kind).export_selection = true;
                }
                if self.export.running.is_none() {
                    self.export.all_pages = false;
                    self.export.shown_note = None;
                }
                self.export.show_for(source);
            }
            Command::SearchSubOrders(search) => self.search_suborders(search),
            Command::ExportSubOrders => self.export.show_for(ExportKind::SubOrdersByDate),
            Command::StartExport => self.start_export(),
            Command::OpenLedger => self.open_ledger(),
            Command::LoadLedgerMapping(kind) => self.load_ledger_mapping(kind),
            Command::RunReconciliation(input) => self.run_reconciliation(*input),
            Command::ReadReconcilePage(ask) => self.read_reconcile_page(ask),
            Command::ExportReconcileDifferences(format) => {
                self.export_reconcile_differences(format);
            }
            Command::SearchOrderId(kind, id) => self.search_order_id(kind, id),
            Command::StartListener(port, allow) => self.start_listener(port, allow),
            Command::SaveChart(suggested, text) => self.save_chart(suggested, text),
            Command::Approval(action) => self.approval(action),
            Command::StopListener => {
                if let Some(handle) = self.listener.take_running() {
                    self.runtime.spawn(handle.stop());
                }
            }
        }
    }

    /// Writes a chart's numbers where the operator says, off the UI thread.
    fn save_chart(&mut self, suggested: String, text: String) {
        let dialogs = Arc::clone(&self.file_dialogs);
        let (runtime, ctx) = (self.runtime.clone(), self.ctx.clone());
        self.runtime.spawn(async move {
            let Some(path) = dialogs.save_file(suggested).await else {
                return;
            };
            let written = runtime
                .spawn_blocking(move || {
                    paydesk::domain::overview::write_text_file(&path, &text)
                        .map(|()| format!("Saved the chart's numbers to {}", path.display()))
                        .map_err(|e| format!("Could not write {}: {e}", path.display()))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            match written {
                Ok(done) => feedback::success(&ctx, done),
                Err(e) => feedback::error(&ctx, e),
            }
        });
    }

    /// Writes the profile's settings (the profile holds no secret) where the operator says.
    fn export_profile(&mut self, profile: Profile) {
        let dialogs = Arc::clone(&self.file_dialogs);
        let runtime = self.runtime.clone();
        let ctx = self.ctx.clone();
        let suggested: String = profile
            .name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        self.profiles.pending = Some(self.request(async move {
            let Some(path) = dialogs.save_file(format!("{suggested}.toml")).await else {
                return Ok((Ok("Not exported: no file chosen".to_owned()), None));
            };
            let written = runtime
                .spawn_blocking(move || {
                    let text = export_profile(&profile)?;
                    std::fs::write(&path, text)
                        .map(|()| format!("Exported “{}” to {}", profile.name, path.display()))
                        .map_err(|e| format!("Could not write {}: {e}", path.display()))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            match &written {
                Ok(done) => feedback::success(&ctx, done.clone()),
                Err(e) => feedback::error(&ctx, e.clone()),
            }
            Ok((written, None))
        }));
    }

    fn import_profile(&mut self) {
        let dialogs = Arc::clone(&self.file_dialogs);
        let ctx = self.ctx.clone();
        self.profiles.importing = Some(self.request(async move {
            let Some((name, bytes)) = dialogs.open_file(OpenKind::Profile).await else {
                return Ok(None);
            };
            let read = profile_from_bytes(std::path::Path::new(&name), &bytes, None)
                .map(Some)
                .map_err(|e| e.to_string());
            match &read {
                Ok(_) => feedback::info(&ctx, format!("Read a profile from {name}")),
                Err(e) => feedback::error(&ctx, format!("{name} is not a profile: {e}")),
            }
            read
        }));
    }

    fn search(&mut self, kind: OrderKind, all_pages: bool) {
        let Some(client) = self.connection.as_ref().and_then(|c| c.cny.clone()) else {
            let status = self.connection_status.clone();
            self.orders_panel(kind).no_connection(status);
            return;
        };
        let tz = self.time_zone();
        let panel = self.orders_panel(kind);
        let query = match panel.query(tz) {
            Ok(q) => q,
            Err(e) => {
                panel.invalid_filter(e);
                return;
            }
        };
        let limit = panel.row_limit;
        let reread = Reread::new(
            kind,
            client.config().md5_key.clone(),
            client.config().sign_options,
        );
        if all_pages {
            let (report, progress_rx) = progress_channel(&self.ctx);
            let rx = self.request(async move {
                let progress = move |done, total| report((done, total));
                // Each page becomes compact rows as it arrives, off the UI thread; its
                // orders are dropped at once, and reading stops past the limit.
                let mut rows = RowBuilder::default();
                fetch_all_into(
                    &client,
                    kind,
                    &query,
                    SystemClock.now_secs(),
                    LOAD_ALL_CONCURRENCY,
                    limit,
                    progress,
                    move |order| rows.row(&order),
                )
                .await
                .map(|all| LoadedPage::from_all(all, reread))
                .map_err(|e| e.to_string())
            });
            self.orders_panel(kind)
                .begin_request(true, rx, Some(progress_rx));
        } else {
            let rx = self.request(async move {
                client
                    .query(kind, &query)
                    .await
                    .map(|page| LoadedPage::from_page(page, reread))
                    .map_err(|e| e.to_string())
            });
            self.orders_panel(kind).begin_request(false, rx, None);
        }
    }

    fn verify(&mut self, input: WorkbenchInput) {
        let checked_with = CheckedWith::new(
            self.connection.as_ref().map(|c| c.profile_name.clone()),
            self.connection
                .as_ref()
                .and_then(|c| c.cny.as_ref())
                .map(|g| g.config().platform_id.clone()),
            &input,
        );
        let connection = self.connection.clone();
        let runtime = self.runtime.clone();
        let rx = self.request(async move {
            runtime
                .spawn_blocking(move || verify_input(input, connection.as_ref()))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        });
        self.workbench.begin(rx, checked_with);
    }
}
