//! The typed-path dialog used where no desktop file dialog answers: a path field with the
//! directory of what is typed listed below it (click a folder to go in, a file to take it),
//! Tab completing the name, and the reason it is shown instead of the desktop's dialog.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;
use egui::text::{CCursor, CCursorRange};

use super::files::PathPrompts;
use super::panels::widgets;

/// How many entries of a directory are listed.
const LISTED: usize = 200;
/// How many entries of a directory are read at most: a folder of a million files must not make
/// the prompt (drawn on the UI thread) read them all.
const SCANNED: usize = 5_000;

/// The field's text and the directory listing it shows, kept between frames.
#[derive(Default)]
pub struct PathPromptUi {
    text: String,
    /// The request the text was set up for (title), so a new one starts afresh.
    for_title: Option<String>,
    listing: Option<(PathBuf, Vec<(String, bool)>)>,
    problem: Option<String>,
}

fn start_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Splits typed text into the directory it is in and the name being typed.
fn split(text: &str) -> (PathBuf, String) {
    if text.is_empty() {
        return (PathBuf::from("."), String::new());
    }
    if text.ends_with(std::path::MAIN_SEPARATOR) {
        return (PathBuf::from(text), String::new());
    }
    let path = Path::new(text);
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (dir, name)
}

/// The entries of `dir` (name, is a directory), folders first, each sorted by name.
fn list_dir(dir: &Path) -> Vec<(String, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut listed: Vec<(String, bool)> = entries
        .take(SCANNED)
        .filter_map(Result::ok)
        .map(|e| {
            // The entry's own type, from the listing: no extra look-up per entry. A link is
            // followed only when it is one.
            let is_dir = e
                .file_type()
                .is_ok_and(|t| t.is_dir() || (t.is_symlink() && e.path().is_dir()));
            (e.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    listed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    listed.truncate(LISTED);
    listed
}

/// The longest text every name starts with.
fn common_prefix<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut names = names;
    let mut prefix = names.next()?.to_owned();
    for name in names {
        let shared = prefix
            .char_indices()
            .zip(name.chars())
            .find(|((_, a), b)| a != b)
            .map_or_else(|| prefix.len().min(name.len()), |((i, _), _)| i);
        prefix.truncate(shared);
    }
    Some(prefix)
}

/// `text` completed as far as the names in its directory agree.
pub fn complete(text: &str) -> String {
    let (dir, name) = split(text);
    let listed = list_dir(&dir);
    let matching: Vec<&(String, bool)> = listed
        .iter()
        .filter(|(n, _)| n.starts_with(&name))
        .collect();
    let base = &text[..text.len() - name.len()];
    match matching.as_slice() {
        [] => text.to_owned(),
        [(only, is_dir)] => {
            let sep = if *is_dir {
                std::path::MAIN_SEPARATOR_STR
            } else {
                ""
            };
            format!("{base}{only}{sep}")
        }
        many => common_prefix(many.iter().map(|(n, _)| n.as_str()))
            .map_or_else(|| text.to_owned(), |p| format!("{base}{p}")),
    }
}

impl PathPromptUi {
    /// Draws the request waiting, if any, as a modal.
    pub fn ui(&mut self, prompts: &Arc<PathPrompts>, ctx: &egui::Context) {
        let Some((title, why, save, suggested)) =
            prompts.with_current(|r| (r.title.clone(), r.why.clone(), r.save, r.suggested.clone()))
        else {
            self.for_title = None;
            return;
        };
        if self.for_title.as_deref() != Some(title.as_str()) {
            let mut start = start_dir().display().to_string();
            if !start.ends_with(std::path::MAIN_SEPARATOR) {
                start.push(std::path::MAIN_SEPARATOR);
            }
            if let Some(name) = &suggested {
                start.push_str(name);
            }
            self.text = start;
            self.for_title = Some(title.clone());
            self.problem = None;
        }
        let mut answer: Option<Option<PathBuf>> = None;
        egui::Modal::new(egui::Id::unique("paydesk_path_prompt")).show(ctx, |ui| {
            ui.set_width(520.0);
            ui.heading(&title);
            ui.colored_label(widgets::warn(ui), &why);
            let field_id = egui::Id::unique("paydesk_path_field");
            let focused = ui.memory(|m| m.has_focus(field_id));
            if focused && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Tab)) {
                self.text = complete(&self.text);
                self.set_cursor_to_end(ui.ctx(), field_id);
            }
            let label = widgets::field_label(ui, "Path");
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.text)
                    .id(field_id)
                    .desired_width(f32::INFINITY),
            );
            let field = field.labelled_by(label);
            if !focused && ui.memory(|m| m.focused().is_none()) {
                field.request_focus();
            }
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.label(
                egui::RichText::new("Tab completes the name; click a folder to open it.").weak(),
            );
            self.listing_ui(ui, field_id);
            if let Some(problem) = &self.problem {
                ui.colored_label(widgets::error(ui), problem);
            }
            ui.horizontal(|ui| {
                let confirm = if save { "Save here" } else { "Open this file" };
                if ui.button(confirm).clicked() || entered {
                    match self.check(save, suggested.as_deref()) {
                        Ok(path) => answer = Some(Some(path)),
                        Err(e) => self.problem = Some(e),
                    }
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(None);
                }
            });
        });
        if let Some(path) = answer
            && let Some(request) = prompts.take_current()
        {
            request.answer(path);
            self.for_title = None;
        }
    }

    fn set_cursor_to_end(&self, ctx: &egui::Context, id: egui::Id) {
        if let Some(mut state) = egui::TextEdit::load_state(ctx, id) {
            let end = CCursor::new(self.text.chars().count());
            state.cursor.set_char_range(Some(CCursorRange::one(end)));
            state.store(ctx, id);
        }
        ctx.memory_mut(|m| m.request_focus(id));
    }

    fn listing_ui(&mut self, ui: &mut egui::Ui, field_id: egui::Id) {
        let (dir, name) = split(&self.text);
        if self.listing.as_ref().is_none_or(|(d, _)| *d != dir) {
            self.listing = Some((dir.clone(), list_dir(&dir)));
        }
        let Some((_, entries)) = &self.listing else {
            return;
        };
        let mut picked = None;
        egui::ScrollArea::vertical()
            .max_height(220.0)
            .id_salt("paydesk_path_listing")
            .show(ui, |ui| {
                if entries.is_empty() {
                    ui.label(egui::RichText::new("(nothing here, or not a folder)").weak());
                }
                for (entry, is_dir) in entries.iter().filter(|(n, _)| n.starts_with(&name)) {
                    let shown = if *is_dir {
                        format!("{entry}{}", std::path::MAIN_SEPARATOR)
                    } else {
                        entry.clone()
                    };
                    if ui.selectable_label(false, shown).clicked() {
                        picked = Some((entry.clone(), *is_dir));
                    }
                }
            });
        if let Some((entry, is_dir)) = picked {
            let base = &self.text[..self.text.len() - name.len()];
            self.text = if is_dir {
                format!("{base}{entry}{}", std::path::MAIN_SEPARATOR)
            } else {
                format!("{base}{entry}")
            };
            self.set_cursor_to_end(ui.ctx(), field_id);
        }
    }

    /// The path typed, if it can be used: an existing file to open, or a file in an existing
    /// folder to save (a folder typed gets the suggested name).
    fn check(&self, save: bool, suggested: Option<&str>) -> Result<PathBuf, String> {
        let path = PathBuf::from(self.text.trim());
        if path.as_os_str().is_empty() {
            return Err("Type a path first".to_owned());
        }
        if save {
            let path = match suggested {
                Some(name) if path.is_dir() => path.join(name),
                _ => path,
            };
            let parent = path.parent().unwrap_or(Path::new("."));
            if !parent.as_os_str().is_empty() && !parent.is_dir() {
                return Err(format!("There is no folder {}", parent.display()));
            }
            Ok(path)
        } else if path.is_file() {
            Ok(path)
        } else if path.is_dir() {
            Err(format!(
                "{} is a folder: choose a file in it",
                path.display()
            ))
        } else {
            Err(format!("There is no file {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_completes_as_far_as_the_names_agree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("payouts-march.csv"), "").unwrap();
        std::fs::write(dir.path().join("payouts-may.csv"), "").unwrap();
        std::fs::create_dir(dir.path().join("profiles")).unwrap();
        let base = format!("{}{}", dir.path().display(), std::path::MAIN_SEPARATOR);
        assert_eq!(complete(&format!("{base}pay")), format!("{base}payouts-ma"));
        assert_eq!(
            complete(&format!("{base}payouts-mar")),
            format!("{base}payouts-march.csv")
        );
        assert_eq!(
            complete(&format!("{base}pro")),
            format!("{base}profiles{}", std::path::MAIN_SEPARATOR)
        );
        assert_eq!(complete(&format!("{base}zzz")), format!("{base}zzz"));
    }
}
