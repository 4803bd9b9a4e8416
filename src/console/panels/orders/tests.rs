//! One orders panel alone, driven as a person would: what it asks of the app, with no app
//! and no gateway.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use paydesk::gateway::cny::wire::OrderKind;

use super::{Action, OrdersPanel, PersistedFilter};

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
            let actions = d.panel.ui(ui, &mut d.details_open);
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
    let query = h.state().panel.query().unwrap();
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
