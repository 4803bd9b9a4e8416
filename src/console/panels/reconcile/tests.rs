//! The Reconcile tab's inputs drawn alone: a mapping that does not fit the ledger says why
//! and keeps Run off; a suggestion fills the boxes; the period is whole days in the zone.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};

use crate::console::context::{ConsoleContext, Marker, TzChoice};
use crate::console::panels::test_support::harness;

use super::*;

fn with_ledger(headers: &[&str]) -> ReconcilePanel {
    let mut panel = ReconcilePanel {
        ledger: Some(LedgerFile {
            name: "ledger.csv".into(),
            path: "ledger.csv".into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            bytes: 100,
        }),
        ..ReconcilePanel::default()
    };
    panel.mapping_loaded(Ok(None));
    // The harness has only Latin fonts: the default words' Chinese ones are left out here.
    panel.form.credited = "paid|success".into();
    panel.form.not_credited = "failed".into();
    panel.form.pending = "pending".into();
    panel
}

fn connected() -> ConsoleContext {
    ConsoleContext {
        profile: Some(("Sandbox".into(), Marker::Sandbox)),
        ..ConsoleContext::default()
    }
}

fn run_disabled<S>(h: &egui_kittest::Harness<'_, S>) -> bool {
    h.get_by_role_and_label(Role::Button, "Run reconciliation")
        .accesskit_node()
        .is_disabled()
}

#[test]
fn unknown_column_names_are_not_guessed_and_keep_run_off() {
    let mut h = harness(
        with_ledger(&["ref", "money", "result", "day"]),
        connected(),
        egui::vec2(1200.0, 900.0),
        ReconcilePanel::ui,
    );
    h.run();
    assert!(
        h.query_by_label_contains("Choose the column that holds each field")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("Mapping: Choose the merchant order id column")
            .is_some()
    );
    assert!(run_disabled(&h));
    {
        let f = &mut h.state_mut().panel.form;
        f.order_id = "ref".into();
        f.amount = "money".into();
        f.status = "result".into();
        f.time = "day".into();
    }
    h.run();
    assert!(h.query_by_label_contains("Mapping:").is_none());
    assert!(!run_disabled(&h));
    // A word in two lists can mean only one thing.
    h.state_mut().panel.form.pending = "pending|paid".into();
    h.run();
    assert!(h.query_by_label_contains("Mapping:").is_some());
    assert!(run_disabled(&h));
}

#[test]
fn well_known_names_are_suggested_and_the_period_is_whole_days_in_the_zone() {
    let panel = with_ledger(&["merchant_order_id", "amount", "status", "time", "fee"]);
    assert_eq!(panel.form.order_id, "merchant_order_id");
    assert_eq!(panel.form.fee, "fee");
    assert!(
        panel
            .mapping_note
            .as_deref()
            .is_some_and(|n| n.starts_with("Suggested"))
    );
    let mut panel = panel;
    panel.from_date = jiff::civil::date(2026, 12, 1);
    panel.to_date = jiff::civil::date(2026, 12, 2);
    let cx = ConsoleContext {
        tz: TzChoice::Utc,
        ..connected()
    };
    let input = panel.run_input(&cx).unwrap();
    assert_eq!(input.period.from_secs, 1_796_083_200);
    assert_eq!(input.period.to_secs, 1_796_083_200 + 2 * 86_400 - 1);
    let shanghai = ConsoleContext {
        tz: TzChoice::Gateway,
        ..connected()
    };
    let input = panel.run_input(&shanghai).unwrap();
    assert_eq!(input.period.from_secs, 1_796_083_200 - 8 * 3600);
    panel.to_date = jiff::civil::date(2026, 11, 30);
    assert!(
        panel.run_input(&cx).is_err(),
        "the first day after the last"
    );
}
