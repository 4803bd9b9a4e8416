//! The real console, driven as a person would with egui_kittest, against the in-process
//! sandbox over real HTTP, one module per area; the helpers that build and drive the app.

use std::sync::Arc;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use paydesk::domain::profiles::{MemoryStore, SecretStore};
use paydesk::sandbox::SandboxConfig;

use super::files::{FileDialogs, FileFuture, OpenKind, SaveFuture};
use super::{AppInit, PaydeskApp};

mod batches;
mod brands;
mod charts;
mod journal;
mod listener;
mod orders;
mod payouts;
mod profiles;
mod reconcile;
mod shell;
mod suborders;
mod team;
mod workbench;

/// The injected file dialogs: "opens" the given file, "saves" into a folder under the
/// suggested name.
struct FakeDialogs(
    Option<(String, Vec<u8>)>,
    std::path::PathBuf,
    Arc<std::sync::Mutex<Vec<OpenKind>>>,
);

impl FileDialogs for FakeDialogs {
    fn open_file(&self, kind: OpenKind) -> FileFuture {
        if let Ok(mut asked) = self.2.lock() {
            asked.push(kind);
        }
        let file = self.0.clone();
        Box::pin(async move { file })
    }

    fn save_file(&self, suggested_name: String) -> SaveFuture {
        let dir = self.1.clone();
        Box::pin(async move {
            std::fs::create_dir_all(&dir).ok()?;
            Some(dir.join(suggested_name))
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        deposits: 600,
        payouts: 400,
        ..SandboxConfig::default()
    }
}

fn init(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    store: Arc<dyn SecretStore>,
    file: Option<(String, Vec<u8>)>,
) -> AppInit {
    AppInit {
        runtime: rt.handle().clone(),
        config_dir: Some(dir.to_path_buf()),
        store,
        file_dialogs: Arc::new(FakeDialogs(file, dir.join("exports"), Arc::default())),
        sandbox: sandbox_config(),
        data_dir: Some(dir.join("data")),
        duplicate_window: Ok(paydesk::domain::duplicates::DuplicateWindow::default()),
        start: super::appearance::StartOptions::default(),
        start_profile: None,
        exit_deadline: None,
    }
}

fn harness(init: AppInit) -> Harness<'static, PaydeskApp> {
    Harness::builder()
        .with_size(egui::vec2(1500.0, 900.0))
        .build_eframe(move |cc| PaydeskApp::new(&cc.egui_ctx, None, init))
}

/// The app on a fresh machine: nothing configured, so the sandbox, and no file to open.
fn sandbox_harness(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
) -> Harness<'static, PaydeskApp> {
    harness(init(rt, dir, Arc::new(MemoryStore::default()), None))
}

/// The app on the sandbox with `name` to open when a file is asked for, shown.
fn sandbox_with_file(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    name: &str,
    file: &[u8],
) -> Harness<'static, PaydeskApp> {
    let mut h = harness(init(
        rt,
        dir,
        Arc::new(MemoryStore::default()),
        Some((name.to_owned(), file.to_vec())),
    ));
    wait_for(&mut h, "Sandbox — demo data, no real money");
    h
}

/// How long a person would wait for a result before calling it broken: generous, since
/// CI runs every console test at once on two cores.
const PATIENCE: Duration = Duration::from_mins(1);

/// Steps the real app until `text` shows, as a person waits for a result.
fn wait_for(h: &mut Harness<'_, PaydeskApp>, text: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        h.step();
        if h.query_all_by_label_contains(text).next().is_some() {
            // Let the layout settle (areas re-centre a frame after they grow), as a
            // person sees it before clicking.
            h.step();
            h.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("“{text}” never appeared");
}

/// Steps until the payout journal is open (the "Opening the payout journal…" notice is
/// gone): sending waits for it, looking things up does not.
fn wait_for_journal(h: &mut Harness<'_, PaydeskApp>) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while h.state().journal.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the journal never opened"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    h.step();
}

fn click(h: &mut Harness<'_, PaydeskApp>, role: Role, label: &str) {
    h.get_by_role_and_label(role, label).click();
    // The frame that takes the click, then the one that shows its effect.
    h.step();
    h.step();
}

fn disabled(h: &Harness<'_, PaydeskApp>, label: &str) -> bool {
    h.get_by_role_and_label(Role::Button, label)
        .accesskit_node()
        .is_disabled()
}
