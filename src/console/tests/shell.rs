//! The shell around the panels: notices as toasts and in the status bar, every tab reachable
//! on a narrow or scaled window, the theme, and the typed path where no file dialog answers.

use std::sync::Arc;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use paydesk::domain::profiles::MemoryStore;

use super::{click, harness, init, runtime, sandbox_harness, wait_for};
use crate::console::appearance::{StartOptions, TABS, ThemeChoice};
use crate::console::feedback;
use crate::console::files::{NativeDialogs, OpenKind, PickFuture, Picked, WithFallback};

/// A notice posted by any code shows as a toast and in the status bar; with nobody touching
/// the window, the toast goes after its time (the shell asks for that frame) and the status
/// bar keeps the last outcome. An error stays until it is closed.
#[test]
fn a_notice_shows_as_a_toast_and_in_the_status_bar_and_fades_without_input() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    // The first search's outcome comes first, so it cannot replace the notice below.
    wait_for(&mut h, "Idle");
    // A finished search says what it found in the status bar, without a toast.
    assert_eq!(
        h.query_all_by_label_contains("orders shown of").count(),
        1,
        "in the status bar, not as a toast"
    );
    let ctx = h.ctx.clone();
    feedback::success(&ctx, "Copied 3 IDs");
    h.step();
    h.step();
    assert_eq!(
        h.query_all_by_label_contains("Copied 3 IDs").count(),
        2,
        "a toast and the status bar"
    );
    let delay = h.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay;
    assert!(
        delay <= std::time::Duration::from_secs(6),
        "the shell asks for the frame where the toast fades: {delay:?}"
    );
    feedback::error(&ctx, "The gateway refused the token");
    // Eight seconds of frames with no input (each step is a quarter of a second).
    for _ in 0..32 {
        h.step();
    }
    assert_eq!(
        h.query_all_by_label_contains("Copied 3 IDs").count(),
        0,
        "the toast is gone and a newer outcome is in the status bar"
    );
    assert_eq!(
        h.query_all_by_label_contains("The gateway refused the token")
            .count(),
        2,
        "an error stays until closed"
    );
    click(&mut h, Role::Button, "×");
    assert_eq!(
        h.query_all_by_label_contains("The gateway refused the token")
            .count(),
        1,
        "closed, the status bar still says it"
    );
}

fn reaches_every_tab(size: egui::Vec2, scale: f32) {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut i = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    i.start = StartOptions {
        scale: Some(scale),
        ..StartOptions::default()
    };
    // A window of `size` logical pixels drawn at `scale` has `size / scale` points to lay
    // out, which is what eframe gives egui once the zoom applies (the harness has no window
    // to resize, so it gets that room directly).
    let mut h = egui_kittest::Harness::builder()
        .with_size(size / scale)
        .with_pixels_per_point(scale)
        .build_eframe(move |cc| crate::console::PaydeskApp::new(&cc.egui_ctx, None, i));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    let screen = h.ctx.content_rect();
    assert!(
        (screen.width() - size.x / scale).abs() < 1.0,
        "drawn at {scale}×: {screen:?}"
    );
    for (tab, label, _) in TABS {
        let rect = h.get_by_role_and_label(Role::Button, label).rect();
        assert!(
            screen.contains_rect(rect),
            "{size:?} at {scale}×: “{label}” at {rect:?} is outside {screen:?}"
        );
        click(&mut h, Role::Button, label);
        assert_eq!(h.state().tab, *tab, "{size:?} at {scale}×: {label}");
    }
}

/// Below about 800 px the last tabs (New batch, Profiles) were cut off and out of reach: the
/// window would not shrink below 960 px, so on a small screen its right end was off screen.
#[test]
fn the_window_fits_an_800_by_600_screen() {
    let min = crate::console::viewport().min_inner_size.unwrap();
    assert!(min.x <= 640.0 && min.y <= 480.0, "{min:?}");
}

/// Whatever the width, the tabs wrap rather than run off the window's edge.
#[test]
fn every_tab_is_reachable_on_a_narrow_window() {
    for width in [640.0, 800.0, 1024.0] {
        reaches_every_tab(egui::vec2(width, 600.0), 1.0);
    }
}

#[test]
fn every_tab_is_reachable_at_twice_the_scale_on_800_by_600() {
    reaches_every_tab(egui::vec2(800.0, 600.0), 2.0);
}

/// The theme follows the system until chosen in the top bar; the choice is kept.
#[test]
fn the_theme_is_chosen_in_the_top_bar_and_kept() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    assert_eq!(h.state().theme, ThemeChoice::System);
    click(&mut h, Role::ComboBox, "Theme");
    click(&mut h, Role::Button, "Dark");
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
    click(&mut h, Role::ComboBox, "Theme");
    click(&mut h, Role::Button, "Light");
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    assert_eq!(h.state().persisted().theme, ThemeChoice::Light);
}

/// A desktop without a file-dialog portal.
struct NoPortal;

impl NativeDialogs for NoPortal {
    fn pick_open(&self, _kind: OpenKind) -> PickFuture {
        Box::pin(async { Picked::Unavailable(crate::console::files::NO_PORTAL.to_owned()) })
    }

    fn pick_save(&self, _suggested_name: String) -> PickFuture {
        Box::pin(async { Picked::Unavailable(crate::console::files::NO_PORTAL.to_owned()) })
    }
}

fn type_path(
    h: &mut egui_kittest::Harness<'_, crate::console::PaydeskApp>,
    path: &std::path::Path,
) {
    let field = h.get_by_role_and_label(Role::TextInput, "Path");
    field.focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Path")
        .type_text(&path.display().to_string());
    h.step();
    h.step();
}

/// Where no portal answered, Export profile… and Import profile… did nothing and said
/// nothing; now they ask for a typed path, say why, and write and read the file typed.
#[test]
fn where_no_portal_answers_a_typed_path_exports_and_imports() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut i = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    i.file_dialogs = Arc::new(WithFallback::new(Arc::new(NoPortal)));
    let mut h = harness(i);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Profiles");
    for (label, text) in [
        ("Name", "Typed"),
        ("Base URL", "https://pay.example.com/"),
        ("Platform ID", "PF0060"),
    ] {
        let field = h.get_by_role_and_label(Role::TextInput, label);
        field.focus();
        field.type_text(text);
        h.step();
    }
    click(&mut h, Role::Button, "Export profile…");
    wait_for(&mut h, "No file dialog is available on this desktop");
    let target = dir.path().join("typed.toml");
    type_path(&mut h, &target);
    click(&mut h, Role::Button, "Save here");
    wait_for(&mut h, "Exported “Typed”");
    assert!(target.exists());

    click(&mut h, Role::Button, "Import profile…");
    // Its own prompt: the export's notice still says no file dialog is available.
    wait_for(&mut h, "Open this file");
    type_path(&mut h, &dir.path().join("nothing.toml"));
    click(&mut h, Role::Button, "Open this file");
    assert!(h.query_by_label_contains("There is no file").is_some());
    // Tab completes the name typed as far as the folder's names agree.
    type_path(&mut h, &dir.path().join("typ"));
    h.key_press(egui::Key::Tab);
    h.step();
    h.step();
    let typed = h
        .get_by_role_and_label(Role::TextInput, "Path")
        .accesskit_node()
        .value()
        .unwrap_or_default();
    assert_eq!(typed, target.display().to_string());
    click(&mut h, Role::Button, "Open this file");
    wait_for(&mut h, "Read profile “Typed”");
}

/// A desktop whose portal never answers.
struct SilentPortal;

impl NativeDialogs for SilentPortal {
    fn pick_open(&self, _kind: OpenKind) -> PickFuture {
        Box::pin(std::future::pending())
    }

    fn pick_save(&self, _suggested_name: String) -> PickFuture {
        Box::pin(std::future::pending())
    }
}

/// A portal that neither answers nor fails left Export profile… waiting for ever; after a
/// few seconds the typed path is offered as well.
#[test]
fn a_dialog_that_never_opens_is_offered_a_typed_path_after_a_few_seconds() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut i = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    i.file_dialogs = Arc::new(WithFallback::new(Arc::new(SilentPortal)));
    let mut h = harness(i);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Profiles");
    for (label, text) in [
        ("Name", "Slow"),
        ("Base URL", "https://pay.example.com/"),
        ("Platform ID", "PF0060"),
    ] {
        let field = h.get_by_role_and_label(Role::TextInput, label);
        field.focus();
        field.type_text(text);
        h.step();
    }
    click(&mut h, Role::Button, "Export profile…");
    wait_for(&mut h, "The file dialog has not opened after 5 s");
    let target = dir.path().join("slow.toml");
    type_path(&mut h, &target);
    click(&mut h, Role::Button, "Save here");
    wait_for(&mut h, "Exported “Slow”");
    assert!(target.exists());
}
