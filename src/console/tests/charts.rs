//! The overview charts in the whole app, over rows loaded from the sandbox: a click on a bar
//! narrows the table to it, the chip clears it, and a batch's chart shows and narrows too.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use paydesk::domain::overview::{CLASSES, Pick, class_word};

use super::{click, runtime, sandbox_harness, wait_for};
use crate::console::PaydeskApp;
use crate::console::panels::charts::{BATCH, CHANNELS, DAILY};

/// A press and release of the primary button at `pos`, as a person clicks.
fn click_at(h: &mut Harness<'_, PaydeskApp>, pos: egui::Pos2) {
    h.hover_at(pos);
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.step();
}

/// The first bar segment with something in it: (bar, segment, its centre).
fn first_segment(
    h: &Harness<'_, PaydeskApp>,
    title: &str,
    batch: bool,
) -> (usize, usize, egui::Pos2) {
    let charts = if batch {
        &h.state().batches.charted.charts
    } else {
        &h.state().deposits.charted.charts
    };
    let drawn = charts.drawn.get(title).expect("the chart was drawn");
    for (i, heights) in drawn.stacks.iter().enumerate() {
        for (s, height) in heights.iter().enumerate() {
            if *height > 0.0 {
                return (i, s, drawn.bar_center(i, s).unwrap());
            }
        }
    }
    panic!("the chart {title} has no bars");
}

#[test]
fn a_click_on_a_bar_narrows_the_table_and_the_chip_clears_it() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "Load all pages");
    wait_for(&mut h, "all 600 matching orders loaded");
    click(&mut h, Role::Button, "Charts");
    wait_for(&mut h, DAILY);
    assert!(h.query_all_by_label(CHANNELS).next().is_some());

    let (bar, segment, pos) = first_segment(&h, DAILY, false);
    // Hovering the bar shows its exact count and sum in yuan.
    h.hover_at(pos);
    wait_for(&mut h, " order(s) · ¥");
    click_at(&mut h, pos);
    let pick = h
        .state()
        .deposits
        .charted
        .pick
        .clone()
        .expect("the click picked a bar");
    let Pick::Day { date, class, .. } = &pick else {
        panic!("a daily bar picks a day: {pick:?}");
    };
    assert_eq!(*class, CLASSES[segment]);
    let want = format!("Filtered by chart: {date} · {}", class_word(*class));
    wait_for(&mut h, &want);

    // Exactly the orders of that bar are shown, and as many as the bar counts.
    let zone = h.state().time_zone().zone();
    let shown: Vec<_> = h
        .state()
        .deposits
        .visible_rows()
        .map(|r| {
            (
                r.created(),
                r.status(paydesk::gateway::cny::wire::OrderKind::Deposit)
                    .class(),
            )
        })
        .collect();
    assert!(!shown.is_empty());
    for (created, c) in &shown {
        assert_eq!(c, class);
        let day = paydesk::domain::overview::day_of(created.unwrap(), &zone).unwrap();
        assert_eq!(day, *date);
    }
    let drawn = &h.state().deposits.charted.charts.drawn[DAILY];
    #[allow(clippy::cast_precision_loss)]
    let counted = shown.len() as f64;
    assert!(
        (drawn.stacks[bar][segment] - counted).abs() < 0.5,
        "the bar counts what is shown"
    );
    wait_for(
        &mut h,
        &format!("{} of 600 loaded orders shown", shown.len()),
    );

    click(&mut h, Role::Button, "×");
    wait_for(&mut h, "600 of 600 loaded orders shown");
    assert!(h.query_by_label_contains("Filtered by chart").is_none());
    assert!(h.state().deposits.charted.pick.is_none());
    assert!(
        h.query_by_label_contains("Charts of all 600 matching orders")
            .is_some()
    );

    // The numbers behind the daily chart, saved where the operator says.
    click(
        &mut h,
        Role::Button,
        "Export daily orders by status numbers (CSV)…",
    );
    wait_for(&mut h, "Saved the chart's numbers to");
    let saved = dir
        .path()
        .join("exports/deposits-daily-orders-by-status.csv");
    let text = std::fs::read_to_string(&saved).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("\u{feff}date,zone,status,orders,amount_fen,amount_yuan,orders_without_amount")
    );
    let orders: u64 = lines
        .map(|l| l.split(',').nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(orders, 600, "every dated order is in the file once");

    // A channel's bar narrows the table to that channel.
    let (_, _, pos) = first_segment(&h, CHANNELS, false);
    click_at(&mut h, pos);
    let Some(Pick::Channel(channel)) = h.state().deposits.charted.pick.clone() else {
        panic!("a channel's bar picks the channel");
    };
    wait_for(&mut h, &format!("Filtered by chart: channel {channel}"));
    assert!(
        h.state()
            .deposits
            .visible_rows()
            .all(|r| *r.channel == *channel)
    );
}

#[test]
fn a_batch_chart_shows_its_totals_and_narrows_the_sub_orders() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269144");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "6 sub-order(s) in ALL");
    click(&mut h, Role::Button, "Charts");
    wait_for(&mut h, BATCH);
    let (_, _, pos) = first_segment(&h, BATCH, true);
    click_at(&mut h, pos);
    let (currency, status) = h
        .state()
        .batches
        .charted
        .pick
        .clone()
        .expect("the click picked a bar");
    wait_for(&mut h, &format!("Filtered by chart: {currency} · {status}"));
    // A sub-order of another currency or status is no longer in the table.
    let other = h
        .state()
        .batches
        .rows
        .iter()
        .find(|r| r.sub.currency != currency || r.sub.status.as_str() != status)
        .map(|r| r.sub.suborder_id.clone());
    let kept = h
        .state()
        .batches
        .rows
        .iter()
        .find(|r| r.sub.currency == currency && r.sub.status.as_str() == status)
        .map(|r| r.sub.suborder_id.clone())
        .unwrap();
    assert!(h.query_by_label(&kept).is_some());
    if let Some(other) = other {
        assert!(
            h.query_by_label(&other).is_none(),
            "{other} is filtered out"
        );
        click(&mut h, Role::Button, "×");
        wait_for(&mut h, &other);
    }
}
