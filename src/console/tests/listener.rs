//! "Receive notifications" in the whole app: the built-in sandbox delivers to the console's
//! listener, which records and settles a payout, and the list of payouts sent follows.

use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

use super::{PATIENCE, click, runtime, sandbox_harness, wait_for, wait_for_journal};

#[test]
fn a_payout_is_settled_by_its_notification_received_in_the_console() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "Off: payouts and batches are checked by polling");
    // Any free port: tests run side by side.
    h.state_mut().listener.port = "0".into();
    h.step();
    h.get_by_role_and_label(Role::CheckBox, "Receive notifications")
        .click();
    wait_for(&mut h, "Listening on http://127.0.0.1:");
    assert!(h.query_by_label_contains("for Sandbox").is_some());
    assert!(
        h.query_by_label_contains("fill Allowed addresses to accept others")
            .is_some(),
        "the console names its own field, not the command line's flag"
    );

    click(&mut h, Role::Button, "New payout");
    let abc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ABC").cloned();
    let cl_id = {
        let f = &mut h.state_mut().payout_form;
        f.amount = "66.00".into();
        f.number = "6216 6674 5167 4374".into();
        f.name = "王小头".into();
        f.notify_url.clear();
        f.bank = abc;
        f.cl_id.clone()
    };
    h.step();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    // The sandbox settles it after a few seconds and notifies the listener.
    wait_for(&mut h, "payout settled");
    assert!(
        h.query_all_by_label(&cl_id).next().is_some(),
        "the notification names its payout"
    );
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let settled = h
            .state()
            .sent
            .entries
            .iter()
            .any(|e| e.payout_cl_id == cl_id && e.is_final);
        if settled {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the list never refreshed"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.get_by_role_and_label(Role::CheckBox, "Receive notifications")
        .click();
    wait_for(&mut h, "Off: payouts and batches are checked by polling");
}
