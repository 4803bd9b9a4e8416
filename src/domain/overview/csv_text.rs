//! Each chart's numbers as CSV text (exact fen and yuan, exact decimals), and writing such a
//! text to a file the way exports are written: a temporary file beside it, renamed at the end.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{CLASSES, Overview, Tally, class_word};
use crate::domain::export::neutralize;
use crate::money::Fen;

/// One CSV line: text fields neutralised (a channel named `=1+1` stays text) and quoted when
/// they hold a comma, a quote or a line break.
pub(super) fn line(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A negative amount is a number, not a formula.
        let f = if is_number(f) {
            (*f).into()
        } else {
            neutralize(f)
        };
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push('\n');
}

fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
}

fn fen_fields(f: Fen) -> [String; 2] {
    [f.fen().to_string(), f.yuan_plain()]
}

impl Overview {
    /// Daily count and amount by status: one line per day and class with orders.
    pub fn daily_csv(&self) -> String {
        self.per_day_csv("amount", |t| (t.amount, t.unsummed_amount))
    }

    /// Fees per day by status.
    pub fn fees_csv(&self) -> String {
        self.per_day_csv("fee", |t| (t.fee, t.unsummed_fee))
    }

    /// One line per day and class with orders: the count, the sum `pick` chooses (fen and
    /// yuan) and the orders it could not add.
    fn per_day_csv(&self, what: &str, pick: impl Fn(&Tally) -> (Fen, u64)) -> String {
        let zone = self.zone().iana_name().unwrap_or("fixed offset").to_owned();
        let mut out = String::new();
        let (fen_header, yuan_header, without_header) = (
            format!("{what}_fen"),
            format!("{what}_yuan"),
            format!("orders_without_{what}"),
        );
        line(
            &mut out,
            &[
                "date",
                "zone",
                "status",
                "orders",
                &fen_header,
                &yuan_header,
                &without_header,
            ],
        );
        for (day, tallies) in self.days() {
            for (class, t) in CLASSES.iter().zip(tallies) {
                if t.count == 0 {
                    continue;
                }
                let (sum, unsummed) = pick(t);
                let [fen, yuan] = fen_fields(sum);
                line(
                    &mut out,
                    &[
                        &day.to_string(),
                        &zone,
                        class_word(*class),
                        &t.count.to_string(),
                        &fen,
                        &yuan,
                        &unsummed.to_string(),
                    ],
                );
            }
        }
        out
    }

    /// Success rate by channel: the exact counts and the rate rounded to two places.
    pub fn channels_csv(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            &[
                "channel",
                "orders",
                "final_orders",
                "successes",
                "success_rate",
            ],
        );
        for (channel, r) in self.channels() {
            let mut rate = String::new();
            if r.finals > 0 {
                let _ = write!(rate, "{}", r.percent_text());
            }
            line(
                &mut out,
                &[
                    channel,
                    &r.orders.to_string(),
                    &r.finals.to_string(),
                    &r.successes.to_string(),
                    &rate,
                ],
            );
        }
        out
    }
}

/// Writes `text` to `target` as UTF-8 with a byte-order mark (so a spreadsheet reads Chinese
/// names), through a temporary file in the same folder renamed at the end: a reader never sees
/// half a file.
pub fn write_text_file(target: &Path, text: &str) -> std::io::Result<()> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = target.with_file_name(format!(".{name}.partial"));
    let written = (|| {
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(b"\xEF\xBB\xBF")?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
