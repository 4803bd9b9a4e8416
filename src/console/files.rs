//! File dialogs behind a seam: the real one is `rfd`'s async dialog (the desktop portal on
//! Linux); tests put in their own.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

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
}

impl OpenKind {
    fn title(self) -> &'static str {
        match self {
            OpenKind::Reply => "Open a notification, order or query response",
            OpenKind::Payouts => "Import payouts from a file",
            OpenKind::SubOrders => "Import GatePay sub-orders from a file",
            OpenKind::Profile => "Import a profile (TOML)",
        }
    }

    /// The first filter is the one the dialog starts with: a spreadsheet import offered only
    /// "JSON or text" left the operator's CSV or XLSX hidden until they changed it.
    fn filters(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            OpenKind::Reply => &[("JSON or text", &["json", "txt"])],
            OpenKind::Profile => &[("TOML", &["toml", "TOML"])],
            OpenKind::Payouts | OpenKind::SubOrders => {
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
}

pub struct RfdDialogs;

impl FileDialogs for RfdDialogs {
    fn open_file(&self, kind: OpenKind) -> FileFuture {
        Box::pin(async move {
            let mut dialog = rfd::AsyncFileDialog::new().set_title(kind.title());
            for (name, extensions) in kind.filters() {
                dialog = dialog.add_filter(*name, extensions);
            }
            let file = dialog.add_filter("All files", &["*"]).pick_file().await?;
            let bytes = file.read().await;
            Some((file.file_name(), bytes))
        })
    }

    fn save_file(&self, suggested_name: String) -> SaveFuture {
        Box::pin(async move {
            let file = rfd::AsyncFileDialog::new()
                .set_title("Export to")
                .set_file_name(suggested_name)
                .save_file()
                .await?;
            Some(file.path().to_path_buf())
        })
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
