//! File dialogs behind a seam: the real one is `rfd`'s async dialog (the desktop portal on
//! Linux); tests put in their own. Where no portal answers, [`WithFallback`] asks for a path
//! in the console instead (`pathprompt` draws it) and says why.

use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui;
use paydesk::lock_unpoisoned as lock;

pub type FileFuture = Pin<Box<dyn Future<Output = Option<(String, Vec<u8>)>> + Send>>;
pub type SaveFuture = Pin<Box<dyn Future<Output = Option<PathBuf>> + Send>>;

/// What a file is opened for: its dialog's title and the kinds of file it lists first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// A notification, order or query response for the signature workbench.
    Reply,
    /// Payouts to import (CSV or XLSX).
    Payouts,
    /// GatePay sub-orders for a new batch (CSV or XLSX).
    SubOrders,
    /// A profile's settings shared as TOML.
    Profile,
    /// The merchant's ledger to reconcile (CSV or XLSX).
    Ledger,
}

impl OpenKind {
    fn title(self) -> &'static str {
        match self {
            OpenKind::Reply => "Open a notification, order or query response",
            OpenKind::Payouts => "Import payouts from a file",
            OpenKind::SubOrders => "Import GatePay sub-orders from a file",
            OpenKind::Profile => "Import a profile (TOML)",
            OpenKind::Ledger => "Open the ledger to reconcile (CSV or XLSX)",
        }
    }

    /// The first filter is the one the dialog starts with: a spreadsheet import offered only
    /// "JSON or text" left the operator's CSV or XLSX hidden until they changed it.
    fn filters(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            OpenKind::Reply => &[("JSON or text", &["json", "txt"])],
            OpenKind::Profile => &[("TOML", &["toml", "TOML"])],
            OpenKind::Payouts | OpenKind::SubOrders | OpenKind::Ledger => {
                &[("CSV or XLSX", &["csv", "xlsx", "CSV", "XLSX"])]
            }
        }
    }
}

pub trait FileDialogs: Send + Sync {
    /// Asks for a file to open and reads it: its name and bytes, or `None` if cancelled.
    fn open_file(&self, kind: OpenKind) -> FileFuture;
    /// Asks where to save, suggesting a name: the path, or `None` if cancelled.
    fn save_file(&self, suggested_name: String) -> SaveFuture;
    /// The typed-path requests the console must draw, when these dialogs can fall back to one.
    fn prompts(&self) -> Option<Arc<PathPrompts>> {
        None
    }
}

/// What a native dialog came back with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Picked {
    Chosen(PathBuf),
    Cancelled,
    /// No dialog could be shown, and why.
    Unavailable(String),
}

pub type PickFuture = Pin<Box<dyn Future<Output = Picked> + Send>>;

/// A desktop's own dialogs, which may turn out not to exist.
pub trait NativeDialogs: Send + Sync {
    fn pick_open(&self, kind: OpenKind) -> PickFuture;
    fn pick_save(&self, suggested_name: String) -> PickFuture;
}

/// Why the typed path is asked for instead of a dialog.
pub const NO_PORTAL: &str =
    "No file dialog is available on this desktop (no portal answered): type a path";

/// How long the desktop's dialog may take to answer before the typed path is offered too.
pub const NATIVE_PATIENCE: Duration = Duration::from_secs(5);

/// A "cancel" faster than this is no person's: the portal failed and `rfd` reports a cancel.
const QUICKEST_CANCEL: Duration = Duration::from_millis(400);

pub struct RfdDialogs;

impl RfdDialogs {
    fn unavailable_here() -> Option<Picked> {
        (cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none())
            .then(|| Picked::Unavailable(format!("{NO_PORTAL} (there is no D-Bus session)")))
    }

    fn outcome(path: Option<PathBuf>, started: Instant) -> Picked {
        match path {
            Some(p) => Picked::Chosen(p),
            None if started.elapsed() < QUICKEST_CANCEL => {
                Picked::Unavailable(NO_PORTAL.to_owned())
            }
            None => Picked::Cancelled,
        }
    }
}

impl NativeDialogs for RfdDialogs {
    fn pick_open(&self, kind: OpenKind) -> PickFuture {
        Box::pin(async move {
            if let Some(no) = RfdDialogs::unavailable_here() {
                return no;
            }
            let started = Instant::now();
            let mut dialog = rfd::AsyncFileDialog::new().set_title(kind.title());
            for (name, extensions) in kind.filters() {
                dialog = dialog.add_filter(*name, extensions);
            }
            let file = dialog.add_filter("All files", &["*"]).pick_file().await;
            RfdDialogs::outcome(file.map(|f| f.path().to_path_buf()), started)
        })
    }

    fn pick_save(&self, suggested_name: String) -> PickFuture {
        Box::pin(async move {
            if let Some(no) = RfdDialogs::unavailable_here() {
                return no;
            }
            let started = Instant::now();
            let file = rfd::AsyncFileDialog::new()
                .set_title("Export to")
                .set_file_name(suggested_name)
                .save_file()
                .await;
            RfdDialogs::outcome(file.map(|f| f.path().to_path_buf()), started)
        })
    }
}

/// One typed-path request waiting for the operator.
pub struct PathRequest {
    id: u64,
    pub title: String,
    /// Why a path is typed rather than picked.
    pub why: String,
    /// Saving (the file may not exist yet) rather than opening.
    pub save: bool,
    /// The file name offered when saving.
    pub suggested: Option<String>,
    reply: tokio::sync::oneshot::Sender<Option<PathBuf>>,
}

impl PathRequest {
    /// Answers the request (`None`: cancelled).
    pub fn answer(self, path: Option<PathBuf>) {
        // The asker may have gone (its task dropped): then nobody needs the answer.
        let _ = self.reply.send(path);
    }
}

/// The typed-path requests waiting to be drawn, shared by the dialogs and the console.
#[derive(Default)]
pub struct PathPrompts {
    waiting: Mutex<VecDeque<PathRequest>>,
    next: Mutex<u64>,
    ctx: Mutex<Option<egui::Context>>,
}

impl PathPrompts {
    /// The console's context, so a request is drawn at once even with no input.
    pub fn attach(&self, ctx: &egui::Context) {
        *lock(&self.ctx) = Some(ctx.clone());
    }

    /// Waits for the operator to type a path (`None`: cancelled).
    pub async fn ask(
        &self,
        title: &str,
        why: String,
        save: bool,
        suggested: Option<String>,
    ) -> Option<PathBuf> {
        let (_, rx) = self.enqueue(title, why, save, suggested);
        rx.await.ok().flatten()
    }

    /// Queues a request; its id withdraws it (when the desktop's dialog answers after all).
    fn enqueue(
        &self,
        title: &str,
        why: String,
        save: bool,
        suggested: Option<String>,
    ) -> (u64, tokio::sync::oneshot::Receiver<Option<PathBuf>>) {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let id = {
            let mut next = lock(&self.next);
            *next += 1;
            *next
        };
        lock(&self.waiting).push_back(PathRequest {
            id,
            title: title.to_owned(),
            why: why.clone(),
            save,
            suggested,
            reply,
        });
        if let Some(ctx) = lock(&self.ctx).as_ref() {
            super::feedback::warning(ctx, why);
        }
        (id, rx)
    }

    fn withdraw(&self, id: u64) {
        lock(&self.waiting).retain(|r| r.id != id);
        if let Some(ctx) = lock(&self.ctx).as_ref() {
            ctx.request_repaint();
        }
    }

    /// The desktop's dialog, and the typed path as well once it has not answered within
    /// [`NATIVE_PATIENCE`]: whichever answers first.
    async fn pick_or_type(
        &self,
        native: PickFuture,
        title: &str,
        save: bool,
        suggested: Option<String>,
    ) -> Option<PathBuf> {
        let mut native = native;
        let picked = tokio::select! {
            picked = &mut native => picked,
            () = tokio::time::sleep(NATIVE_PATIENCE) => {
                let why = format!(
                    "The file dialog has not opened after {} s (no portal answered?): type a \
                     path here, or use the dialog if it appears",
                    NATIVE_PATIENCE.as_secs()
                );
                let (id, rx) = self.enqueue(title, why, save, suggested.clone());
                tokio::select! {
                    picked = &mut native => {
                        self.withdraw(id);
                        picked
                    }
                    typed = rx => return typed.ok().flatten(),
                }
            }
        };
        match picked {
            Picked::Chosen(p) => Some(p),
            Picked::Cancelled => None,
            Picked::Unavailable(why) => self.ask(title, why, save, suggested).await,
        }
    }

    /// The title and reason of the request shown now, if any.
    pub fn with_current<T>(&self, f: impl FnOnce(&PathRequest) -> T) -> Option<T> {
        lock(&self.waiting).front().map(f)
    }

    /// Takes the request shown now, to answer it.
    pub fn take_current(&self) -> Option<PathRequest> {
        lock(&self.waiting).pop_front()
    }
}

/// Native dialogs, or a typed path where they are unavailable.
pub struct WithFallback {
    native: Arc<dyn NativeDialogs>,
    prompts: Arc<PathPrompts>,
}

impl WithFallback {
    pub fn new(native: Arc<dyn NativeDialogs>) -> WithFallback {
        WithFallback {
            native,
            prompts: Arc::default(),
        }
    }
}

impl FileDialogs for WithFallback {
    fn open_file(&self, kind: OpenKind) -> FileFuture {
        let (native, prompts) = (Arc::clone(&self.native), Arc::clone(&self.prompts));
        Box::pin(async move {
            let path = prompts
                .pick_or_type(native.pick_open(kind), kind.title(), false, None)
                .await?;
            let read = tokio::task::spawn_blocking(move || read_dropped(&path)).await;
            match read {
                Ok(Ok(file)) => Some(file),
                Ok(Err(e)) => {
                    if let Some(ctx) = lock(&prompts.ctx).as_ref() {
                        super::feedback::error(ctx, format!("The file could not be read: {e}"));
                    }
                    None
                }
                Err(_) => None,
            }
        })
    }

    fn save_file(&self, suggested_name: String) -> SaveFuture {
        let (native, prompts) = (Arc::clone(&self.native), Arc::clone(&self.prompts));
        Box::pin(async move {
            let native = native.pick_save(suggested_name.clone());
            prompts
                .pick_or_type(native, "Export to", true, Some(suggested_name))
                .await
        })
    }

    fn prompts(&self) -> Option<Arc<PathPrompts>> {
        Some(Arc::clone(&self.prompts))
    }
}

/// A file dropped on the window, read within the configured size limit: the way in where no
/// file dialog can open (no desktop portal and no zenity), which `rfd` reports as a cancel.
pub fn read_dropped(path: &Path) -> Result<(String, Vec<u8>), String> {
    let limits = paydesk::domain::sheet::Limits::configured();
    let bytes = paydesk::domain::sheet::read_file(path, &limits)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((name, bytes))
}
