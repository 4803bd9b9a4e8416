//! The Reconcile tab in the whole app against the sandbox: a ledger written from the
//! gateway's own orders (with one booked amount wrong and one order the gateway never had)
//! is opened through the file seam, mapped, run; the totals show, a class opens its rows, a
//! filter narrows them, a row opens its two sides. Cancel leaves the tab usable; a bad
//! ledger says which row and column.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use paydesk::domain::dates::format_secs;
use paydesk::domain::profiles::MemoryStore;
use paydesk::gateway::cny::wire::{OrderKind, StatusClass};

use super::super::PaydeskApp;
use super::super::files::{FileDialogs, FileFuture, OpenKind, SaveFuture};
use super::{click, disabled, harness, init, runtime, wait_for};

/// The file the dialogs open, set by the test.
type Shared = Arc<Mutex<Option<(String, Vec<u8>)>>>;

/// Dialogs whose file to open the test writes once it knows the sandbox's orders.
struct LedgerDialogs {
    file: Shared,
    saves: PathBuf,
    asked: Arc<Mutex<Vec<OpenKind>>>,
}

impl FileDialogs for LedgerDialogs {
    fn open_file(&self, kind: OpenKind) -> FileFuture {
        self.asked.lock().unwrap().push(kind);
        let file = self.file.lock().unwrap().clone();
        Box::pin(async move { file })
    }

    fn save_file(&self, suggested_name: String) -> SaveFuture {
        let dir = self.saves.clone();
        Box::pin(async move {
            std::fs::create_dir_all(&dir).ok()?;
            Some(dir.join(suggested_name))
        })
    }
}

struct Setup {
    h: Harness<'static, PaydeskApp>,
    file: Shared,
    asked: Arc<Mutex<Vec<OpenKind>>>,
    saves: PathBuf,
}

fn setup(rt: &tokio::runtime::Runtime, dir: &std::path::Path, latency_ms: u64) -> Setup {
    let file = Arc::new(Mutex::new(None));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let saves = dir.join("exports");
    let mut app = init(rt, dir, Arc::new(MemoryStore::default()), None);
    app.sandbox.latency_ms = latency_ms;
    app.file_dialogs = Arc::new(LedgerDialogs {
        file: Arc::clone(&file),
        saves: saves.clone(),
        asked: Arc::clone(&asked),
    });
    let mut h = harness(app);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    Setup {
        h,
        file,
        asked,
        saves,
    }
}

/// The ledger of the day of the newest deposits shown: every one of them on that day booked
/// as the gateway has it, except the first successful one (booked ¥1.00 more), and one
/// order the gateway never had. Returns the CSV, the day, the wrong ID and the IDs booked as
/// the gateway has them (with a valid signature).
fn ledger_of_shown_deposits(
    h: &Harness<'_, PaydeskApp>,
) -> (String, jiff::civil::Date, String, Vec<String>) {
    let tz = h.state().time_zone().zone();
    let page = h.state().deposits.result.shown().unwrap();
    let day_of = |secs: i64| {
        jiff::Timestamp::from_second(secs)
            .unwrap()
            .to_zoned(tz.clone())
            .date()
    };
    let newest = page
        .rows
        .iter()
        .filter_map(super::super::panels::orders::Row::created)
        .max()
        .unwrap();
    let day = day_of(newest);
    let mut csv = "merchant_order_id,amount,status,time\n".to_owned();
    let mut wrong = None;
    let mut booked = Vec::new();
    for r in page.rows.iter() {
        let (Some(created), Some(amount)) = (r.created(), r.amount()) else {
            continue;
        };
        if day_of(created) != day || r.merchant_id().is_empty() {
            continue;
        }
        let status = match r.status(OrderKind::Deposit).class() {
            StatusClass::Success => "paid",
            StatusClass::Failed | StatusClass::Cancelled => "failed",
            StatusClass::InProgress => "pending",
            StatusClass::Unknown => continue,
        };
        let mut fen = amount.fen();
        let valid = !r.signature.is_invalid();
        if status == "paid" && valid && wrong.is_none() {
            wrong = Some(r.merchant_id().to_owned());
            fen += 100;
        } else if valid {
            booked.push(r.merchant_id().to_owned());
        }
        let yuan = paydesk::money::Fen::from_fen(fen).yuan_plain();
        writeln!(
            csv,
            "{},{yuan},{status},{}",
            r.merchant_id(),
            format_secs(created, &tz)
        )
        .unwrap();
    }
    writeln!(
        csv,
        "NOT-AT-GATEWAY-1,12.34,paid,{}",
        format_secs(newest, &tz)
    )
    .unwrap();
    (
        csv,
        day,
        wrong.expect("a successful deposit on the page"),
        booked,
    )
}

/// Steps until the class table says it has `n` rows.
fn rows_shown(h: &mut Harness<'_, PaydeskApp>, n: u64) {
    let deadline = std::time::Instant::now() + super::PATIENCE;
    while h.state().reconcile.cache.total() != Some(n) {
        assert!(
            std::time::Instant::now() < deadline,
            "the table never had {n} rows (it has {:?})",
            h.state().reconcile.cache.total()
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    wait_for(h, &format!("{n} row(s)"));
}

fn set_day(h: &mut Harness<'_, PaydeskApp>, day: jiff::civil::Date) {
    let panel = &mut h.state_mut().reconcile;
    panel.from_date = day;
    panel.to_date = day;
    h.step();
}

#[test]
fn a_ledger_is_mapped_run_and_its_classes_paged_filtered_and_opened() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut s = setup(&rt, dir.path(), 0);
    let h = &mut s.h;
    wait_for(h, "page 1 of 24");
    let (csv, day, wrong, booked) = ledger_of_shown_deposits(h);
    *s.file.lock().unwrap() = Some(("ledger.csv".to_owned(), csv.into_bytes()));

    click(h, Role::Button, "Reconcile");
    wait_for(h, "No ledger file opened yet");
    assert!(disabled(h, "Run reconciliation"), "no ledger yet");
    click(h, Role::Button, "Open ledger…");
    wait_for(h, "Suggested from the column names");
    assert_eq!(s.asked.lock().unwrap().as_slice(), [OpenKind::Ledger]);
    assert!(
        h.query_all_by_label_contains("ledger.csv").next().is_some(),
        "the file is named"
    );
    let combo = h.get_by_role_and_label(Role::ComboBox, "Amount column");
    assert!(format!("{:?}", combo.accesskit_node()).contains("amount"));
    set_day(h, day);

    click(h, Role::Button, "Run reconciliation");
    wait_for(h, "Sum of the parts");
    assert!(h.query_by_label_contains("Differences found").is_some());
    // Run once, remembered for the profile and kind.
    let remembered = std::fs::read_to_string(dir.path().join("reconcile.toml")).unwrap();
    assert!(remembered.contains("merchant_order_id"), "{remembered}");

    // The ID the gateway never had is missing at the gateway.
    click(h, Role::Button, "Missing at the gateway");
    wait_for(h, "NOT-AT-GATEWAY-1");
    rows_shown(h, 1);

    // Matched: every ID booked as the gateway has it; the filter narrows to one.
    click(h, Role::Button, "Matched");
    rows_shown(h, booked.len() as u64);
    let keep = booked[0].clone();
    let filter = h.get_by_role_and_label(Role::TextInput, "Filter rows");
    filter.focus();
    filter.type_text(&keep);
    rows_shown(h, 1);
    assert_eq!(h.state().reconcile.shown_key().filter, keep);

    // The amount differs: its row opens the ledger row and the order side by side.
    click(h, Role::Button, "Amount differs");
    h.state_mut().reconcile.filter.clear();
    h.state_mut()
        .reconcile
        .open_class(Some(paydesk::domain::reconcile::Class::AmountDiffers));
    wait_for(h, &wrong);
    click(h, Role::Button, &wrong);
    wait_for(h, "Search this order");
    assert!(h.query_by_label_contains("Check signature").is_some());
    assert!(
        h.state().reconcile.selected.is_some(),
        "the row's two sides are open"
    );

    // Export the differences with the command that re-runs them.
    click(h, Role::Button, "Export differences (CSV)…");
    wait_for(h, "paydesk reconcile deposits --ledger ledger.csv");
    let manifest = std::fs::read_dir(&s.saves)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".manifest.json"));
    assert!(manifest.is_some(), "the manifest is beside the export");
}

#[test]
fn cancel_leaves_the_tab_usable_and_a_bad_ledger_names_its_row_and_column() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut s = setup(&rt, dir.path(), 2_000);
    let h = &mut s.h;
    let good = "merchant_order_id,amount,status,time\nM-1,10.00,paid,2026-12-01 10:00:00\n";
    *s.file.lock().unwrap() = Some(("good.csv".to_owned(), good.as_bytes().to_vec()));
    click(h, Role::Button, "Reconcile");
    click(h, Role::Button, "Open ledger…");
    wait_for(h, "Suggested from the column names");
    set_day(h, jiff::civil::date(2026, 12, 1));

    // A slow gateway: the run is stopped while it fetches.
    click(h, Role::Button, "Run reconciliation");
    wait_for(h, "Cancel");
    click(h, Role::Button, "Cancel");
    wait_for(h, "Cancelled: nothing was reconciled");
    assert!(!h.state().reconcile.is_running());
    assert!(!disabled(h, "Run reconciliation"), "the tab stays usable");

    let bad = "merchant_order_id,amount,status,time\n\
               M-1,10.00,paid,2026-12-01 10:00:00\n\
               M-2,ten,paid,2026-12-01 11:00:00\n";
    *s.file.lock().unwrap() = Some(("bad.csv".to_owned(), bad.as_bytes().to_vec()));
    click(h, Role::Button, "Open ledger…");
    wait_for(h, "bad.csv");
    click(h, Role::Button, "Run reconciliation");
    wait_for(h, "The reconciliation did not finish");
    wait_for(h, "row 3, column B");
    assert!(h.state().reconcile.finished.is_none());
    assert!(!disabled(h, "Run reconciliation"));
}
