//! `paydesk reconcile deposits|payouts`: the merchant's ledger for a period against the
//! gateway's orders of it. Prints the totals per class and the difference explained to the
//! fen; with `--out`, writes the differences and their manifest. Exit 0: everything matched;
//! 1: differences found; 2: error (a ledger problem named by row and column).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use paydesk::domain::credentials::Need;
use paydesk::domain::dates::{Bound, parse_bound, zone};
use paydesk::domain::export::ExportFormat;
use paydesk::domain::profiles::config_dir;
use paydesk::domain::reconcile::ledger::read_headers;
use paydesk::domain::reconcile::{
    Mapping, MappingStore, Period, ReconcileError, Report, Request, Stage, Workfile,
    export_differences, reconcile,
};
use paydesk::domain::search::StreamOptions;
use paydesk::domain::sheet::Limits;
use paydesk::gateway::http::HttpSettings;
use paydesk::money::Fen;

use super::orders::cny_client;
use super::{EXIT_ACCEPTED, EXIT_REFUSED, load_profiles};

/// `paydesk reconcile`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ReconcileArgs {
    pub kind: crate::Kind,
    /// The merchant's ledger for the period (.csv or .xlsx).
    #[arg(long)]
    pub ledger: PathBuf,
    /// The period's first day, YYYY-MM-DD (from its start in --tz).
    #[arg(long)]
    pub from: String,
    /// The period's last day, YYYY-MM-DD (to its end in --tz).
    #[arg(long)]
    pub to: String,
    /// Which column holds what, e.g. 'id=Order No,amount=Amount (CNY),status=State,time=Booked
    /// at,fee=-'; remembered for the profile and kind, so later runs may leave it out.
    #[arg(long)]
    pub map: Option<String>,
    /// The zone of the dates and of ledger times written without one.
    #[arg(long, default_value = "Asia/Shanghai")]
    pub tz: String,
    /// Hours fetched on each side of the period (orders created just outside it).
    #[arg(long, default_value_t = 24)]
    pub margin_hours: u32,
    /// Write the differences here (.csv or .xlsx), with FILE.manifest.json beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// csv or xlsx; by default from --out's extension.
    #[arg(long)]
    pub format: Option<String>,
    /// The work file (SQLite) the console can open; by default a temporary one, removed.
    #[arg(long)]
    pub workfile: Option<PathBuf>,
    /// Print the report as JSON on standard output (the text goes to standard error).
    #[arg(long)]
    pub json: bool,
}

/// An example of `--map`, printed when none is known.
const EXAMPLE_MAP: &str = "id=Order No,amount=Amount (CNY),status=State,time=Booked at,fee=-";

pub async fn run(
    args: &ReconcileArgs,
    profile: Option<&str>,
    http: HttpSettings,
) -> anyhow::Result<ExitCode> {
    let kind = args.kind.order_kind();
    let tz = zone(&args.tz)?;
    let period = Period {
        from_secs: parse_bound(&args.from, &tz, Bound::Start).context("--from")?,
        to_secs: parse_bound(&args.to, &tz, Bound::End).context("--to")?,
    };
    if period.from_secs > period.to_secs {
        bail!("--from {} is after --to {}", args.from, args.to);
    }
    let format = match (&args.out, args.format.as_deref()) {
        (_, Some(f)) => Some(
            ExportFormat::parse(f)
                .filter(|f| *f != ExportFormat::Jsonl)
                .context("--format is csv or xlsx")?,
        ),
        (Some(out), None) => Some(
            ExportFormat::from_path(out)
                .filter(|f| *f != ExportFormat::Jsonl)
                .context("name the format with --format csv|xlsx (--out has no known extension)")?,
        ),
        (None, None) => None,
    };
    if let Some(out) = &args.out
        && paydesk::domain::reconcile::run::same_file(&args.ledger, out)
    {
        bail!(
            "--out {} is the ledger itself: write the differences elsewhere (the ledger is never overwritten)",
            out.display()
        );
    }
    let limits = Limits::configured();
    let profile_name = profile_name(profile)?;
    let store = config_dir().map(|dir| MappingStore::new(&dir));
    let mapping = if let Some(spec) = &args.map {
        Mapping::from_map_arg(spec).map_err(|e| anyhow::anyhow!("--map: {e}"))?
    } else {
        let remembered = match &store {
            Some(store) => store.get(&profile_name, kind).map_err(anyhow::Error::msg)?,
            None => None,
        };
        let Some(m) = remembered else {
            bail!(
                "no column mapping is remembered for profile '{profile_name}' and {}: give --map.\n{}",
                kind.plural(),
                headers_hint(&args.ledger, &limits)
            );
        };
        m
    };

    let client = cny_client(profile, Need::All, http)?;
    let temp = match &args.workfile {
        Some(_) => None,
        None => Some(TempWorkfile::new()),
    };
    let workfile = match (&args.workfile, &temp) {
        (Some(path), _) => path.clone(),
        (None, Some(t)) => t.0.clone(),
        (None, None) => bail!("no work file"),
    };
    let request = Request {
        kind,
        period,
        margin_secs: i64::from(args.margin_hours) * 3600,
        ledger: args.ledger.clone(),
        mapping: mapping.clone(),
        tz,
        tz_name: args.tz.clone(),
        limits: limits.clone(),
        workfile: workfile.clone(),
        stream: StreamOptions::default(),
    };
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let progress = move |stage: Stage| {
        if !terminal {
            return;
        }
        let text = match stage {
            Stage::ReadingLedger { rows } => format!("reading the ledger: {rows} rows"),
            Stage::FetchingGateway { done, total } => {
                format!("fetching the gateway's orders: {done} of {total}")
            }
            Stage::Classifying => "classifying".to_owned(),
        };
        eprint!("\r\x1b[2K{text} ({:.1} s)", started.elapsed().as_secs_f64());
        let _ = std::io::stderr().flush();
    };
    let now = jiff::Timestamp::now().as_second();
    let outcome = reconcile(&client, &request, now, progress).await;
    if terminal {
        eprintln!();
    }
    let report = match outcome {
        Ok(report) => report,
        Err(e @ ReconcileError::Mapping(_)) => {
            bail!("{e}\n{}", headers_hint(&args.ledger, &limits))
        }
        Err(e) => return Err(e.into()),
    };
    // Remembered only once it read the ledger: a mapping that does not fit is not kept.
    if args.map.is_some() {
        match &store {
            Some(store) => {
                if let Err(e) = store.set(&profile_name, kind, &mapping) {
                    eprintln!("warning: the mapping could not be remembered: {e}");
                }
            }
            None => eprintln!("warning: no config folder: the mapping is not remembered"),
        }
    }

    let text = describe(&report);
    if args.json {
        eprint!("{text}");
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{text}");
    }
    if let (Some(out), Some(format)) = (&args.out, format) {
        let wf = Workfile::open(&workfile)?;
        let command = rerun_command(args, profile, &mapping);
        let written = export_differences(&wf, &[], out, format, &command)?;
        eprintln!(
            "wrote {} differences to {} (SHA-256 {}), manifest {}",
            written.rows,
            written.file.display(),
            written.sha256,
            written.manifest.display()
        );
    }
    let code = if report.all_matched() {
        EXIT_ACCEPTED
    } else {
        EXIT_REFUSED
    };
    Ok(ExitCode::from(code))
}

/// A work file in the temporary folder, removed (with SQLite's side files) when dropped.
struct TempWorkfile(std::path::PathBuf);

impl TempWorkfile {
    fn new() -> TempWorkfile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        TempWorkfile(std::env::temp_dir().join(format!(
            "paydesk-reconcile-{}-{nanos}.sqlite",
            std::process::id()
        )))
    }
}

impl Drop for TempWorkfile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn profile_name(profile: Option<&str>) -> anyhow::Result<String> {
    Ok(match profile {
        Some(p) => p.to_owned(),
        None if std::env::var_os("PAYDESK_CNY_BASE_URL").is_some() => "environment".to_owned(),
        None => load_profiles()?
            .and_then(|p| p.active_name().map(str::to_owned))
            .unwrap_or_else(|| "environment".to_owned()),
    })
}

/// The ledger's headers and an example `--map`, for an operator choosing a mapping.
fn headers_hint(ledger: &std::path::Path, limits: &Limits) -> String {
    let name = ledger
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let headers = std::fs::read(ledger)
        .map_err(|e| e.to_string())
        .and_then(|bytes| read_headers(&name, &bytes, limits));
    match headers {
        Ok(h) => format!(
            "the ledger's columns: {}\nexample: --map '{EXAMPLE_MAP}'",
            h.iter()
                .map(|h| format!("'{h}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => {
            format!("the ledger's columns cannot be read: {e}\nexample: --map '{EXAMPLE_MAP}'")
        }
    }
}

/// The command line that re-runs this reconciliation (for the manifest).
fn rerun_command(args: &ReconcileArgs, profile: Option<&str>, mapping: &Mapping) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut c = format!(
        "paydesk reconcile {} --ledger {} --from {} --to {} --tz {} --margin-hours {} --map {}",
        match args.kind {
            crate::Kind::Deposits => "deposits",
            crate::Kind::Payouts => "payouts",
        },
        quote(&args.ledger.to_string_lossy()),
        quote(&args.from),
        quote(&args.to),
        quote(&args.tz),
        args.margin_hours,
        quote(&mapping.to_map_arg())
    );
    if let Some(out) = &args.out {
        let _ = write!(c, " --out {}", quote(&out.to_string_lossy()));
    }
    if let Some(format) = &args.format {
        let _ = write!(c, " --format {}", quote(format));
    }
    if let Some(profile) = profile {
        c = format!(
            "paydesk --profile {} {}",
            quote(profile),
            &c["paydesk ".len()..]
        );
    }
    c
}

/// Totals per class, then the explanation, as the operator reads them.
pub fn describe(report: &Report) -> String {
    let mut out = String::new();
    let yuan = |f: Fen| f.to_string();
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>12} {:>15} {:>18} {:>18} {:>18}",
        "class", "IDs", "ledger rows", "gateway orders", "ledger", "gateway", "difference"
    );
    for c in &report.classes {
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>12} {:>15} {:>18} {:>18} {:>18}",
            c.class.id(),
            c.count,
            c.ledger_rows,
            c.gateway_orders,
            yuan(c.ledger),
            yuan(c.gateway),
            yuan(c.difference())
        );
    }
    let _ = writeln!(
        out,
        "ledger {} (credited, {} rows read); gateway {} (successful, {} orders read); difference {}",
        yuan(report.ledger_sum),
        report.ledger_rows,
        yuan(report.gateway_sum),
        report.gateway_orders,
        yuan(report.difference())
    );
    if let Some(note) = &report.count_note {
        let _ = writeln!(out, "note: {note}");
    }
    for line in report.explanation() {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "{}",
        if report.all_matched() {
            "everything matched"
        } else {
            "differences found"
        }
    );
    out
}
