//! The operations log: what may be written about an account, an address or a secret (the
//! redaction rule, once), the daily rotating file `<data_dir>/logs/paydesk.log`, and the
//! subscriber the console and every CLI command set up.
//!
//! Call sites never log names, signatures, keys or bodies; they log account numbers and
//! crypto addresses only through [`account`] and [`address`]. The writer masks, as a last line
//! of defence, every run of 12 or more digits and every secret handed to [`register_secret`].
//!
//! Levels: routine work is `info`, refused and unknown outcomes included (the command or
//! panel reports those itself, so they stay off standard error by default); `warn` and
//! `error` are kept for trouble nothing else reports, such as a journal that cannot record.

use std::borrow::Cow;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::lock_unpoisoned;

/// The folder of the log under the data directory.
pub const LOG_DIR: &str = "logs";
/// Today's log file; earlier days are `paydesk.log.YYYY-MM-DD`.
pub const LOG_FILE: &str = "paydesk.log";
/// Held while a line is written, so processes rotate one at a time.
const LOCK_FILE: &str = ".paydesk.log.lock";
/// Rotated files kept besides today's.
pub const KEEP_FILES: usize = 14;
/// A day's file is rotated early at this size, so the folder stays bounded (15 × 32 MB).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// The environment variable with a filter for standard error, e.g. `paydesk=debug,warn`.
pub const FILTER_VAR: &str = "PAYDESK_LOG";
/// Digit runs this long or longer are masked wherever they appear in a line, also when
/// single spaces or dashes group them (`6222 0212 3456 7890`, `6222-0212-3456-7890`).
const MASKED_DIGITS: usize = 12;
/// A line is cut to about this many bytes: an error that quotes a huge reply must not make
/// one line of megabytes in the file, on standard error or in the Log tab.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// Shorter secrets would mask ordinary words; the keys and tokens of both gateways are longer.
const MIN_SECRET_CHARS: usize = 8;
/// Secrets remembered for masking at most.
const MAX_SECRETS: usize = 64;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static REPORTED: AtomicBool = AtomicBool::new(false);

/// A bank card or account number as the log may hold it: `****1234`.
pub fn account(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(|c| !c.is_whitespace()).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("****{tail}")
}

/// A crypto address as the log may hold it: its first 6 and last 4 characters.
pub fn address(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    if chars.len() <= 10 {
        return "…".repeat(usize::from(!chars.is_empty()));
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Remembers a secret (a key, token or password) that the writer masks if it ever shows up.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut known = SECRETS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if known.iter().any(|s| s == secret) {
        return;
    }
    // Bounded: a long session that tries many keys keeps the newest.
    if known.len() >= MAX_SECRETS {
        // Overwritten before it is freed, as a `Secret` is.
        let mut old = known.remove(0).into_bytes();
        old.fill(0);
        std::hint::black_box(&old);
    }
    known.push(secret.to_owned());
}

/// The last line of defence: every registered secret becomes `***`, every run of 12 or more
/// digits `****` and its last 4.
pub fn mask_line(line: &str) -> Cow<'_, str> {
    let known = SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    mask_with(line, &known)
}

fn mask_with<'a>(line: &'a str, secrets: &[String]) -> Cow<'a, str> {
    let mut text = Cow::Borrowed(line);
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = Cow::Owned(text.replace(secret.as_str(), "***"));
        }
    }
    // Cheap first look: fewer digits in the whole line cannot make a masked run.
    if text.bytes().filter(u8::is_ascii_digit).count() < MASKED_DIGITS {
        return text;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run: digits, and single spaces or dashes with a digit on both sides.
        let start = i;
        let mut digits = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !(matches!(c, ' ' | '-')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
            {
                break;
            }
            i += 1;
        }
        if digits.len() >= MASKED_DIGITS {
            out.push_str(&account(&digits));
        } else {
            out.extend(&chars[start..i]);
        }
    }
    Cow::Owned(out)
}

/// One event as one bounded line: line breaks inside it written as `\n` (a received text
/// cannot forge a line of its own), cut at [`MAX_LINE_BYTES`], ending in one newline.
fn one_line(text: &str) -> Cow<'_, str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.len() <= MAX_LINE_BYTES && !body.contains(['\n', '\r']) && body.len() < text.len() {
        return Cow::Borrowed(text);
    }
    let mut cut = MAX_LINE_BYTES.min(body.len());
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = body[..cut].replace('\n', "\\n").replace('\r', "\\r");
    if cut < body.len() {
        out.push_str(" … (");
        out.push_str(&(body.len() - cut).to_string());
        out.push_str(" bytes cut)");
    }
    out.push('\n');
    Cow::Owned(out)
}

/// The words of an error message that this program wrote itself, for the log: everything
/// before the first `": "`. Messages put what a gateway sent (its own message, a piece of
/// its reply, which may echo a name or an account) after such a colon.
pub fn own_words(message: &str) -> &str {
    message.split(": ").next().unwrap_or(message)
}

/// Where the log of a data directory lives.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_DIR)
}

/// Today's log file of a data directory.
pub fn log_file(data_dir: &Path) -> PathBuf {
    log_dir(data_dir).join(LOG_FILE)
}

/// The UTC day number of a Unix time in seconds.
fn day_of(secs: i64) -> i64 {
    secs.div_euclid(86_400)
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn day_text(day: i64) -> String {
    jiff::Timestamp::from_second(day * 86_400).map_or_else(
        |_| "unknown-day".to_owned(),
        |t| t.strftime("%Y-%m-%d").to_string(),
    )
}

/// The UTC day a file was last written.
fn modified_day(meta: &fs::Metadata) -> Option<i64> {
    let since = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(day_of(since.as_secs() as i64))
}

/// The daily file: rotated at UTC midnight or at [`MAX_FILE_BYTES`], keeping [`KEEP_FILES`].
/// It is opened for each line, never held, under a lock file: another Paydesk writing the same folder may rotate
/// it at any time, and a held handle would keep writing into the renamed file.
struct Rotating {
    dir: PathBuf,
    max_bytes: u64,
}

impl Rotating {
    fn open(dir: &Path, max_bytes: u64) -> io::Result<Rotating> {
        fs::create_dir_all(dir)?;
        let rotating = Rotating {
            dir: dir.to_owned(),
            max_bytes,
        };
        // Proves the folder can be written now, so a failure is reported at start.
        rotating.write_line(b"")?;
        Ok(rotating)
    }

    fn write_line(&self, line: &[u8]) -> io::Result<()> {
        // One writer at a time across processes (the console beside a CLI command): two
        // that both find the file full would both rotate, and the second rename would
        // replace the day the first had just set aside. Unlocked where no lock can be had.
        let lock = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(self.dir.join(LOCK_FILE))
            .ok();
        if let Some(lock) = &lock {
            let _ = lock.lock();
        }
        let path = self.dir.join(LOG_FILE);
        let today = day_of(now_secs());
        let len = line.len() as u64;
        // What is on disk decides: a file from an earlier day is that day's, a full one is
        // set aside, whichever process gets there first.
        if let Ok(meta) = fs::metadata(&path) {
            let day = modified_day(&meta).unwrap_or(today);
            if day != today || meta.len() > 0 && meta.len() + len > self.max_bytes {
                self.rotate(day);
                // Where the file cannot be renamed (a folder that may not be changed), it
                // must not grow without end: the line is refused and that is reported.
                if fs::metadata(&path).is_ok_and(|m| m.len() > 0 && m.len() + len > self.max_bytes)
                {
                    return Err(io::Error::other(
                        "the log file is full and cannot be set aside",
                    ));
                }
            }
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(line)
    }

    /// Renames today's file aside as `day`'s and removes the oldest beyond [`KEEP_FILES`].
    /// Failures are ignored: the file may be gone.
    fn rotate(&self, day: i64) {
        let base = format!("{LOG_FILE}.{}", day_text(day));
        let mut to = self.dir.join(&base);
        let mut n = 1;
        while to.exists() {
            to = self.dir.join(format!("{base}.{n}"));
            n += 1;
        }
        let _ = fs::rename(self.dir.join(LOG_FILE), &to);
        prune(&self.dir, KEEP_FILES);
    }
}

/// Where a rotated file's name puts it among the others: its day, then its number within
/// the day (`.2` before `.10`, which plain text order would not give).
fn rotated_order(name: &str) -> (&str, u64) {
    let rest = name.strip_prefix(LOG_FILE).unwrap_or(name);
    match rest.rsplit_once('.') {
        Some((day, n)) if !day.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (day, n.parse().unwrap_or(u64::MAX))
        }
        _ => (rest, 0),
    }
}

/// Removes the oldest rotated files so that `keep` remain.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{LOG_FILE}.");
    let mut old: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    old.sort_by(|a, b| {
        let name = |p: &PathBuf| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        };
        let (a, b) = (name(a), name(b));
        rotated_order(&a).cmp(&rotated_order(&b))
    });
    let excess = old.len().saturating_sub(keep);
    for path in old.into_iter().take(excess) {
        let _ = fs::remove_file(path);
    }
}

/// Says once, on standard error, that the log cannot be written; the program goes on.
fn report_once(what: &str) {
    if !REPORTED.swap(true, Ordering::Relaxed) {
        eprintln!("warning: the operations log cannot be written ({what}); continuing without it");
    }
}

/// Where formatted lines go: the rotating file or standard error, each line masked.
#[derive(Clone)]
enum Sink {
    File(Arc<Mutex<Rotating>>),
    Stderr,
}

impl Sink {
    fn put(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        // Masked before it is cut, so a cut cannot leave part of an account unmasked.
        let masked = mask_line(&text);
        let masked = one_line(&masked);
        match self {
            Sink::File(file) => {
                if let Err(e) = lock_unpoisoned(file).write_line(masked.as_bytes()) {
                    report_once(&e.to_string());
                }
            }
            Sink::Stderr => {
                let _ = io::stderr().lock().write_all(masked.as_bytes());
            }
        }
    }
}

/// Collects one event's text and hands it over whole when dropped, so masking sees full lines.
pub struct LineWriter {
    sink: Sink,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.sink.put(&self.buf);
        }
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            sink: self.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

/// What setting the log up gave.
#[derive(Clone, Debug, Default)]
pub struct LogSetup {
    /// Today's file, when the log is written to one.
    pub file: Option<PathBuf>,
    /// Why there is no file (also said once on standard error).
    pub problem: Option<String>,
}

/// The standard error filter: warnings by default, info at `-v`, debug at `-vv` (Paydesk's
/// own events); `PAYDESK_LOG` (e.g. `paydesk=debug,warn`) replaces it when no `-v` is given.
pub fn stderr_filter(verbose: u8, env: Option<&str>) -> Targets {
    let own = match verbose {
        0 => None,
        1 => Some(LevelFilter::INFO),
        _ => Some(LevelFilter::DEBUG),
    };
    match (own, env.and_then(|e| e.parse::<Targets>().ok())) {
        (Some(level), _) => Targets::new()
            .with_target("paydesk", level)
            .with_default(LevelFilter::WARN),
        (None, Some(parsed)) => parsed,
        (None, None) => Targets::new().with_default(LevelFilter::WARN),
    }
}

/// The file's filter: Paydesk's info and above, other crates' warnings.
fn file_filter() -> Targets {
    Targets::new()
        .with_target("paydesk", LevelFilter::INFO)
        .with_default(LevelFilter::WARN)
}

/// Sets the process's subscriber up: the rotating file under `data_dir` (when there is one
/// and it can be written) and standard error. Never fails the program: a log that cannot be
/// written is reported once and left out.
pub fn init(data_dir: Option<&Path>, verbose: u8) -> LogSetup {
    let env = std::env::var(FILTER_VAR).ok();
    let stderr = fmt::layer()
        .with_ansi(false)
        .with_writer(Sink::Stderr)
        .with_filter(stderr_filter(verbose, env.as_deref()));
    let mut setup = LogSetup::default();
    let file = match data_dir {
        None => {
            setup.problem = Some("no data directory".to_owned());
            None
        }
        Some(dir) => match Rotating::open(&log_dir(dir), MAX_FILE_BYTES) {
            Ok(rotating) => {
                setup.file = Some(log_file(dir));
                Some(Sink::File(Arc::new(Mutex::new(rotating))))
            }
            Err(e) => {
                let why = format!("{}: {e}", log_dir(dir).display());
                report_once(&why);
                setup.problem = Some(why);
                None
            }
        },
    };
    let file = file.map(|sink| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(sink)
            .with_filter(file_filter())
    });
    // A second set-up in one process (tests) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    setup
}

/// The level word of a log line (`INFO`, `WARN`…), as the file's format writes it after the
/// timestamp.
pub fn line_level(line: &str) -> Option<&str> {
    let level = line.split_whitespace().nth(1)?;
    matches!(level, "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR").then_some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_keep_their_last_four() {
        assert_eq!(account("6222 0212 3456 7890"), "****7890");
        assert_eq!(account("12"), "****12");
    }

    #[test]
    fn addresses_keep_head_and_tail() {
        assert_eq!(address("TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"), "TQn9Y2…bLSE");
        assert_eq!(address("short"), "…");
    }

    #[test]
    fn long_digit_runs_and_secrets_are_masked() {
        let secrets = vec!["2I9Q4nExEddsH6zo".to_owned()];
        let line = "INFO to 6222021234567890 key=2I9Q4nExEddsH6zo order POT00000102 at 1567614049";
        let masked = mask_with(line, &secrets);
        assert_eq!(
            masked,
            "INFO to ****7890 key=*** order POT00000102 at 1567614049"
        );
        assert!(matches!(
            mask_with("nothing here", &secrets),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn accounts_grouped_by_spaces_or_dashes_are_masked() {
        let line =
            "to 6222 0212 3456 7890 or 6222-0212-3456-7891 at 2026-12-03 10:00:00 rows 12 34";
        assert_eq!(
            mask_with(line, &[]),
            "to ****7890 or ****7891 at 2026-12-03 10:00:00 rows 12 34"
        );
        // Eleven digits, however grouped, stay: a phone-like number is not an account here.
        assert_eq!(mask_with("tel 138 0013 8000", &[]), "tel 138 0013 8000");
    }

    #[test]
    fn an_event_is_one_bounded_line() {
        let huge = format!("INFO why={}\nERROR forged\n", "x".repeat(10 << 20));
        let line = one_line(&huge);
        assert!(line.len() < MAX_LINE_BYTES + 64, "{}", line.len());
        assert_eq!(line.matches('\n').count(), 1);
        assert!(
            line.ends_with("bytes cut)\n"),
            "{}",
            &line[line.len() - 40..]
        );
        let forged = one_line("INFO said: a\n2026 ERROR forged\r\n");
        assert_eq!(forged, "INFO said: a\\n2026 ERROR forged\\r\n");
        assert!(matches!(one_line("INFO fine\n"), Cow::Borrowed(_)));
        // A cut never splits a character.
        let wide = format!("{}\n", "王".repeat(MAX_LINE_BYTES));
        assert!(one_line(&wide).is_char_boundary(MAX_LINE_BYTES - 2));
    }

    #[test]
    fn own_words_leave_out_what_the_gateway_sent() {
        assert_eq!(
            own_words("the gateway answered HTTP 500: {\"name\":\"欧阳小明\"}"),
            "the gateway answered HTTP 500"
        );
        assert_eq!(
            own_words("the gateway did not answer in time"),
            "the gateway did not answer in time"
        );
    }

    #[test]
    fn writers_rotating_at_once_lose_no_line() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            for w in 0..4u8 {
                let dir = dir.path();
                scope.spawn(move || {
                    let r = Rotating::open(dir, 4_000).unwrap();
                    for _ in 0..200 {
                        let mut line = vec![b'a' + w; 39];
                        line.push(b'\n');
                        r.write_line(&line).unwrap();
                    }
                });
            }
        });
        let total: u64 = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert_eq!(total, 4 * 200 * 40);
    }

    #[test]
    fn pruning_keeps_the_newest_of_a_day_rotated_ten_times_or_more() {
        let dir = tempfile::tempdir().unwrap();
        let mut names = vec![
            format!("{LOG_FILE}.2026-12-01"),
            format!("{LOG_FILE}.2026-12-03"),
        ];
        names.extend((1..=12).map(|n| format!("{LOG_FILE}.2026-12-03.{n}")));
        for n in &names {
            fs::write(dir.path().join(n), "x").unwrap();
        }
        prune(dir.path(), 3);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let day = format!("{LOG_FILE}.2026-12-03");
        assert_eq!(
            left,
            [
                format!("{day}.10"),
                format!("{day}.11"),
                format!("{day}.12")
            ]
        );
    }

    #[test]
    fn a_full_file_that_cannot_be_set_aside_grows_no_further() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rotating::open(dir.path(), 100).unwrap();
        r.write_line(&[b'x'; 80]).unwrap();
        // An immutable folder: its files can be appended to, none renamed (even by root).
        let chattr = |flag: &str| {
            std::process::Command::new("chattr")
                .arg(flag)
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !chattr("+i") {
            eprintln!("chattr is not available here; nothing to check");
            return;
        }
        let refused = r.write_line(&[b'y'; 80]);
        let len = fs::metadata(dir.path().join(LOG_FILE)).unwrap().len();
        assert!(chattr("-i"));
        assert!(refused.is_err());
        assert_eq!(len, 80);
    }

    #[test]
    fn rotates_by_size_and_keeps_a_bounded_number() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rotating::open(dir.path(), 100).unwrap();
        for _ in 0..(KEEP_FILES + 5) * 3 {
            r.write_line(&[b'x'; 40]).unwrap();
        }
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(LOG_FILE))
            .collect();
        assert!(names.contains(&LOG_FILE.to_owned()));
        assert_eq!(names.len(), KEEP_FILES + 1, "{names:?}");
    }

    #[test]
    fn a_writer_follows_a_file_another_writer_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let a = Rotating::open(dir.path(), 100).unwrap();
        let b = Rotating::open(dir.path(), 100).unwrap();
        b.write_line(&[b'b'; 60]).unwrap();
        a.write_line(&[b'a'; 60]).unwrap();
        // `a` rotated the file `b` wrote: `b` appends to the new one, not the renamed one.
        b.write_line(&[b'b'; 30]).unwrap();
        let today = fs::read(dir.path().join(LOG_FILE)).unwrap();
        assert_eq!(today.len(), 90);
        let count = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != LOCK_FILE)
            .count();
        assert_eq!(count, 2, "one rotated file and today's");
    }

    #[test]
    fn a_file_from_an_earlier_day_is_named_for_that_day() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rotating::open(dir.path(), MAX_FILE_BYTES).unwrap();
        r.write_line(b"old\n").unwrap();
        let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_hours(48);
        std::fs::File::options()
            .append(true)
            .open(dir.path().join(LOG_FILE))
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        r.write_line(b"new\n").unwrap();
        let day = day_text(day_of(now_secs()) - 2);
        let old = fs::read_to_string(dir.path().join(format!("{LOG_FILE}.{day}"))).unwrap();
        assert_eq!(old, "old\n");
        assert_eq!(
            fs::read_to_string(dir.path().join(LOG_FILE)).unwrap(),
            "new\n"
        );
    }

    #[test]
    fn verbosity_sets_the_stderr_level() {
        let quiet = stderr_filter(0, None);
        assert!(!quiet.would_enable("paydesk::gateway", &tracing::Level::INFO));
        let v = stderr_filter(1, None);
        assert!(v.would_enable("paydesk::gateway", &tracing::Level::INFO));
        assert!(!v.would_enable("paydesk::gateway", &tracing::Level::DEBUG));
        let vv = stderr_filter(2, Some("off"));
        assert!(vv.would_enable("paydesk::gateway", &tracing::Level::DEBUG));
        let env = stderr_filter(0, Some("paydesk=debug"));
        assert!(env.would_enable("paydesk", &tracing::Level::DEBUG));
        assert_eq!(
            line_level("2026-12-03T18:42:24.1Z  INFO paydesk: x"),
            Some("INFO")
        );
    }
}
