//! The payouts-by-date panel alone: what it asks of the app, with no app and no gateway.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use jiff::civil::date;

use super::{Action, SubOrderSearch, SubOrdersPanel};
use crate::console::context::{ConsoleContext, TzChoice};
use crate::console::panels::test_support::{self, click};

type Drawn = test_support::Drawn<SubOrdersPanel, Action>;

fn harness(has_gatepay: bool) -> Harness<'static, Drawn> {
    let panel = SubOrdersPanel {
        from_date: date(2026, 11, 1),
        to_date: date(2026, 11, 2),
        ..SubOrdersPanel::default()
    };
    let cx = ConsoleContext {
        has_gatepay,
        tz: TzChoice::Utc,
        ..ConsoleContext::default()
    };
    test_support::harness(panel, cx, egui::vec2(1200.0, 600.0), SubOrdersPanel::ui)
}

#[test]
fn a_search_asks_for_whole_days_to_the_millisecond_with_an_audit_filter() {
    let mut h = harness(true);
    h.step();
    click(&mut h, Role::ComboBox, "Status");
    click(&mut h, Role::Button, "AUDITING");
    click(&mut h, Role::Button, "Search all pages");
    // 2026-11-01T00:00:00Z and 2026-11-02T23:59:59.999Z.
    assert_eq!(
        h.state().actions,
        vec![Action::Search(SubOrderSearch {
            from_ms: 1_793_491_200_000,
            to_ms: 1_793_663_999_999,
            status: None,
            audit_status: Some("AUDITING".into()),
        })]
    );
}

#[test]
fn without_gatepay_credentials_or_results_nothing_is_asked() {
    let mut h = harness(false);
    h.step();
    click(&mut h, Role::Button, "Search all pages");
    click(&mut h, Role::Button, "Export…");
    assert!(h.state().actions.is_empty());
    assert!(
        h.query_by_label_contains("no GatePay credentials")
            .is_some()
    );
}

#[test]
fn a_reversed_range_is_refused_in_the_panel() {
    let mut h = harness(true);
    h.state_mut().panel.from_date = date(2026, 11, 3);
    h.step();
    click(&mut h, Role::Button, "Search all pages");
    assert!(h.state().actions.is_empty());
    assert!(h.query_by_label_contains("after the end date").is_some());
}

#[test]
fn progress_shows_while_loading_and_the_rows_when_done() {
    let mut h = harness(true);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (ptx, prx) = tokio::sync::mpsc::channel(4);
    h.state_mut()
        .panel
        .begin(rx, prx, "created 2026-11-01 to 2026-11-02".into());
    ptx.try_send((500, Some(1200))).unwrap();
    h.state_mut().panel.poll();
    h.step();
    assert!(h.query_by_label("500 of 1200 sub-orders…").is_some());
    tx.send(Ok(Vec::new())).unwrap();
    h.state_mut().panel.poll();
    h.step();
    assert!(
        h.query_by_label("0 sub-order(s) created 2026-11-01 to 2026-11-02")
            .is_some()
    );
}
