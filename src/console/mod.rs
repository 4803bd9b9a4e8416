//! The console's shell: it owns `eframe::App` and the state every phase shares. A frame is
//! `logic` (take in what tasks reported, start timers' work, run queued commands; draws
//! nothing) then `ui` (the panels draw from one `ConsoleContext` and return actions, queued
//! as commands). Network, keyring, files and dialogs run on the tokio runtime handle that
//! `main` passes in; each reply comes back on its own one-shot channel, kept by whoever asked
//! (a panel, or the app for its own work), followed by `request_repaint`.

pub mod appearance;
mod by_date;
mod commands;
mod connecting;
pub mod connection;
pub mod context;
mod exporting;
pub mod feedback;
pub mod files;
mod listening;
mod logic;
pub mod panels;
mod pathprompt;
mod reconciling;
pub mod requested;
mod sending;
mod statusbar;
mod tasks;
mod team;
mod ui;

pub use commands::Command;

use appearance::ThemeChoice;
use context::{ConsoleContext, Reply, TzChoice};

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use paydesk::clock::SystemClock;
use paydesk::domain::profiles::{GatewayKind, Profiles, SecretStore};
use paydesk::gateway::cny::wire::OrderKind;
use paydesk::sandbox::{SandboxConfig, SandboxHandle};
use serde::{Deserialize, Serialize};

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use paydesk::domain::duplicates::{
    DEFAULT_WINDOW_DAYS, DuplicateWindow, WINDOW_ENV, WINDOW_MAX_DAYS, WINDOW_MIN_DAYS, WindowError,
};
use paydesk::domain::journal::{
    DEFAULT_BACKUP_DAYS, DamageWatch, Entry, Journal, journal_path, read_what_reads,
};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::banks::{Bank, default_banks};

use crate::console::panels::approvals::ApprovalsPanel;
use crate::console::panels::export::ExportDialog;
use crate::console::panels::gatepay::{BatchPanel, NewBatchForm};
use crate::console::panels::listener::ListenerPanel;
use crate::console::panels::orders::{OrdersPanel, PersistedFilter};
use crate::console::panels::payouts::{BulkImport, PayoutForm, PayoutsSent};
use crate::console::panels::profiles::ProfilesPanel;
use crate::console::panels::reconcile::ReconcilePanel;
use crate::console::panels::suborders::SubOrdersPanel;
use crate::console::panels::workbench::WorkbenchPanel;
use connection::Connection;
use files::FileDialogs;
use paydesk::domain::batches::BatchDesk;
use paydesk::domain::batches::{BatchEntry, BatchReconcileReport};

/// How many progress reports may wait for the UI thread; more are dropped, not waited for.
pub const PROGRESS_CAPACITY: usize = 16;

/// A task's progress: the reporter the task calls and the receiver its panel polls. Progress
/// is advisory: a report is dropped rather than waited for when the UI is behind, and each one
/// taken asks for a repaint.
pub fn progress_channel<T: Send + 'static>(
    ctx: &egui::Context,
) -> (
    impl Fn(T) + Clone + Send + Sync + 'static,
    tokio::sync::mpsc::Receiver<T>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(PROGRESS_CAPACITY);
    let ctx = ctx.clone();
    let report = move |p| {
        if tx.try_send(p).is_ok() {
            ctx.request_repaint();
        }
    };
    (report, rx)
}
/// Concurrent page requests when loading every page.
pub const LOAD_ALL_CONCURRENCY: usize = 4;

/// The console's window. Its smallest size fits an 800×600 screen with room to spare: a
/// larger minimum put the window's right edge, and the last tabs, off such a screen.
pub fn viewport() -> egui::ViewportBuilder {
    egui::ViewportBuilder::default()
        .with_title("Paydesk")
        .with_app_id("paydesk")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([640.0, 480.0])
}

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
    /// The likely-duplicate window, as `PAYDESK_DUPLICATE_WINDOW_DAYS` sets it; refused, it
    /// keeps anything from being sent.
    pub duplicate_window: Result<DuplicateWindow, WindowError>,
    /// The tab, theme and scale asked for at start-up, over what was saved.
    pub start: appearance::StartOptions,
    /// The profile asked for at start-up (`paydesk --profile NAME`), over the active one.
    pub start_profile: Option<String>,
    /// Once the window is asked to close, the process ends within this even if something
    /// holds the exit (a blocked keyring or portal call); `None` in tests.
    pub exit_deadline: Option<std::time::Duration>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Deposits,
    Payouts,
    Workbench,
    NewPayout,
    PayoutsSent,
    /// The team journal's payouts waiting for a second operator.
    Approvals,
    /// The merchant's ledger against the gateway's orders.
    Reconcile,
    Batches,
    NewBatch,
    /// GatePay payouts searched by date.
    SubOrders,
    Profiles,
    /// The operations log.
    Log,
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
    /// The console's time zone; absent in state saved before it was one setting.
    pub tz: Option<TzChoice>,
    pub theme: ThemeChoice,
    /// The View menu's scale; absent means 1.
    pub scale: Option<f32>,
}

/// The payout journal opened, or refused with what of it still reads.
pub enum JournalOpened {
    Open(Arc<Mutex<Journal>>),
    Refused { why: String, readable: Vec<Entry> },
}

/// A connection opened: a profile's, or the sandbox's with the handle that keeps it running.
pub enum Opened {
    Profile(Box<Connection>),
    Sandbox(Box<(SandboxHandle, Connection)>),
}

pub struct PaydeskApp {
    pub runtime: tokio::runtime::Handle,
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
    /// The payout journal being opened, once at start.
    journal_opening: Option<Reply<JournalOpened>>,
    /// The journal's payouts being read for Payouts sent.
    journal_listing: Option<Reply<Vec<Entry>>>,
    /// The batches sent from this machine being read.
    batches_listing: Option<Reply<Vec<BatchEntry>>>,
    /// The profile or sandbox being opened; opening another drops it with its reply.
    connecting: Option<Reply<Opened>>,
    pub tab: Tab,
    /// The zone every panel reads and shows times in, chosen in the top bar.
    pub tz: TzChoice,
    pub deposits: OrdersPanel,
    pub payouts: OrdersPanel,
    pub workbench: WorkbenchPanel,
    pub profiles: ProfilesPanel,
    pub details_open: bool,
    title: String,
    pub first_frame_reported: bool,
    /// The active profile's journal: the desktop's, or its team journal once open.
    pub journal: Option<Arc<Mutex<Journal>>>,
    /// The desktop's own journal, for profiles without a team journal.
    desktop: team::Desktop,
    desktop_path: Option<PathBuf>,
    /// The active profile's team journal, when it names one.
    team: Option<team::TeamSide>,
    /// "Awaiting approval".
    pub approvals: ApprovalsPanel,
    /// Why the journal could not be opened (nothing can be sent then).
    journal_error: Option<String>,
    /// Tells, without the journal's lock, that it turned out damaged while open.
    journal_damage: DamageWatch,
    /// The likely-duplicate window, or why the one configured was refused.
    duplicate_window: Result<DuplicateWindow, String>,
    pub payout_form: PayoutForm,
    pub bulk: BulkImport,
    pub sent: PayoutsSent,
    pub batches: BatchPanel,
    pub new_batch: NewBatchForm,
    pub export: ExportDialog,
    /// "Receive notifications": the listener and what it handled.
    pub listener: ListenerPanel,
    /// Where the built-in sandbox sends GatePay callbacks (the listener, while it runs).
    sandbox_notify: Option<String>,
    pub suborders: SubOrdersPanel,
    /// The Reconcile tab.
    pub reconcile: ReconcilePanel,
    /// Where reconciliations keep their work files and ledger copies.
    reconcile_dir: PathBuf,
    /// The check of unfinished batches with GatePay under way.
    batches_check: Option<Reply<BatchReconcileReport>>,
    batches_reconciled_once: bool,
    bulk_stop: Arc<AtomicBool>,
    last_reconcile: Option<std::time::Instant>,
    reconciled_once: bool,
    /// Light, dark, or the system's; chosen in the top bar.
    pub theme: ThemeChoice,
    /// How large everything is drawn (the View menu, `--scale`).
    pub scale: f32,
    /// The toasts the operator closed.
    toasts: statusbar::Toasts,
    /// Typed-path requests of the file dialogs, where no desktop dialog answers.
    path_prompts: Option<Arc<files::PathPrompts>>,
    path_prompt: pathprompt::PathPromptUi,
    exit_deadline: Option<std::time::Duration>,
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
        let mut app = PaydeskApp {
            runtime: init.runtime,
            ctx: ctx.clone(),
            commands: Vec::new(),
            config_dir: init.config_dir,
            store: init.store,
            file_dialogs: init.file_dialogs,
            sandbox_config: init.sandbox,
            sandbox: None,
            connection: None,
            connection_status: "Connecting…".to_owned(),
            connecting: None,
            journal_opening: None,
            journal_listing: None,
            batches_listing: None,
            tab: persisted.tab,
            tz: persisted.tz.unwrap_or(persisted.payouts.tz),
            deposits: OrdersPanel::new(OrderKind::Deposit, &persisted.deposits),
            payouts: OrdersPanel::new(OrderKind::Payout, &persisted.payouts),
            workbench: WorkbenchPanel::default(),
            profiles: ProfilesPanel::default(),
            details_open: persisted.details_open,
            title: String::new(),
            first_frame_reported: false,
            journal: None,
            desktop: team::Desktop::NotOpened(init.data_dir.clone()),
            desktop_path: init.data_dir.as_deref().map(journal_path),
            team: None,
            approvals: ApprovalsPanel::default(),
            journal_error: None,
            journal_damage: DamageWatch::default(),
            duplicate_window: init.duplicate_window.map_err(|WindowError::Invalid(text)| {
                format!(
                    "{WINDOW_ENV} is “{text}”, but the likely-duplicate window must be a whole \
                     number of days from {WINDOW_MIN_DAYS} to {WINDOW_MAX_DAYS}, so nothing can \
                     be sent. Set it to such a number (or remove it for {DEFAULT_WINDOW_DAYS} \
                     days) and start Paydesk again"
                )
            }),
            payout_form: PayoutForm::default(),
            bulk: BulkImport::default(),
            sent: PayoutsSent::default(),
            batches: BatchPanel::restored(
                persisted.recent_batches.clone(),
                persisted
                    .stuck_minutes
                    .unwrap_or(paydesk::domain::batches::DEFAULT_STUCK_MINUTES),
            ),
            new_batch: NewBatchForm::default(),
            export: ExportDialog::default(),
            listener: ListenerPanel::default(),
            sandbox_notify: None,
            suborders: SubOrdersPanel::default(),
            reconcile: ReconcilePanel::default(),
            reconcile_dir: paydesk::domain::reconcile::run::process_dir(
                &init.data_dir.as_ref().map_or_else(
                    || std::env::temp_dir().join("paydesk-reconcile"),
                    |d| d.join("reconcile"),
                ),
            ),
            batches_check: None,
            batches_reconciled_once: false,
            bulk_stop: Arc::new(AtomicBool::new(false)),
            last_reconcile: None,
            reconciled_once: false,
            theme: init.start.theme.unwrap_or(persisted.theme),
            scale: init
                .start
                .scale
                .or(persisted.scale)
                .filter(|s| (appearance::MIN_SCALE..=appearance::MAX_SCALE).contains(s))
                .unwrap_or(1.0),
            toasts: statusbar::Toasts::default(),
            path_prompts: None,
            path_prompt: pathprompt::PathPromptUi::default(),
            exit_deadline: init.exit_deadline,
        };
        if let Some(tab) = init.start.tab {
            app.tab = tab;
        }
        app.path_prompts = app.file_dialogs.prompts();
        if let Some(prompts) = &app.path_prompts {
            prompts.attach(ctx);
        }
        appearance::apply(ctx, app.theme, app.scale);
        app.payout_form.reset();
        app.start(init.start_profile.as_deref());
        app
    }

    /// Opens the desktop's payout journal on a blocking thread (see `team::Desktop`).
    pub(super) fn open_journal(&mut self, dir: Option<PathBuf>) {
        self.journal_opening = Some(self.request_blocking(move || {
            let Some(dir) = dir else {
                return Err("This system has no data directory for the payout journal".to_owned());
            };
            let path = journal_path(&dir);
            Ok(match Journal::open(&path) {
                Ok(journal) => {
                    // The daily copy of a journal that just proved healthy; its failure does
                    // not stop the console (the journal itself is fine).
                    let _ = journal.rolling_backup(DEFAULT_BACKUP_DAYS, false);
                    JournalOpened::Open(Arc::new(Mutex::new(journal)))
                }
                // A refused journal still shows what reads in Payouts sent; nothing can be
                // sent with it.
                Err(e) => JournalOpened::Refused {
                    why: e.to_string(),
                    readable: read_what_reads(&path).0,
                },
            })
        }));
    }

    /// The likely-duplicate window; `None` when the one configured was refused (then
    /// [`PaydeskApp::send_blocker`] says why, and nothing is sent).
    fn window(&self) -> Option<DuplicateWindow> {
        self.duplicate_window.as_ref().ok().copied()
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
        if let Err(why) = &self.duplicate_window {
            return Some(why.clone());
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
        if let Some(away) = self.team.as_ref().and_then(|t| t.away.clone()) {
            return Some(away);
        }
        if self.journal.is_none() {
            return Some(
                self.journal_error
                    .clone()
                    .unwrap_or_else(|| match &self.team {
                        Some(side) => format!(
                            "Opening the team journal {}… (sending waits for it)",
                            side.target
                        ),
                        None => "Opening the payout journal… (sending waits for it)".to_owned(),
                    }),
            );
        }
        None
    }

    pub fn banks(&self) -> Vec<Bank> {
        self.connection
            .as_ref()
            .map_or_else(default_banks, |c| c.banks.clone())
    }

    /// On start: the active profile if one is configured, otherwise the sandbox.
    fn start(&mut self, asked: Option<&str>) {
        let Some(dir) = self.config_dir.clone() else {
            self.commands.push(Command::UseSandbox);
            return;
        };
        match Profiles::load(&dir, Arc::clone(&self.store)) {
            Ok(profiles) => {
                let active = match asked {
                    // Asked by name: that profile, or none (never another merchant's instead).
                    Some(name) if profiles.list().iter().any(|p| p.name == name) => {
                        Some(name.to_owned())
                    }
                    Some(name) => {
                        let why = format!(
                            "There is no profile named “{name}”: choose one in Profiles (the sandbox is used \
                             meanwhile)"
                        );
                        feedback::error(&self.ctx, why.clone());
                        self.profiles.message = Some(Err(why));
                        None
                    }
                    None => profiles.active_name().map(str::to_owned),
                };
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

    /// Runs `task` on the runtime; its result arrives on the returned receiver, which the
    /// panel that asked keeps (dropping it drops the result).
    pub fn request<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T, String>> + Send + 'static,
    ) -> Reply<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ctx = self.ctx.clone();
        self.runtime.spawn(async move {
            if tx.send(task.await).is_ok() {
                ctx.request_repaint();
            }
        });
        rx
    }

    /// As [`PaydeskApp::request`], for work that blocks (the journal, files, the keyring).
    pub fn request_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Reply<T> {
        let runtime = self.runtime.clone();
        self.request(async move {
            runtime
                .spawn_blocking(work)
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        })
    }

    pub fn persisted(&self) -> Persisted {
        Persisted {
            tab: self.tab,
            deposits: self.deposits.persisted(),
            payouts: self.payouts.persisted(),
            details_open: self.details_open,
            recent_batches: self.batches.recent.clone(),
            stuck_minutes: Some(self.batches.stuck_minutes),
            tz: Some(self.tz),
            theme: self.theme,
            scale: Some(self.scale),
        }
    }

    /// The zone every panel reads and shows times in.
    pub fn time_zone(&self) -> TzChoice {
        self.tz
    }

    /// What the panels read this frame.
    pub fn context(&self) -> ConsoleContext {
        let connection = self.connection.as_ref();
        ConsoleContext {
            profile: connection.map(|c| (c.profile_name.clone(), c.marker)),
            connection_status: self.connection_status.clone(),
            tz: self.time_zone(),
            cny_blocked: self.send_blocker(GatewayKind::Cny),
            gatepay_blocked: self.send_blocker(GatewayKind::Gatepay),
            journal_damage: self
                .journal_damage_message()
                .or_else(|| {
                    self.journal
                        .is_none()
                        .then(|| self.journal_error.clone())
                        .flatten()
                })
                .or_else(|| self.team.as_ref().and_then(|t| t.away.clone())),
            banks: self.banks(),
            cny_signing: connection.and_then(Connection::md5_key).map(|(_, o)| o),
            has_gatepay: connection.is_some_and(|c| c.gatepay.is_some()),
            journal_in_use: self.journal_in_use(),
            team_role: self
                .team
                .as_ref()
                .filter(|_| self.journal.is_some())
                .and_then(|t| t.role.clone()),
            team_live: self.team.as_ref().and_then(|t| t.live.clone()),
        }
    }
}

impl eframe::App for PaydeskApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        PaydeskApp::logic(self);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        ui::app_ui(self, ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        // Everything worth keeping is written as it happens (the journal appends before a
        // send, eframe saves the settings before this), so a stuck thread must not hold the
        // window's close: past the deadline the process ends.
        if let Some(deadline) = self.exit_deadline.take() {
            // A plain thread, not the runtime's: the runtime's shutdown in `main` would wait
            // for a blocking task of its own, and this one must outlive that shutdown.
            #[allow(clippy::disallowed_methods)]
            std::thread::spawn(move || {
                std::thread::sleep(deadline);
                std::process::exit(0);
            });
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted());
    }
}

#[cfg(test)]
mod tests;
