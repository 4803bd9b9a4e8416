//! `paydesk journal check|backup|restore`: prove the payout journal, copy it, and put a good
//! copy back when it is damaged (`migrate` and `team-setup` are in `team`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use paydesk::domain::credentials::resolve_team_journal;
use paydesk::domain::journal::{
    Actor, CheckReport, Journal, RestoreOptions, check_file, journal_path, restore,
};
use paydesk::domain::profiles::{GatewayKind, data_dir};

use super::EXIT_ERROR;
use crate::JournalCommand;

fn journal_file() -> anyhow::Result<PathBuf> {
    let dir = data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?;
    Ok(journal_path(&dir))
}

fn print_report(r: &CheckReport) -> anyhow::Result<()> {
    if r.healthy {
        eprintln!(
            "{}: healthy (schema version {}); payouts {:?}; GatePay batches {:?}; {} audit entries, chain verified",
            r.path.display(),
            r.schema_version.unwrap_or_default(),
            r.payouts,
            r.batches,
            r.audit_entries
        );
    } else {
        eprintln!("{}: DAMAGED; nothing can be sent with it", r.path.display());
        for p in &r.problems {
            eprintln!("  {p}");
        }
        if let Some(w) = &r.way_out {
            eprintln!("{w}");
        }
    }
    println!("{}", serde_json::to_string(r)?);
    Ok(())
}

fn exit(r: &CheckReport) -> ExitCode {
    if r.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERROR)
    }
}

fn check(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = match file {
        Some(f) => f.to_path_buf(),
        None => journal_file()?,
    };
    let report = check_file(&path);
    print_report(&report)?;
    Ok(exit(&report))
}

fn backup(dest: &Path) -> anyhow::Result<ExitCode> {
    let journal = open_journal()?;
    let report = journal.backup_to(dest)?;
    eprintln!("copied {} to {}", journal.path().display(), dest.display());
    print_report(&report)?;
    Ok(exit(&report))
}

fn restore_from(from: &Path, replace_healthy: bool) -> anyhow::Result<ExitCode> {
    let path = journal_file()?;
    let done = restore(
        &path,
        from,
        Actor::current().as_str(),
        RestoreOptions { replace_healthy },
    )?;
    if let Some(aside) = &done.kept_aside {
        eprintln!("the journal that was there is kept as {}", aside.display());
    }
    let c = &done.carried;
    if c.payouts + c.batches + c.unreadable > 0 {
        eprintln!(
            "{} payout(s) and {} batch(es) of the replaced journal that the copy lacked were carried over; \
             {} row(s) of it could not be read",
            c.payouts, c.batches, c.unreadable
        );
    }
    eprintln!(
        "restored {} from {}; {} payout(s) or batch(es) not known to be settled are now unknown: \
         each is looked up at the gateway (by `paydesk payout reconcile`, `paydesk gatepay reconcile`, \
         the console, or before the next send) before anything is sent again",
        path.display(),
        from.display(),
        done.to_look_up
    );
    if done.gap.is_some() {
        eprintln!(
            "payouts made after the copy may be missing from the journal: until the duplicate window \
             has passed, a new CNY payout is also compared with the payouts the gateway created since"
        );
    }
    println!("{}", serde_json::to_string(&done)?);
    Ok(exit(&done.check))
}

pub fn run(cmd: JournalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JournalCommand::Check { file } => check(file.as_deref()),
        JournalCommand::Backup { file } => backup(&file),
        JournalCommand::Restore {
            file,
            replace_healthy,
        } => restore_from(&file, replace_healthy),
        JournalCommand::NewId { file } => new_id(file.as_deref()),
        JournalCommand::Migrate(a) => super::team::migrate_to(&a.to, a.from.as_deref(), a.dry_run),
        JournalCommand::TeamSetup(a) => super::team::setup(&a),
    }
}

/// `paydesk journal new-id`: a copy of a journal becomes a journal of its own.
fn new_id(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = match file {
        Some(f) => f.to_path_buf(),
        None => journal_path(
            &data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?,
        ),
    };
    if !path.is_file() {
        anyhow::bail!("there is no desktop journal at {}", path.display());
    }
    let mut journal = Journal::open(&path)?;
    let now = jiff::Timestamp::now().as_second();
    let (old, new) = journal.renew_id(paydesk::domain::journal::Actor::current().as_str(), now)?;
    eprintln!(
        "{}: its journal ID was {old} and is now {new} (recorded in its audit chain); \
         `paydesk journal migrate` knows it by the new one",
        path.display()
    );
    println!(
        "{}",
        serde_json::json!({ "file": path, "old_id": old, "new_id": new })
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn open_journal() -> anyhow::Result<Journal> {
    let dir = data_dir().context("this system has no data directory; set PAYDESK_DATA_DIR")?;
    let journal = Journal::open(&journal_path(&dir))?;
    daily_copy(&journal, false);
    Ok(journal)
}

/// The journal of the profile the command works with: its team journal when it names one
/// (nothing falls back to the desktop's own journal then), else the desktop's.
pub(crate) fn open_journal_for(
    profile: Option<&str>,
    gateway: GatewayKind,
) -> anyhow::Result<Journal> {
    if let Some(profiles) = super::load_profiles()?
        && let Some(p) = profiles.pick(profile, gateway)?
        && let Some(access) = resolve_team_journal(&profiles, p)?
    {
        return Ok(Journal::open_team(&access.url, access.password.as_ref())?);
    }
    open_journal()
}

/// Whether the profile records its payouts in a team journal: then, when that journal cannot
/// be opened, nothing is read from this desktop's journal file in its place.
pub(crate) fn uses_team_journal(profile: Option<&str>, gateway: GatewayKind) -> bool {
    let Ok(Some(profiles)) = super::load_profiles() else {
        return false;
    };
    let Ok(Some(p)) = profiles.pick(profile, gateway) else {
        return false;
    };
    !matches!(p.team_journal_url(), Ok(None))
}

/// The rolling copy of a healthy journal (once a day, and again after sending); a failure
/// is reported, not fatal: the journal itself is fine.
pub(crate) fn daily_copy(journal: &Journal, after_send: bool) {
    let keep = std::env::var("PAYDESK_JOURNAL_BACKUP_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(paydesk::domain::journal::DEFAULT_BACKUP_DAYS);
    if let Err(e) = journal.rolling_backup(keep, after_send) {
        eprintln!("warning: the daily copy of the journal was not made: {e}");
    }
}
