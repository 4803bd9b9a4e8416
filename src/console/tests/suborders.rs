//! GatePay payouts by date in the whole app: every page of the sandbox's sub-order search,
//! with exact amounts, exported with each sub-order's batch and audit status.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use paydesk::gateway::gatepay::wire::{BatchRequest, CreateBatchOutcome, WithdrawItem};
use paydesk::money::CryptoAmount;

use super::{click, runtime, sandbox_harness, wait_for};

#[test]
fn payouts_are_found_by_date_across_pages_and_exported() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    let client = h
        .state()
        .connection
        .as_ref()
        .and_then(|c| c.gatepay.clone())
        .unwrap();
    // Six batches of 100 today: more than one page of 500.
    for b in 0..6 {
        let request = BatchRequest {
            batch_id: format!("kt_date_{b}"),
            withdraw_list: (0..100)
                .map(|i| WithdrawItem {
                    merchant_withdraw_id: format!("kd{b}_{i}"),
                    currency: "USDT".to_owned(),
                    amount: CryptoAmount::parse_payout("1.000001").unwrap(),
                    chain: "TRX".to_owned(),
                    address: format!("TXYZd{b}{i:03}1111"),
                    memo: String::new(),
                    fee_type: 0,
                })
                .collect(),
            channel_id: None,
        };
        let prepared = client.prepare_batch(&request).unwrap();
        assert!(matches!(
            rt.block_on(client.send_batch(&prepared)),
            CreateBatchOutcome::Accepted { .. }
        ));
    }
    click(&mut h, Role::Button, "GatePay by date");
    wait_for(&mut h, "Search all pages");
    {
        // Through tomorrow, so a run near midnight in any zone still covers now.
        let p = &mut h.state_mut().suborders;
        p.to_date = jiff::Zoned::now().date().tomorrow().unwrap();
    }
    click(&mut h, Role::Button, "Search all pages");
    wait_for(&mut h, "sub-order(s) created");
    let found = &h.state().suborders.found;
    let mine: Vec<_> = found
        .iter()
        .filter(|f| f.batch_id.starts_with("kt_date_"))
        .collect();
    assert_eq!(mine.len(), 600, "every page was read");
    assert!(found.len() > 500, "{}", found.len());
    assert!(
        h.query_all_by_label("1.000001").next().is_some(),
        "amounts are shown exactly"
    );

    click(&mut h, Role::Button, "Export…");
    wait_for(&mut h, "Choose file and export…");
    click(&mut h, Role::RadioButton, "CSV (UTF-8, BOM)");
    click(&mut h, Role::Button, "Choose file and export…");
    let rows = found_len(&h);
    wait_for(&mut h, &format!("Wrote {rows} rows"));
    let text = std::fs::read_to_string(dir.path().join("exports/gatepay_suborders.csv")).unwrap();
    assert_eq!(text.lines().count(), rows + 1);
    assert!(text.contains("kd5_99"));
    // The search finds payouts without their batch: the export names the batch and the audit.
    let header = text.lines().next().unwrap().trim_start_matches('\u{feff}');
    assert!(
        header.starts_with("Batch ID,Audit status,Audit meaning,Merchant withdraw ID,"),
        "{header}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("kt_date_5,")),
        "each row names its batch"
    );
    let manifest = std::fs::read_to_string(
        dir.path()
            .join("exports/gatepay_suborders.csv.manifest.json"),
    )
    .unwrap();
    assert!(
        manifest.contains(r#""kind": "sub-orders-by-date""#),
        "{manifest}"
    );
}

fn found_len(h: &egui_kittest::Harness<'_, super::super::PaydeskApp>) -> usize {
    h.state().suborders.found.len()
}

/// The date shortcuts set the days in the console's zone; the table says when nothing was
/// searched yet and when the days changed since the search.
#[test]
fn date_shortcuts_set_the_days_and_the_table_says_why_it_is_empty() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "GatePay by date");
    wait_for(
        &mut h,
        "No search yet: choose the days and press Search all pages",
    );
    click(&mut h, Role::Button, "Last month");
    let tz = h.state().tz.zone();
    let (from, to) =
        paydesk::domain::dates::Shortcut::LastMonth.days_at(jiff::Timestamp::now(), &tz);
    assert_eq!(
        (h.state().suborders.from_date, h.state().suborders.to_date),
        (from, to)
    );
    click(&mut h, Role::Button, "Search all pages");
    wait_for(&mut h, "sub-order(s) created");
    click(&mut h, Role::Button, "Today");
    wait_for(&mut h, "Filter changed — press Search all pages");
}
