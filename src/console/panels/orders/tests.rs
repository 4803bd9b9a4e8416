//! One orders panel alone, driven as a person would: what it asks of the app, with no app
//! and no gateway.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use paydesk::gateway::cny::wire::OrderKind;

use super::{Action, LoadedPage, OrdersPanel, PersistedFilter};
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
    Harness::new_ui_state(
        |ui, d: &mut Drawn| {
            let actions = d
                .panel
                .ui(ui, &ConsoleContext::default(), &mut d.details_open);
            d.actions.extend(actions);
        },
        drawn,
    )
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
    LoadedPage {
        rows: Vec::new(),
        total,
        all_pages: false,
        note: None,
    }
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
