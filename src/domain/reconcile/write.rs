//! The differences written out (CSV or XLSX) with a manifest an auditor can re-run: both
//! inputs' SHA-256, the period, the mapping, the counts and sums per class.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;
use serde_json::{Value, json};

use super::store::{Difference, Workfile};
use super::{Class, ReconcileError, Report};
use crate::domain::export::{
    ExportFormat, hash_file, looks_like_formula, manifest_path, neutralize, now_rfc3339,
};
use crate::money::Fen;

/// What an export of differences wrote.
#[derive(Clone, Debug)]
pub struct DifferencesExport {
    pub file: PathBuf,
    pub manifest: PathBuf,
    pub rows: u64,
    pub sha256: String,
}

const HEADERS: [&str; 17] = [
    "Class",
    "Merchant order ID",
    "Detail",
    "Difference (yuan)",
    "Ledger row",
    "Ledger amount (yuan)",
    "Ledger status",
    "Ledger time",
    "Ledger fee (yuan)",
    "Gateway system ID",
    "Gateway amount (yuan)",
    "Gateway real amount (yuan)",
    "Gateway fee (yuan)",
    "Gateway status",
    "Gateway created",
    "Gateway updated",
    "Signature",
];

/// A cell of the differences file: every value is text (amounts as exact yuan, IDs as
/// written), so no spreadsheet can round or reformat it.
enum Text {
    /// Written as is (numbers of our own making: amounts, row numbers, times).
    Plain(String),
    /// From an input: guarded against being read as a formula.
    Input(String),
}

fn yuan(f: Option<Fen>) -> Text {
    Text::Plain(f.map(Fen::yuan_plain).unwrap_or_default())
}

fn row_cells(d: &Difference, tz: &jiff::tz::TimeZone) -> Vec<Text> {
    let time = |t: Option<i64>| {
        Text::Plain(
            t.and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|ts| {
                    ts.to_zoned(tz.clone())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
        )
    };
    let l = d.ledger.as_ref();
    let g = d.gateway.as_ref();
    vec![
        Text::Plain(d.class.id().to_owned()),
        Text::Input(d.order_id.clone()),
        Text::Input(d.detail.clone()),
        Text::Plain(d.difference.yuan_plain()),
        Text::Plain(l.map(|l| l.row.to_string()).unwrap_or_default()),
        yuan(l.map(|l| l.amount)),
        Text::Input(l.map(|l| l.status_text.clone()).unwrap_or_default()),
        time(l.map(|l| l.time_secs)),
        yuan(l.and_then(|l| l.fee)),
        Text::Input(g.map(|g| g.system_id.clone()).unwrap_or_default()),
        yuan(g.and_then(|g| g.amount)),
        yuan(g.and_then(|g| g.real_amount)),
        yuan(g.and_then(|g| g.fee)),
        Text::Plain(g.map(|g| g.status.label()).unwrap_or_default()),
        time(g.and_then(|g| g.create_time_secs)),
        time(g.and_then(|g| g.update_time_secs)),
        Text::Plain(
            g.map(|g| {
                if g.signature_valid {
                    "valid"
                } else {
                    "invalid"
                }
            })
            .unwrap_or_default()
            .to_owned(),
        ),
    ]
}

/// A temporary file beside the target, removed unless published.
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

fn partial(target: &Path) -> Partial {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    Partial {
        path: target.with_file_name(format!(".{name}.{nonce:08x}.partial")),
        keep: false,
    }
}

fn io(path: &Path) -> impl Fn(String) -> ReconcileError + '_ {
    move |e| ReconcileError::Io(format!("cannot write {}: {e}", path.display()))
}

/// Every row of `classes`, class by class, streamed from the work file to `each`.
fn for_each_row(
    workfile: &Workfile,
    classes: &[Class],
    mut each: impl FnMut(&Difference) -> Result<(), ReconcileError>,
) -> Result<u64, ReconcileError> {
    let mut rows = 0u64;
    for &class in classes {
        rows += workfile.for_each_row(class, &mut each)?;
    }
    Ok(rows)
}

fn write_csv(
    path: &Path,
    workfile: &Workfile,
    classes: &[Class],
    tz: &jiff::tz::TimeZone,
    err: &dyn Fn(String) -> ReconcileError,
) -> Result<u64, ReconcileError> {
    let file = File::create(path).map_err(|e| err(e.to_string()))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    w.write_all(b"\xEF\xBB\xBF")
        .map_err(|e| err(e.to_string()))?;
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(w);
    csv.write_record(HEADERS).map_err(|e| err(e.to_string()))?;
    let rows = for_each_row(workfile, classes, |d| {
        let cells = row_cells(d, tz);
        let fields = cells.iter().map(|c| match c {
            Text::Plain(s) => std::borrow::Cow::Borrowed(s.as_str()),
            Text::Input(s) => neutralize(s),
        });
        csv.write_record(fields.map(std::borrow::Cow::into_owned))
            .map_err(|e| err(e.to_string()))
    })?;
    let w = csv.into_inner().map_err(|e| err(e.to_string()))?;
    let file = w.into_inner().map_err(|e| err(e.to_string()))?;
    file.sync_all().map_err(|e| err(e.to_string()))?;
    Ok(rows)
}

fn write_xlsx(
    path: &Path,
    workfile: &Workfile,
    classes: &[Class],
    tz: &jiff::tz::TimeZone,
    err: &dyn Fn(String) -> ReconcileError,
) -> Result<u64, ReconcileError> {
    let e = |x: rust_xlsxwriter::XlsxError| err(x.to_string());
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory();
    sheet.set_name("Differences").map_err(e)?;
    let header = Format::new().set_bold();
    let typed_text = Format::new().set_quote_prefix();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &header)
            .map_err(e)?;
        let width = match c {
            2 => 60.0,
            7 | 14 | 15 => 20.0,
            _ => 16.0,
        };
        sheet.set_column_width(c as u16, width).map_err(e)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(e)?;
    let mut r = 0u32;
    let rows = for_each_row(workfile, classes, |d| {
        r += 1;
        for (c, cell) in row_cells(d, tz).into_iter().enumerate() {
            let c = c as u16;
            // Every cell is a string cell holding the exact text, never a number or a
            // formula; one that looks like a formula also gets the quote prefix.
            match cell {
                Text::Plain(s) | Text::Input(s) if s.is_empty() => {}
                Text::Input(s) if looks_like_formula(&s) => {
                    sheet
                        .write_string_with_format(r, c, &s, &typed_text)
                        .map_err(e)?;
                }
                Text::Plain(s) | Text::Input(s) => {
                    sheet.write_string(r, c, &s).map_err(e)?;
                }
            }
        }
        Ok(())
    })?;
    let file = File::create(path).map_err(|x| err(x.to_string()))?;
    let mut w = BufWriter::new(file);
    book.save_to_writer(&mut w).map_err(e)?;
    let file = w.into_inner().map_err(|x| err(x.to_string()))?;
    file.sync_all().map_err(|x| err(x.to_string()))?;
    Ok(rows)
}

fn money(f: Fen) -> Value {
    json!({ "fen": f.fen(), "display": f.to_string() })
}

/// The manifest of an export of differences (`NAME.manifest.json`).
fn manifest(
    workfile: &Workfile,
    report: &Report,
    classes: &[Class],
    file: &Path,
    format: ExportFormat,
    command: &str,
    (rows, bytes, sha256): (u64, u64, &str),
) -> Result<Value, ReconcileError> {
    let record = workfile.record()?;
    let per_class: Vec<Value> = report
        .classes
        .iter()
        .map(|t| {
            json!({
                "class": t.class.id(),
                "label": t.class.label(),
                "is_difference": t.class.is_difference(),
                "count": t.count,
                "ledger_rows": t.ledger_rows,
                "gateway_orders": t.gateway_orders,
                "ledger": money(t.ledger),
                "gateway": money(t.gateway),
                "difference": money(t.difference()),
            })
        })
        .collect();
    Ok(json!({
        "paydesk_version": env!("CARGO_PKG_VERSION"),
        "written_at": now_rfc3339(),
        "command": command,
        "kind": record.kind.plural(),
        "period": {
            "from": record.from_date,
            "to": record.to_date,
            "timezone": record.timezone,
            "from_secs": report.period.from_secs,
            "to_secs": report.period.to_secs,
        },
        "margin_secs": record.margin_secs,
        "mapping": record.mapping,
        "ledger": {
            "file": record.ledger_file,
            "sha256": report.ledger_sha256,
            "rows": report.ledger_rows,
        },
        "gateway": {
            "sha256": report.gateway_sha256,
            "sha256_of": "the orders' texts as received, sorted by system ID, one per line",
            "orders": report.gateway_orders,
            "count_note": report.count_note,
        },
        "ledger_sum": money(report.ledger_sum),
        "gateway_sum": money(report.gateway_sum),
        "difference": money(report.difference()),
        "all_matched": report.all_matched(),
        "classes": per_class,
        "export": {
            "file": file.file_name().map(|n| n.to_string_lossy().into_owned()),
            "format": format,
            "classes": classes.iter().map(|c| c.id()).collect::<Vec<_>>(),
            "rows": rows,
            "bytes": bytes,
            "sha256": sha256,
        },
    }))
}

fn publish_json(path: &Path, value: &impl Serialize) -> Result<(), ReconcileError> {
    let err = io(path);
    let mut tmp = partial(path);
    let mut body = serde_json::to_vec_pretty(value).map_err(|e| err(e.to_string()))?;
    body.push(b'\n');
    let mut f = File::create(&tmp.path).map_err(|e| err(e.to_string()))?;
    f.write_all(&body)
        .and_then(|()| f.sync_all())
        .map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp.path, path).map_err(|e| err(e.to_string()))?;
    tmp.keep = true;
    Ok(())
}

/// Writes the rows of `classes` (when empty: every class that is a difference, and the edge
/// class, whose rows add to the difference of the sums too, so that the file accounts for
/// every fen of it) of `workfile`
/// to `target` in `format`, streamed a page at a time, and the manifest beside it
/// (`NAME.manifest.json`) with `command`, the command line that re-runs it.
pub fn export_differences(
    workfile: &Workfile,
    classes: &[Class],
    target: &Path,
    format: ExportFormat,
    command: &str,
) -> Result<DifferencesExport, ReconcileError> {
    let classes: Vec<Class> = if classes.is_empty() {
        Class::ALL
            .into_iter()
            .filter(|c| c.is_difference() || *c == Class::Edge)
            .collect()
    } else {
        Class::ALL
            .into_iter()
            .filter(|c| classes.contains(c))
            .collect()
    };
    let report = workfile.report()?;
    let record = workfile.record()?;
    let tz = jiff::tz::TimeZone::get(&record.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let err = io(target);
    let mut tmp = partial(target);
    let rows = match format {
        ExportFormat::Csv => write_csv(&tmp.path, workfile, &classes, &tz, &err)?,
        ExportFormat::Xlsx => write_xlsx(&tmp.path, workfile, &classes, &tz, &err)?,
        ExportFormat::Jsonl => {
            return Err(ReconcileError::Io(
                "differences are exported as CSV or XLSX".to_owned(),
            ));
        }
    };
    let (bytes, sha256) = hash_file(&tmp.path).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp.path, target).map_err(|e| err(e.to_string()))?;
    tmp.keep = true;
    let value = manifest(
        workfile,
        &report,
        &classes,
        target,
        format,
        command,
        (rows, bytes, &sha256),
    )?;
    let manifest = manifest_path(target);
    if let Err(e) = publish_json(&manifest, &value) {
        // A file without its manifest cannot be proven complete: take it back.
        let _ = std::fs::remove_file(target);
        return Err(e);
    }
    Ok(DifferencesExport {
        file: target.to_path_buf(),
        manifest,
        rows,
        sha256,
    })
}
