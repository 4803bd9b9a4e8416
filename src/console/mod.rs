//! The console's state and its work: `logic` takes in task results and runs queued commands
//! (it draws nothing); `panels` draw and queue commands. Network, keyring, files and dialogs
//! run on the tokio runtime handle that `main` passes in, and report back on a bounded
//! channel followed by `request_repaint`.

pub mod connection;
pub mod files;
pub mod panels;
pub mod requested;

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::profiles::{GatewayKind, Profile, ProfileError, Profiles, SecretStore};
use paydesk::domain::search::fetch_all;
use paydesk::domain::verify::{parse_cny_input, verify_cny, verify_gatepay};
use paydesk::gateway::cny::wire::OrderKind;
use paydesk::sandbox::{SandboxConfig, SandboxHandle};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use paydesk::domain::bulk::{BulkPlan, RowError, plan};
use paydesk::domain::duplicates::{Confirmation, DuplicateReport, DuplicateWindow, HoldError};
use paydesk::domain::journal::{
    Actor, DEFAULT_BACKUP_DAYS, DamageWatch, Entry, Journal, ListFilter, journal_path,
    read_what_reads,
};
use paydesk::domain::payouts::{PayoutDesk, ReconcileReport, Sent};
use paydesk::gateway::cny::banks::{Bank, default_banks};
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::lock_unpoisoned as lock;

use crate::console::panels::export::ExportDialog;
use crate::console::panels::gatepay::{BatchPanel, NewBatchForm};
use crate::console::panels::orders::TzChoice;
use crate::console::panels::orders::{LoadedPage, OrdersPanel, PersistedFilter};
use crate::console::panels::payouts::{BulkImport, PayoutForm, PayoutsSent};
use crate::console::panels::profiles::{ProfileForm, ProfilesPanel};
use crate::console::panels::workbench::{WorkbenchInput, WorkbenchOutcome, WorkbenchPanel};
use connection::{Connection, Marker};
use files::{FileDialogs, OpenKind};
use paydesk::domain::batches::{BatchDesk, BatchEntry, BatchReconcileReport, plan_batch_file};
use paydesk::domain::export::{
    Cell, Counts, ExportKind, ExportPlan, ExportRequest, Layout, ManifestProfile, Phase, Progress,
    export_all_orders, order_cells, order_filter, sub_order_cells, suggested_name,
    write_with_manifest,
};
use paydesk::gateway::cny::wire::Order;
use paydesk::gateway::gatepay::wire::{BatchDetail, BatchRequest};
use std::time::Instant;

/// How many results may wait for the UI thread before a task waits.
const RESULT_CHANNEL_CAPACITY: usize = 64;
/// Concurrent page requests when loading every page.
pub const LOAD_ALL_CONCURRENCY: usize = 4;

/// What `main` (or a test) gives the console.
pub struct AppInit {
    pub runtime: tokio::runtime::Handle,
    pub config_dir: Option<PathBuf>,
    pub store: Arc<dyn SecretStore>,
    pub file_dialogs: Arc<dyn FileDialogs>,
    /// The sandbox started when nothing is configured.
    pub sandbox: SandboxConfig,
    /// Where the payout journal lives.
    pub data_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Deposits,
    Payouts,
    Workbench,
    NewPayout,
    PayoutsSent,
    Batches,
    NewBatch,
    Profiles,
}

/// What survives a restart (eframe storage). Never a secret.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub tab: Tab,
    pub deposits: PersistedFilter,
    pub payouts: PersistedFilter,
    pub details_open: bool,
    /// GatePay batch IDs looked at, newest first.
    pub recent_batches: Vec<String>,
    pub stuck_minutes: Option<i64>,
}

/// What the UI asks for; run by `logic`.
#[derive(Debug)]
pub enum Command {
    /// Query the page the panel is on.
    Search(OrderKind),
    /// Fetch every page matching the filter.
    LoadAll(OrderKind),
    Verify(WorkbenchInput),
    OpenFile,
    SaveProfile(Box<ProfileForm>),
    TestProfile(Box<ProfileForm>),
    DeleteProfile(String),
    Activate(String),
    UseSandbox,
    CheckDuplicates(Box<PayoutRequest>),
    /// Send a payout; `true` when the operator ticked "Send anyway" on its likely duplicate.
    SubmitPayout(Box<PayoutRequest>, bool),
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
    /// Ask where to save, then run the export the dialog describes.
    StartExport,
}

/// What tasks report back.
pub enum Msg {
    Connected {
        generation: u64,
        result: Result<Box<Connection>, String>,
    },
    SandboxStarted {
        generation: u64,
        result: Result<Box<(SandboxHandle, Connection)>, String>,
    },
    Page {
        kind: OrderKind,
        generation: u64,
        result: Result<LoadedPage, String>,
    },
    Progress {
        kind: OrderKind,
        generation: u64,
        done: u64,
        total: u64,
    },
    Verified(WorkbenchOutcome),
    FileOpened(Option<(String, Vec<u8>)>),
    ProfilesChanged {
        message: Result<String, String>,
        profiles: Option<Vec<Profile>>,
    },
    Tested(Result<String, String>),
    JournalOpened(Result<Arc<Mutex<Journal>>, String>),
    Duplicates(Result<DuplicateReport, String>),
    /// The likely duplicates of the file whose batch ID is given.
    BulkDuplicates(String, Result<DuplicateReport, String>),
    /// The likely duplicates of the batch under review with this ID.
    BatchDuplicates(String, Result<DuplicateReport, String>),
    Submitted(Result<Box<Sent>, String>),
    BulkPlanned(String, Box<Result<BulkPlan, Vec<RowError>>>),
    BulkProgress(usize, usize),
    BulkDone(String),
    Reconciled(Result<ReconcileReport, String>),
    JournalLoaded(Vec<Entry>),
    BatchLoaded {
        generation: u64,
        result: Result<Box<(BatchDetail, Option<String>)>, String>,
    },
    BatchFilePlanned(String, Box<Result<BatchRequest, Vec<RowError>>>),
    BatchSubmitted(Result<Box<BatchEntry>, String>),
    BatchesListed(Vec<BatchEntry>),
    BatchesReconciled(Result<BatchReconcileReport, String>),
    ExportProgress(Progress),
    ExportDone(Result<String, String>),
    ExportNotStarted,
    DialogCancelled,
    /// A background task stopped without a result (it panicked).
    TaskFailed(String),
}

pub struct PaydeskApp {
    pub runtime: tokio::runtime::Handle,
    pub tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    pub ctx: egui::Context,
    pub commands: Vec<Command>,
    pub config_dir: Option<PathBuf>,
    pub store: Arc<dyn SecretStore>,
    pub file_dialogs: Arc<dyn FileDialogs>,
    sandbox_config: SandboxConfig,
    /// Kept alive while the sandbox profile may be used.
    sandbox: Option<SandboxHandle>,
    pub connection: Option<Connection>,
    /// Why there is no connection, or what is being connected.
    pub connection_status: String,
    connect_generation: u64,
    pub tab: Tab,
    pub deposits: OrdersPanel,
    pub payouts: OrdersPanel,
    pub workbench: WorkbenchPanel,
    pub profiles: ProfilesPanel,
    pub details_open: bool,
    title: String,
    pub first_frame_reported: bool,
    pub journal: Option<Arc<Mutex<Journal>>>,
    /// Why the journal could not be opened (nothing can be sent then).
    journal_error: Option<String>,
    /// Tells, without the journal's lock, that it turned out damaged while open.
    journal_damage: DamageWatch,
    pub payout_form: PayoutForm,
    pub bulk: BulkImport,
    pub sent: PayoutsSent,
    pub batches: BatchPanel,
    pub new_batch: NewBatchForm,
    pub export: ExportDialog,
    batches_checking: bool,
    batches_reconciled_once: bool,
    bulk_stop: Arc<AtomicBool>,
    last_reconcile: Option<std::time::Instant>,
    reconciled_once: bool,
}

impl PaydeskApp {
    pub fn new(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        init: AppInit,
    ) -> PaydeskApp {
        crate::console::panels::fonts::install(ctx);
        let persisted: Persisted = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let (tx, rx) = mpsc::channel(RESULT_CHANNEL_CAPACITY);
        let mut app = PaydeskApp {
            runtime: init.runtime,
            tx,
            rx,
            ctx: ctx.clone(),
            commands: Vec::new(),
            config_dir: init.config_dir,
            store: init.store,
            file_dialogs: init.file_dialogs,
            sandbox_config: init.sandbox,
            sandbox: None,
            connection: None,
            connection_status: "Connecting…".to_owned(),
            connect_generation: 0,
            tab: persisted.tab,
            deposits: OrdersPanel::new(OrderKind::Deposit, &persisted.deposits),
            payouts: OrdersPanel::new(OrderKind::Payout, &persisted.payouts),
            workbench: WorkbenchPanel::default(),
            profiles: ProfilesPanel::default(),
            details_open: persisted.details_open,
            title: String::new(),
            first_frame_reported: false,
            journal: None,
            journal_error: None,
            journal_damage: DamageWatch::default(),
            payout_form: PayoutForm::default(),
            bulk: BulkImport::default(),
            sent: PayoutsSent::default(),
            batches: BatchPanel {
                recent: persisted.recent_batches.clone(),
                stuck_minutes: persisted
                    .stuck_minutes
                    .unwrap_or(paydesk::domain::batches::DEFAULT_STUCK_MINUTES),
                ..BatchPanel::default()
            },
            new_batch: NewBatchForm::default(),
            export: ExportDialog::default(),
            batches_checking: false,
            batches_reconciled_once: false,
            bulk_stop: Arc::new(AtomicBool::new(false)),
            last_reconcile: None,
            reconciled_once: false,
        };
        app.payout_form.reset();
        app.start();
        app.open_journal(init.data_dir);
        app
    }

    /// Opens the payout journal on a blocking thread.
    fn open_journal(&mut self, dir: Option<PathBuf>) {
        let runtime = self.runtime.clone();
        let tx = self.tx.clone();
        self.spawn(async move {
            let opened = runtime
                .spawn_blocking(move || {
                    let dir = dir.ok_or_else(|| {
                        (
                            "This system has no data directory for the payout journal".to_owned(),
                            Vec::new(),
                        )
                    })?;
                    let path = journal_path(&dir);
                    match Journal::open(&path) {
                        Ok(journal) => {
                            // The daily copy of a journal that just proved healthy; its
                            // failure does not stop the console (the journal itself is fine).
                            let _ = journal.rolling_backup(DEFAULT_BACKUP_DAYS, false);
                            Ok(Arc::new(Mutex::new(journal)))
                        }
                        // A refused journal still shows what reads in Payouts sent; nothing
                        // can be sent with it.
                        Err(e) => Err((e.to_string(), read_what_reads(&path).0)),
                    }
                })
                .await
                .unwrap_or_else(|e| Err((e.to_string(), Vec::new())));
            Msg::JournalOpened(match opened {
                Ok(journal) => Ok(journal),
                Err((why, readable)) => {
                    if !readable.is_empty() {
                        let _ = tx.send(Msg::JournalLoaded(readable)).await;
                    }
                    Err(why)
                }
            })
        });
    }

    /// The payout service of the active CNY merchant, when there is one with a key.
    pub fn desk(&self) -> Option<PayoutDesk> {
        let journal = self.journal.clone()?;
        let client = self.connection.as_ref()?.cny.clone()?;
        client.config().md5_key.as_ref()?;
        Some(PayoutDesk::new(journal, client, Arc::new(SystemClock)))
    }

    /// The batch service of the active GatePay client, when there is one.
    pub fn batch_desk(&self) -> Option<BatchDesk> {
        let journal = self.journal.clone()?;
        let client = self.connection.as_ref()?.gatepay.clone()?;
        Some(BatchDesk::new(journal, client, Arc::new(SystemClock)))
    }

    /// The journal turned out damaged while open: what the operator reads and does.
    fn journal_damage_message(&self) -> Option<String> {
        self.journal_damage.why().map(|why| {
            format!(
                "The payout journal is damaged, so nothing can be sent: {why}. Close Paydesk and run \
                 `paydesk journal check`, then restore a good copy with `paydesk journal restore FILE`"
            )
        })
    }

    /// Why payouts (CNY) or batches (GatePay) cannot be sent right now, in the operator's
    /// words; `None` when they can. Distinguishes "still starting" from "not possible".
    pub fn send_blocker(&self, gateway: GatewayKind) -> Option<String> {
        if let Some(damaged) = self.journal_damage_message() {
            return Some(damaged);
        }
        let Some(connection) = &self.connection else {
            return Some(if self.connection_status.is_empty() {
                "Not connected to a gateway".to_owned()
            } else {
                self.connection_status.clone()
            });
        };
        let has_credentials = match gateway {
            GatewayKind::Cny => connection.md5_key().is_some(),
            GatewayKind::Gatepay => connection.gatepay.is_some(),
        };
        if !has_credentials {
            return Some(
                match gateway {
                    GatewayKind::Cny => {
                        "Payouts need an active CNY gateway profile with its MD5 key"
                    }
                    GatewayKind::Gatepay => {
                        "This profile has no GatePay credentials: batches cannot be sent"
                    }
                }
                .to_owned(),
            );
        }
        if self.journal.is_none() {
            return Some(self.journal_error.clone().unwrap_or_else(|| {
                "Opening the payout journal… (sending waits for it)".to_owned()
            }));
        }
        None
    }

    pub fn banks(&self) -> Vec<Bank> {
        self.connection
            .as_ref()
            .map_or_else(default_banks, |c| c.banks.clone())
    }

    /// On start: the active profile if one is configured, otherwise the sandbox.
    fn start(&mut self) {
        let Some(dir) = self.config_dir.clone() else {
            self.commands.push(Command::UseSandbox);
            return;
        };
        match Profiles::load(&dir, Arc::clone(&self.store)) {
            Ok(profiles) => {
                let active = profiles.active_name().map(str::to_owned);
                self.profiles.list = profiles.list().to_vec();
                match active {
                    Some(name) => self.commands.push(Command::Activate(name)),
                    None => self.commands.push(Command::UseSandbox),
                }
            }
            Err(e) => {
                self.profiles.message = Some(Err(e.to_string()));
                self.commands.push(Command::UseSandbox);
            }
        }
    }

    pub fn orders_panel(&mut self, kind: OrderKind) -> &mut OrdersPanel {
        match kind {
            OrderKind::Deposit => &mut self.deposits,
            OrderKind::Payout => &mut self.payouts,
        }
    }

    /// Spawns a task whose result is posted back to the UI thread.
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = Msg> + Send + 'static,
    {
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            let msg = task.await;
            if tx.send(msg).await.is_ok() {
                ctx.request_repaint();
            }
        });
    }

    /// Takes in what tasks reported, then runs the queued commands. Draws nothing.
    pub fn logic(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            self.receive(msg);
        }
        // Unknown outcomes and unfinished payouts are checked in the background.
        let due = self
            .last_reconcile
            .is_none_or(|t| t.elapsed() > RECONCILE_EVERY);
        if due && !self.sent.checking && self.desk().is_some() {
            self.sent.checking = true;
            self.commands.push(Command::Reconcile);
        }
        if due && !self.batches_checking && self.batch_desk().is_some() {
            self.batches_checking = true;
            if self.desk().is_none() {
                self.last_reconcile = Some(std::time::Instant::now());
            }
            self.commands.push(Command::ReconcileBatches);
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

    fn receive(&mut self, msg: Msg) {
        match msg {
            Msg::Connected { generation, result } if generation == self.connect_generation => {
                match result {
                    Ok(c) => self.connected(*c),
                    Err(e) => {
                        self.connection_status = e;
                        self.connection = None;
                    }
                }
            }
            Msg::SandboxStarted { generation, result } if generation == self.connect_generation => {
                match result {
                    Ok(started) => {
                        let (handle, c) = *started;
                        self.sandbox = Some(handle);
                        self.connected(c);
                    }
                    Err(e) => self.connection_status = format!("The sandbox could not start: {e}"),
                }
            }
            Msg::Connected { .. } | Msg::SandboxStarted { .. } => {}
            Msg::Page {
                kind,
                generation,
                result,
            } => self.orders_panel(kind).receive(generation, result),
            Msg::Progress {
                kind,
                generation,
                done,
                total,
            } => {
                let panel = self.orders_panel(kind);
                if panel.generation == generation {
                    panel.progress = Some((done, total));
                }
            }
            Msg::Verified(outcome) => self.workbench.receive(outcome),
            Msg::FileOpened(file) => self.workbench.file_opened(file),
            Msg::ProfilesChanged { message, profiles } => {
                if let Some(list) = profiles {
                    self.profiles.list = list;
                }
                self.profiles.busy = false;
                self.profiles.message = Some(message);
            }
            Msg::Tested(result) => {
                self.profiles.busy = false;
                self.profiles.message = Some(result);
            }
            Msg::JournalOpened(Ok(journal)) => {
                self.journal_damage = lock(&journal).damage_watch();
                self.journal = Some(journal);
                self.commands.push(Command::LoadJournal);
                self.commands.push(Command::LoadBatches);
            }
            Msg::JournalOpened(Err(e)) => {
                let message = journal_open_message(&e);
                self.sent.message = Some(message.clone());
                self.journal_error = Some(message);
            }
            Msg::Duplicates(found) => {
                if let Some((_, held)) = &mut self.payout_form.review {
                    held.report = Some(found);
                }
            }
            Msg::BulkDuplicates(batch_id, found) => {
                // A report for a file no longer shown is dropped.
                if matches!(&self.bulk.plan, Some(Ok(p)) if p.batch_id == batch_id) {
                    self.bulk.held.report = Some(found);
                }
            }
            Msg::BatchDuplicates(batch_id, found) => {
                if let Some((r, held)) = &mut self.new_batch.review
                    && r.batch_id == batch_id
                {
                    held.report = Some(found);
                }
            }
            Msg::Submitted(result) => {
                self.payout_form.busy = false;
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
                        sent.state.describe()
                    ));
                }
                self.payout_form.result = Some(result.map(|s| s.entry));
                self.commands.push(Command::LoadJournal);
            }
            Msg::BulkPlanned(name, plan) => {
                self.bulk.file_name = Some(name);
                self.bulk.held = crate::console::panels::payouts::HeldReview::default();
                if let Ok(p) = plan.as_ref() {
                    self.commands
                        .push(Command::CheckBulkDuplicates(Box::new(p.clone())));
                }
                self.bulk.plan = Some(*plan);
                self.bulk.progress = None;
                self.bulk.summary = None;
            }
            Msg::BulkProgress(done, total) => self.bulk.progress = Some((done, total)),
            Msg::BulkDone(summary) => {
                self.bulk.sending = false;
                self.bulk.summary = Some(summary);
                self.commands.push(Command::LoadJournal);
            }
            Msg::Reconciled(result) => {
                self.sent.checking = false;
                self.last_reconcile = Some(std::time::Instant::now());
                match result {
                    Err(e) => {
                        self.sent.message = Some(format!("Checking with the gateway failed: {e}"));
                    }
                    Ok(report) => {
                        self.sent.last_report = Some(report);
                        self.sent.last_checked_ms = Some(SystemClock.now_ms());
                    }
                }
                self.commands.push(Command::LoadJournal);
            }
            Msg::JournalLoaded(entries) => {
                self.sent.entries = entries;
                // Damage found while sending shows in the Payouts sent panel too.
                if let Some(damaged) = self.journal_damage_message() {
                    self.sent.message = Some(damaged);
                }
            }
            Msg::BatchLoaded { generation, result } => {
                let tz = self.payouts.filter.tz.zone();
                self.batches
                    .receive(generation, result.map(|b| *b), SystemClock.now_ms(), &tz);
            }
            Msg::BatchFilePlanned(name, planned) => self.new_batch.file_planned(name, *planned),
            Msg::BatchSubmitted(result) => {
                self.new_batch.busy = false;
                if let Ok(e) = &result
                    && e.state != paydesk::domain::journal::State::Rejected
                {
                    self.new_batch.reset();
                }
                self.new_batch.result = Some(result.map(|e| *e));
                self.commands.push(Command::LoadBatches);
            }
            Msg::BatchesListed(list) => self.batches.sent = list,
            Msg::BatchesReconciled(result) => {
                self.batches_checking = false;
                if let Err(e) = result {
                    self.new_batch.message =
                        Some(format!("Checking batches with GatePay failed: {e}"));
                }
                self.commands.push(Command::LoadBatches);
            }
            Msg::ExportProgress(p) => self.export.progress(p),
            Msg::ExportDone(result) => self.export.finished(result),
            Msg::ExportNotStarted => self.export.running = None,
            Msg::DialogCancelled => {}
            Msg::TaskFailed(e) => {
                self.sent.checking = false;
                self.batches_checking = false;
                self.batches.loading = false;
                self.new_batch.busy = false;
                self.sent.message = Some(format!("A background task failed: {e}"));
            }
        }
    }

    fn connected(&mut self, c: Connection) {
        self.connection_status = String::new();
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

    fn run(&mut self, command: Command) {
        match command {
            Command::Search(kind) => self.search(kind, false),
            Command::LoadAll(kind) => self.search(kind, true),
            Command::Verify(input) => self.verify(input),
            Command::OpenFile => {
                let dialogs = Arc::clone(&self.file_dialogs);
                self.spawn(
                    async move { Msg::FileOpened(dialogs.open_file(OpenKind::Reply).await) },
                );
            }
            Command::SaveProfile(form) => self.save_profile(&form),
            Command::TestProfile(form) => {
                self.profiles.busy = true;
                let (store, runtime) = (Arc::clone(&self.store), self.runtime.clone());
                self.spawn(async move {
                    Msg::Tested(connection::test_form(*form, store, runtime).await)
                });
            }
            Command::DeleteProfile(name) => self.profile_change(move |p| {
                p.remove(&name)?;
                Ok(format!("Removed profile “{name}” and its secrets"))
            }),
            Command::Activate(name) => self.activate(name),
            Command::UseSandbox => self.use_sandbox(),
            Command::LoadBatch
            | Command::ShowBatch(_)
            | Command::OpenBatchFile(_)
            | Command::CheckBatchDuplicates(_)
            | Command::SubmitBatch(..)
            | Command::RetryBatch(_)
            | Command::LoadBatches
            | Command::ReconcileBatches => self.run_batch(command),
            Command::OpenExport(source) => self.export.show_for(source),
            Command::StartExport => self.start_export(),
            command => self.run_payout(command),
        }
    }

    fn run_payout(&mut self, command: Command) {
        let Some(desk) = self.desk() else {
            if let Command::Reconcile | Command::ReconcileNow = command {
                self.sent.checking = false;
            }
            if let Command::LoadJournal = command
                && let Some(journal) = self.journal.clone()
            {
                self.spawn_blocking_msg(move || {
                    Msg::JournalLoaded(
                        lock(&journal)
                            .list(&ListFilter::default())
                            .unwrap_or_default(),
                    )
                });
            }
            return;
        };
        let runtime = self.runtime.clone();
        match command {
            Command::CheckDuplicates(request) => {
                self.spawn_blocking_msg(move || {
                    Msg::Duplicates(
                        desk.duplicates_of(&request, duplicate_window(), false)
                            .map_err(|e| e.to_string()),
                    )
                });
            }
            Command::CheckBulkDuplicates(plan) => {
                self.spawn_blocking_msg(move || {
                    Msg::BulkDuplicates(
                        plan.batch_id.clone(),
                        desk.duplicates_of_plan(&plan, duplicate_window(), &Confirmation::Nothing)
                            .map_err(|e| e.to_string()),
                    )
                });
            }
            // The desk writes the audit record itself (one failure policy for CLI and console).
            Command::SubmitPayout(request, confirmed) => self.spawn(async move {
                Msg::Submitted(
                    desk.submit_unless_duplicate(&request, duplicate_window(), confirmed)
                        .await
                        .map(|(sent, _)| Box::new(sent))
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::RetryPayout(cl_id) => self.spawn(async move {
                Msg::Submitted(
                    desk.retry(&cl_id)
                        .await
                        .map(Box::new)
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::OpenBulkFile(dropped) => {
                let (dialogs, banks) = (Arc::clone(&self.file_dialogs), self.banks());
                self.spawn(async move {
                    let file = match open_or_read(&*dialogs, OpenKind::Payouts, dropped).await {
                        Ok(file) => file,
                        Err(e) => return Msg::BulkDone(e),
                    };
                    let Some((name, bytes)) = file else {
                        return Msg::DialogCancelled;
                    };
                    let planned = runtime
                        .spawn_blocking(move || {
                            let existing = |id: &str| {
                                lock(&desk.journal)
                                    .get(&desk.merchant, id)
                                    .ok()
                                    .flatten()
                                    .map(|e| e.batch_id)
                            };
                            let p = plan(&name, bytes, &banks, existing);
                            (name, p)
                        })
                        .await;
                    match planned {
                        Ok((name, p)) => Msg::BulkPlanned(name, Box::new(p)),
                        Err(e) => Msg::BulkDone(e.to_string()),
                    }
                });
            }
            Command::SendBulk(plan, confirmation) => {
                self.bulk_stop.store(false, Ordering::Relaxed);
                let (stop, tx, ctx) = (
                    Arc::clone(&self.bulk_stop),
                    self.tx.clone(),
                    self.ctx.clone(),
                );
                self.spawn(async move {
                    Msg::BulkDone(send_bulk(&desk, &plan, &confirmation, &stop, &tx, &ctx).await)
                });
            }
            Command::StopBulk => self.bulk_stop.store(true, Ordering::Relaxed),
            Command::Reconcile => {
                let after_crash = !self.reconciled_once;
                self.reconciled_once = true;
                self.spawn(async move {
                    Msg::Reconciled(desk.reconcile(after_crash).await.map_err(|e| e.to_string()))
                });
            }
            Command::ReconcileNow => {
                let after_crash = !self.reconciled_once;
                self.reconciled_once = true;
                self.spawn(async move {
                    Msg::Reconciled(
                        desk.reconcile_now(after_crash)
                            .await
                            .map_err(|e| e.to_string()),
                    )
                });
            }
            Command::LoadJournal => {
                let merchant = desk.merchant.clone();
                self.spawn_blocking_msg(move || {
                    Msg::JournalLoaded(
                        lock(&desk.journal)
                            .list(&ListFilter {
                                merchant: Some(merchant),
                                ..ListFilter::default()
                            })
                            .unwrap_or_default(),
                    )
                });
            }
            _ => {}
        }
    }

    fn run_batch(&mut self, command: Command) {
        let runtime = self.runtime.clone();
        // Looking a batch up needs only the GatePay client and reading a file needs nothing;
        // the journal is for what is sent.
        match command {
            Command::ShowBatch(id) => {
                self.batches.batch_id = id;
                self.batches.filter = paydesk::gateway::gatepay::wire::DetailStatus::All;
                self.tab = Tab::Batches;
                self.commands.push(Command::LoadBatch);
                return;
            }
            Command::LoadBatch => {
                let Some(client) = self.connection.as_ref().and_then(|c| c.gatepay.clone()) else {
                    self.batches.error = Some(if self.connection.is_some() {
                        "This profile has no GatePay credentials: add them in Profiles to look up batches".to_owned()
                    } else {
                        self.send_blocker(GatewayKind::Gatepay).unwrap_or_default()
                    });
                    return;
                };
                let batch_id = self.batches.batch_id.trim().to_owned();
                let filter = self.batches.filter;
                let generation = self.batches.begin();
                self.spawn(async move {
                    let result = client
                        .batch_detail(&batch_id, filter)
                        .await
                        .map(|d| Box::new((d, client.clock_warning())))
                        .map_err(|e| e.to_string());
                    Msg::BatchLoaded { generation, result }
                });
                return;
            }
            Command::OpenBatchFile(dropped) => {
                let dialogs = Arc::clone(&self.file_dialogs);
                let batch_id = self.new_batch.batch_id.trim().to_owned();
                self.spawn(async move {
                    let shown = dropped
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    let file = match open_or_read(&*dialogs, OpenKind::SubOrders, dropped).await {
                        Ok(file) => file,
                        Err(message) => {
                            let whole = paydesk::domain::bulk::RowError {
                                row: 0,
                                column: "the file".to_owned(),
                                message,
                            };
                            return Msg::BatchFilePlanned(shown, Box::new(Err(vec![whole])));
                        }
                    };
                    let Some((name, bytes)) = file else {
                        return Msg::DialogCancelled;
                    };
                    let planned = runtime
                        .spawn_blocking(move || {
                            let p = plan_batch_file(&name, &bytes, &batch_id);
                            (name, p)
                        })
                        .await;
                    match planned {
                        Ok((name, p)) => Msg::BatchFilePlanned(name, Box::new(p)),
                        Err(e) => Msg::TaskFailed(e.to_string()),
                    }
                });
                return;
            }
            _ => {}
        }
        let Some(desk) = self.batch_desk() else {
            match command {
                Command::ReconcileBatches => self.batches_checking = false,
                Command::SubmitBatch(..) | Command::RetryBatch(_) => {
                    self.new_batch.busy = false;
                    self.new_batch.result = Some(Err(self
                        .send_blocker(GatewayKind::Gatepay)
                        .unwrap_or_else(|| "This profile cannot send GatePay batches".to_owned())));
                }
                _ => {}
            }
            return;
        };
        match command {
            Command::CheckBatchDuplicates(request) => {
                self.spawn_blocking_msg(move || {
                    Msg::BatchDuplicates(
                        request.batch_id.clone(),
                        desk.duplicates_of_batch(
                            &request,
                            duplicate_window(),
                            &Confirmation::Nothing,
                        )
                        .map_err(|e| e.to_string()),
                    )
                });
            }
            // The desk writes the audit records itself.
            Command::SubmitBatch(request, confirmation) => self.spawn(async move {
                Msg::BatchSubmitted(
                    desk.submit_unless_duplicate(&request, duplicate_window(), &confirmation)
                        .await
                        .map(|(s, _)| Box::new(s.entry))
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::RetryBatch(batch_id) => self.spawn(async move {
                Msg::BatchSubmitted(
                    desk.retry(&batch_id)
                        .await
                        .map(|s| Box::new(s.entry))
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::LoadBatches => {
                self.spawn_blocking_msg(move || {
                    Msg::BatchesListed(desk.list(200).unwrap_or_default())
                });
            }
            Command::ReconcileBatches => {
                let after_crash = !self.batches_reconciled_once;
                self.batches_reconciled_once = true;
                self.spawn(async move {
                    Msg::BatchesReconciled(
                        desk.reconcile(after_crash).await.map_err(|e| e.to_string()),
                    )
                });
            }
            _ => {}
        }
    }

    fn spawn_blocking_msg(&self, work: impl FnOnce() -> Msg + Send + 'static) {
        let runtime = self.runtime.clone();
        self.spawn(async move {
            runtime
                .spawn_blocking(work)
                .await
                .unwrap_or_else(|e| Msg::TaskFailed(e.to_string()))
        });
    }

    fn use_sandbox(&mut self) {
        self.connect_generation += 1;
        let generation = self.connect_generation;
        self.connection = None;
        if let Some(handle) = &self.sandbox {
            let c = Connection::sandbox(handle);
            self.tx_now(Msg::Connected {
                generation,
                result: c.map(Box::new),
            });
            return;
        }
        "Starting the sandbox gateway…".clone_into(&mut self.connection_status);
        let config = self.sandbox_config.clone();
        self.spawn(async move {
            let result = match paydesk::sandbox::start(config).await {
                Ok(handle) => Connection::sandbox(&handle).map(|c| Box::new((handle, c))),
                Err(e) => Err(e.to_string()),
            };
            Msg::SandboxStarted { generation, result }
        });
    }

    fn tx_now(&mut self, msg: Msg) {
        self.receive(msg);
    }

    fn activate(&mut self, name: String) {
        self.connect_generation += 1;
        let generation = self.connect_generation;
        self.connection = None;
        self.connection_status =
            format!("Opening profile “{name}”: reading its secrets from the keyring…");
        let (store, dir) = (Arc::clone(&self.store), self.config_dir.clone());
        let runtime = self.runtime.clone();
        self.spawn(async move {
            // The keyring blocks: off the async workers too.
            let result = runtime
                .spawn_blocking(move || {
                    connection::from_profile(dir.as_deref(), store, &name).map(Box::new)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            Msg::Connected { generation, result }
        });
    }

    fn save_profile(&mut self, form: &ProfileForm) {
        let profile = match form.to_profile() {
            Ok(p) => p,
            Err(e) => {
                self.profiles.message = Some(Err(e));
                return;
            }
        };
        let secrets = form.secrets();
        let replace = form.editing.is_some();
        self.profile_change(move |p| {
            let name = profile.name.clone();
            p.save(profile, &secrets, replace)?;
            Ok(format!(
                "Saved profile “{name}”; its secrets are in the OS keyring"
            ))
        });
    }

    /// Runs a change to the profiles file and keyring on a blocking thread.
    fn profile_change(
        &mut self,
        change: impl FnOnce(&mut Profiles) -> Result<String, ProfileError> + Send + 'static,
    ) {
        self.profiles.busy = true;
        let (store, dir, runtime) = (
            Arc::clone(&self.store),
            self.config_dir.clone(),
            self.runtime.clone(),
        );
        let journal = self.journal.clone();
        self.spawn(async move {
            let done = runtime
                .spawn_blocking(move || {
                    let Some(dir) = dir else {
                        return (
                            Err("This system has no config directory for profiles".to_owned()),
                            None,
                        );
                    };
                    let mut profiles = match Profiles::load(&dir, store) {
                        Ok(p) => p,
                        Err(e) => return (Err(e.to_string()), None),
                    };
                    let message = change(&mut profiles).map_err(|e| e.to_string());
                    if let (Ok(m), Some(j)) = (&message, &journal) {
                        let _ = lock(j).audit(
                            Actor::current().as_str(),
                            "profile changed",
                            m,
                            SystemClock.now_secs(),
                        );
                    }
                    (message, Some(profiles.list().to_vec()))
                })
                .await;
            match done {
                Ok((message, profiles)) => Msg::ProfilesChanged { message, profiles },
                Err(e) => Msg::ProfilesChanged {
                    message: Err(e.to_string()),
                    profiles: None,
                },
            }
        });
    }

    fn search(&mut self, kind: OrderKind, all_pages: bool) {
        let Some(client) = self.connection.as_ref().and_then(|c| c.cny.clone()) else {
            let status = self.connection_status.clone();
            self.orders_panel(kind).no_connection(status);
            return;
        };
        let panel = self.orders_panel(kind);
        let query = match panel.query() {
            Ok(q) => q,
            Err(e) => {
                panel.invalid_filter(e);
                return;
            }
        };
        let generation = panel.begin_request(all_pages);
        let tz = panel.filter.tz.zone();
        if all_pages {
            let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
            self.spawn(async move {
                let progress = move |done, total| {
                    // Progress is advisory: drop it rather than wait when the UI is behind.
                    if tx
                        .try_send(Msg::Progress {
                            kind,
                            generation,
                            done,
                            total,
                        })
                        .is_ok()
                    {
                        ctx.request_repaint();
                    }
                };
                let result = fetch_all(
                    &client,
                    kind,
                    &query,
                    SystemClock.now_secs(),
                    LOAD_ALL_CONCURRENCY,
                    progress,
                )
                .await
                .map(|all| LoadedPage::from_all(all, &tz))
                .map_err(|e| e.to_string());
                Msg::Page {
                    kind,
                    generation,
                    result,
                }
            });
        } else {
            self.spawn(async move {
                let result = client
                    .query(kind, &query)
                    .await
                    .map(|page| LoadedPage::from_page(page, &tz))
                    .map_err(|e| e.to_string());
                Msg::Page {
                    kind,
                    generation,
                    result,
                }
            });
        }
    }

    fn verify(&mut self, input: WorkbenchInput) {
        let generation = self.workbench.begin();
        let connection = self.connection.clone();
        let runtime = self.runtime.clone();
        self.spawn(async move {
            let outcome = runtime
                .spawn_blocking(move || verify_input(generation, input, connection.as_ref()))
                .await
                .unwrap_or_else(|e| WorkbenchOutcome::failed(generation, e.to_string()));
            Msg::Verified(outcome)
        });
    }

    pub fn persisted(&self) -> Persisted {
        Persisted {
            tab: self.tab,
            deposits: self.deposits.persisted(),
            payouts: self.payouts.persisted(),
            details_open: self.details_open,
            recent_batches: self.batches.recent.clone(),
            stuck_minutes: Some(self.batches.stuck_minutes),
        }
    }

    /// Runs the export the dialog describes: a save dialog first, then the rows (fetched
    /// for every page, or the ones at hand), written off the UI thread with progress.
    // The two arms are the two sources of rows (CNY orders, a GatePay batch), not a special case.
    #[allow(clippy::single_match_else)]
    fn start_export(&mut self) {
        let kind = self.export.source;
        let tz_choice = match kind.order_kind() {
            Some(k) => self.orders_panel(k).filter.tz,
            None => self.payouts.filter.tz,
        };
        let tz = tz_choice.zone();
        let tz_name = match tz_choice {
            TzChoice::Gateway => paydesk::domain::dates::GATEWAY_TZ.to_owned(),
            TzChoice::Utc => "UTC".to_owned(),
            TzChoice::Local => tz.iana_name().unwrap_or("local").to_owned(),
        };
        let format = self.export.format;
        let layout = Layout {
            kind,
            format,
            columns: self.export.chosen_columns(),
            tz: tz.clone(),
            tz_name,
            unit: self.export.unit,
        };
        let Some(connection) = self.connection.clone() else {
            self.export
                .finished(Err("Not connected to a gateway".to_owned()));
            return;
        };
        let (base_url, merchant) = match kind.order_kind() {
            Some(_) => connection.cny.as_ref().map_or_else(Default::default, |c| {
                (
                    c.config().base_url.to_string(),
                    c.config().platform_id.clone(),
                )
            }),
            None => connection
                .gatepay
                .as_ref()
                .map_or_else(Default::default, |c| {
                    (
                        c.config().base_url.to_string(),
                        c.config().client_id.clone(),
                    )
                }),
        };
        let profile = ManifestProfile {
            name: connection.profile_name.clone(),
            marker: connection.marker.label().to_owned(),
            base_url,
            merchant,
        };
        let now = SystemClock.now_secs();
        let cancel = Arc::clone(&self.export.cancel);
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        let progress = move |p: Progress| {
            // Advisory: dropped rather than waited for when the UI is behind.
            if tx.try_send(Msg::ExportProgress(p)).is_ok() {
                ctx.request_repaint();
            }
        };
        let dialogs = Arc::clone(&self.file_dialogs);
        // The target comes from the save dialog, the scope and filter from the rows chosen.
        let mut plan = ExportRequest { layout, profile }.plan(PathBuf::new(), "");
        match kind.order_kind() {
            Some(order_kind) => {
                let all_pages = self.export.all_pages;
                let panel = self.orders_panel(order_kind);
                let query = panel.query();
                let loaded = if all_pages {
                    None
                } else {
                    panel.result.shown().map(|p| {
                        let orders: Vec<Order> = p.rows.iter().map(|r| r.order.clone()).collect();
                        (orders, p.total, p.all_pages)
                    })
                };
                let query = match query {
                    Ok(q) => q,
                    Err(e) => {
                        self.export
                            .finished(Err(format!("The filter is not valid: {e}")));
                        return;
                    }
                };
                let name = suggested_name(
                    kind,
                    query.created.map(|r| (r.from_secs, r.to_secs)),
                    &tz,
                    format,
                    now,
                );
                if all_pages {
                    let Some(client) = connection.cny.clone() else {
                        self.export
                            .finished(Err("This profile has no CNY gateway".to_owned()));
                        return;
                    };
                    let concurrency = self.export.concurrency.clamp(1, 16);
                    "all pages".clone_into(&mut plan.scope);
                    self.export.running = Some((
                        Progress {
                            phase: Phase::Fetching,
                            done: 0,
                            total: 0,
                        },
                        Instant::now(),
                    ));
                    self.spawn(async move {
                        let Some(path) = dialogs.save_file(name).await else {
                            return Msg::ExportNotStarted;
                        };
                        plan.target = path;
                        Msg::ExportDone(
                            export_all_orders(
                                &client,
                                order_kind,
                                &query,
                                concurrency,
                                plan,
                                cancel,
                                progress,
                            )
                            .await
                            .map(|r| r.describe())
                            .map_err(|e| e.to_string()),
                        )
                    });
                } else {
                    let Some((orders, total, loaded_all)) = loaded else {
                        self.export
                            .finished(Err("Nothing is loaded yet: search first".to_owned()));
                        return;
                    };
                    let counts = Counts {
                        rows: orders.len() as u64,
                        gateway_total: loaded_all.then_some(total),
                        duplicates_dropped: 0,
                        invalid_signatures: orders
                            .iter()
                            .filter(|o| o.signature.is_invalid())
                            .count(),
                    };
                    plan.scope = if loaded_all {
                        "all loaded pages".to_owned()
                    } else {
                        format!("one page (offset {}, gateway total {total})", query.offset)
                    };
                    plan.filter = order_filter(&query, false, &tz);
                    self.export_rows(dialogs, name, plan, counts, move |cols| {
                        orders.iter().map(|o| order_cells(o, cols)).collect()
                    });
                }
            }
            None => {
                let Some(detail) = self.batches.detail.clone() else {
                    self.export.finished(Err("Load a batch first".to_owned()));
                    return;
                };
                let name = format!(
                    "batch_{}_{}.{}",
                    detail.batch_id,
                    self.batches.filter.as_str().to_lowercase(),
                    format.extension()
                );
                "batch sub-orders".clone_into(&mut plan.scope);
                plan.filter = serde_json::json!({
                    "batch_id": detail.batch_id,
                    "detail_status": self.batches.filter.as_str(),
                    "batch_status": detail.status,
                });
                let counts = Counts {
                    rows: detail.withdraw_list.len() as u64,
                    ..Counts::default()
                };
                self.export_rows(dialogs, name, plan, counts, move |cols| {
                    detail
                        .withdraw_list
                        .iter()
                        .map(|s| sub_order_cells(s, cols))
                        .collect()
                });
            }
        }
    }

    /// Writes rows already at hand (a page, a batch) after the save dialog.
    fn export_rows(
        &mut self,
        dialogs: Arc<dyn FileDialogs>,
        name: String,
        mut plan: ExportPlan,
        counts: Counts,
        cells: impl FnOnce(&[String]) -> Vec<Vec<Cell>> + Send + 'static,
    ) {
        let cancel = Arc::clone(&self.export.cancel);
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        let runtime = self.runtime.clone();
        self.export.running = Some((
            Progress {
                phase: Phase::Writing,
                done: 0,
                total: counts.rows,
            },
            Instant::now(),
        ));
        self.spawn(async move {
            let Some(path) = dialogs.save_file(name).await else {
                return Msg::ExportNotStarted;
            };
            plan.target = path;
            runtime
                .spawn_blocking(move || {
                    let rows = cells(&plan.layout.columns);
                    let progress = |p: Progress| {
                        if tx.try_send(Msg::ExportProgress(p)).is_ok() {
                            ctx.request_repaint();
                        }
                    };
                    Msg::ExportDone(
                        write_with_manifest(&plan, rows, counts, &cancel, progress)
                            .map(|r| r.describe())
                            .map_err(|e| e.to_string()),
                    )
                })
                .await
                .unwrap_or_else(|e| Msg::TaskFailed(e.to_string()))
        });
    }

    pub fn marker(&self) -> Option<Marker> {
        self.connection.as_ref().map(|c| c.marker)
    }
}

/// The file the operator dropped on the window, else the one they pick in the dialog
/// (`Ok(None)`: cancelled). A dropped file is read off the UI thread within the size limit.
async fn open_or_read(
    dialogs: &dyn FileDialogs,
    kind: OpenKind,
    dropped: Option<PathBuf>,
) -> Result<Option<(String, Vec<u8>)>, String> {
    match dropped {
        Some(path) => tokio::task::spawn_blocking(move || files::read_dropped(&path))
            .await
            .map_err(|e| e.to_string())?
            .map(Some),
        None => Ok(dialogs.open_file(kind).await),
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

/// The duplicate window of the console: `PAYDESK_DUPLICATE_WINDOW_DAYS`, else 7 days.
fn duplicate_window() -> DuplicateWindow {
    DuplicateWindow::resolve(None, |k| std::env::var(k).ok()).unwrap_or_default()
}
/// Records every row of a checked file, settles what an earlier run left in flight, then
/// sends the rest one by one, reporting progress.
async fn send_bulk(
    desk: &PayoutDesk,
    plan: &BulkPlan,
    confirmation: &Confirmation,
    stop: &AtomicBool,
    tx: &mpsc::Sender<Msg>,
    ctx: &egui::Context,
) -> String {
    // Records the rows and the confirmations' audit records; a failure here sent nothing.
    match desk
        .enqueue_plan_unless_duplicate(plan, duplicate_window(), confirmation)
        .await
    {
        Ok(_) => {}
        Err(HoldError::Held(report)) => return report.refusal(),
        Err(HoldError::Other(e)) => return format!("Nothing was sent: {e}"),
    }
    let total = plan.len();
    let remaining = lock(&desk.journal)
        .batch_to_send(&desk.merchant, &plan.batch_id)
        .map_or(total, |r| r.len());
    let done = std::sync::atomic::AtomicUsize::new(total - remaining);
    let result = desk
        .send_batch(&plan.batch_id, stop, |_| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if tx.try_send(Msg::BulkProgress(n, total)).is_ok() {
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
        .import_standing(&plan.batch_id)
        .map_or_else(|e| e.to_string(), |s| s.to_string());
    match result {
        Ok(done) if done.bookkeeping_errors.is_empty() => summary,
        Ok(done) => format!(
            "{summary}. Bookkeeping errors (the outcomes stand): {}",
            done.bookkeeping_errors.join("; ")
        ),
        Err(e) => format!("{summary}. Stopped: {e}"),
    }
}

fn verify_input(
    generation: u64,
    input: WorkbenchInput,
    connection: Option<&Connection>,
) -> WorkbenchOutcome {
    match input {
        WorkbenchInput::Cny { text } => {
            let Some((key, options)) = connection.and_then(Connection::md5_key) else {
                return WorkbenchOutcome::failed(
                    generation,
                    "The active profile has no MD5 key to verify with".to_owned(),
                );
            };
            match parse_cny_input(&text) {
                Ok(objects) => {
                    WorkbenchOutcome::cny(generation, verify_cny(&objects, &key, options))
                }
                Err(e) => WorkbenchOutcome::failed(generation, e.to_string()),
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
                return WorkbenchOutcome::failed(
                    generation,
                    "The active profile has no GatePay secret to verify with".to_owned(),
                );
            };
            let report = verify_gatepay(
                &secret,
                timestamp.trim(),
                nonce.trim(),
                body.as_bytes(),
                signature.trim(),
                SystemClock.now_ms(),
            );
            WorkbenchOutcome::gatepay(generation, report)
        }
    }
}

impl eframe::App for PaydeskApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        PaydeskApp::logic(self);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        crate::console::panels::app_ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted());
    }
}

#[cfg(test)]
mod tests;
