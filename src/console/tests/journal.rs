//! The payout journal missing, empty or damaged: what the operator sees and what stays off.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

use std::sync::Arc;

use paydesk::domain::duplicates::DuplicateWindow;
use paydesk::domain::profiles::{GatewayKind, MemoryStore};

use super::{click, disabled, harness, init, runtime, sandbox_harness, wait_for, wait_for_journal};

/// The app on the sandbox with an empty journal file, showing New payout and its way out.
fn on_an_empty_journal(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
) -> (
    std::path::PathBuf,
    egui_kittest::Harness<'static, crate::console::PaydeskApp>,
) {
    let journal = dir.join("data").join("journal.sqlite3");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"").unwrap();
    let mut h = sandbox_harness(rt, dir);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "paydesk journal restore");
    (journal, h)
}

#[test]
fn an_empty_journal_blocks_sending_and_says_how_to_recover() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let (journal, mut h) = on_an_empty_journal(&rt, dir.path());
    assert!(
        h.query_all_by_label_contains("empty (0 bytes)")
            .next()
            .is_some()
    );
    assert!(
        h.query_all_by_label_contains("nothing can be sent: the payout journal")
            .next()
            .is_none(),
        "“nothing can be sent” is said once, not twice in one sentence"
    );
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "empty (0 bytes)");
    assert!(h.state().journal.is_none());
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        0,
        "never replaced"
    );
}

#[test]
fn a_damaged_journal_still_lists_what_reads_and_sends_nothing() {
    use paydesk::domain::journal::{Intent, Journal, State};
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let path = dir.path().join("data").join("journal.sqlite3");
    {
        let mut j = Journal::open(&path).unwrap();
        for (i, id) in ["READS_FINE_1", "BROKEN_ROW_2"].iter().enumerate() {
            j.record_intents(
                &[Intent {
                    merchant: "PF0060@127.0.0.1:1".into(),
                    origin: None,
                    request: paydesk::gateway::cny::wire::PayoutRequest {
                        payout_cl_id: (*id).to_owned(),
                        amount: paydesk::money::Fen::from_fen(12_345),
                        bank_name: "中国工商银行".into(),
                        name: "张伟".into(),
                        number: format!("622202021234567{i}"),
                        bank_branch: None,
                        province: None,
                        city: None,
                        notify_url: None,
                    },
                    state: State::Queued,
                    import: None,
                }],
                1_000,
            )
            .unwrap();
        }
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE payouts SET state = 'bogus' WHERE payout_cl_id = 'BROKEN_ROW_2'",
        [],
    )
    .unwrap();
    drop(conn);
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "READS_FINE_1");
    assert!(h.query_by_label_contains("unknown state bogus").is_some());
    assert!(h.state().journal.is_none(), "nothing can be sent");
    assert!(
        h.state()
            .send_blocker(paydesk::domain::profiles::GatewayKind::Cny)
            .is_some_and(|b| b.contains("paydesk journal restore"))
    );
}

// What tripped a new operator up in a real window.

/// A damaged journal's message beside the send buttons ran off the window's edge on one
/// line, hiding the way out; and "Import payouts from a file…" did nothing, silently.
#[test]
fn a_damaged_journal_message_fits_beside_every_send_button() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let (_, h) = on_an_empty_journal(&rt, dir.path());
    let width = 1500.0;
    let messages: Vec<egui::Rect> = h
        .query_all_by_label_contains("paydesk journal restore")
        .map(|n| n.rect())
        .collect();
    assert_eq!(messages.len(), 2, "beside Review payout… and the import");
    for r in messages {
        assert!(
            r.right() <= width,
            "the way out is cut off at the window's edge: {r:?}"
        );
    }
    assert!(
        disabled(&h, "Import payouts from a file…"),
        "a click that cannot be done is off, not silently dropped"
    );
}

/// "Check with the gateway now" writes what it learns to the journal: on a damaged journal it
/// is off, like the send buttons, and says why on hover.
#[test]
fn check_with_the_gateway_now_is_off_on_a_damaged_journal() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let journal = dir.path().join("data").join("journal.sqlite3");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"").unwrap();
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "empty (0 bytes)");
    assert!(disabled(&h, "Check with the gateway now"));
}

/// A refused `PAYDESK_DUPLICATE_WINDOW_DAYS` (0 would turn the likely-duplicate check off)
/// used to become 7 days without a word; like a damaged journal, it now keeps anything from
/// being sent until it is fixed, and both send forms say why.
#[test]
fn a_refused_duplicate_window_blocks_sending_and_says_why() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut init = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    init.duplicate_window = DuplicateWindow::resolve(None, |_| Some("0".to_owned()));
    let mut h = harness(init);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "New payout");
    wait_for(&mut h, "PAYDESK_DUPLICATE_WINDOW_DAYS is “0”");
    assert!(disabled(&h, "Review payout…"));
    click(&mut h, Role::Button, "New batch");
    wait_for(&mut h, "PAYDESK_DUPLICATE_WINDOW_DAYS is “0”");
    assert!(disabled(&h, "Review batch…"));
    assert!(
        h.state()
            .send_blocker(GatewayKind::Gatepay)
            .is_some_and(|why| why.contains("from 1 to 366")),
    );
}

/// The sandbox takes another port each time it starts: the payouts and batches sent before
/// still show after a restart, and a payout to the same account for the same amount is still
/// held as a likely duplicate.
#[test]
fn sent_history_survives_a_sandbox_restart_on_another_port() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let batch_file = "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                rs1,USDT,10.5,TRX,TXyzRestart00000000000000000001,,0\n";
    let fill = |h: &mut egui_kittest::Harness<'_, crate::console::PaydeskApp>| {
        let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
        let f = &mut h.state_mut().payout_form;
        f.amount = "66.00".into();
        f.number = "6222020200006666".into();
        f.name = "李娜".into();
        f.bank = icbc;
    };
    let port = |h: &egui_kittest::Harness<'_, crate::console::PaydeskApp>| {
        let c = h.state().connection.as_ref().unwrap();
        c.cny.as_ref().unwrap().config().base_url.port().unwrap()
    };
    let (cl_id, first_port) = {
        let mut h = super::sandbox_with_file(&rt, dir.path(), "batch.csv", batch_file.as_bytes());
        click(&mut h, Role::Button, "New payout");
        wait_for_journal(&mut h);
        fill(&mut h);
        h.step();
        let cl_id = h.state().payout_form.cl_id.clone();
        click(&mut h, Role::Button, "Review payout…");
        wait_for(&mut h, "No likely duplicate");
        click(&mut h, Role::Button, "Send payout");
        wait_for(&mut h, "accepted by the gateway");
        click(&mut h, Role::Button, "New batch");
        h.state_mut().new_batch.batch_id = "kt_restart_1".into();
        click(&mut h, Role::Button, "Import sub-orders from a file…");
        wait_for(&mut h, "from batch.csv");
        click(&mut h, Role::Button, "Review batch…");
        wait_for(&mut h, "No likely duplicate");
        click(&mut h, Role::Button, "Send batch");
        wait_for(&mut h, "Open in batch detail");
        (cl_id, port(&h))
    };
    // The old port is taken now (by another program, as happens), so the sandbox starts on
    // another one.
    // The old sandbox may still be winding down: the port is taken as soon as it is free.
    let deadline = std::time::Instant::now() + super::PATIENCE;
    let _taken = loop {
        match rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", first_port))) {
            Ok(listener) => break listener,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    assert_ne!(port(&h), first_port);
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, &cl_id);
    click(&mut h, Role::Button, "New batch");
    wait_for(&mut h, "kt_restart_1");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    fill(&mut h);
    h.step();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, &format!("likely duplicate of payout {cl_id}"));
}
