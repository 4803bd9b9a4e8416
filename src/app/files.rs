//! File dialogs behind a seam: the real one is `rfd`'s async dialog (the desktop portal on
//! Linux); tests put in their own.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub type FileFuture = Pin<Box<dyn Future<Output = Option<(String, Vec<u8>)>> + Send>>;
pub type SaveFuture = Pin<Box<dyn Future<Output = Option<PathBuf>> + Send>>;

pub trait FileDialogs: Send + Sync {
    /// Asks for a file to open and reads it: its name and bytes, or `None` if cancelled.
    fn open_file(&self) -> FileFuture;
    /// Asks where to save, suggesting a name: the path, or `None` if cancelled.
    fn save_file(&self, suggested_name: String) -> SaveFuture;
}

pub struct RfdDialogs;

impl FileDialogs for RfdDialogs {
    fn open_file(&self) -> FileFuture {
        Box::pin(async {
            let file = rfd::AsyncFileDialog::new()
                .set_title("Open a notification, order or query response")
                .add_filter("JSON or text", &["json", "txt"])
                .add_filter("All files", &["*"])
                .pick_file()
                .await?;
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
