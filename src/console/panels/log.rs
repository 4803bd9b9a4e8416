//! The "Log" tab: the newest lines of today's operations log, with a level and a text
//! filter and a follow mode. The file is read on a worker thread (only its last megabyte,
//! then only what was appended), so the window never waits on the disk.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui;
use paydesk::domain::text::shown;
use paydesk::logging;

use crate::console::feedback;

/// At most this much of the file's end is read when it is opened (or has grown by more).
pub const TAIL_BYTES: u64 = 1024 * 1024;
/// Lines kept in memory; older ones are dropped as new ones arrive.
pub const MAX_LINES: usize = 20_000;
/// The file's first bytes, kept to tell the file read last time from a new one under the
/// same name (rotated away and grown past where reading stopped).
const HEAD_BYTES: usize = 64;
/// How often follow mode looks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// A last line without its line break is shown once no byte was added to it for this long:
/// a writer that stopped mid-line (or a file written by hand) would otherwise hide it for
/// ever, while a line being written is not shown in pieces.
const PARTIAL_AFTER: Duration = Duration::from_secs(2);

/// The lowest level shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LevelFilter {
    #[default]
    All,
    Info,
    Warn,
    Error,
}

impl LevelFilter {
    const ALL: [LevelFilter; 4] = [
        LevelFilter::All,
        LevelFilter::Info,
        LevelFilter::Warn,
        LevelFilter::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            LevelFilter::All => "All levels",
            LevelFilter::Info => "Info and above",
            LevelFilter::Warn => "Warnings and errors",
            LevelFilter::Error => "Errors only",
        }
    }

    /// Whether a line of this level word passes; a line without one (a continuation) passes
    /// only "All".
    fn passes(self, level: Option<&str>) -> bool {
        let rank = |l: &str| match l {
            "ERROR" => 4,
            "WARN" => 3,
            "INFO" => 2,
            _ => 1,
        };
        let floor = match self {
            LevelFilter::All => return true,
            LevelFilter::Info => 2,
            LevelFilter::Warn => 3,
            LevelFilter::Error => 4,
        };
        level.is_some_and(|l| rank(l) >= floor)
    }
}

/// What one read of the file brought.
struct Chunk {
    /// Where the next read starts.
    offset: u64,
    /// The file's first bytes (at most [`HEAD_BYTES`]).
    head: Vec<u8>,
    /// The lines read start afresh (the file is new, rotated, or grew past the tail size).
    reset: bool,
    lines: Vec<String>,
    /// The bytes after the last line break (a line still being written, or never ended).
    partial: String,
}

/// Reads what was appended since `from`, or the last [`TAIL_BYTES`] when `from` is `None`,
/// past the end or not the file read before (it was rotated) or too far behind. Only whole
/// lines are returned, each cut at [`logging::MAX_LINE_BYTES`].
fn read_since(path: &Path, from: Option<(u64, &[u8])>) -> Result<Chunk, String> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Chunk {
                offset: 0,
                head: Vec::new(),
                reset: true,
                lines: Vec::new(),
                partial: String::new(),
            });
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let len = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let mut head = Vec::new();
    (&mut file)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (start, reset) = match from {
        Some((at, was)) if at <= len && len - at <= TAIL_BYTES && head.starts_with(was) => {
            (at, false)
        }
        _ => (len.saturating_sub(TAIL_BYTES), true),
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(len - start)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // A tail starting mid-file starts mid-line: that first part is dropped.
    let mut begin = 0;
    if reset && start > 0 {
        begin = bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
    }
    // A line still being written is left for the next read.
    let end = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(begin, |i| i + 1)
        .max(begin);
    let lines = String::from_utf8_lossy(&bytes[begin..end])
        .lines()
        .map(cut_line)
        .collect();
    let partial = cut_line(&String::from_utf8_lossy(&bytes[end..]));
    Ok(Chunk {
        offset: start + end as u64,
        head,
        reset,
        lines,
        partial,
    })
}

/// A line as kept for the view: a line of megabytes (a file written by hand or by an older
/// version) would be laid out again on every frame it is in view.
fn cut_line(line: &str) -> String {
    let max = logging::MAX_LINE_BYTES;
    if line.len() <= max {
        return line.to_owned();
    }
    let mut cut = max;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} … ({} bytes not shown)", &line[..cut], line.len() - cut)
}

/// The log view's state.
pub struct LogPanel {
    path: Option<PathBuf>,
    lines: Vec<String>,
    offset: Option<u64>,
    head: Vec<u8>,
    level: LevelFilter,
    filter: String,
    follow: bool,
    reading: Option<Receiver<Result<Chunk, String>>>,
    last_read: Option<Instant>,
    /// The last line without its line break, and since when it has not changed.
    partial: Option<(String, Instant)>,
    /// That line is the last of `lines` (taken out again before the next read is added).
    partial_shown: bool,
    error: Option<String>,
    show_folder: bool,
    /// Bumped whenever `lines` changes, so the filtered view knows to be redone.
    generation: u64,
    view: Vec<usize>,
    view_key: Option<(LevelFilter, String, u64)>,
}

impl LogPanel {
    /// A view of the log file at `path` (`None`: there is no data directory).
    pub fn new(path: Option<PathBuf>) -> LogPanel {
        LogPanel {
            path,
            lines: Vec::new(),
            offset: None,
            head: Vec::new(),
            level: LevelFilter::All,
            filter: String::new(),
            follow: true,
            reading: None,
            last_read: None,
            partial: None,
            partial_shown: false,
            error: None,
            show_folder: false,
            generation: 0,
            view: Vec::new(),
            view_key: None,
        }
    }

    /// Lines currently held (before filtering).
    #[cfg(test)]
    fn line_count(&self) -> usize {
        self.lines.len()
    }

    fn start_read(&mut self, ctx: &egui::Context) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let (tx, rx) = sync_channel(1);
        let from = self.offset.map(|at| (at, self.head.clone()));
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("log-view".to_owned())
            .spawn(move || {
                let from = from.as_ref().map(|(at, head)| (*at, head.as_slice()));
                let _ = tx.send(read_since(&path, from));
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.reading = Some(rx);
                self.last_read = Some(Instant::now());
            }
            Err(e) => self.error = Some(format!("cannot start reading the log: {e}")),
        }
    }

    /// Shows the last line without its line break once it has not changed for
    /// [`PARTIAL_AFTER`]; until then, asks to be drawn again when it will be due.
    fn show_quiet_partial(&mut self, ctx: &egui::Context) {
        let Some((text, since)) = &self.partial else {
            return;
        };
        if self.partial_shown {
            return;
        }
        if let Some(left) = PARTIAL_AFTER.checked_sub(since.elapsed())
            && !left.is_zero()
        {
            ctx.request_repaint_after(left);
            return;
        }
        self.lines.push(text.clone());
        let excess = self.lines.len().saturating_sub(MAX_LINES);
        self.lines.drain(..excess);
        self.partial_shown = true;
        self.generation += 1;
    }

    fn take_read(&mut self) {
        let Some(rx) = &self.reading else {
            return;
        };
        match rx.try_recv() {
            Ok(Ok(chunk)) => {
                if std::mem::take(&mut self.partial_shown) {
                    self.lines.pop();
                    self.generation += 1;
                }
                self.partial = match self.partial.take() {
                    _ if chunk.partial.is_empty() => None,
                    Some((was, since)) if was == chunk.partial => Some((was, since)),
                    _ => Some((chunk.partial, Instant::now())),
                };
                if chunk.reset {
                    self.lines.clear();
                }
                self.lines.extend(chunk.lines);
                let excess = self.lines.len().saturating_sub(MAX_LINES);
                self.lines.drain(..excess);
                self.generation += 1;
                self.offset = Some(chunk.offset);
                self.head = chunk.head;
                self.error = None;
                self.reading = None;
            }
            Ok(Err(e)) => {
                self.error = Some(e);
                self.reading = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.reading = None,
        }
    }

    /// Draws the view; reads start here and their results are taken here, never waited for.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.take_read();
        self.show_quiet_partial(&ctx);
        let due = self
            .last_read
            .is_none_or(|t| self.follow && t.elapsed() >= FOLLOW_EVERY);
        if self.reading.is_none() && due {
            self.start_read(&ctx);
        }
        if self.follow {
            ctx.request_repaint_after(FOLLOW_EVERY);
        }
        ui.heading("Operations log");
        let Some(path) = self.path.clone() else {
            ui.label("There is no data directory, so there is no log file.");
            return;
        };
        self.controls_ui(ui, &path);
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.separator();
        self.lines_ui(ui);
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, path: &Path) {
        ui.horizontal_wrapped(|ui| {
            // Each name before its control, as on every other panel.
            let level = ui.label("Level").id;
            egui::ComboBox::from_id_salt("log_level")
                .selected_text(self.level.label())
                .show_ui(ui, |ui| {
                    for level in LevelFilter::ALL {
                        ui.selectable_value(&mut self.level, level, level.label());
                    }
                })
                .response
                .labelled_by(level);
            let filter = ui.label("Filter").id;
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("Filter text (order ID, gateway code…)")
                    .desired_width(260.0),
            )
            .labelled_by(filter);
            ui.checkbox(&mut self.follow, "Follow")
                .on_hover_text("Read new lines every 2 seconds and keep the newest in view");
            if ui
                .add_enabled(self.reading.is_none(), egui::Button::new("Reload"))
                .on_disabled_hover_text("The log is being read")
                .clicked()
            {
                self.offset = None;
                self.start_read(ui.ctx());
            }
            ui.toggle_value(&mut self.show_folder, "Open log folder");
        });
        if self.show_folder {
            let folder = path
                .parent()
                .map_or_else(|| path.display().to_string(), |p| p.display().to_string());
            ui.horizontal(|ui| {
                ui.label("Log folder:");
                let mut text = folder.clone();
                ui.add(egui::TextEdit::singleline(&mut text).desired_width(420.0))
                    .on_hover_text(
                        "Today's file is paydesk.log; earlier days are paydesk.log.DATE",
                    );
                if ui.button("Copy path").clicked() {
                    ui.ctx().copy_text(folder.clone());
                    feedback::success(ui.ctx(), "Copied the log folder's path");
                }
            });
        }
    }

    /// The indices of the lines that pass the filters, worked out again only when the lines
    /// or the filters change (not every frame).
    fn refresh_view(&mut self) {
        let key = (
            self.level,
            self.filter.trim().to_lowercase(),
            self.generation,
        );
        if self.view_key.as_ref() == Some(&key) {
            return;
        }
        let needle = &key.1;
        self.view = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| self.level.passes(logging::line_level(l)))
            .filter(|(_, l)| needle.is_empty() || l.to_lowercase().contains(needle.as_str()))
            .map(|(i, _)| i)
            .collect();
        self.view_key = Some(key);
    }

    fn lines_ui(&mut self, ui: &mut egui::Ui) {
        self.refresh_view();
        ui.label(format!(
            "{} of {} lines shown (the newest of today's file)",
            self.view.len(),
            self.lines.len()
        ));
        if self.view.is_empty() {
            ui.label(if self.lines.is_empty() {
                "Nothing logged today yet."
            } else {
                "No line matches the filters."
            });
            return;
        }
        let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .stick_to_bottom(self.follow)
            .show_rows(ui, row_height, self.view.len(), |ui, rows| {
                for &i in &self.view[rows] {
                    let (text, flagged) = shown(&self.lines[i]);
                    let label = ui.add(
                        egui::Label::new(egui::RichText::new(text.as_ref()).monospace()).extend(),
                    );
                    if flagged {
                        label.on_hover_text(
                            "contains hidden or right-to-left characters, shown escaped",
                        );
                    }
                }
            });
    }
}

/// The log view of the app, kept in egui's memory so the app's own state needs no field.
pub fn ui(ui: &mut egui::Ui) {
    let id = egui::Id::unique("paydesk_log_view");
    let panel = ui.ctx().data_mut(|d| {
        d.get_temp_mut_or_insert_with(id, || {
            let path = paydesk::domain::profiles::data_dir().map(|d| logging::log_file(&d));
            Arc::new(Mutex::new(LogPanel::new(path)))
        })
        .clone()
    });
    paydesk::lock_unpoisoned(&panel).ui(ui);
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;

    const LINES: &str = "\
2026-12-03T10:00:00.000000Z  INFO paydesk::gateway: request gateway=\"cny\" order_id=\"pd_a\"
2026-12-03T10:00:01.000000Z  WARN paydesk::payouts: payout sent order_id=\"pd_b\" outcome=\"refused\"
2026-12-03T10:00:02.000000Z ERROR paydesk::journal: the journal could not record order_id=\"pd_c\"
";

    fn drawn(path: &Path) -> Harness<'static, LogPanel> {
        let mut h = Harness::builder()
            .with_size(egui::vec2(900.0, 500.0))
            .build_ui_state(
                |ui, p: &mut LogPanel| p.ui(ui),
                LogPanel::new(Some(path.to_owned())),
            );
        for _ in 0..200 {
            h.step();
            if h.state().line_count() > 0 && h.state().reading.is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        h.step();
        h
    }

    #[test]
    fn shows_the_file_and_filters_by_level_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        std::fs::write(&path, LINES).unwrap();
        let mut h = drawn(&path);
        assert_eq!(h.state().line_count(), 3);
        assert!(h.query_by_label_contains("pd_a").is_some());
        h.state_mut().level = LevelFilter::Warn;
        h.step();
        assert!(h.query_by_label_contains("pd_a").is_none());
        assert!(h.query_by_label_contains("pd_b").is_some());
        h.state_mut().level = LevelFilter::All;
        h.get_by_label("Filter").click();
        h.step();
        h.get_by_label("Filter").type_text("PD_C");
        h.step();
        h.step();
        assert!(h.query_by_label_contains("pd_b").is_none());
        assert!(h.query_by_label_contains("pd_c").is_some());
        assert!(h.query_by_label_contains("1 of 3 lines shown").is_some());
    }

    /// "Level" and "Filter" stood after their controls, unlike every other panel.
    #[test]
    fn the_level_and_filter_names_stand_before_their_controls() {
        use egui::accesskit::Role;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        std::fs::write(&path, LINES).unwrap();
        let h = drawn(&path);
        let level = h.get_by_role_and_label(Role::Label, "Level").rect();
        let combo = h.get_by_role_and_label(Role::ComboBox, "Level").rect();
        assert!(level.max.x <= combo.min.x, "{level:?} {combo:?}");
        let filter = h.get_by_role_and_label(Role::Label, "Filter").rect();
        let field = h.get_by_role_and_label(Role::TextInput, "Filter").rect();
        assert!(filter.max.x <= field.min.x, "{filter:?} {field:?}");
    }

    #[test]
    fn follow_reads_appended_lines_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        std::fs::write(&path, LINES).unwrap();
        let mut h = drawn(&path);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(
            b"2026-12-03T10:00:03.0Z  INFO paydesk: appended order_id=\"pd_d\"\n2026-12-03T10:0",
        )
        .unwrap();
        h.state_mut().last_read = Some(Instant::now().checked_sub(FOLLOW_EVERY).unwrap());
        for _ in 0..200 {
            h.step();
            if h.state().line_count() == 4 && h.state().reading.is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(h.state().line_count(), 4);
        h.step();
        assert!(h.query_by_label_contains("pd_d").is_some());
    }

    /// A last line the writer never ended was never shown: it is, once no byte was added to
    /// it for a while, and it is not shown twice when its line break comes.
    #[test]
    fn a_last_line_without_a_line_break_is_shown_after_a_quiet_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        std::fs::write(
            &path,
            format!("{LINES}2026-12-03T10:00:04.0Z ERROR paydesk: pd_e"),
        )
        .unwrap();
        let mut h = drawn(&path);
        assert_eq!(h.state().line_count(), 3);
        assert!(h.query_by_label_contains("pd_e").is_none(), "not at once");
        // The same unfinished line, unchanged for the wait.
        let (text, _) = h.state().partial.clone().unwrap();
        h.state_mut().partial = Some((text, Instant::now().checked_sub(PARTIAL_AFTER).unwrap()));
        h.step();
        assert_eq!(h.state().line_count(), 4);
        h.step();
        assert!(h.query_by_label_contains("pd_e").is_some());
        // Its line break comes, with more after: the line is there once.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b" ended\n2026-12-03T10:00:05.0Z  INFO paydesk: pd_f\n")
            .unwrap();
        h.state_mut().last_read = Some(Instant::now().checked_sub(FOLLOW_EVERY).unwrap());
        for _ in 0..200 {
            h.step();
            if h.state().line_count() == 5 && h.state().reading.is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(h.state().line_count(), 5);
        h.step();
        assert_eq!(h.query_all_by_label_contains("pd_e").count(), 1);
        assert!(h.query_by_label_contains("pd_e ended").is_some());
        assert!(h.state().partial.is_none());
    }

    #[test]
    fn only_the_tail_of_a_large_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        let line = "2026-12-03T10:00:00.0Z  INFO paydesk: filler line of some length\n";
        let count = (TAIL_BYTES as usize / line.len()) * 3;
        std::fs::write(&path, line.repeat(count)).unwrap();
        let chunk = read_since(&path, None).unwrap();
        assert!(chunk.reset);
        assert!(chunk.lines.len() < count / 2, "{}", chunk.lines.len());
        assert!(chunk.lines.iter().all(|l| l.len() + 1 == line.len()));
        assert_eq!(chunk.offset, std::fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn a_file_rotated_and_grown_past_where_reading_stopped_is_read_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        std::fs::write(&path, LINES).unwrap();
        let first = read_since(&path, None).unwrap();
        // Rotated aside; the new file is already longer than the old one was.
        std::fs::rename(&path, dir.path().join("paydesk.log.2026-12-03")).unwrap();
        let fresh = "2026-12-04T00:00:00.000001Z  INFO paydesk: new day order_id=\"pd_new\"\n";
        std::fs::write(&path, fresh.repeat(10)).unwrap();
        let next = read_since(&path, Some((first.offset, &first.head))).unwrap();
        assert!(next.reset, "a new file is read from its start");
        assert_eq!(next.lines.len(), 10);
        assert!(next.lines.iter().all(|l| l.len() + 1 == fresh.len()));
    }

    #[test]
    fn a_line_of_megabytes_or_of_invalid_utf8_is_read_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        let mut bytes = format!(
            "2026-12-03T10:00:00.0Z  INFO paydesk: {}\n",
            "y".repeat(900_000)
        )
        .into_bytes();
        bytes.extend_from_slice(b"2026-12-03T10:00:01.0Z  INFO paydesk: bad \xff\xfe bytes\n");
        std::fs::write(&path, bytes).unwrap();
        let chunk = read_since(&path, None).unwrap();
        assert_eq!(chunk.lines.len(), 2);
        assert!(chunk.lines[0].len() < logging::MAX_LINE_BYTES + 64);
        assert!(chunk.lines[0].ends_with("bytes not shown)"));
        assert!(chunk.lines[1].contains("bad \u{fffd}\u{fffd} bytes"));
    }

    #[test]
    fn the_folder_path_is_shown_to_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paydesk.log");
        std::fs::write(&path, LINES).unwrap();
        let mut h = drawn(&path);
        h.get_by_label("Open log folder").click();
        h.step();
        h.step();
        let folder = dir.path().display().to_string();
        assert!(
            h.query_all_by_value(&folder).next().is_some(),
            "the folder is shown"
        );
        h.get_by_label("Copy path").click();
        h.step();
        let notice = feedback::latest(&h.ctx).unwrap();
        assert!(notice.text.contains("Copied"), "{}", notice.text);
    }
}
