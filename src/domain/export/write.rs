//! Writing an export safely: through a temporary file beside the target, renamed at the end,
//! so a cancelled or failed export leaves nothing behind; cancel checks and progress between
//! rows; the size and SHA-256 of what was written, computed while writing.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Cell, ExportFormat, Layout, csv, jsonl, xlsx};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the export was cancelled; no file was left behind")]
    Cancelled,
    #[error("cannot write {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}")]
    Fetch(String),
}

pub(super) fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |e| ExportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// What was written.

#[derive(Clone, Debug, Serialize)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A temporary file beside the target that is removed unless it is kept.
pub(super) struct Partial {
    pub(super) path: PathBuf,
    pub(super) keep: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub(super) fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    target.with_file_name(format!(".{name}.{nonce:08x}.partial"))
}

/// What each format's writer is handed besides its rows: the layout, the step taken after
/// every row (the cancel check and progress) and how an I/O error is reported.
pub(super) struct Sink<'a> {
    pub(super) layout: &'a Layout,
    pub(super) step: &'a mut dyn FnMut(u64) -> Result<(), ExportError>,
    pub(super) err: &'a dyn Fn(std::io::Error) -> ExportError,
}

/// The file a writer writes to, counting and hashing its bytes on the way, so the size and
/// SHA-256 of an export are known when the last byte is written, without reading it back.
pub(super) struct Hashed {
    file: File,
    hasher: Sha256,
    bytes: u64,
    /// Where [`finish`] leaves the size and digest for [`write_rows`].
    digest: Rc<std::cell::Cell<Option<(u64, String)>>>,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// What each format's writer writes into.
pub(super) type Out = BufWriter<Hashed>;

/// Flushes a writer's buffer and the file to disk, so the rename publishes a whole file.
pub(super) fn finish_file(
    w: BufWriter<File>,
    err: &dyn Fn(std::io::Error) -> ExportError,
) -> Result<(), ExportError> {
    let file = w
        .into_inner()
        .map_err(|e| err(std::io::Error::other(e.to_string())))?;
    file.sync_all().map_err(err)
}

/// [`finish_file`] for a hashed writer, leaving its size and digest for [`write_rows`].
pub(super) fn finish(
    w: Out,
    err: &dyn Fn(std::io::Error) -> ExportError,
) -> Result<(), ExportError> {
    let hashed = w
        .into_inner()
        .map_err(|e| err(std::io::Error::other(e.to_string())))?;
    hashed.file.sync_all().map_err(err)?;
    hashed
        .digest
        .set(Some((hashed.bytes, hex::encode(hashed.hasher.finalize()))));
    Ok(())
}

/// Writes `rows` to `target` through a temporary file in the same folder, renamed at the
/// end. Checks `cancel` between rows; `progress(done)` every 1,000 rows.
pub fn write_file<I>(
    target: &Path,
    layout: &Layout,
    rows: I,
    cancel: &AtomicBool,
    progress: impl FnMut(u64),
) -> Result<Written, ExportError>
where
    I: IntoIterator<Item = Vec<Cell>>,
{
    write_rows(
        target,
        layout,
        &mut rows.into_iter(),
        &|| cancel.load(Ordering::Relaxed),
        progress,
    )
}

/// [`write_file`] with any stop condition: `halt()` is asked every 1,000 rows and once more
/// before the file is published, so rows that end early because their source failed never
/// become a file.
pub(super) fn write_rows(
    target: &Path,
    layout: &Layout,
    rows: &mut dyn Iterator<Item = Vec<Cell>>,
    halt: &dyn Fn() -> bool,
    mut progress: impl FnMut(u64),
) -> Result<Written, ExportError> {
    let mut partial = Partial {
        path: partial_path(target),
        keep: false,
    };
    let err = io_error(target);
    let digest = Rc::new(std::cell::Cell::new(None));
    let file = File::create(&partial.path).map_err(&err)?;
    let out = |file| {
        BufWriter::with_capacity(
            1 << 16,
            Hashed {
                file,
                hasher: Sha256::new(),
                bytes: 0,
                digest: Rc::clone(&digest),
            },
        )
    };
    let mut step = |n: u64| -> Result<(), ExportError> {
        if n.is_multiple_of(1_000) {
            if halt() {
                return Err(ExportError::Cancelled);
            }
            progress(n);
        }
        Ok(())
    };
    let sink = Sink {
        layout,
        step: &mut step,
        err: &err,
    };
    let done = match layout.format {
        ExportFormat::Csv => csv::write(out(file), rows, sink)?,
        ExportFormat::Jsonl => jsonl::write(out(file), rows, sink)?,
        ExportFormat::Xlsx => {
            drop(file);
            xlsx::write(&partial.path, rows, sink)?
        }
    };
    if halt() {
        return Err(ExportError::Cancelled);
    }
    progress(done);
    let (bytes, sha256) = match digest.take() {
        Some(d) => d,
        // The XLSX writer assembles its own file (a zip it seeks in): read it back once,
        // from the page cache.
        None => hash_file(&partial.path).map_err(&err)?,
    };
    std::fs::rename(&partial.path, target).map_err(&err)?;
    partial.keep = true;
    Ok(Written {
        rows: done,
        bytes,
        sha256,
    })
}

/// Size and SHA-256 of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}
