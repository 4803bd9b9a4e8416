//! The Deposits and Payouts panels in the whole app: search, page, inspect, a date range, export.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use serde_json::Value;

use paydesk::domain::dates::format_secs;
use paydesk::domain::profiles::MemoryStore;

use super::{click, runtime, sandbox_harness, wait_for};
use crate::console::PaydeskApp;
use crate::console::context::TzChoice;

/// The deposits' amounts in the order the table shows them.
fn shown_amounts(h: &egui_kittest::Harness<'_, PaydeskApp>) -> Vec<paydesk::money::Fen> {
    h.state()
        .deposits
        .visible_rows()
        .map(|r| r.amount().unwrap())
        .collect()
}

#[test]
fn search_page_inspect_and_find_the_tampered_order() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    // First start with nothing configured: the sandbox, clearly marked.
    wait_for(&mut h, "Sandbox — demo data, no real money");
    wait_for(&mut h, "page 1 of 24");
    assert!(h.query_by_label_contains("gateway total 600").is_some());

    click(&mut h, Role::Button, "Next");
    wait_for(&mut h, "page 2 of 24");
    click(&mut h, Role::Button, "Previous");
    wait_for(&mut h, "page 1 of 24");
    h.key_press(egui::Key::PageDown);
    wait_for(&mut h, "page 2 of 24");
    h.key_press(egui::Key::PageUp);
    wait_for(&mut h, "page 1 of 24");

    // A bigger page holds some of the orders whose sign was tampered with.
    h.state_mut().deposits.filter.page_size = 500;
    click(&mut h, Role::Button, "Search");
    wait_for(&mut h, "page 1 of 2");
    wait_for(&mut h, "4 invalid signatures");
    h.get_by_label("Only invalid signatures").click();
    wait_for(&mut h, "4 of 500 loaded orders shown");
    let tampered = {
        let page = h.state().deposits.result.shown().unwrap();
        page.rows
            .iter()
            .find(|r| r.signature.is_invalid())
            .unwrap()
            .system_id()
            .to_owned()
    };
    h.get_by_label(&tampered).click();
    wait_for(&mut h, "Order details");
    assert!(
        h.query_by_label_contains("invalid: the signature does not match")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("&***").is_some(),
        "the signed text, key masked"
    );
    assert!(h.query_by_label_contains("left out: memo").is_some());

    // Chinese names render (the harness fails on a missing glyph).
    h.get_by_label("Only invalid signatures").click();
    h.step();

    // Sort by amount with a click on its header, then the other way with a second.
    click(&mut h, Role::Button, "Amount");
    let amounts = shown_amounts(&h);
    assert!(amounts.windows(2).all(|w| w[0] <= w[1]), "ascending");
    assert!(
        h.query_by_label("↑").is_some(),
        "the header shows the order"
    );
    click(&mut h, Role::Button, "Amount");
    let amounts = shown_amounts(&h);
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "descending");

    // Ctrl+F, then type: the loaded rows narrow to the one order.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Quick filter")
        .type_text(&tampered.to_lowercase());
    wait_for(&mut h, "1 of 500 loaded orders shown");
    assert!(
        h.state()
            .deposits
            .result
            .shown()
            .unwrap()
            .rows
            .iter()
            .any(|r| r
                .depositor()
                .is_some_and(|n| n.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))))
    );
}

#[test]
fn a_date_range_is_searched_with_its_exact_bounds() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "Payouts");
    wait_for(&mut h, "page 1 of 16");
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date();
    {
        let f = &mut h.state_mut().payouts.filter;
        f.use_range = true;
        f.from_date = today.saturating_sub(jiff::Span::new().days(20));
        f.to_date = today;
    }
    h.step();
    let range = h
        .state()
        .payouts
        .filter
        .range(h.state().tz)
        .unwrap()
        .unwrap();
    wait_for(&mut h, &format!("create_time__gte={}", range.from_secs));
    click(&mut h, Role::Button, "Search");
    // What the gateway says for that range, asked directly.
    let client = h.state().connection.as_ref().unwrap().cny.clone().unwrap();
    let expected = rt
        .block_on(client.query(
            paydesk::gateway::cny::wire::OrderKind::Payout,
            &paydesk::gateway::cny::wire::OrderQuery {
                created: Some(range),
                ..Default::default()
            },
        ))
        .unwrap()
        .total;
    assert!(expected > 0 && expected < 400);
    wait_for(&mut h, &format!("gateway total {expected}"));
    let shown = h.state().payouts.result.shown().unwrap();
    assert!(
        shown
            .rows
            .iter()
            .all(|r| (range.from_secs..=range.to_secs).contains(&r.created().unwrap()))
    );
}

#[test]
fn the_export_dialog_writes_every_payout_and_its_manifest() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts");
    wait_for(&mut h, "gateway total 400");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    wait_for(&mut h, "Choose file and export…");
    // CSV, without the memo column, amounts in fen.
    click(&mut h, Role::RadioButton, "CSV (UTF-8, BOM)");
    click(&mut h, Role::RadioButton, "fen");
    click(&mut h, Role::CheckBox, "Memo");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 400 rows");
    assert!(
        h.query_by_label_contains("Matches the gateway's total of 400")
            .is_some()
    );
    let exports = dir.path().join("exports");
    let name = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "csv")
        })
        .unwrap();
    assert!(name.starts_with("payouts_"), "{name}");
    let text = std::fs::read_to_string(exports.join(&name)).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with('\u{feff}'));
    assert!(
        header.contains("Amount (fen)") && !header.contains("Memo"),
        "{header}"
    );
    assert_eq!(text.lines().count(), 401);
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(exports.join(format!("{name}.manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["rows"], 400);
    assert_eq!(manifest["gateway_total"], 400);
    assert_eq!(manifest["profile"]["marker"], "SANDBOX");

    // The batch panel exports its sub-orders the same way.
    h.state_mut().export.open = false;
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269143");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "12 sub-order(s) in ALL");
    click(&mut h, Role::Button, "Export…");
    click(&mut h, Role::RadioButton, "XLSX");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 12 rows");
    assert!(exports.join("batch_M57143269143_all.xlsx").exists());
    assert!(
        exports
            .join("batch_M57143269143_all.xlsx.manifest.json")
            .exists()
    );
}

/// The console's time zone is one setting in the top bar, not the Payouts filter's: the
/// orders tables, the filters and the batches all read it, and it survives a restart.
#[test]
fn the_time_zone_is_chosen_once_in_the_top_bar_for_every_panel() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    let created = h.state().deposits.result.shown().unwrap().rows[0]
        .created()
        .unwrap();
    let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let utc = jiff::tz::TimeZone::UTC;
    wait_for(&mut h, &format_secs(created, &shanghai));
    assert!(
        h.query_by_label_contains("in Gateway time (Asia/Shanghai)")
            .is_some()
    );

    h.get_by_role_and_label(Role::ComboBox, "Time zone").click();
    h.step();
    h.step();
    h.get_by_label("UTC").click();
    h.step();
    h.step();
    assert_eq!(h.state().tz, TzChoice::Utc);
    assert_eq!(h.state().context().tz, TzChoice::Utc);
    wait_for(&mut h, &format_secs(created, &utc));
    assert!(h.query_by_label_contains("in UTC").is_some());
    // Payouts reads the same setting: it has no zone of its own.
    click(&mut h, Role::Button, "Payouts");
    wait_for(&mut h, "page 1 of 16");
    assert!(h.query_by_label_contains("in UTC").is_some());

    let mut saved = super::profiles::MemoryStorage::default();
    eframe::App::save(h.state_mut(), &mut saved);
    let restored = PaydeskApp::new(
        &egui::Context::default(),
        Some(&saved),
        super::init(
            &rt,
            dir.path(),
            std::sync::Arc::new(MemoryStore::default()),
            None,
        ),
    );
    assert_eq!(restored.tz, TzChoice::Utc);
}

/// Loading every page past the console's row limit keeps the first rows, says how many match,
/// and its button opens the export set to every matching order.
#[test]
fn loading_past_the_row_limit_offers_the_export_of_every_order() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts");
    wait_for(&mut h, "gateway total 400");
    h.state_mut().payouts.row_limit = 150;
    click(&mut h, Role::Button, "Load all pages");
    wait_for(
        &mut h,
        "150 of 400 orders loaded; the rest is beyond what the console keeps in memory: export them instead",
    );
    assert_eq!(h.state().payouts.result.shown().unwrap().rows.len(), 150);
    // The dialog was last set to the loaded rows.
    h.state_mut().export.all_pages = false;
    click(&mut h, Role::Button, "Export all 400 orders…");
    wait_for(&mut h, "Choose file and export…");
    assert!(h.state().export.open && h.state().export.all_pages);

    // The loaded rows export too, each order read again from the text its row kept.
    h.state_mut().export.all_pages = false;
    click(&mut h, Role::RadioButton, "CSV (UTF-8, BOM)");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 150 rows");
    let exports = dir.path().join("exports");
    let text = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap();
    assert_eq!(text.lines().count(), 151);
    for row in h.state().payouts.result.shown().unwrap().rows.iter() {
        let line = text.lines().find(|l| l.contains(row.system_id())).unwrap();
        assert!(line.contains(row.signature.word()), "{line}");
    }
}

/// Switching the zone redraws the loaded table at once, its time headers name the zone, and
/// the table and the details show the same time for the same order.
#[test]
fn a_zone_switch_redraws_the_loaded_table_to_agree_with_the_details() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    assert!(h.query_by_label("Created (UTC+8)").is_some());
    let (system_id, created) = {
        let row = &h.state().deposits.result.shown().unwrap().rows[0];
        (row.system_id().to_owned(), row.created().unwrap())
    };
    h.get_by_label(&system_id).click();
    wait_for(&mut h, "Order details");

    h.get_by_role_and_label(Role::ComboBox, "Time zone").click();
    h.step();
    h.step();
    h.get_by_label("UTC").click();
    h.step();
    h.step();
    let utc = format_secs(created, &jiff::tz::TimeZone::UTC);
    assert!(h.query_by_label("Created (UTC)").is_some());
    assert!(h.query_by_label("Updated (UTC)").is_some());
    assert!(
        h.query_all_by_label(&utc).count() > 0,
        "the table's cell, no new search"
    );
    assert!(
        h.query_by_label_contains(&format!("{utc} (UTC)")).is_some(),
        "the details agree"
    );
    // Once, not twice; and with no date range the zone changes nothing the search asks.
    assert!(h.query_by_label(&format!("{utc} (UTC)")).is_some());
    assert!(h.query_by_label_contains("Filter changed").is_none());
    let shanghai = format_secs(created, &jiff::tz::TimeZone::get("Asia/Shanghai").unwrap());
    assert_eq!(h.query_all_by_label(&shanghai).count(), 0);
}

/// A depositor's name with a right-to-left override is shown escaped and flagged, never
/// reordered into another name.
#[test]
fn a_right_to_left_override_in_a_name_is_shown_escaped_and_flagged() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "Load all pages");
    wait_for(&mut h, "all 600 matching orders loaded");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    h.step();
    h.get_by_role_and_label(Role::TextInput, "Quick filter")
        .type_text("gnp.exe");
    h.step();
    h.step();
    let escaped = "\\u{202e}王小明\\u{202c} gnp.exe";
    wait_for(&mut h, escaped);
    assert!(h.query_all_by_label("!").count() > 0, "the warning mark");
    assert_eq!(
        h.query_all_by_label("\u{202e}王小明\u{202c} gnp.exe")
            .count(),
        0
    );
}

/// The rows selected with Ctrl+click export alone from their menu; a filter changed after
/// the search says the rows shown are not what it would find.
#[test]
fn the_selected_rows_export_from_the_row_menu_and_a_changed_filter_is_noticed() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    let ids: Vec<String> = h.state().deposits.result.shown().unwrap().rows[..3]
        .iter()
        .map(|r| r.system_id().to_owned())
        .collect();
    h.state_mut().deposits.click_row(0, egui::Modifiers::NONE);
    h.state_mut()
        .deposits
        .click_row(2, egui::Modifiers::COMMAND);
    h.step();
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::F10);
    // Steps, not `run`: the journal may still be opening (its spinner repaints).
    h.run_steps(4);
    click(&mut h, Role::Button, "Export 2 selected…");
    wait_for(&mut h, "Choose file and export…");
    click(&mut h, Role::RadioButton, "CSV (UTF-8, BOM)");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 2 rows");
    let exports = dir.path().join("exports");
    let text = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains(&ids[0]) && text.contains(&ids[2]) && !text.contains(&ids[1]));

    h.state_mut().export.open = false;
    h.state_mut().deposits.filter.merchant_id = "M-404".into();
    wait_for(&mut h, "Filter changed — press Search");
}

/// With a quick filter narrowing the table to a few rows, the export wrote every loaded row
/// (or every matching order) and its dialog said nothing of the filter.
#[test]
fn the_rows_a_quick_filter_leaves_shown_are_what_the_export_writes() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    let id = h.state().deposits.result.shown().unwrap().rows[1]
        .system_id()
        .to_owned();
    h.state_mut().deposits.narrow(&id, None);
    h.step();
    wait_for(&mut h, "1 of 25 loaded orders shown");
    click(&mut h, Role::Button, "Export…");
    wait_for(&mut h, "1 of 25 loaded rows shown (quick filter");
    click(&mut h, Role::RadioButton, "The rows shown here");
    click(&mut h, Role::RadioButton, "CSV (UTF-8, BOM)");
    click(&mut h, Role::Button, "Choose file and export…");
    wait_for(&mut h, "Wrote 1 rows");
    let exports = dir.path().join("exports");
    let text = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains(&id));
}

/// At 640 pixels the order details took three quarters of the window and the filter's
/// Search button was cut off behind them.
#[test]
fn on_a_narrow_window_the_details_leave_the_search_in_reach() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    h.set_size(egui::vec2(640.0, 600.0));
    wait_for(&mut h, "page 1 of 24");
    let system_id = h.state().deposits.result.shown().unwrap().rows[0]
        .system_id()
        .to_owned();
    h.get_by_label(&system_id).click();
    wait_for(&mut h, "Order details");
    let details = h.get_by_label("Order details").rect();
    let search = h.get_by_role_and_label(Role::Button, "Search").rect();
    assert!(details.min.x >= 300.0, "details from {}", details.min.x);
    assert!(
        search.max.x <= details.min.x,
        "Search {search:?} under the details {details:?}"
    );
}
