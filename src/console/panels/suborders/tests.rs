//! The payouts-by-date panel alone: what it asks of the app, with no app and no gateway.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use jiff::civil::date;

use super::super::test_support::{self, click};
use super::{Action, SubOrderSearch, SubOrdersPanel};
use crate::console::context::{ConsoleContext, TzChoice};

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

fn found(batch: &str, amount: &str, fee: &str) -> paydesk::gateway::gatepay::search::FoundSubOrder {
    let raw = serde_json::json!({"suborder_id": batch, "merchant_withdraw_id": batch,
        "currency": "USDT", "chain": "TRX", "amount": amount, "fee": fee, "done_amount": amount,
        "status": "DONE"});
    let serde_json::Value::Object(raw) = raw else {
        unreachable!()
    };
    paydesk::gateway::gatepay::search::FoundSubOrder {
        batch_id: batch.to_owned(),
        audit_status: None,
        sub: paydesk::gateway::gatepay::wire::SubOrder::from_raw(raw),
    }
}

#[test]
fn amounts_line_up_on_the_right_with_exact_totals_beneath() {
    let mut h = harness(true);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (_ptx, prx) = tokio::sync::mpsc::channel(4);
    h.state_mut().panel.begin(rx, prx, "created today".into());
    tx.send(Ok(vec![
        found("B1", "2362.1", "0.000000012345"),
        found("B2", "1.5", "0.25"),
    ]))
    .unwrap();
    h.state_mut().panel.poll();
    for _ in 0..4 {
        h.step();
    }
    let right = |h: &Harness<'_, Drawn>, label: &str| h.get_by_label(label).rect().max.x;
    let (long, short) = (right(&h, "2362.1"), right(&h, "1.5"));
    assert!((long - short).abs() < 1.0, "{long} vs {short}");
    let fees = (right(&h, "0.000000012345"), right(&h, "0.25"));
    assert!((fees.0 - fees.1).abs() < 1.0, "{fees:?}");
    // 2362.1 + 1.5 and the fees, exactly, under the rows.
    assert!(h.query_by_label("Totals per status and currency").is_some());
    let amount_total = h.get_all_by_label("2363.6").next().unwrap().rect();
    assert!(amount_total.min.y > h.get_by_label("1.5").rect().max.y);
    assert!(h.query_by_label("0.250000012345").is_some());
}
