//! `paydesk`: the command line of the Paydesk console, for automation and tests.

// Doc comments here are the `--help` texts, where Markdown backticks would show as they are.
#![allow(clippy::doc_markdown)]

mod bench;
mod bench_reconcile;
mod bench_team;
mod cli;
mod console;
mod startup;

pub use cli::gatepay_args::GatepayCommand;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operations console for merchants of a CNY bank-card gateway and GatePay crypto payouts.
///
/// With no subcommand, opens the desktop console (on the built-in sandbox gateway when no
/// profile is configured).
///
/// Credentials come from the environment when set (PAYDESK_CNY_BASE_URL, PAYDESK_CNY_PLATFORM_ID,
/// PAYDESK_CNY_AUTH_TOKEN, PAYDESK_CNY_MD5_KEY, PAYDESK_GATEPAY_BASE_URL, PAYDESK_GATEPAY_CLIENT_ID,
/// PAYDESK_GATEPAY_SECRET, PAYDESK_GATEPAY_ON_BEHALF_OF), otherwise from the chosen profile, whose
/// secrets live in the OS keyring.
#[derive(Parser, Debug)]
#[command(name = "paydesk", version)]
pub struct Cli {
    /// The profile to use (default: the active one, or the first of the command's gateway).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Seconds to wait for a gateway's reply.
    #[arg(long, global = true, default_value_t = 20, value_name = "SECS")]
    pub timeout_secs: u64,
    /// Show the operations log on standard error: -v info, -vv debug (default: warnings).
    /// The log file in the data directory always gets info.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How the console opens (over what was saved; also `PAYDESK_START_TAB`, `PAYDESK_THEME`,
/// `PAYDESK_SCALE`).
#[derive(clap::Args, Debug, Default)]
pub struct ViewArgs {
    /// The tab to open on: deposits, payouts, workbench, new-payout, payouts-sent, batches,
    /// new-batch, gatepay-by-date, profiles.
    #[arg(long, value_name = "TAB")]
    pub tab: Option<String>,
    /// system, light or dark.
    #[arg(long, value_name = "THEME")]
    pub theme: Option<String>,
    /// How large to draw the console, 0.5 to 3 (e.g. 1.25 or 125%).
    #[arg(long, value_name = "SCALE")]
    pub scale: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve both gateways on 127.0.0.1 with demo data; prints one JSON line with the URL and credentials.
    Sandbox(SandboxArgs),
    /// Query deposit or payout orders, checking every order's signature.
    Orders(OrdersArgs),
    /// Check the signature of orders, notifications, query responses or GatePay callbacks.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Print the canonical string (key masked) and the sign of a CNY gateway object.
    #[command(subcommand)]
    Sign(SignCommand),
    /// Show the CNY merchant balance, per channel, with signatures checked.
    Balance,
    /// GatePay institution payouts.
    #[command(subcommand)]
    Gatepay(GatepayCommand),
    /// Manage profiles (settings in the config file, secrets in the OS keyring).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// CNY bank-card payouts, each recorded in the journal before it is sent.
    #[command(subcommand)]
    Payout(PayoutCommand),
    /// Check, back up or restore the payout journal.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Measure the console: frame time with many loaded rows against one page of 500.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Receive CNY withdraw notifications and GatePay payout callbacks: each is verified,
    /// recorded in the journal before it is acknowledged, and settles its payout or batch.
    /// Refused, never acknowledged: a failed signature, an unreadable or too large body, an
    /// address not allowed. Prints one JSON line per notification.
    Listen(ListenArgs),
    /// Export every order matching a filter (all pages, each once, checked against the
    /// gateway's total) to CSV, XLSX or JSON Lines, with FILE.manifest.json beside it.
    Export(ExportArgs),
    /// Reconcile the merchant's ledger (CSV or XLSX) for a period against the gateway's orders
    /// of it: totals per class, the difference explained to the fen, the differences written
    /// out with a manifest. Exit 0: everything matched; 1: differences found; 2: error.
    Reconcile(cli::ReconcileArgs),
}

/// The order filter `orders` and `export` share.
#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Created from: YYYY-MM-DD (start of day), YYYY-MM-DD HH:MM[:SS], RFC 3339 or Unix seconds.
    /// Alone, it means "until now" (for an export, the moment it starts, so orders arriving
    /// meanwhile do not shift the pages).
    #[arg(long)]
    pub from: Option<String>,
    /// Created until: as --from (a bare date means its end). Alone, it means "since the beginning".
    #[arg(long)]
    pub to: Option<String>,
    /// Time zone of the dates given and of the times shown or written: an IANA name, UTC or
    /// local.
    #[arg(long, default_value = paydesk::domain::dates::GATEWAY_TZ)]
    pub tz: String,
    /// System order ID (payment_id / payout_id).
    #[arg(long)]
    pub id: Option<String>,
    /// Merchant order ID (payment_cl_id / payout_cl_id).
    #[arg(long)]
    pub cl_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    pub kind: Kind,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The file to write (its manifest goes to FILE.manifest.json).
    #[arg(long)]
    pub out: PathBuf,
    /// csv, xlsx or jsonl; by default from the file's extension.
    #[arg(long)]
    pub format: Option<String>,
    /// Columns in order, comma-separated (see the README for the keys).
    #[arg(long)]
    pub columns: Option<String>,
    /// yuan or fen.
    #[arg(long, default_value = "yuan")]
    pub amounts: String,
    /// Pages fetched at the same time.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// The port to listen on.
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// The address to listen on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Accept notifications only from these addresses or CIDR ranges (repeatable); without
    /// it, loopback only (a tunnel delivers from loopback).
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allow_ip: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum PayoutCommand {
    /// Send one payout. Prints one JSON object. Exit 0: accepted; 1: refused; 3: outcome
    /// unknown, being checked (never sent again under another ID); 4: held for a second
    /// operator's approval (team journal), not sent.
    Create(PayoutArgs),
    /// Send every payout of a CSV or XLSX file (columns: merchant order ID (optional),
    /// amount, bank, name, number, branch, province, city). Every row is checked first;
    /// running it again with the same file resumes the batch.
    /// A row with the same account and amount as a payout of the last 7 days (or as an earlier
    /// row) is held back: nothing is sent (exit 2) until each is confirmed by name.
    Import {
        /// The CSV or XLSX file; `-` reads it from standard input (with --yes).
        file: PathBuf,
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        duplicates: DuplicateArgs,
    },
    /// Check every unknown and unfinished payout with the gateway at once (whatever the
    /// background backoff says), by its merchant order ID. Exit 0: nothing unknown or
    /// unverified; 3: something is.
    Reconcile {
        /// Keep asking again every second, for up to this many seconds, while outcomes are
        /// unknown or replies fail their signature check.
        #[arg(long, default_value_t = 0)]
        wait_secs: u64,
    },
    /// Send a not-created, refused or unknown payout again under the same merchant order ID.
    Retry {
        cl_id: String,
        /// Send it even though another payout to the same account for the same amount was
        /// made in the duplicate window (a likely duplicate).
        #[arg(long)]
        allow_duplicate: bool,
        /// Days back the likely-duplicate check looks (1 to 366; default 7).
        #[arg(long)]
        duplicate_window_days: Option<u32>,
    },
    /// List the journal.
    List {
        #[arg(long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
        /// Only this state: queued, sending, accepted, rejected, unknown, not-created.
        #[arg(long)]
        state: Option<String>,
    },
    /// Team journal: the payouts waiting for a second operator's approval, with who recorded
    /// them and the team's likely duplicates.
    Pending {
        #[arg(long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
    },
    /// Team journal: approve a payout another operator recorded; it is sent at once. Exit
    /// codes as for `create`.
    Approve {
        cl_id: String,
        /// Why (kept with the approval and in the audit chain).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Team journal: reject a payout another operator recorded; it is never sent.
    Reject {
        cl_id: String,
        /// Why, for the operator who recorded it (required).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args, Debug)]
pub struct PayoutArgs {
    /// Amount in yuan: 1234.56, 1,234.56, ¥1234.5.
    #[arg(long)]
    pub amount: String,
    /// Bank code, BK ID or name from the bank list (e.g. ABC, BK0002, 中国农业银行).
    #[arg(long)]
    pub bank: String,
    /// Recipient's name.
    #[arg(long)]
    pub name: String,
    /// Account number: 12 to 30 digits, spaces ignored.
    #[arg(long)]
    pub number: String,
    /// Merchant order ID (default: a new unique one).
    #[arg(long)]
    pub cl_id: Option<String>,
    #[arg(long)]
    pub branch: Option<String>,
    #[arg(long)]
    pub province: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub notify_url: Option<String>,
    /// Send without asking.
    #[arg(long)]
    pub yes: bool,
    /// Send it although it has the same account and amount as a recent payout (a likely
    /// duplicate, otherwise held back: exit 2, nothing sent).
    #[arg(long, alias = "allow-duplicates")]
    pub allow_duplicate: bool,
    /// Days in which an equal earlier payout counts as a likely duplicate: 1 to 366 (default
    /// 7, or PAYDESK_DUPLICATE_WINDOW_DAYS).
    #[arg(long, value_name = "DAYS")]
    pub duplicate_window_days: Option<u32>,
}

/// How likely duplicates of a file are confirmed.
#[derive(Args, Debug, Clone, Default)]
pub struct DuplicateArgs {
    /// Send this held-back likely duplicate anyway (its merchant order ID, or for GatePay its
    /// merchant withdraw ID); repeat for each.
    #[arg(long = "allow-duplicate", value_name = "ID")]
    pub allow_duplicate: Vec<String>,
    /// Send every held-back likely duplicate anyway.
    #[arg(long)]
    pub allow_duplicates: bool,
    /// Days in which an equal earlier payout counts as a likely duplicate: 1 to 366 (default
    /// 7, or PAYDESK_DUPLICATE_WINDOW_DAYS).
    #[arg(long, value_name = "DAYS")]
    pub duplicate_window_days: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Process memory and frame time of the orders table while scrolling, with 500 rows
    /// loaded and then each count of `--rows` (run a release build).
    Console {
        /// Loaded row counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [100_000, 1_000_000])]
        rows: Vec<usize>,
        #[arg(long, default_value_t = 300)]
        frames: usize,
    },
    /// Export N orders (CSV, then XLSX) from a sandbox in a child process with latency,
    /// against a plain sequential page loop in the same run, with the peak memory of each;
    /// then write M in-memory orders to CSV, XLSX and JSON Lines (MB/s).
    Export {
        #[arg(long, default_value_t = 100_000)]
        orders: usize,
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
    },
    /// Reconcile a sandbox ledger of N deposits (a child process writes it with faults and
    /// its truth) against the streaming export of the same orders in the same run: time, peak
    /// memory of this process, and whether the report equals the truth.
    Reconcile {
        /// Deposit counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [100_000, 1_000_000])]
        orders: Vec<usize>,
    },
    /// K operators (K PostgreSQL roles) send the same file at once through the team journal,
    /// against one operator on the desktop journal in the same run: time, rows a second, and
    /// the rows paid twice or never (PAYDESK_TEST_PG, else a throwaway cluster).
    Team {
        /// Operator counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 8])]
        operators: Vec<usize>,
        /// Payouts in the file.
        #[arg(long, default_value_t = 1_000)]
        rows: usize,
    },
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the generated data and of fault draws.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Number of seeded deposits.
    #[arg(long, default_value_t = 3000)]
    pub deposits: usize,
    /// Number of seeded payouts.
    #[arg(long, default_value_t = 2000)]
    pub payouts: usize,
    /// Seconds from a new payout to its final status.
    #[arg(long, default_value_t = 4)]
    pub settle_secs: u64,
    /// Delay added to every reply, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fault probabilities: drop-after-commit=P,http500=P,timeout=P,malformed=P,bad-sign=P.
    #[arg(long, default_value = "")]
    pub faults: String,
    /// How long a "timeout" fault holds its reply, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub stall_ms: u64,
    /// Pause between withdraw-notification attempts, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub notify_retry_ms: u64,
    /// New deposits and payouts created per second while serving.
    #[arg(long, default_value_t = 0)]
    pub arrivals_per_sec: u32,
    /// Newest seeded creation time in Unix seconds (default: now), for reproducible data.
    #[arg(long)]
    pub anchor: Option<i64>,
    /// The merchant's starting balance in yuan.
    #[arg(long, default_value = "5000000")]
    pub balance: String,
    /// The CNY brand to behave as: the seeds' (seed), bank codes (bank-code), or v1 payout
    /// queries with decimal-string amounts and ISO times (v1-paths).
    #[arg(long, value_parser = ["seed", "bank-code", "v1-paths"], default_value = "seed")]
    pub brand: String,

    /// Where GatePay payout callbacks are posted (signed) when a batch finishes.
    #[arg(long)]
    pub gatepay_notify_url: Option<String>,

    #[command(flatten)]
    pub ledger: cli::LedgerArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    Deposits,
    Payouts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Args, Debug)]
pub struct OrdersArgs {
    pub kind: Kind,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Page size, 1 to 500.
    #[arg(long, default_value_t = 25)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum VerifyCommand {
    /// Verify CNY gateway objects read from FILE or stdin: an object, an array of objects or a
    /// query response. Exit 0: all valid; 1: any invalid; 2: unreadable input or no key.
    Cny {
        file: Option<PathBuf>,
        /// Also print each canonical string (key masked), the fields left out and a diagnosis.
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        json: bool,
    },
    /// Verify a GatePay request or callback: the body's raw bytes from FILE or stdin.
    Gatepay {
        #[arg(long)]
        timestamp: String,
        #[arg(long)]
        nonce: String,
        #[arg(long)]
        signature: String,
        file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SignCommand {
    /// Sign a CNY gateway object (or each of an array) read from FILE or stdin.
    Cny { file: Option<PathBuf> },
}

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Prove the journal: SQLite's integrity check, schema version, every row read, the audit
    /// chain, counts by state. Exit 0: healthy; 2: damaged (nothing can be sent), with the way out.
    Check {
        /// A journal file to check instead of the data directory's (e.g. a backup).
        file: Option<PathBuf>,
    },
    /// Copy the journal to FILE with SQLite's online backup (safe while Paydesk runs), then
    /// check the copy.
    Backup {
        file: PathBuf,
    },
    /// Replace the journal by a checked copy FILE; the old one is kept aside as
    /// journal.sqlite3.damaged-TIME (or .replaced-TIME when it was healthy), and its rows the
    /// copy lacks are carried over. Refused while a console or command has the journal open.
    /// Payouts not known to be settled become unknown and are looked up before any send.
    Restore {
        file: PathBuf,
        /// Replace a journal that is healthy (refused without it: a copy is older).
        #[arg(long)]
        replace_healthy: bool,
    },
    /// Give this desktop journal a new ID of its own (recorded in its audit chain): for a copy
    /// of another desktop's journal, set up as a second desktop's, before `journal migrate`.
    NewId {
        /// A journal file instead of the data directory's.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    // Their help texts are the argument types' (in cli::team).
    Migrate(cli::MigrateArgs),
    TeamSetup(cli::TeamSetupArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GatewayArg {
    Cny,
    Gatepay,
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// List profiles.
    List,
    /// Add (or with --replace, change) a profile; its secrets are asked for and stored in the OS keyring.
    Add(Box<cli::ProfileAddArgs>),
    /// Make a profile the active one.
    Use { name: String },
    /// Remove a profile and its secrets.
    Remove { name: String },
    /// Check that a profile's URL and credentials work.
    Test { name: Option<String> },
    /// Write a profile's settings (never its secrets) to a small TOML file to share.
    Export {
        name: String,
        file: std::path::PathBuf,
    },
    /// Add a profile from a shared TOML file; its secrets are asked for as with `add`.
    Import {
        file: std::path::PathBuf,
        /// Save it under this name instead of the file's.
        #[arg(long)]
        name: Option<String>,
        /// Replace a profile of the same name.
        #[arg(long)]
        replace: bool,
    },
}

fn main() -> ExitCode {
    startup::mark_process_start();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let log = paydesk::logging::init(
        paydesk::domain::profiles::data_dir().as_deref(),
        cli.verbose,
    );
    // The subcommand's name only: its arguments may hold names and account numbers.
    let mut command = Vec::new();
    let mut level = &matches;
    while let Some((name, sub)) = level.subcommand() {
        command.push(name);
        level = sub;
    }
    tracing::info!(
        target: "paydesk::cli",
        version = env!("CARGO_PKG_VERSION"),
        command = if command.is_empty() { "console".to_owned() } else { command.join(" ") },
        "started"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match cli.command {
        None => console(&runtime, &cli.view, cli.profile, log.problem),
        Some(command) => runtime.block_on(cli::run(command, cli.profile, cli.timeout_secs)),
    };
    // Background work (keyring, notifications) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

/// Opens the console window; network, keyring and file work runs on `runtime`.
fn console(
    runtime: &tokio::runtime::Runtime,
    view: &ViewArgs,
    profile: Option<String>,
    log_problem: Option<String>,
) -> ExitCode {
    use std::sync::Arc;

    let (start, problems) = console::appearance::StartOptions::resolve(
        view.tab.as_deref(),
        view.theme.as_deref(),
        view.scale.as_deref(),
        |k| std::env::var(k).ok(),
    );
    for problem in problems {
        eprintln!("warning: {problem}");
    }
    let init = console::AppInit {
        runtime: runtime.handle().clone(),
        config_dir: paydesk::domain::profiles::config_dir(),
        store: Arc::new(paydesk::domain::profiles::KeyringStore),
        file_dialogs: Arc::new(console::files::WithFallback::new(Arc::new(
            console::files::RfdDialogs,
        ))),
        sandbox: paydesk::sandbox::SandboxConfig::default(),
        data_dir: paydesk::domain::profiles::data_dir(),
        duplicate_window: paydesk::domain::duplicates::DuplicateWindow::resolve(None, |k| {
            std::env::var(k).ok()
        }),
        start,
        start_profile: profile,
        exit_deadline: Some(std::time::Duration::from_secs(2)),
    };
    let options = eframe::NativeOptions {
        viewport: console::viewport(),
        renderer: eframe::Renderer::Glow,
        ..eframe::NativeOptions::default()
    };
    let _guard = runtime.enter();
    let result = eframe::run_native(
        "paydesk",
        options,
        Box::new(|cc| {
            if let Some(why) = log_problem {
                console::feedback::warning(
                    &cc.egui_ctx,
                    format!("The operations log is not written: {why}"),
                );
            }
            Ok(Box::new(console::PaydeskApp::new(
                &cc.egui_ctx,
                cc.storage,
                init,
            )))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: cannot open the console window: {e}\nThe console needs a graphical session (X11 or Wayland); the command line works without one: paydesk --help"
            );
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    #[test]
    fn verbose_is_global_and_counted() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["paydesk", "-vv", "payout", "list"]).unwrap();
        assert_eq!(cli.verbose, 2);
        let cli = Cli::try_parse_from(["paydesk", "payout", "list", "--verbose"]).unwrap();
        assert_eq!(cli.verbose, 1);
        let cli = Cli::try_parse_from(["paydesk", "balance"]).unwrap();
        assert_eq!(cli.verbose, 0);
    }
}
