//! New payouts, imports and the list of payouts sent, in the whole app against the sandbox.

use std::sync::Arc;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use paydesk::domain::profiles::MemoryStore;

use super::super::PaydeskApp;
use super::super::files::OpenKind;
use super::{
    FakeDialogs, PATIENCE, click, disabled, harness, init, runtime, sandbox_harness,
    sandbox_with_file, wait_for, wait_for_journal,
};

#[test]
fn the_payout_form_checks_sends_and_warns_of_a_duplicate() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    for (label, text, reason) in [
        (
            "Amount (yuan)",
            "12.345",
            "at most 2 decimal places are allowed (found 3)",
        ),
        (
            "Account number",
            "12ab",
            "the account number may contain only digits",
        ),
        ("Notify URL (optional)", "ftp://x", "must be an http(s) URL"),
    ] {
        let field = h.get_by_role_and_label(Role::TextInput, label);
        field.focus();
        field.type_text(text);
        wait_for(&mut h, reason);
    }
    // With problems left, review cannot start.
    click(&mut h, Role::Button, "Review payout…");
    assert!(h.state().payout_form.review.is_none());

    let fill = |h: &mut Harness<'_, PaydeskApp>| {
        let abc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ABC").cloned();
        let f = &mut h.state_mut().payout_form;
        f.amount = "1,234.56".into();
        f.number = "6216 6674 5167 4374".into();
        f.name = "王小头".into();
        f.notify_url.clear();
        f.bank = abc;
    };
    fill(&mut h);
    wait_for(&mut h, "¥1,234.56 = 123456 fen = 壹仟贰佰叁拾肆元伍角陆分");
    let cl_id = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(
        &mut h,
        "No likely duplicate: no payout to the same account for the same amount in the last 7 day(s)",
    );
    assert!(
        h.query_by_label_contains("6216 **** 4374").is_some(),
        "the account is masked"
    );
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, &cl_id);

    // The same account and amount again: held back until ticked "Send anyway".
    click(&mut h, Role::Button, "New payout");
    fill(&mut h);
    h.step();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, &format!("likely duplicate of payout {cl_id}"));
    let cancels = h
        .query_all_by_role_and_label(Role::Button, "Cancel")
        .count();
    assert_eq!(cancels, 1, "one Cancel button");
    click(&mut h, Role::Button, "Cancel");
    assert!(h.state().payout_form.review.is_none());
}

/// A likely duplicate typed again by hand is held back until the
/// operator ticks "Send anyway" for it, within the 7-day window.
#[test]
fn a_duplicate_payout_is_sent_only_once_ticked_and_by_its_own_button() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    let fill = |h: &mut Harness<'_, PaydeskApp>| {
        let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
        let f = &mut h.state_mut().payout_form;
        f.amount = "77.00".into();
        f.number = "6222020200007777".into();
        f.name = "李娜".into();
        f.bank = icbc;
    };
    fill(&mut h);
    h.step();
    let first = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");

    fill(&mut h);
    h.step();
    let second = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, &format!("likely duplicate of payout {first}"));
    // A held payout is sent only by a button of its own, never the normal send's click.
    assert!(
        h.query_by_role_and_label(Role::Button, "Send payout")
            .is_none(),
        "no normal send button beside a likely duplicate"
    );
    assert!(
        disabled(&h, "Send payout despite likely duplicate"),
        "held back until ticked"
    );
    click(&mut h, Role::CheckBox, &format!("Send anyway: {second}"));
    assert!(!disabled(&h, "Send payout despite likely duplicate"));
    click(&mut h, Role::Button, "Send payout despite likely duplicate");
    wait_for(&mut h, &format!("{second}: accepted by the gateway"));
}

/// An import's review lists its held rows, each with its own "Send
/// anyway" tick box; Send is off until every held row is ticked.
#[test]
fn an_import_review_holds_duplicates_until_each_is_ticked() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "merchant order id,amount,bank,name,number
                ktdup1,300.00,ICBC,王小头,6222020200008888
                ktdup2,12.00,ICBC,李娜,6222020200008889
                ktdup3,300,ICBC,王小头,6222 0202 0000 8888
";
    let mut h = sandbox_with_file(&rt, dir.path(), "pay.csv", file.as_bytes());
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import payouts from a file…");
    wait_for(&mut h, "1 likely duplicate(s) held back");
    wait_for(&mut h, "likely duplicate of row 2 of this file (ktdup1)");
    assert!(
        disabled(&h, "Send 3 payouts despite likely duplicate"),
        "nothing is sent until ticked"
    );
    assert!(
        h.query_by_role_and_label(Role::CheckBox, "Send anyway: ktdup1")
            .is_none(),
        "only the later row is held"
    );
    click(&mut h, Role::CheckBox, "Send anyway: ktdup3");
    assert!(!disabled(&h, "Send 3 payouts despite likely duplicate"));
    click(&mut h, Role::CheckBox, "Send anyway: ktdup3");
    assert!(
        disabled(&h, "Send 3 payouts despite likely duplicate"),
        "unticked: off again"
    );
    click(&mut h, Role::CheckBox, "Send anyway: ktdup3");
    click(
        &mut h,
        Role::Button,
        "Send 3 payouts despite likely duplicate",
    );
    wait_for(&mut h, "3 accepted");
}

#[test]
fn check_with_the_gateway_now_shows_badly_signed_replies_in_red_and_settles_nothing() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut init = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    init.sandbox.faults = paydesk::sandbox::Faults::parse("bad-sign=1.0").unwrap();
    let mut h = harness(init);
    wait_for(&mut h, "page 1 of 24");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    let abc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ABC").cloned();
    {
        let f = &mut h.state_mut().payout_form;
        f.amount = "88.00".into();
        f.number = "6216 6674 5167 9911".into();
        f.name = "王小头".into();
        f.notify_url.clear();
        f.bank = abc;
    }
    h.step();
    wait_for(&mut h, "¥88.00 = 8800 fen");
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, "Check with the gateway now");
    click(&mut h, Role::Button, "Check with the gateway now");
    wait_for(
        &mut h,
        "1 payout(s): the gateway's reply failed its signature check",
    );
    wait_for(&mut h, "in progress · unverified");
    let entry = &h.state().sent.entries[0];
    assert!(entry.unverified());
    assert_eq!(entry.gateway_status, None, "no status from a bad sign");
}

/// With held rows not all ticked, the greyed Send button said nothing of why.
#[test]
fn a_greyed_import_send_says_how_many_held_rows_are_ticked() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let file = "amount,bank,name,number
66.60,ABC,钱七,6228480000000000017
66.60,ABC,钱七,6228480000000000017
";
    let mut h = sandbox_with_file(&rt, dir.path(), "pay.csv", file.as_bytes());
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import payouts from a file…");
    wait_for(&mut h, "0 of 1 held row(s) ticked “Send anyway”");
    assert!(disabled(&h, "Send 2 payouts despite likely duplicate"));
    h.get_by_label_contains("Send anyway: bulk_").click();
    h.step();
    h.step();
    assert!(!disabled(&h, "Send 2 payouts despite likely duplicate"));
    assert!(
        h.query_by_label_contains("held row(s) ticked").is_none(),
        "the reason goes once every held row is ticked"
    );
    // Once sent, "held back … nothing is sent" is not left standing.
    click(
        &mut h,
        Role::Button,
        "Send 2 payouts despite likely duplicate",
    );
    wait_for(&mut h, "2 accepted");
    assert!(h.query_by_label_contains("held back").is_none());
    assert!(
        h.query_by_label_contains("1 likely duplicate(s) confirmed “Send anyway”")
            .is_some()
    );
}

/// Importing payouts or sub-orders opened a dialog titled for a notification and listing
/// only JSON or text, so the operator's CSV or XLSX did not show.
#[test]
fn imports_ask_for_a_spreadsheet_not_a_reply() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let asked: Arc<std::sync::Mutex<Vec<OpenKind>>> = Arc::default();
    let mut i = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    i.file_dialogs = Arc::new(FakeDialogs(
        None,
        dir.path().join("exports"),
        Arc::clone(&asked),
    ));
    let mut h = harness(i);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Import payouts from a file…");
    click(&mut h, Role::Button, "New batch");
    click(&mut h, Role::Button, "Import sub-orders from a file…");
    let deadline = std::time::Instant::now() + PATIENCE;
    while asked.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    // The two dialogs open on worker threads: the order they arrive in is not the point.
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.contains(&OpenKind::Payouts), "{asked:?}");
    assert!(asked.contains(&OpenKind::SubOrders), "{asked:?}");
}

/// "Check with the gateway now" with nothing unsettled said "0 checked, 0 found, …",
/// which reads as if the check did not happen.
#[test]
fn a_check_with_nothing_waiting_says_so() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for_journal(&mut h);
    click(&mut h, Role::Button, "Check with the gateway now");
    wait_for(&mut h, "nothing was waiting on the gateway");
    assert!(h.query_by_label_contains("0 checked").is_none());
    // With the background check reporting on the same line, its time says which one it is.
    let line = h
        .get_by_label_contains("Last check at ")
        .accesskit_node()
        .value()
        .or_else(|| {
            h.get_by_label_contains("Last check at ")
                .accesskit_node()
                .label()
        })
        .unwrap_or_default();
    let (time, zone) = line
        .trim_start_matches("Last check at ")
        .split_once(", ")
        .unwrap_or_default();
    // The time names its zone, as every other time in the console does.
    let tz = h.state().time_zone();
    assert!(zone.starts_with(tz.label()), "{tz:?} in {line}");
    assert_eq!(time.len(), 8, "HH:MM:SS in {line}");
}

/// A file dropped on the window, as the console gets it from the windowing system.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Where no file dialog can open (no desktop portal, no zenity: `rfd` reports a cancel),
/// "Import payouts from a file…" did nothing and there was no other way in. A file dropped
/// on the window imports as the button would, on New payout and on New batch.
#[test]
fn a_file_dropped_on_the_window_is_imported() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let payouts = dir.path().join("pay.csv");
    std::fs::write(
        &payouts,
        "amount,bank,name,number\n12.00,ICBC,李娜,6222020200008889\n",
    )
    .unwrap();
    let batch = dir.path().join("subs.csv");
    std::fs::write(
        &batch,
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\nkdrop1,USDT,1.5,TRX,TXyzKtDrop1,,0\n",
    )
    .unwrap();
    // No file from the dialog: it "cannot open".
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    h.input_mut().dropped_files.push(Arc::new(Dropped(payouts)));
    h.step();
    wait_for(&mut h, "File pay.csv");
    wait_for(&mut h, "1 payouts, total ¥12.00");
    click(&mut h, Role::Button, "New batch");
    h.input_mut().dropped_files.push(Arc::new(Dropped(batch)));
    h.step();
    wait_for(&mut h, "from subs.csv");
    assert_eq!(h.state().new_batch.items[0].merchant_withdraw_id, "kdrop1");
}

/// After a restore from an older copy, the review asks the gateway about its payouts since
/// the copy, as the send does: the held payout shows in the review with its "Send anyway"
/// tick, instead of a review that says "No likely duplicate" and a send that refuses.
#[test]
fn after_a_restore_the_review_holds_what_the_send_would_and_it_can_be_ticked() {
    use paydesk::domain::journal::{Journal, RestoreOptions, journal_path, restore};
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let data = dir.path().join("data");
    let path = journal_path(&data);
    let copy = dir.path().join("copy.sqlite3");
    drop(Journal::open(&copy).unwrap());
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(&path, b"").unwrap();
    restore(&path, &copy, "test", RestoreOptions::default()).unwrap();

    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    // The amount of a payout the gateway made in the last day, which the journal cannot know.
    let client = h.state().connection.as_ref().unwrap().cny.clone().unwrap();
    let now = jiff::Timestamp::now().as_second();
    let query = paydesk::gateway::cny::wire::OrderQuery {
        limit: 500,
        created: Some(paydesk::gateway::cny::wire::TimeRange {
            from_secs: now - 86_400 * 6,
            to_secs: now,
        }),
        ..Default::default()
    };
    let page = rt
        .block_on(client.query(paydesk::gateway::cny::wire::OrderKind::Payout, &query))
        .unwrap();
    let amount = page.orders[0].amount.unwrap();
    let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
    {
        let f = &mut h.state_mut().payout_form;
        f.amount = amount.to_string().trim_start_matches('¥').replace(',', "");
        f.number = "6222020200008801".into();
        f.name = "李娜".into();
        f.bank = icbc;
    }
    h.step();
    let cl_id = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "after the journal's restored copy");
    assert!(
        disabled(&h, "Send payout despite likely duplicate"),
        "held back until ticked"
    );
    click(&mut h, Role::CheckBox, &format!("Send anyway: {cl_id}"));
    assert!(!disabled(&h, "Send payout despite likely duplicate"));
    click(&mut h, Role::Button, "Send payout despite likely duplicate");
    wait_for(&mut h, &format!("{cl_id}: accepted by the gateway"));
}

/// Nobody touches the window after a payout is sent: the periodic check wakes the window by
/// itself, so the gateway's final status fills in without a mouse move, and the failed payout
/// reads "failed", never a green "accepted".
#[test]
fn payouts_sent_fills_in_the_gateway_status_with_nobody_touching_the_window() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut app = init(&rt, dir.path(), Arc::new(MemoryStore::default()), None);
    app.sandbox.settle_secs = 1;
    let mut h = super::harness(app);
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
    let f = &mut h.state_mut().payout_form;
    f.amount = "12.00".into();
    // The sandbox fails every payout to an account ending in 4444.
    f.number = "6222020200004444".into();
    f.name = "李娜".into();
    f.bank = icbc;
    h.step();
    let cl_id = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for(&mut h, &cl_id);

    // From here a frame is drawn only when the app asks for one, as a real window does.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let failed = h.state().sent.entries.iter().any(|e| {
            e.payout_cl_id == cl_id && e.outcome() == paydesk::domain::journal::Outcome::Failed
        });
        if failed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway status never filled in"
        );
        let delay = h
            .output()
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map_or(Duration::MAX, |v| v.repaint_delay);
        assert!(
            delay != Duration::MAX,
            "the window went to sleep with a payout unsettled: nothing would redraw it"
        );
        if delay > Duration::ZERO {
            // That long passes with nobody at the window: the app's record of its last check
            // moves back by it, and a little real time passes for the gateway.
            std::thread::sleep(delay.min(Duration::from_millis(100)));
            let app = h.state_mut();
            app.last_reconcile = app.last_reconcile.and_then(|t| t.checked_sub(delay));
        }
        h.step();
    }
    h.step();
    h.step();
    assert!(
        h.query_all_by_label("failed").next().is_some(),
        "the row says failed"
    );
    assert!(
        h.query_all_by_label("accepted").next().is_none(),
        "no “accepted” beside a failed payout"
    );
}

/// The bank list's search takes a click and typing without the list closing, the list
/// scrolls to what the search found, and the click lands on that bank; the bank field says
/// nothing until the list was opened.
#[test]
fn the_bank_search_takes_typing_and_picks_the_bank_it_found() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    assert!(
        h.query_all_by_label_contains("choose a bank from the list")
            .next()
            .is_none(),
        "no error on a field not touched yet"
    );
    click(&mut h, Role::ComboBox, "Bank");
    wait_for(&mut h, "choose a bank from the list");
    click(&mut h, Role::TextInput, "Search banks");
    let search = h.get_by_role_and_label(Role::TextInput, "Search banks");
    search.type_text("招商");
    h.step();
    h.step();
    h.step();
    assert_eq!(
        h.state().payout_form.bank_search,
        "招商",
        "typing reaches the search"
    );
    let bank = h
        .query_all_by_label_contains("招商银行")
        .find(|n| n.accesskit_node().role() != Role::TextInput)
        .expect("the search finds 招商银行");
    bank.click();
    h.step();
    h.step();
    assert_eq!(
        h.state()
            .payout_form
            .bank
            .as_ref()
            .map(|b| b.bank_name.as_str()),
        Some("招商银行")
    );
}

/// A profile with nothing sent says so; a sent payout opens with Enter on its ID, showing its
/// attempts, body hash and audit entries; the gateway-status filter narrows the list.
#[test]
fn a_sent_payout_opens_in_details_and_the_list_filters_by_gateway_status() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "Payouts sent");
    wait_for_journal(&mut h);
    wait_for(&mut h, "No payouts sent from this profile yet");
    click(&mut h, Role::Button, "New payout");
    let icbc = paydesk::gateway::cny::banks::find_bank(&h.state().banks(), "ICBC").cloned();
    let f = &mut h.state_mut().payout_form;
    f.amount = "31.00".into();
    f.number = "6222020200003131".into();
    f.name = "李娜".into();
    f.bank = icbc;
    h.step();
    let cl_id = h.state().payout_form.cl_id.clone();
    click(&mut h, Role::Button, "Review payout…");
    wait_for(&mut h, "No likely duplicate");
    click(&mut h, Role::Button, "Send payout");
    wait_for(&mut h, "accepted by the gateway");
    click(&mut h, Role::Button, "Payouts sent");
    // Not the ID alone: the toast of the send names it before the list is read again.
    wait_for(&mut h, "1 of 1 payouts");
    // A notice may name the payout before the list has it: wait for its row's own label.
    let deadline = std::time::Instant::now() + PATIENCE;
    while h.query_by_label(&cl_id).is_none() && std::time::Instant::now() < deadline {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.get_by_label(&cl_id).focus();
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    wait_for(&mut h, &format!("Payout {cl_id}"));
    wait_for(&mut h, "Body hash (SHA-256)");
    // Its times and the list's column name their zone.
    assert!(h.query_by_label("Created (UTC+8)").is_some());
    assert!(h.query_all_by_label_contains(" (UTC+8)").count() >= 3);
    let hash = h
        .state()
        .sent
        .entries
        .iter()
        .find(|e| e.payout_cl_id == cl_id)
        .and_then(|e| e.body_sha256.clone())
        .unwrap();
    wait_for(&mut h, &hash);
    // The send's audit entry names the payout.
    wait_for(&mut h, "payout submitted");
    assert!(
        h.state()
            .sent
            .details_history
            .as_ref()
            .is_some_and(|a| a.as_ref().is_ok_and(|r| !r.audit.is_empty())),
        "its audit entries are read"
    );
    // Its one attempt: the send, with the short hash of the body sent.
    wait_for(&mut h, "Attempts and checks");
    wait_for(&mut h, &format!("{}…", &hash[..12]));
    let attempts = h
        .state()
        .sent
        .details_history
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .map(|r| r.attempts.clone())
        .unwrap_or_default();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].outcome.as_deref(), Some("accepted"));
    assert_eq!(attempts[0].body_sha256.as_deref(), Some(hash.as_str()));

    h.state_mut().sent.details = None;
    h.state_mut().sent.outcome_filter = paydesk::domain::journal::OutcomeFilter::Failed;
    wait_for(&mut h, "No payout matches these filters");
    h.state_mut().sent.outcome_filter = paydesk::domain::journal::OutcomeFilter::All;
    wait_for(&mut h, &cl_id);
}

/// Enter in the bank search, once it found a single bank, did nothing: the operator had to
/// reach for the mouse.
#[test]
fn enter_in_the_bank_search_picks_the_only_bank_found() {
    let (rt, dir) = (runtime(), tempfile::tempdir().unwrap());
    let mut h = sandbox_harness(&rt, dir.path());
    wait_for(&mut h, "Sandbox — demo data, no real money");
    click(&mut h, Role::Button, "New payout");
    wait_for_journal(&mut h);
    click(&mut h, Role::ComboBox, "Bank");
    click(&mut h, Role::TextInput, "Search banks");
    h.get_by_role_and_label(Role::TextInput, "Search banks")
        .type_text("招商");
    h.step();
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    h.step();
    assert_eq!(
        h.state()
            .payout_form
            .bank
            .as_ref()
            .map(|b| b.bank_name.as_str()),
        Some("招商银行")
    );
}
