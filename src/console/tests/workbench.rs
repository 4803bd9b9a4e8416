//! The workbench in the whole app: an upper-case CNY `sign` is valid with a warning, and a
//! GatePay payout callback is read beside its verdict.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::gatepay::sign::signature;

use super::{click, runtime, sandbox_harness, wait_for};

#[test]
fn the_workbench_warns_of_an_upper_case_sign_and_reads_a_gatepay_callback() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    let info = h.state().sandbox.as_ref().unwrap().info.clone();
    click(&mut h, Role::Button, "Signature workbench");
    wait_for(&mut h, "Paste a withdraw notification");
    let mut note = serde_json::json!({
        "payout_id": "POT00000777", "platform_id": info.cny.platform_id, "amount": 400_000,
        "status": 3, "create_time": 1_567_614_049
    });
    let serde_json::Value::Object(fields) = &note else {
        unreachable!()
    };
    let sign = sign_object(fields, &info.cny.md5_key, SignOptions::default()).to_uppercase();
    note["sign"] = serde_json::Value::from(sign);
    h.state_mut().workbench.cny_text = note.to_string();
    click(&mut h, Role::Button, "Verify");
    wait_for(&mut h, "1 valid with a warning");
    assert!(h.query_by_label("valid, with a warning").is_some());
    assert!(h.query_by_label_contains("upper-case hex").is_some());

    click(&mut h, Role::Button, "GatePay callback");
    let body = r#"{"bizType":"WITHDRAW","data":{"main_order":{"batch_id":"B77","status":"PARTIAL","pay_back_status":"YES"},"suborders":[{"suborder_id":"1","merchant_withdraw_id":"w1","currency":"USDT","chain":"TRX","address":"TXa","amount":10.000001,"fee":0.5,"status":"DONE"},{"suborder_id":"2","merchant_withdraw_id":"w2","currency":"USDT","chain":"TRX","address":"TXb","amount":3,"fee":0,"status":"FAIL"}]}}"#;
    let ts = jiff::Timestamp::now().as_millisecond().to_string();
    let sig = signature(&info.gatepay.secret, &ts, "nonce-1", body.as_bytes());
    {
        let w = &mut h.state_mut().workbench;
        w.gp_timestamp = ts;
        w.gp_nonce = "nonce-1".into();
        w.gp_signature = sig;
        w.gp_body = body.into();
    }
    h.step();
    click(&mut h, Role::Button, "Verify");
    wait_for(&mut h, "Payout callback");
    assert!(
        h.query_by_label_contains("batch B77  status PARTIAL")
            .is_some()
    );
    assert!(h.query_by_label_contains("pay_back_status YES").is_some());
    assert!(h.query_by_label_contains("10.000001 USDT").is_some());
    assert!(
        h.query_by_label_contains("3 USDT on TRX  fee 0  FAIL")
            .is_some()
    );
}

/// An order goes from the table to the workbench as received and checks valid there; the
/// workbench names the profile it checked with and warns of another merchant's order.
#[test]
fn an_order_opens_in_the_workbench_which_names_its_profile_and_a_foreign_merchant() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    let (system_id, text) = {
        let row = h
            .state()
            .deposits
            .result
            .shown()
            .unwrap()
            .rows
            .iter()
            .find(|r| !r.signature.is_invalid())
            .unwrap();
        (row.system_id().to_owned(), row.text.to_string())
    };
    h.get_by_label(&system_id).click();
    wait_for(&mut h, "Order details");
    click(&mut h, Role::Button, "Open in workbench");
    wait_for(&mut h, "1 object checked, 0 invalid");
    assert_eq!(h.state().workbench.cny_text, text, "exactly as received");
    let info = h.state().sandbox.as_ref().unwrap().info.clone();
    let profile = h.state().context().profile_name().unwrap().to_owned();
    wait_for(
        &mut h,
        &format!(
            "Checked with the MD5 key of profile “{profile}” (merchant {})",
            info.cny.platform_id
        ),
    );
    assert!(
        h.query_by_label_contains("is not this profile's merchant")
            .is_none()
    );

    // Another merchant's notification: the workbench says so beside its verdict.
    let mut note = serde_json::json!({
        "payout_id": "POT00000778", "platform_id": "PF9999", "amount": 100, "status": 3
    });
    let serde_json::Value::Object(fields) = &note else {
        unreachable!()
    };
    note["sign"] = sign_object(fields, &info.cny.md5_key, SignOptions::default()).into();
    h.state_mut().workbench.cny_text = note.to_string();
    click(&mut h, Role::Button, "Verify");
    wait_for(&mut h, "platform_id PF9999 is not this profile's merchant");
}
