//! Exports of order lists and batch sub-orders that are complete, exact and safe to open:
//! CSV (UTF-8 with a byte-order mark), XLSX (amounts as numbers with two decimals, times as
//! dates, a frozen header) and JSON Lines; written to a temporary file in the same folder and
//! renamed at the end, so a cancelled or failed export leaves nothing behind; and a manifest
//! beside the file with the SHA-256 of what was written. Cells that a spreadsheet would take
//! for a formula are neutralised.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::tz::TimeZone;
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::search::fetch_all;
use crate::gateway::cny::client::CnyClient;
use crate::gateway::cny::wire::{Order, OrderKind, OrderQuery};
use crate::gateway::gatepay::wire::SubOrder;
use crate::money::{CryptoAmount, Fen};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Jsonl,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Csv, ExportFormat::Xlsx, ExportFormat::Jsonl];

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text.trim().to_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            "jsonl" | "ndjson" => Some(ExportFormat::Jsonl),
            _ => None,
        }
    }

    /// The format a file name asks for by its extension.
    pub fn from_path(path: &Path) -> Option<ExportFormat> {
        ExportFormat::parse(path.extension()?.to_str()?)
    }
}

/// How CNY amounts are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AmountUnit {
    #[default]
    Yuan,
    Fen,
}

/// What a list of rows is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportKind {
    Deposits,
    Payouts,
    BatchSubOrders,
}

impl ExportKind {
    pub fn of(kind: OrderKind) -> ExportKind {
        match kind {
            OrderKind::Deposit => ExportKind::Deposits,
            OrderKind::Payout => ExportKind::Payouts,
        }
    }

    /// Every column this kind offers, in the default order: (key, header).
    pub fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ExportKind::Deposits => &[
                ("system_id", "System order ID"),
                ("merchant_id", "Merchant order ID"),
                ("created", "Created"),
                ("updated", "Updated"),
                ("depositor", "Depositor"),
                ("amount", "Amount"),
                ("real_amount", "Real amount"),
                ("fee", "Fee"),
                ("status", "Status"),
                ("status_code", "Status code"),
                ("channel", "Channel"),
                ("memo", "Memo"),
                ("signature", "Signature"),
            ],
            ExportKind::Payouts => &[
                ("system_id", "System order ID"),
                ("merchant_id", "Merchant order ID"),
                ("created", "Created"),
                ("updated", "Updated"),
                ("amount", "Amount"),
                ("real_amount", "Real amount"),
                ("fee", "Fee"),
                ("status", "Status"),
                ("status_code", "Status code"),
                ("channel", "Channel"),
                ("memo", "Memo"),
                ("signature", "Signature"),
            ],
            ExportKind::BatchSubOrders => &[
                ("merchant_withdraw_id", "Merchant withdraw ID"),
                ("suborder_id", "Sub-order ID"),
                ("currency", "Currency"),
                ("chain", "Chain"),
                ("address", "Address"),
                ("memo", "Memo"),
                ("amount", "Amount"),
                ("fee", "Fee"),
                ("done_amount", "Done amount"),
                ("status", "Status"),
                ("tx_id", "Tx ID"),
                ("err_msg", "Error"),
                ("created", "Created"),
                ("updated", "Updated"),
                ("finished", "Finished"),
            ],
        }
    }

    pub fn default_columns(self) -> Vec<String> {
        self.columns()
            .iter()
            .map(|(k, _)| (*k).to_owned())
            .collect()
    }

    /// Checks and orders a list of column keys (`a,b,c`).
    pub fn parse_columns(self, text: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for key in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if !self.columns().iter().any(|(k, _)| *k == key) {
                return Err(format!(
                    "'{key}' is not a column; the columns are {}",
                    self.columns()
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            if !out.iter().any(|k| k == key) {
                out.push(key.to_owned());
            }
        }
        if out.is_empty() {
            return Err("choose at least one column".to_owned());
        }
        Ok(out)
    }

    fn header(self, key: &str) -> &'static str {
        self.columns()
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, h)| *h)
    }
}

/// One cell, typed, so each format writes it properly.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Cny(Fen),
    Crypto(CryptoAmount),
    /// Unix milliseconds.
    Time(i64),
    Empty,
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// The cells of a CNY order for the chosen columns.
pub fn order_cells(order: &Order, columns: &[String]) -> Vec<Cell> {
    columns
        .iter()
        .map(|c| match c.as_str() {
            "system_id" => text(&order.system_id),
            "merchant_id" => text(&order.merchant_id),
            "created" => order
                .create_time_secs
                .map_or(Cell::Empty, |t| Cell::Time(t * 1000)),
            "updated" => order
                .update_time_secs
                .map_or(Cell::Empty, |t| Cell::Time(t * 1000)),
            "depositor" => text(order.depositor_name.as_deref().unwrap_or("")),
            "amount" => order.amount.map_or(Cell::Empty, Cell::Cny),
            "real_amount" => order.real_amount.map_or(Cell::Empty, Cell::Cny),
            "fee" => order.fee.map_or(Cell::Empty, Cell::Cny),
            "status" => Cell::Text(order.status.label()),
            "status_code" => order.status.code.map_or(Cell::Empty, Cell::Int),
            "channel" => text(&order.channel_id),
            "memo" => text(&order.memo),
            "signature" => text(order.signature.word()),
            _ => Cell::Empty,
        })
        .collect()
}

/// The cells of a GatePay sub-order for the chosen columns.
pub fn sub_order_cells(sub: &SubOrder, columns: &[String]) -> Vec<Cell> {
    let crypto = |a: Option<CryptoAmount>| a.map_or(Cell::Empty, Cell::Crypto);
    let time = |t: Option<i64>| t.map_or(Cell::Empty, Cell::Time);
    columns
        .iter()
        .map(|c| match c.as_str() {
            "merchant_withdraw_id" => text(&sub.merchant_withdraw_id),
            "suborder_id" => text(&sub.suborder_id),
            "currency" => text(&sub.currency),
            "chain" => text(&sub.chain),
            "address" => text(&sub.address),
            "memo" => text(&sub.memo),
            "amount" => crypto(sub.amount),
            "fee" => crypto(sub.fee),
            "done_amount" => crypto(sub.done_amount),
            "status" => text(sub.status.as_str()),
            "tx_id" => text(&sub.tx_id),
            "err_msg" => text(&sub.err_msg),
            "created" => time(sub.create_time_ms),
            "updated" => time(sub.update_time_ms),
            "finished" => time(sub.finish_time_ms),
            _ => Cell::Empty,
        })
        .collect()
}

/// Whether a spreadsheet would read this text as a formula (or it starts with a control
/// character that some spreadsheets strip before reading it as one).
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// For CSV, which has no cell types: a text that looks like a formula gets a leading `'`,
/// so a hostile name is shown, never run. (XLSX keeps the exact text in a string cell marked
/// as typed text instead: see `write_xlsx`.)
pub fn neutralize(text: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_formula(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// How the file is laid out.
#[derive(Clone, Debug)]
pub struct Layout {
    pub kind: ExportKind,
    pub format: ExportFormat,
    pub columns: Vec<String>,
    pub tz: TimeZone,
    pub tz_name: String,
    pub unit: AmountUnit,
}

impl Layout {
    /// Header names: times name their zone, CNY amounts their unit.
    pub fn headers(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|key| {
                let h = self.kind.header(key);
                let cny = self.kind != ExportKind::BatchSubOrders;
                match key.as_str() {
                    "created" | "updated" | "finished" => format!("{h} ({})", self.tz_name),
                    "amount" | "real_amount" | "fee" if cny => match self.unit {
                        AmountUnit::Yuan => format!("{h} (CNY)"),
                        AmountUnit::Fen => format!("{h} (fen)"),
                    },
                    _ => h.to_owned(),
                }
            })
            .collect()
    }

    fn time_text(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).map_or_else(
            |_| ms.to_string(),
            |ts| {
                ts.to_zoned(self.tz.clone())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            },
        )
    }

    fn cny_text(&self, fen: Fen) -> String {
        match self.unit {
            AmountUnit::Yuan => fen.yuan_plain(),
            AmountUnit::Fen => fen.fen().to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the export was cancelled; no file was left behind")]
    Cancelled,
    #[error("cannot write {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}")]
    Fetch(String),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
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
struct Partial {
    path: PathBuf,
    keep: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    target.with_file_name(format!(".{name}.{nonce:08x}.partial"))
}

/// Writes `rows` to `target` through a temporary file in the same folder, renamed at the
/// end. Checks `cancel` between rows; `progress(done)` every 1,000 rows.
pub fn write_file<I>(
    target: &Path,
    layout: &Layout,
    rows: I,
    cancel: &AtomicBool,
    mut progress: impl FnMut(u64),
) -> Result<Written, ExportError>
where
    I: IntoIterator<Item = Vec<Cell>>,
{
    let mut partial = Partial {
        path: partial_path(target),
        keep: false,
    };
    let err = io_error(target);
    let file = File::create(&partial.path).map_err(&err)?;
    let mut done = 0u64;
    let mut step = |n: u64| -> Result<(), ExportError> {
        if n.is_multiple_of(1_000) {
            if cancel.load(Ordering::Relaxed) {
                return Err(ExportError::Cancelled);
            }
            progress(n);
        }
        Ok(())
    };
    match layout.format {
        ExportFormat::Csv => {
            let mut w = BufWriter::with_capacity(1 << 16, file);
            w.write_all(b"\xEF\xBB\xBF").map_err(&err)?;
            let mut csv = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(w);
            csv.write_record(layout.headers())
                .map_err(|e| err(e.into()))?;
            let mut record: Vec<String> = Vec::with_capacity(layout.columns.len());
            for row in rows {
                record.clear();
                record.extend(row.iter().map(|c| match c {
                    Cell::Text(s) => neutralize(s).into_owned(),
                    Cell::Int(i) => i.to_string(),
                    Cell::Cny(f) => layout.cny_text(*f),
                    Cell::Crypto(a) => a.to_string(),
                    Cell::Time(ms) => layout.time_text(*ms),
                    Cell::Empty => String::new(),
                }));
                csv.write_record(&record).map_err(|e| err(e.into()))?;
                done += 1;
                step(done)?;
            }
            let w = csv
                .into_inner()
                .map_err(|e| err(std::io::Error::other(e.to_string())))?;
            let file = w
                .into_inner()
                .map_err(|e| err(std::io::Error::other(e.to_string())))?;
            file.sync_all().map_err(&err)?;
        }
        ExportFormat::Jsonl => {
            let mut w = BufWriter::with_capacity(1 << 16, file);
            for row in rows {
                let mut obj = Map::new();
                for (key, c) in layout.columns.iter().zip(row) {
                    let v = match c {
                        Cell::Text(s) => Value::String(s),
                        Cell::Int(i) => Value::from(i),
                        // Exact decimals as JSON numbers (never through a float).
                        Cell::Cny(f) => exact_number(&layout.cny_text(f)),
                        Cell::Crypto(a) => exact_number(&a.to_string()),
                        Cell::Time(ms) => {
                            Value::String(jiff::Timestamp::from_millisecond(ms).map_or_else(
                                |_| ms.to_string(),
                                |ts| {
                                    ts.to_zoned(layout.tz.clone())
                                        .strftime("%Y-%m-%dT%H:%M:%S%:z")
                                        .to_string()
                                },
                            ))
                        }
                        Cell::Empty => Value::Null,
                    };
                    obj.insert(key.clone(), v);
                }
                serde_json::to_writer(&mut w, &Value::Object(obj)).map_err(|e| err(e.into()))?;
                w.write_all(b"\n").map_err(&err)?;
                done += 1;
                step(done)?;
            }
            let file = w
                .into_inner()
                .map_err(|e| err(std::io::Error::other(e.to_string())))?;
            file.sync_all().map_err(&err)?;
        }
        ExportFormat::Xlsx => {
            drop(file);
            done = write_xlsx(&partial.path, layout, rows, &mut step, &err)?;
        }
    }
    progress(done);
    let (bytes, sha256) = hash_file(&partial.path).map_err(&err)?;
    std::fs::rename(&partial.path, target).map_err(&err)?;
    partial.keep = true;
    Ok(Written {
        rows: done,
        bytes,
        sha256,
    })
}

fn exact_number(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text)
        .map_or_else(|_| Value::String(text.to_owned()), Value::Number)
}

/// The nearest double to an exact decimal. Every amount of at most 15 significant digits
/// reads back as the same decimal (the shortest representation of this double is that
/// decimal), which is what Excel stores and shows; the test below holds it to that.
fn spreadsheet_number(decimal_text: &str) -> f64 {
    decimal_text.parse::<f64>().unwrap_or(f64::NAN)
}

fn write_xlsx<I>(
    path: &Path,
    layout: &Layout,
    rows: I,
    step: &mut impl FnMut(u64) -> Result<(), ExportError>,
    err: &impl Fn(std::io::Error) -> ExportError,
) -> Result<u64, ExportError>
where
    I: IntoIterator<Item = Vec<Cell>>,
{
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory();
    let e = |x: rust_xlsxwriter::XlsxError| err(std::io::Error::other(x.to_string()));
    sheet.set_name("Export").map_err(e)?;
    let header = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let whole = Format::new().set_num_format("0");
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let typed_text = Format::new().set_quote_prefix();
    for (c, h) in layout.headers().iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, h, &header)
            .map_err(e)?;
        let width = match layout.columns[c].as_str() {
            "created" | "updated" | "finished" => 20.0,
            "address" | "tx_id" | "err_msg" => 44.0,
            _ => 16.0,
        };
        sheet.set_column_width(c as u16, width).map_err(e)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(e)?;
    let mut done = 0u64;
    for (r, row) in rows.into_iter().enumerate() {
        let r = (r + 1) as u32;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                // Text cells are always string cells, never formulas, holding the exact
                // text. One that looks like a formula also gets Excel's quote prefix (as
                // if typed with a leading `'`), so editing the cell cannot turn it into one.
                Cell::Text(s) if looks_like_formula(&s) => {
                    sheet
                        .write_string_with_format(r, c, &s, &typed_text)
                        .map_err(e)?;
                }
                Cell::Text(s) => {
                    sheet.write_string(r, c, &s).map_err(e)?;
                }
                Cell::Int(i) => {
                    sheet
                        .write_number_with_format(r, c, i as f64, &whole)
                        .map_err(e)?;
                }
                Cell::Cny(f) => match layout.unit {
                    AmountUnit::Yuan => {
                        sheet
                            .write_number_with_format(
                                r,
                                c,
                                spreadsheet_number(&f.yuan_plain()),
                                &money,
                            )
                            .map_err(e)?;
                    }
                    AmountUnit::Fen => {
                        sheet
                            .write_number_with_format(r, c, f.fen() as f64, &whole)
                            .map_err(e)?;
                    }
                },
                // Crypto amounts carry up to 18 places: kept as exact text.
                Cell::Crypto(a) => {
                    sheet.write_string(r, c, a.to_string()).map_err(e)?;
                }
                Cell::Time(ms) => {
                    if let Ok(ts) = jiff::Timestamp::from_millisecond(ms) {
                        let dt = ts.to_zoned(layout.tz.clone()).datetime();
                        sheet
                            .write_datetime_with_format(r, c, dt, &date)
                            .map_err(e)?;
                    }
                }
                Cell::Empty => {}
            }
        }
        done += 1;
        step(done)?;
    }
    let file = File::create(path).map_err(err)?;
    let mut w = BufWriter::new(file);
    book.save_to_writer(&mut w).map_err(e)?;
    let file = w
        .into_inner()
        .map_err(|x| err(std::io::Error::other(x.to_string())))?;
    file.sync_all().map_err(err)?;
    Ok(done)
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

/// The manifest written beside an export (`NAME.manifest.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub paydesk_version: &'static str,
    pub written_at: String,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: ExportFormat,
    pub profile: ManifestProfile,
    pub gateway: &'static str,
    pub kind: ExportKind,
    /// "all pages" or "one page".
    pub scope: String,
    pub filter: Value,
    pub timezone: String,
    pub amounts: Option<AmountUnit>,
    pub columns: Vec<String>,
    pub rows: u64,
    pub gateway_total: Option<u64>,
    pub complete: bool,
    pub count_note: Option<String>,
    pub duplicates_dropped: usize,
    pub invalid_signatures: usize,
}

/// The profile as a manifest names it: never a secret.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestProfile {
    pub name: String,
    pub marker: String,
    pub base_url: String,
    pub merchant: String,
}

pub fn manifest_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!("{name}.manifest.json"))
}

/// Writes the manifest (also through a temporary file).
pub fn write_manifest(target: &Path, manifest: &Manifest) -> Result<PathBuf, ExportError> {
    let path = manifest_path(target);
    let mut partial = Partial {
        path: partial_path(&path),
        keep: false,
    };
    let err = io_error(&path);
    let mut body = serde_json::to_vec_pretty(manifest).map_err(|e| err(e.into()))?;
    body.push(b'\n');
    let mut f = File::create(&partial.path).map_err(&err)?;
    f.write_all(&body).map_err(&err)?;
    f.sync_all().map_err(&err)?;
    std::fs::rename(&partial.path, &path).map_err(&err)?;
    partial.keep = true;
    Ok(path.clone())
}

/// `payouts_2026-11-01_2026-11-21.csv`, from the filter's range (in the chosen zone).
pub fn suggested_name(
    kind: ExportKind,
    range_secs: Option<(i64, i64)>,
    tz: &TimeZone,
    format: ExportFormat,
    now_secs: i64,
) -> String {
    let day = |s: i64| {
        jiff::Timestamp::from_second(s).map_or_else(
            |_| s.to_string(),
            |t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string(),
        )
    };
    let stem = match kind {
        ExportKind::Deposits => "deposits",
        ExportKind::Payouts => "payouts",
        ExportKind::BatchSubOrders => "batch",
    };
    let range = match range_secs {
        Some((from, to)) if from > 0 => format!("{}_{}", day(from), day(to)),
        Some((_, to)) => format!("until_{}", day(to)),
        None => format!("until_{}", day(now_secs)),
    };
    format!("{stem}_{range}.{}", format.extension())
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// Which stage an export is in, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Phase {
    Fetching,
    Writing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// "Writing 41000 of 100000 rows · 52311 rows/s · about 1 s left", given the time since
    /// the export started.
    pub fn describe(self, elapsed: std::time::Duration) -> String {
        let rate = self.done as f64 / elapsed.as_secs_f64().max(0.001);
        let left = if rate > 0.0 && self.total >= self.done {
            format!(
                " · about {:.0} s left",
                (self.total - self.done) as f64 / rate
            )
        } else {
            String::new()
        };
        let phase = match self.phase {
            Phase::Fetching => "Fetching",
            Phase::Writing => "Writing",
        };
        format!(
            "{phase} {} of {} rows · {rate:.0} rows/s{left}",
            self.done, self.total
        )
    }
}

/// What an export wrote and how it compares with the gateway.
#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub file: PathBuf,
    pub manifest: PathBuf,
    pub written: Written,
    pub gateway_total: Option<u64>,
    pub count_note: Option<String>,
    pub invalid_signatures: usize,
    pub duplicates_dropped: usize,
}

impl ExportReport {
    /// One line for an operator.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "Wrote {} rows to {} ({} bytes, SHA-256 {}…); manifest {}",
            self.written.rows,
            self.file.display(),
            self.written.bytes,
            &self.written.sha256[..12],
            self.manifest.display()
        );
        if let Some(note) = &self.count_note {
            let _ = write!(s, ". WARNING: {note}");
        } else if let Some(t) = self.gateway_total {
            let _ = write!(s, ". Matches the gateway's total of {t}");
        }
        if self.invalid_signatures > 0 {
            let _ = write!(
                s,
                ". {} order(s) failed the signature check",
                self.invalid_signatures
            );
        }
        s
    }
}

/// Everything an export needs besides its rows.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    pub target: PathBuf,
    pub layout: Layout,
    pub profile: ManifestProfile,
    pub gateway: &'static str,
    pub scope: String,
    pub filter: Value,
}

/// The filter of an order query as a manifest records it.
pub fn order_filter(query: &OrderQuery, pinned: bool, tz: &TimeZone) -> Value {
    let time = |s: i64| {
        jiff::Timestamp::from_second(s).map_or(Value::Null, |t| {
            Value::String(
                t.to_zoned(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string(),
            )
        })
    };
    serde_json::json!({
        "system_id": query.system_id,
        "merchant_id": query.merchant_id,
        "created_from_unix": query.created.map(|r| r.from_secs),
        "created_to_unix": query.created.map(|r| r.to_secs),
        "created_from": query.created.map_or(Value::Null, |r| time(r.from_secs)),
        "created_to": query.created.map_or(Value::Null, |r| time(r.to_secs)),
        "upper_bound_pinned_at_start": pinned,
    })
}

/// Writes rows that are already at hand (a loaded page, a batch's sub-orders) and the
/// manifest. Blocking: run it off the UI thread.
pub fn write_with_manifest<I>(
    plan: &ExportPlan,
    rows: I,
    counts: Counts,
    cancel: &AtomicBool,
    progress: impl Fn(Progress),
) -> Result<ExportReport, ExportError>
where
    I: IntoIterator<Item = Vec<Cell>>,
{
    let total = counts.rows;
    let written = write_file(&plan.target, &plan.layout, rows, cancel, |done| {
        progress(Progress {
            phase: Phase::Writing,
            done,
            total,
        });
    })?;
    let count_note = counts.gateway_total.and_then(|t| {
        (t != written.rows).then(|| {
            format!(
                "the file has {} rows but the gateway reported {t} matching",
                written.rows
            )
        })
    });
    let file = plan
        .target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = Manifest {
        paydesk_version: env!("CARGO_PKG_VERSION"),
        written_at: now_rfc3339(),
        file,
        sha256: written.sha256.clone(),
        bytes: written.bytes,
        format: plan.layout.format,
        profile: plan.profile.clone(),
        gateway: plan.gateway,
        kind: plan.layout.kind,
        scope: plan.scope.clone(),
        filter: plan.filter.clone(),
        timezone: plan.layout.tz_name.clone(),
        amounts: (plan.layout.kind != ExportKind::BatchSubOrders).then_some(plan.layout.unit),
        columns: plan.layout.columns.clone(),
        rows: written.rows,
        gateway_total: counts.gateway_total,
        complete: count_note.is_none(),
        count_note: count_note.clone(),
        duplicates_dropped: counts.duplicates_dropped,
        invalid_signatures: counts.invalid_signatures,
    };
    let manifest_path = match write_manifest(&plan.target, &manifest) {
        Ok(p) => p,
        Err(e) => {
            // A file without its manifest cannot be proven complete: take it back.
            let _ = std::fs::remove_file(&plan.target);
            return Err(e);
        }
    };
    Ok(ExportReport {
        file: plan.target.clone(),
        manifest: manifest_path,
        written,
        gateway_total: counts.gateway_total,
        count_note,
        invalid_signatures: counts.invalid_signatures,
        duplicates_dropped: counts.duplicates_dropped,
    })
}

/// Counts a manifest records besides the rows written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub rows: u64,
    pub gateway_total: Option<u64>,
    pub duplicates_dropped: usize,
    pub invalid_signatures: usize,
}

async fn cancelled(cancel: &AtomicBool) {
    while !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Exports every order matching `query`: pages of 500 fetched `concurrency` at a time (the
/// upper time bound pinned at the start when none was given, de-duplicated, counted against
/// the gateway's total), then written and described by a manifest.
pub async fn export_all_orders(
    client: &CnyClient,
    kind: OrderKind,
    query: &OrderQuery,
    concurrency: usize,
    plan: ExportPlan,
    cancel: Arc<AtomicBool>,
    progress: impl Fn(Progress) + Send + Sync + Clone + 'static,
) -> Result<ExportReport, ExportError> {
    let now = jiff::Timestamp::now().as_second();
    let fetch_progress = progress.clone();
    let fetched = tokio::select! {
        r = fetch_all(client, kind, query, now, concurrency, move |done, total| {
            fetch_progress(Progress { phase: Phase::Fetching, done, total });
        }) => r.map_err(|e| ExportError::Fetch(format!("the orders could not all be fetched: {e}")))?,
        () = cancelled(&cancel) => return Err(ExportError::Cancelled),
    };
    let counts = Counts {
        rows: fetched.orders.len() as u64,
        gateway_total: Some(fetched.total_reported),
        duplicates_dropped: fetched.duplicates_dropped,
        invalid_signatures: fetched
            .orders
            .iter()
            .filter(|o| o.signature.is_invalid())
            .count(),
    };
    let pinned = fetched.query.created != query.created;
    let plan = ExportPlan {
        filter: order_filter(&fetched.query, pinned, &plan.layout.tz),
        ..plan
    };
    tokio::task::spawn_blocking(move || {
        let columns = plan.layout.columns.clone();
        let rows = fetched.orders.iter().map(|o| order_cells(o, &columns));
        write_with_manifest(&plan, rows, counts, &cancel, progress)
    })
    .await
    .map_err(|e| ExportError::Fetch(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        for hostile in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralize(hostile).starts_with('\''), "{hostile:?}");
        }
        assert_eq!(neutralize("张三"), "张三");
        assert_eq!(neutralize(""), "");
    }

    #[test]
    fn amounts_reach_the_sheet_as_the_same_decimal() {
        for fen in [
            1,
            10,
            99,
            100,
            12_345,
            99_999_999_999,
            123_456_789_012_345,
            -5,
        ] {
            let text = Fen::from_fen(fen).yuan_plain();
            let n = spreadsheet_number(&text);
            let back = format!("{n}");
            let expect = text.trim_end_matches('0').trim_end_matches('.');
            assert_eq!(back.trim_end_matches(".0"), expect, "{fen}");
        }
    }

    #[test]
    fn names_come_from_the_filter() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-11-01 00:00 and 2026-11-21 23:59:59 in Shanghai.
        let name = suggested_name(
            ExportKind::Payouts,
            Some((1_793_462_400, 1_795_276_799)),
            &tz,
            ExportFormat::Csv,
            0,
        );
        assert_eq!(name, "payouts_2026-11-01_2026-11-21.csv");
    }

    #[test]
    fn columns_are_checked_and_ordered() {
        let k = ExportKind::Payouts;
        assert_eq!(
            k.parse_columns("amount, system_id,amount").unwrap(),
            ["amount", "system_id"]
        );
        assert!(k.parse_columns("depositor").is_err());
        assert!(k.parse_columns("").is_err());
    }
}
