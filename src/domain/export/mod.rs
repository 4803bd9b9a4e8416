//! Exports of order lists and batch sub-orders that are complete, exact and safe to open:
//! CSV (UTF-8 with a byte-order mark), XLSX (amounts as numbers with two decimals, times as
//! dates, a frozen header) and JSON Lines; written to a temporary file in the same folder and
//! renamed at the end, so a cancelled or failed export leaves nothing behind; and a manifest
//! beside the file with the SHA-256 of what was written. Cells that a spreadsheet would take
//! for a formula are neutralised.

mod cells;
mod columns;
mod csv;
mod jsonl;
mod manifest;
mod naming;
mod progress;
mod request;
mod run;
mod write;
mod xlsx;

pub use cells::{
    Cell, found_sub_order_cells, looks_like_formula, neutralize, order_cells, sub_order_cells,
};
pub use columns::{AmountUnit, ExportFormat, ExportKind, Layout};
pub use manifest::{
    Manifest, ManifestProfile, manifest_path, now_rfc3339, order_filter, write_manifest,
};
pub use naming::suggested_name;
pub use progress::{Phase, Progress};
pub use request::{ExportPlan, ExportRequest};
pub use run::{
    Counts, ExportReport, export_all_orders, export_all_orders_with, write_with_manifest,
};
pub use write::{ExportError, Written, hash_file, write_file};
