//! The app's side of the Reconcile tab: the ledger file read through the file seam, the
//! remembered mapping, the run on the console's runtime (progress through a bounded channel,
//! Cancel aborting the task), the pages of a class read off the UI thread, and the export of
//! the differences after the save dialog.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::export::ExportFormat;
use paydesk::domain::reconcile::ledger::read_headers;
use paydesk::domain::reconcile::run::DEFAULT_MARGIN_SECS;
use paydesk::domain::reconcile::{MappingStore, Request, Workfile, export_differences, reconcile};
use paydesk::domain::search::StreamOptions;
use paydesk::domain::sheet::Limits;
use paydesk::gateway::cny::wire::OrderKind;
use paydesk::lock_unpoisoned as lock;

use super::context::{Marker, TzChoice};
use super::files::OpenKind;
use super::panels::reconcile::{
    Exported, Finished, LedgerFile, PAGE_ROWS, PageAsk, PageRead, RunInput, Running,
};
use super::{PaydeskApp, Tab, progress_channel};

impl PaydeskApp {
    /// Asks for the ledger file, reads its header row and keeps a copy of it beside the work
    /// file (the run reads the file from disk, a row at a time).
    pub(super) fn open_ledger(&mut self) {
        let dialogs = Arc::clone(&self.file_dialogs);
        let dir = self.reconcile_dir.clone();
        let runtime = self.runtime.clone();
        let rx = self.request(async move {
            let Some((name, bytes)) = dialogs.open_file(OpenKind::Ledger).await else {
                return Ok(None);
            };
            runtime
                .spawn_blocking(move || keep_ledger(&dir, name, &bytes).map(Some))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        });
        self.reconcile.begin_open(rx);
    }

    /// Reads the mapping remembered for the active profile and `kind`.
    pub(super) fn load_ledger_mapping(&mut self, kind: OrderKind) {
        let dir = self.config_dir.clone();
        let profile = self.connection.as_ref().map(|c| c.profile_name.clone());
        let rx = self.request_blocking(move || match (dir, profile) {
            (Some(dir), Some(profile)) => MappingStore::new(&dir).get(&profile, kind),
            _ => Ok(None),
        });
        self.reconcile.begin_mapping(rx);
    }

    pub(super) fn run_reconciliation(&mut self, input: RunInput) {
        let Some(connection) = self.connection.clone() else {
            self.reconcile
                .run_refused("Not connected to a gateway".to_owned());
            return;
        };
        let Some(client) = connection.cny.clone() else {
            self.reconcile
                .run_refused("This profile has no CNY gateway to reconcile with".to_owned());
            return;
        };
        let tz_choice = self.time_zone();
        let tz_name = tz_name(tz_choice);
        let kind = input.kind;
        let workfile = self
            .reconcile_dir
            .join(format!("{}.sqlite", kind_word(kind)));
        let request = Request {
            kind,
            period: input.period,
            margin_secs: DEFAULT_MARGIN_SECS,
            ledger: input.ledger.path.clone(),
            mapping: input.mapping.clone(),
            tz: tz_choice.zone(),
            tz_name: tz_name.clone(),
            limits: Limits::configured(),
            workfile: workfile.clone(),
            stream: StreamOptions::default(),
        };
        let profile =
            (connection.marker != Marker::Sandbox).then_some(connection.profile_name.as_str());
        let command = rerun_command(profile, &input, &tz_name);
        let store = self.config_dir.as_deref().map(MappingStore::new);
        let profile = connection.profile_name.clone();
        let mapping = input.mapping;
        let (progress, progress_rx) = progress_channel(&self.ctx);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (ctx, runtime) = (self.ctx.clone(), self.runtime.clone());
        let task = self.runtime.spawn(async move {
            let outcome = async {
                if let Some(parent) = workfile.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("Could not make {}: {e}", parent.display()))?;
                }
                let report = reconcile(&client, &request, SystemClock.now_secs(), progress)
                    .await
                    .map_err(|e| e.to_string())?;
                let (opened, remember_error) = runtime
                    .spawn_blocking(move || {
                        let opened = Workfile::open(&workfile).map_err(|e| e.to_string())?;
                        let remembered = store.map(|s| s.set(&profile, kind, &mapping));
                        Ok::<_, String>((opened, remembered.and_then(Result::err)))
                    })
                    .await
                    .map_err(|e| e.to_string())??;
                Ok::<_, String>(Finished {
                    report,
                    workfile: Arc::new(Mutex::new(opened)),
                    command,
                    remember_error,
                })
            }
            .await;
            if tx.send(outcome).is_ok() {
                ctx.request_repaint();
            }
        });
        self.reconcile.begin_run(Running {
            reply: rx,
            progress: progress_rx,
            stage: None,
            abort: task.abort_handle(),
            started: Instant::now(),
        });
    }

    /// Reads one page of a class table (and, with the first, how many rows it has).
    pub(super) fn read_reconcile_page(&mut self, ask: PageAsk) {
        let PageAsk {
            workfile,
            key,
            page,
        } = ask;
        let asked = key.clone();
        let rx = self.request_blocking(move || {
            let file = lock(&workfile);
            let err = |e: paydesk::domain::reconcile::ReconcileError| e.to_string();
            let total = if page == 0 {
                Some(file.count(key.class, &key.filter).map_err(err)?)
            } else {
                None
            };
            let rows = file
                .page(
                    key.class,
                    &key.filter,
                    page * u64::from(PAGE_ROWS),
                    PAGE_ROWS,
                )
                .map_err(err)?;
            Ok(PageRead {
                key,
                page,
                total,
                rows,
            })
        });
        self.reconcile.begin_page(asked, page, rx);
    }

    /// Asks where to save, then writes every row of the classes that are differences and
    /// the manifest, with the command line that re-runs it.
    pub(super) fn export_reconcile_differences(&mut self, format: ExportFormat) {
        let Some(finished) = &self.reconcile.finished else {
            self.reconcile
                .export_refused("Run a reconciliation first".to_owned());
            return;
        };
        let workfile = Arc::clone(&finished.workfile);
        let base = finished.command.clone();
        let report = &finished.report;
        let tz = self.time_zone().zone();
        let day = |secs: i64| {
            jiff::Timestamp::from_second(secs)
                .map(|t| t.to_zoned(tz.clone()).date().to_string())
                .unwrap_or_default()
        };
        let name = format!(
            "reconcile_{}_{}_{}_differences.{}",
            kind_word(report.kind),
            day(report.period.from_secs),
            day(report.period.to_secs),
            format.extension()
        );
        let dialogs = Arc::clone(&self.file_dialogs);
        let runtime = self.runtime.clone();
        let rx = self.request(async move {
            let Some(path) = dialogs.save_file(name).await else {
                return Ok(None);
            };
            runtime
                .spawn_blocking(move || {
                    let command = format!(
                        "{base} --out {} --format {}",
                        quote(&path.display().to_string()),
                        format.extension()
                    );
                    let file = lock(&workfile);
                    let done = export_differences(&file, &[], &path, format, &command)
                        .map_err(|e| e.to_string())?;
                    Ok(Some(Exported {
                        summary: format!(
                            "Wrote {} row(s) to {} (SHA-256 {}); manifest {}",
                            done.rows,
                            done.file.display(),
                            done.sha256,
                            done.manifest.display()
                        ),
                        command,
                    }))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        });
        self.reconcile.begin_export(rx);
    }

    /// "Search this order": the Deposits or Payouts tab looks the merchant order ID up over
    /// every date, with nothing local hiding what it finds.
    pub(super) fn search_order_id(&mut self, kind: OrderKind, id: String) {
        let panel = self.orders_panel(kind);
        panel.filter.merchant_id = id;
        panel.filter.system_id.clear();
        panel.filter.use_range = false;
        panel.show_all();
        panel.page = 0;
        self.tab = match kind {
            OrderKind::Deposit => Tab::Deposits,
            OrderKind::Payout => Tab::Payouts,
        };
        self.commands.push(super::Command::Search(kind));
    }
}

/// Reads the header row of the ledger and keeps a copy of its bytes in `dir/ledger`.
fn keep_ledger(dir: &Path, name: String, bytes: &[u8]) -> Result<LedgerFile, String> {
    let headers = read_headers(&name, bytes, &Limits::configured())
        .map_err(|e| format!("{name}: the header row cannot be read: {e}"))?;
    if let Some(base) = dir.parent() {
        paydesk::domain::reconcile::run::clear_ended_process_dirs(base);
    }
    let folder = dir.join("ledger");
    std::fs::create_dir_all(&folder)
        .map_err(|e| format!("Could not make {}: {e}", folder.display()))?;
    let file_name = Path::new(&name)
        .file_name()
        .map_or_else(|| "ledger.csv".into(), ToOwned::to_owned);
    let path: PathBuf = folder.join(file_name);
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| format!("Could not keep a copy of {name}: {e}"))?;
    Ok(LedgerFile {
        name,
        path,
        headers,
        bytes: bytes.len() as u64,
    })
}

fn kind_word(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Deposit => "deposits",
        OrderKind::Payout => "payouts",
    }
}

/// The zone's name as the CLI's `--tz` takes it.
fn tz_name(tz: TzChoice) -> String {
    match tz {
        TzChoice::Gateway => paydesk::domain::dates::GATEWAY_TZ.to_owned(),
        TzChoice::Utc => "UTC".to_owned(),
        TzChoice::Local => tz.zone().iana_name().unwrap_or("UTC").to_owned(),
    }
}

/// `paydesk reconcile deposits --ledger FILE --from D --to D --tz Z --map SPEC`: the run as
/// the CLI takes it (`--out` and `--format` added by the export).
pub(super) fn rerun_command(profile: Option<&str>, input: &RunInput, tz_name: &str) -> String {
    let mut parts: Vec<String> = vec!["paydesk".to_owned()];
    if let Some(p) = profile {
        parts.extend(["--profile".to_owned(), quote(p)]);
    }
    parts.extend([
        "reconcile".to_owned(),
        kind_word(input.kind).to_owned(),
        "--ledger".to_owned(),
        quote(&input.ledger.name),
        "--from".to_owned(),
        input.from_date.to_string(),
        "--to".to_owned(),
        input.to_date.to_string(),
        "--tz".to_owned(),
        quote(tz_name),
        "--map".to_owned(),
        quote(&input.mapping.to_map_arg()),
    ]);
    parts.join(" ")
}

/// A word for a POSIX shell: as is when it is plain, otherwise in single quotes.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:=,+@%-".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_quoted_only_when_the_shell_would_read_it_otherwise() {
        assert_eq!(quote("ledger_2026.csv"), "ledger_2026.csv");
        assert_eq!(quote("my ledger.csv"), "'my ledger.csv'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("credited=paid|成功"), "'credited=paid|成功'");
        assert_eq!(quote(""), "''");
    }
}
