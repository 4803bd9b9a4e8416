//! GatePay batches in the whole app: looking one up, reviewing and sending a new one.

use std::sync::Arc;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use paydesk::domain::profiles::MemoryStore;

use super::{
    click, disabled, harness, init, runtime, sandbox_harness, sandbox_with_file, wait_for,
    wait_for_journal,
};

/// The same sub-orders under a new batch ID are held in the New batch
/// review until each is ticked.
#[test]
fn a_batch_review_holds_sub_orders_of_an_earlier_batch() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type
                kd1,USDT,10.5,TRX,TXyzKtDup1,,0
                kd2,USDT,0.25,TRX,TXyzKtDup2,,0
";
    let mut h = sandbox_with_file(&rt, dir.path(), "batch.csv", file.as_bytes());
    click(&mut h, Role::Button, "New batch");
    wait_for_journal(&mut h);
    h.state_mut().new_batch.batch_id = "kt_dup_1".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send batch");
    wait_for(&mut h, "Open in batch detail");

    // The same file under a new batch ID.
    h.state_mut().new_batch.batch_id = "kt_dup_2".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "2 likely duplicate(s) held back");
    wait_for(&mut h, "sub-order kd1 of batch kt_dup_1");
    // Held sub-orders are sent only by a button of their own, never the normal send's click.
    assert!(
        h.query_by_role_and_label(Role::Button, "Send batch")
            .is_none()
    );
    let despite = "Send batch despite likely duplicate";
    assert!(disabled(&h, despite));
    click(&mut h, Role::CheckBox, "Send anyway: kd1");
    assert!(disabled(&h, despite), "one of two ticked");
    click(&mut h, Role::CheckBox, "Send anyway: kd2");
    assert!(!disabled(&h, despite));
    click(&mut h, Role::Button, despite);
    wait_for(&mut h, "Open in batch detail");
    let sent = h.state().new_batch.result.clone().unwrap().unwrap();
    assert_eq!(sent.batch_id, "kt_dup_2");
}

#[test]
fn the_batch_panel_filters_by_status_and_flags_stuck_sub_orders() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269144");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "Batch M57143269144");
    wait_for(&mut h, "6 sub-order(s) in ALL");
    // The seeded CHECK and PROCESSING sub-orders have sat there for three hours.
    wait_for(&mut h, "2 sub-order(s) stuck");
    assert_eq!(h.query_all_by_label("STUCK").count(), 2);

    click(&mut h, Role::Button, "Check");
    wait_for(&mut h, "1 sub-order(s) in CHECK");
    let rows = &h.state().batches.rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].sub.status, "CHECK");
    assert!(rows[0].stuck.is_some());
    assert_eq!(h.query_all_by_label("STUCK").count(), 1);

    click(&mut h, Role::Button, "Fail");
    wait_for(&mut h, "1 sub-order(s) in FAIL");
    wait_for(&mut h, "address is not valid for this chain");
    assert!(h.query_by_label_contains("sub-order(s) stuck").is_none());

    // A longer threshold clears the flag.
    click(&mut h, Role::Button, "All");
    wait_for(&mut h, "6 sub-order(s) in ALL");
    h.get_by_label("Stuck after").set_value_accesskit(600.0);
    h.step();
    h.step();
    assert_eq!(h.state().batches.stuck_minutes, 600);
    assert!(h.query_by_label_contains("sub-order(s) stuck").is_none());
    // The batch is remembered for the picker.
    assert_eq!(h.state().batches.recent[0], "M57143269144");
}

#[test]
fn a_batch_is_reviewed_with_its_totals_and_sent_through_the_journal() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                k1,USDT,10.5,TRX,TXyzKittest1,,0\n\
                k2,USDT,0.25,TRX,TXyzKittest2,,0\n\
                k3,BTC,0.001,BTC,bc1qkittest,,1\n";
    let mut h = sandbox_with_file(&rt, dir.path(), "batch.csv", file.as_bytes());
    click(&mut h, Role::Button, "New batch");
    h.state_mut().new_batch.batch_id = "kt_batch_1".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    wait_for(&mut h, "3 sub-order(s): 0.001 BTC (1), 10.75 USDT (2)");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "Send this batch?");
    assert!(h.query_by_label("10.75").is_some());
    // "Send batch" is off until the duplicate check is in: a click before it is lost.
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send batch");
    wait_for(&mut h, "Open in batch detail");
    // The batches sent name the zone of their time, given to the second as everywhere else.
    wait_for(&mut h, "Created (UTC+8)");
    assert_eq!(h.query_all_by_label_contains(".000").count(), 0);
    let sent = h.state().new_batch.result.clone().unwrap().unwrap();
    assert_eq!(sent.batch_id, "kt_batch_1");
    assert_eq!(sent.state, paydesk::domain::journal::State::Accepted);
    assert_eq!(sent.sub_orders, 3);
    click(&mut h, Role::Button, "Open in batch detail");
    wait_for(&mut h, "Batch kt_batch_1");
    wait_for(&mut h, "3 sub-order(s) in ALL");
}

#[test]
fn without_a_journal_batches_are_looked_up_but_nothing_is_sent() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut setup = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    setup.data_dir = None;
    let mut h = harness(setup);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    // Looking a batch up needs no journal.
    click(&mut h, Role::Button, "GatePay batches");
    h.get_by_label("Batch ID").click();
    h.get_by_label("Batch ID").type_text("M57143269144");
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "6 sub-order(s) in ALL");
    // Sending does, and the operator is told why it is not possible.
    click(&mut h, Role::Button, "New batch");
    wait_for(
        &mut h,
        "The payout journal cannot be opened, so nothing can be sent",
    );
    assert!(h.query_by_label_contains("no data directory").is_some());
    click(&mut h, Role::Button, "New payout");
    wait_for(
        &mut h,
        "The payout journal cannot be opened, so nothing can be sent",
    );
    assert!(
        h.query_by_label_contains("Payouts need an active CNY gateway profile")
            .is_none()
    );
}

/// A click lands where the operator saw the button: the journal opening in the very frame
/// of the click (its notice going away) must not move the batch form under the pointer. This
/// was the cause of a CI failure ("from batch.csv" never appeared).
#[test]
fn the_batch_form_does_not_move_when_the_journal_opens() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                k1,USDT,10.5,TRX,TXyzKittest1,,0\n";
    let mut h = sandbox_with_file(&rt, dir.path(), "batch.csv", file.as_bytes());
    wait_for_journal(&mut h);
    // The form as it looks while the journal is still opening…
    let journal = h.state_mut().journal.take();
    click(&mut h, Role::Button, "New batch");
    wait_for(&mut h, "Opening the payout journal");
    h.get_by_role_and_label(Role::Button, "Import sub-orders from a file…")
        .click();
    // …and the journal opens before the click is taken.
    h.state_mut().journal = journal;
    wait_for(&mut h, "from batch.csv");
    assert!(
        h.query_by_label_contains("Opening the payout journal")
            .is_none()
    );
}

/// The New batch grid left every field as narrow as its header: the Address column showed
/// four characters of the address about to be paid. And its review, with nothing held,
/// spoke of "the same account", the CNY rule, as if sub-orders were not compared at all.
#[test]
fn a_new_batch_shows_whole_addresses_and_names_the_sub_order_rule() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let address = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf";
    let file = format!(
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\nkw1,USDT,125.5,TRX,{address},,0\n"
    );
    let mut h = sandbox_with_file(&rt, dir.path(), "batch.csv", file.as_bytes());
    click(&mut h, Role::Button, "New batch");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    let field = h
        .query_all_by_role(Role::TextInput)
        .find(|n| n.accesskit_node().value().as_deref() == Some(address))
        .map(|n| n.rect())
        .expect("the address field");
    // 34 monospace characters take about 260 points at the default size.
    assert!(
        field.width() >= 300.0,
        "the address field is cut to {} points",
        field.width()
    );
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "No likely duplicate");
    assert!(
        h.query_by_label_contains("the same address, currency and amount")
            .is_some()
    );
    assert!(h.query_by_label_contains("the same account").is_none());
}

/// The review before sending lists every row with its address, amount, currency and chain:
/// it listed only totals, so a wrong address could not be caught there.
#[test]
fn the_batch_review_lists_every_row_with_its_address() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                r1,USDT,10.5,TRX,TXyzReviewAddress0000000000000001,,0\n\
                r2,BTC,0.001,BTC,bc1qreviewaddress00000000000002,,1\n";
    let mut h = sandbox_with_file(&rt, dir.path(), "batch.csv", file.as_bytes());
    click(&mut h, Role::Button, "New batch");
    h.state_mut().new_batch.batch_id = "kt_review_1".into();
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "Send this batch?");
    for address in [
        "TXyzReviewAddress0000000000000001",
        "bc1qreviewaddress00000000000002",
    ] {
        // The form's field behind the review is named "Address, row N": this is the review.
        assert!(
            h.query_all_by_label(address).next().is_some(),
            "the review shows {address}"
        );
    }
    for text in ["r1", "r2", "0.001", "BTC"] {
        assert!(
            h.query_all_by_label(text).next().is_some(),
            "the review shows {text}"
        );
    }
}

/// The review cut the ends of full-length addresses off at the edge of its window, where the
/// operator checks them.
#[test]
fn the_batch_review_shows_whole_addresses() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let address = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8";
    let file = format!(
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
         kw1,USDT,25.5,TRX,{address},,0\n"
    );
    let mut h = sandbox_with_file(&rt, dir.path(), "batch.csv", file.as_bytes());
    h.set_size(egui::vec2(1280.0, 800.0));
    click(&mut h, Role::Button, "New batch");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    wait_for(&mut h, "from batch.csv");
    click(&mut h, Role::Button, "Review batch…");
    wait_for(&mut h, "No likely duplicate");
    let shown = h
        .query_all_by_label(address)
        .map(|n| n.rect())
        .max_by(|a, b| a.min.y.total_cmp(&b.min.y))
        .unwrap();
    let review = h
        .ctx
        .memory(|m| m.area_rect(egui::Id::unique("batch_review")))
        .unwrap();
    assert!(
        shown.max.x <= review.right(),
        "address ends at {} past the review's edge {}",
        shown.max.x,
        review.right()
    );
}

/// A fresh New batch form greeted the operator with red "enter an amount" and "address:
/// required" lines before anything was typed.
#[test]
fn a_fresh_batch_form_asks_for_sub_orders_without_red_errors() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New batch");
    wait_for(
        &mut h,
        "Type each sub-order's amount and address, or import a file",
    );
    assert!(h.query_by_label_contains("required").is_none());
    assert!(h.query_by_label_contains("enter an amount").is_none());
    h.state_mut().new_batch.items[0].amount = "25.5".into();
    wait_for(&mut h, "row 1, address: required");
}
