//! An orders panel as an operator's daily tool: empty states that say why nothing shows, time
//! headers that name their zone, received text escaped and flagged, several rows selected,
//! row menus from the pointer and the keyboard, and the hand-off to the workbench.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::cny::wire::{Order, OrderKind, OrderQuery, parse_query_reply};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

use super::{Action, LoadedPage, OrdersPanel, PersistedFilter, Reread};
use crate::console::context::{ConsoleContext, TzChoice};
use crate::console::feedback;

const KEY: &str = "daily-test-key";
const HOSTILE: &str = "\u{202e}王小明\u{202c} gnp.exe";

/// Signed deposits as a gateway's reply carries them, one per name.
fn orders(names: &[&str]) -> Vec<Order> {
    let key = Secret::new(KEY);
    let data: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut o: Map<String, Value> = serde_json::from_value(json!({
                "payment_id": format!("PAY0000000{i}"), "payment_cl_id": format!("M-{i}"),
                "payment_cl_name": name, "amount": 1000 + i, "real_amount": 1000 + i, "fee": 0,
                "platform_id": "PF0060", "platform_channel_id": "PFC1", "status": 3, "memo": "",
                "create_time": 1_596_425_140 + i, "update_time": 1_596_425_140 + i
            }))
            .unwrap();
            let sign = sign_object(&o, &key, SignOptions::default());
            o.insert("sign".into(), Value::from(sign));
            serde_json::to_string(&o).unwrap()
        })
        .collect();
    let body = format!(
        r#"{{"error_code":"0000","data":[{}],"total":{}}}"#,
        data.join(","),
        data.len()
    );
    parse_query_reply(
        OrderKind::Deposit,
        &OrderQuery::default(),
        200,
        body.as_bytes(),
        Some(&key),
        SignOptions::default(),
    )
    .unwrap()
    .orders
}

fn loaded(names: &[&str]) -> OrdersPanel {
    let reread = Reread::new(
        OrderKind::Deposit,
        Some(Secret::new(KEY)),
        SignOptions::default(),
    );
    let orders = orders(names);
    let total = orders.len() as u64;
    let mut panel = OrdersPanel::new(OrderKind::Deposit, &PersistedFilter::default());
    let (reply, rx) = tokio::sync::oneshot::channel();
    panel.begin_request(false, rx, None);
    assert!(
        reply
            .send(Ok(LoadedPage::from_orders(orders, total, reread)))
            .is_ok()
    );
    panel.poll();
    panel
}

struct Drawn {
    panel: OrdersPanel,
    cx: ConsoleContext,
    details_open: bool,
    actions: Vec<Action>,
    fonts: bool,
}

/// The panel with its details beside it, as the app lays them out.
fn harness(panel: OrdersPanel, tz: TzChoice) -> Harness<'static, Drawn> {
    let drawn = Drawn {
        panel,
        cx: ConsoleContext {
            tz,
            ..ConsoleContext::default()
        },
        details_open: false,
        actions: Vec::new(),
        fonts: false,
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1500.0, 800.0))
        .build_ui_state(
            |ui, d: &mut Drawn| {
                // Chinese names need the console's fonts, in before anything is drawn.
                if !d.fonts {
                    super::super::fonts::install(ui.ctx());
                    d.fonts = true;
                    return;
                }
                if d.details_open && d.panel.selected_order().is_some() {
                    let mut open = true;
                    egui::Panel::right("details").show(ui, |ui| {
                        d.panel
                            .details_ui(ui, &d.cx, SignOptions::default(), &mut open);
                    });
                }
                let actions = d.panel.ui(ui, &d.cx, &mut d.details_open);
                d.actions.extend(actions);
            },
            drawn,
        );
    h.step();
    h.step();
    h
}

fn click(h: &mut Harness<'_, Drawn>, label: &str) {
    h.get_by_role_and_label(Role::Button, label).click();
    h.step();
    h.step();
}

fn latest_notice(h: &Harness<'_, Drawn>) -> String {
    feedback::latest(&h.ctx).map(|n| n.text).unwrap_or_default()
}

#[test]
fn a_local_filter_hiding_every_loaded_row_says_so_and_shows_all_again() {
    let mut panel = loaded(&["李娜"]);
    panel.only_invalid = true;
    panel.view_dirty = true;
    let mut h = harness(panel, TzChoice::Gateway);
    assert!(
        h.query_by_label("1 order loaded, hidden by: Only invalid signatures —")
            .is_some()
    );
    click(&mut h, "Show all");
    assert!(!h.state().panel.only_invalid);
    assert!(h.query_by_label("李娜").is_some());
}

#[test]
fn an_id_search_turns_off_leftover_local_filters() {
    let mut panel = loaded(&["李娜"]);
    panel.only_invalid = true;
    "nobody".clone_into(&mut panel.quick_filter);
    panel.filter.system_id = "PAY00000000".into();
    let mut h = harness(panel, TzChoice::Gateway);
    click(&mut h, "Search");
    assert_eq!(h.state().actions, vec![Action::Search]);
    assert!(!h.state().panel.only_invalid);
    assert!(h.state().panel.quick_filter.is_empty());
    assert!(
        latest_notice(&h).contains("turned off"),
        "{}",
        latest_notice(&h)
    );
}

#[test]
fn every_table_says_why_it_is_empty() {
    let panel = OrdersPanel::new(OrderKind::Deposit, &PersistedFilter::default());
    let h = harness(panel, TzChoice::Gateway);
    assert!(
        h.query_by_label("No search yet: set the filter and press Search")
            .is_some()
    );
    let h = harness(loaded(&[]), TzChoice::Gateway);
    assert!(h.query_by_label("No orders match this filter").is_some());
}

#[test]
fn a_changed_filter_asks_for_a_new_search() {
    let mut h = harness(loaded(&["李娜"]), TzChoice::Gateway);
    click(&mut h, "Search");
    assert!(h.query_by_label_contains("Filter changed").is_none());
    h.state_mut().panel.filter.merchant_id = "M-9".into();
    h.step();
    assert!(
        h.query_by_label("Filter changed — press Search to show what it finds")
            .is_some()
    );
}

#[test]
fn time_headers_name_their_zone_and_sorting_says_what_it_covers() {
    let mut h = harness(loaded(&["李娜", "王芳"]), TzChoice::Utc);
    assert!(h.query_by_label("Created (UTC)").is_some());
    assert!(h.query_all_by_label("2020-08-03 03:25:40").count() > 0);
    h.state_mut().cx.tz = TzChoice::Gateway;
    h.step();
    assert!(h.query_by_label("Created (UTC+8)").is_some());
    assert!(h.query_by_label("Updated (UTC+8)").is_some());
    assert!(
        h.query_all_by_label("2020-08-03 11:25:40").count() > 0,
        "the loaded rows redrawn in the new zone"
    );
    assert_eq!(h.query_all_by_label("2020-08-03 03:25:40").count(), 0);
    click(&mut h, "Created (UTC+8)");
    assert!(
        h.query_by_label_contains(
            "sorted within this page only: Load all pages to sort every matching order"
        )
        .is_some()
    );
}

#[test]
fn received_text_is_escaped_and_flagged_in_the_table_and_details() {
    let mut h = harness(loaded(&[HOSTILE]), TzChoice::Gateway);
    let escaped = "\\u{202e}王小明\\u{202c} gnp.exe";
    assert!(h.query_by_label(escaped).is_some());
    assert!(h.query_by_label("!").is_some(), "the warning mark");
    assert!(h.query_by_label_contains("王小明\u{202c}").is_none());
    h.get_by_label(escaped).click();
    h.step();
    h.step();
    assert!(h.query_by_label("Order details").is_some());
    assert_eq!(
        h.query_all_by_label(escaped).count(),
        2,
        "the table and the details' field"
    );
}

#[test]
fn ctrl_and_shift_clicks_select_several_rows_and_the_menu_acts_on_them() {
    let mut h = harness(loaded(&["甲", "乙", "丙", "丁"]), TzChoice::Gateway);
    // The details stay shut, so the rows stay where they are between clicks.
    h.state_mut().panel.click_row(0, egui::Modifiers::NONE);
    h.step();
    h.get_by_label("丙").click_modifiers(egui::Modifiers::SHIFT);
    h.step();
    h.state_mut().details_open = false;
    h.step();
    assert_eq!(h.state().panel.selection(), vec![0, 1, 2]);
    h.get_by_label("乙")
        .click_modifiers(egui::Modifiers::COMMAND);
    h.step();
    h.state_mut().details_open = false;
    h.step();
    assert_eq!(h.state().panel.selection(), vec![0, 2]);
    assert!(h.query_by_label_contains("2 selected").is_some());

    // The row menu, from a right click on a selected row: copy both as JSON.
    h.get_by_label("丙").click_secondary();
    h.step();
    h.step();
    click(&mut h, "Copy 2 as JSON");
    assert_eq!(latest_notice(&h), "Copied 2 orders as JSON");
    let json = h.state().panel.rows_json(&[0, 2]);
    let parsed: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.len(), 2);
    let page = h.state().panel.result.shown().unwrap();
    assert!(json.contains(&*page.rows[0].text) && json.contains(&*page.rows[2].text));

    // Ctrl+A, once no field has the keyboard.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    assert_eq!(h.state().panel.selection().len(), 4);
}

#[test]
fn the_keyboard_opens_a_rows_menu_which_hands_the_order_to_the_workbench() {
    let mut h = harness(loaded(&["甲", "乙"]), TzChoice::Gateway);
    h.state_mut().panel.click_row(1, egui::Modifiers::NONE);
    h.step();
    h.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::F10);
    h.step();
    h.step();
    assert!(h.query_by_label("Row actions").is_some());
    click(&mut h, "Open in workbench");
    let text = h.state().panel.result.shown().unwrap().rows[1]
        .text
        .to_string();
    assert_eq!(h.state().actions, vec![Action::OpenInWorkbench(text)]);
    assert!(h.query_by_label("Row actions").is_none(), "the menu closed");

    // The same row's menu searches its merchant order ID over every date.
    h.key_press(egui::Key::Menu);
    h.run();
    click(&mut h, "Search this merchant order ID");
    assert_eq!(h.state().panel.filter.merchant_id, "M-1");
    assert!(!h.state().panel.filter.use_range);
    assert_eq!(h.state().actions.last(), Some(&Action::Search));
}

#[test]
fn the_details_copy_the_order_exactly_as_received() {
    let mut h = harness(loaded(&["李娜"]), TzChoice::Gateway);
    h.get_by_label("李娜").click();
    h.run();
    click(&mut h, "Copy as JSON");
    assert_eq!(latest_notice(&h), "Copied the order as JSON");
    click(&mut h, "Open in workbench");
    let text = h.state().panel.result.shown().unwrap().rows[0]
        .text
        .to_string();
    assert_eq!(h.state().actions, vec![Action::OpenInWorkbench(text)]);
}

#[test]
fn a_disabled_pager_button_says_why() {
    let mut h = harness(loaded(&["李娜"]), TzChoice::Gateway);
    h.get_by_role_and_label(Role::Button, "Previous").hover();
    for _ in 0..30 {
        h.step();
    }
    assert!(h.query_by_label("This is the first page").is_some());
}

#[test]
fn a_date_shortcut_sets_whole_days_in_the_console_zone_and_searches() {
    let mut h = harness(loaded(&["李娜"]), TzChoice::Utc);
    click(&mut h, "Yesterday");
    let (day, _) = paydesk::domain::dates::Shortcut::Yesterday
        .days_at(jiff::Timestamp::now(), &jiff::tz::TimeZone::UTC);
    let f = &h.state().panel.filter;
    assert!(f.use_range);
    assert_eq!((f.from_date, f.to_date), (day, day));
    assert_eq!(
        (f.from_time.as_str(), f.to_time.as_str()),
        ("00:00:00", "23:59:59")
    );
    assert_eq!(h.state().actions, vec![Action::Search]);
    let range = f.range(TzChoice::Utc).unwrap().unwrap();
    assert_eq!(range.to_secs - range.from_secs, 86_399);
}

#[test]
fn rows_hidden_by_a_local_filter_are_not_counted_as_selected() {
    let mut h = harness(loaded(&["张三", "李四", "王五"]), TzChoice::Gateway);
    h.state_mut().panel.select_all();
    h.step();
    assert!(h.query_by_label_contains("3 selected").is_some());
    h.state_mut().panel.quick_filter = "李四".to_owned();
    h.state_mut().panel.view_dirty = true;
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("1 of 3 loaded orders shown")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("selected").is_none(),
        "what a menu acts on is the one row shown, not 3"
    );
    assert_eq!(h.state().panel.selection().len(), 1);
}

#[test]
fn a_selection_export_writes_the_rows_it_was_asked_for_and_never_other_orders() {
    let mut h = harness(loaded(&["甲", "乙", "丙"]), TzChoice::Gateway);
    h.state_mut().panel.click_row(0, egui::Modifiers::NONE);
    h.state_mut().panel.click_row(1, egui::Modifiers::COMMAND);
    h.state_mut().details_open = false;
    h.step();
    h.get_by_label("乙").click_secondary();
    h.step();
    h.step();
    click(&mut h, "Export 2 selected…");
    assert!(h.state().actions.contains(&Action::ExportSelection));
    // The dialog is open; the operator clicks another row before choosing the file.
    h.state_mut().panel.click_row(2, egui::Modifiers::NONE);
    assert_eq!(h.state().panel.rows_to_export(), Ok(vec![0, 1]));
    // A search finishes meanwhile: positions 0 and 1 are other orders now.
    let reread = Reread::new(
        OrderKind::Deposit,
        Some(Secret::new(KEY)),
        SignOptions::default(),
    );
    let fresh = LoadedPage::from_orders(orders(&["丁", "戊", "己"]), 3, reread);
    let (reply, rx) = tokio::sync::oneshot::channel();
    h.state_mut().panel.begin_request(false, rx, None);
    assert!(reply.send(Ok(fresh)).is_ok());
    h.state_mut().panel.poll();
    assert!(h.state().panel.rows_to_export().is_err());
}

#[test]
fn copy_as_json_is_the_text_received_escapes_and_exponents_included() {
    let one = r#"{"payment_id":"PAY1","payment_cl_id":"M-\u0031\"q","payment_cl_name":"\u738b\u202e","amount":1e2,"real_amount":100.0,"fee":0,"platform_id":"PF0060","status":3,"create_time":1596425140,"update_time":1596425140,"sign":"x"}"#;
    let body = format!(r#"{{"error_code":"0000","data":[{one},{one}],"total":2}}"#);
    let orders = parse_query_reply(
        OrderKind::Deposit,
        &OrderQuery::default(),
        200,
        body.as_bytes(),
        None,
        SignOptions::default(),
    )
    .unwrap()
    .orders;
    let reread = Reread::new(OrderKind::Deposit, None, SignOptions::default());
    let mut panel = OrdersPanel::new(OrderKind::Deposit, &PersistedFilter::default());
    let (reply, rx) = tokio::sync::oneshot::channel();
    panel.begin_request(false, rx, None);
    assert!(
        reply
            .send(Ok(LoadedPage::from_orders(orders, 2, reread)))
            .is_ok()
    );
    panel.poll();
    assert_eq!(panel.rows_json(&[0]), one);
    assert_eq!(panel.rows_json(&[0, 1]), format!("[\n{one},\n{one}\n]"));
}

/// An ID typed with "Date range" still ticked from yesterday's work found nothing, and the
/// table said only "No orders match this filter", as if the order did not exist.
#[test]
fn an_id_search_inside_a_date_range_says_the_range_applied() {
    let mut panel = loaded(&[]);
    panel.filter.use_range = true;
    panel.filter.merchant_id = "dep_0002000".into();
    let mut h = harness(panel, TzChoice::Gateway);
    assert!(h.query_by_label_contains("Date range is ticked").is_some());
    click(&mut h, "Search every date");
    assert!(!h.state().panel.filter.use_range);
    assert_eq!(h.state().actions.last(), Some(&Action::Search));
    // Without an ID the range is the point of the search: no such line.
    let mut panel = loaded(&[]);
    panel.filter.use_range = true;
    let h = harness(panel, TzChoice::Gateway);
    assert!(h.query_by_label_contains("Date range is ticked").is_none());
}

/// On a window narrower than the table, the sideways scroll bar lay over the only row: a
/// click on the row's lower half dragged the bar and selected nothing.
#[test]
fn a_click_on_a_short_tables_last_row_selects_it_on_a_narrow_window() {
    let mut h = harness(loaded(&["李娜"]), TzChoice::Gateway);
    h.set_size(egui::vec2(640.0, 600.0));
    h.step();
    h.step();
    let row = h
        .query_all_by_label("2020-08-03 11:25:40")
        .map(|n| n.rect())
        .min_by(|a, b| a.min.x.total_cmp(&b.min.x))
        .unwrap();
    let at = egui::pos2(row.center().x + 40.0, row.max.y - 2.0);
    h.event(egui::Event::PointerMoved(at));
    h.step();
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.step();
    assert_eq!(h.state().panel.selected, Some(0));
}
