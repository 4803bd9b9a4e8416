//! The payout form alone, driven as a person would: it asks the app for a duplicate check
//! only when the payout is valid and sending is possible, and to send only once the check
//! came back.

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use paydesk::domain::duplicates::{Confirmation, DuplicateReport};
use paydesk::gateway::cny::banks::{default_banks, find_bank};

use super::{PayoutAction, PayoutForm};
use crate::console::context::ConsoleContext;

struct Drawn {
    form: PayoutForm,
    cx: ConsoleContext,
    actions: Vec<PayoutAction>,
}

fn harness(blocked: Option<&str>) -> Harness<'static, Drawn> {
    let mut form = PayoutForm::default();
    form.reset();
    let cx = ConsoleContext {
        banks: default_banks(),
        cny_blocked: blocked.map(str::to_owned),
        ..ConsoleContext::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 700.0))
        .build_ui_state(
            |ui, d: &mut Drawn| {
                let actions = d.form.ui(ui, &d.cx);
                d.actions.extend(actions);
            },
            Drawn {
                form,
                cx,
                actions: Vec::new(),
            },
        );
    // The names and amounts in words are Chinese.
    super::super::fonts::install(&h.ctx);
    h.step();
    h
}

fn fill(h: &mut Harness<'_, Drawn>) {
    let f = &mut h.state_mut().form;
    f.amount = "1,234.56".into();
    f.number = "6216 6674 5167 4374".into();
    f.name = "王小头".into();
    f.bank = find_bank(&default_banks(), "ABC").cloned();
    h.step();
}

fn click(h: &mut Harness<'_, Drawn>, label: &str) {
    h.get_by_role_and_label(Role::Button, label).click();
    h.step();
    h.step();
}

#[test]
fn the_payout_form_asks_for_nothing_until_it_is_valid() {
    let mut h = harness(None);
    click(&mut h, "Review payout…");
    assert!(h.state().actions.is_empty());
    assert!(h.state().form.review.is_none());

    fill(&mut h);
    click(&mut h, "Review payout…");
    let [PayoutAction::CheckDuplicates(request)] = h.state().actions.as_slice() else {
        panic!("expected one duplicate check, got {:?}", h.state().actions);
    };
    assert_eq!(request.amount.fen(), 123_456);
    assert_eq!(request.name, "王小头");
}

#[test]
fn a_blocked_console_keeps_the_payout_form_from_asking() {
    let mut h = harness(Some("Not connected to a gateway"));
    fill(&mut h);
    click(&mut h, "Review payout…");
    assert!(h.state().actions.is_empty());
    assert!(
        h.query_by_label_contains("Not connected to a gateway")
            .is_some()
    );
}

#[test]
fn the_payout_form_submits_only_once_its_duplicate_check_is_back() {
    let mut h = harness(None);
    fill(&mut h);
    click(&mut h, "Review payout…");
    h.state_mut().actions.clear();
    h.run_steps(10);
    click(&mut h, "Send payout");
    assert!(h.state().actions.is_empty(), "the check is not back yet");

    if let Some((_, held)) = &mut h.state_mut().form.review {
        held.report = Some(Ok(DuplicateReport::default()));
    }
    // The modal fades in: let it settle, as a person sees it before clicking.
    h.run_steps(10);
    click(&mut h, "Send payout");
    let [PayoutAction::Submit(request, confirmed)] = h.state().actions.as_slice() else {
        panic!("expected one submit, got {:?}", h.state().actions);
    };
    assert_eq!(request.amount.fen(), 123_456);
    assert_eq!(
        *confirmed,
        Confirmation::Nothing,
        "nothing was held, so nothing was confirmed"
    );
}

#[test]
fn the_bank_picker_finds_a_bank_by_another_of_its_names() {
    let mut h = harness(None);
    h.get_by_role_and_label(Role::ComboBox, "Bank").click();
    h.run_steps(4);
    let search = h.get_by_role_and_label(Role::TextInput, "Search banks");
    search.focus();
    search.type_text("bocom");
    h.run_steps(4);
    let label = "交通银行 · COMM · Bank of Communications";
    assert!(h.query_by_label_contains("中国农业银行").is_none());
    h.get_by_label_contains(label).click();
    h.run_steps(4);
    let bank = h.state().form.bank.as_ref().map(|b| b.code.as_str());
    assert_eq!(bank, Some("COMM"));
    assert!(h.state().actions.is_empty(), "choosing a bank asks nothing");
}

#[test]
fn the_bank_search_takes_a_click_and_typing_as_soon_as_the_list_opens() {
    let mut h = harness(None);
    h.get_by_role_and_label(Role::ComboBox, "Bank").click();
    h.run_steps(4);
    let search = h.get_by_role_and_label(Role::TextInput, "Search banks");
    assert!(search.is_focused(), "the list opens ready to be searched");
    search.type_text("农业");
    h.run_steps(2);
    // A real click into the field, as a mouse user does, keeps the list open.
    h.get_by_role_and_label(Role::TextInput, "Search banks")
        .click();
    h.run_steps(4);
    assert!(h.query_by_label_contains("中国工商银行").is_none());
    h.get_by_label_contains("中国农业银行 · ABC").click();
    h.run_steps(4);
    let bank = h.state().form.bank.as_ref().map(|b| b.code.as_str());
    assert_eq!(bank, Some("ABC"));
    assert!(
        h.query_by_role_and_label(Role::TextInput, "Search banks")
            .is_none(),
        "choosing a bank closes the list"
    );
}

#[test]
fn the_review_shows_the_bank_code_and_id_and_the_notify_url_that_will_be_sent() {
    let mut h = harness(None);
    fill(&mut h);
    h.state_mut().form.notify_url = "https://example.com/notify".into();
    h.step();
    click(&mut h, "Review payout…");
    h.run_steps(10);
    assert!(
        h.query_by_label_contains("中国农业银行 · ABC · Agricultural Bank of China · BK0002")
            .is_some(),
        "a brand sending bank_code or bank_id shows what it sends"
    );
    assert!(h.query_by_label("https://example.com/notify").is_some());
}

/// A journal entry in `state`, for what the lists say about it.
fn journal_entry(state: paydesk::domain::journal::State) -> paydesk::domain::journal::Entry {
    use paydesk::money::Fen;
    paydesk::domain::journal::Entry {
        id: 1,
        merchant: "PF0060@gw".into(),
        payout_cl_id: "c1".into(),
        amount: Fen::from_fen(100),
        bank_name: String::new(),
        recipient_name: String::new(),
        account_masked: String::new(),
        state,
        payout_id: None,
        reject_code: Some("0017".into()),
        reject_meaning: Some("create payout failed".into()),
        reject_message: Some("refused \u{202e}gnp.exe".into()),
        unknown_why: Some("the gateway answered HTTP 502: \u{202e}gnp.exe".into()),
        gateway_status: None,
        gateway_status_label: None,
        is_final: false,
        final_at: None,
        attempts: 1,
        checks: 0,
        next_check_at: None,
        last_sent_at: None,
        body_sha256: None,
        import_id: None,
        import_row: None,
        created_at: 0,
        updated_at: 0,
        unverified_at: None,
        origin: None,
        team: None,
        request: paydesk::gateway::cny::wire::PayoutRequest {
            payout_cl_id: "c1".into(),
            amount: Fen::from_fen(100),
            bank_name: String::new(),
            name: String::new(),
            number: String::new(),
            bank_branch: None,
            province: None,
            city: None,
            notify_url: None,
        },
    }
}

#[test]
fn what_the_gateway_said_about_a_payout_is_shown_escaped() {
    use paydesk::domain::journal::State;
    for state in [State::Rejected, State::Unknown] {
        let detail = super::view::outcome_detail(&journal_entry(state));
        assert!(!detail.contains('\u{202e}'), "{detail}");
        assert!(detail.contains("\\u{202e}gnp.exe"), "{detail}");
    }
}

/// The greyed "Send payout despite likely duplicate" of a payout typed in the form told the
/// operator to "fix the file", though no file was involved.
#[test]
fn a_held_typed_payout_says_what_to_tick_not_to_fix_a_file() {
    let held = super::HeldReview {
        report: Some(Ok(DuplicateReport {
            held: vec![paydesk::domain::duplicates::HeldRow {
                row: None,
                id: "pd_1".into(),
                what: "¥1.00 to 6216 **** 4374".into(),
                earlier: Vec::new(),
                more_earlier: 0,
                confirmed: false,
                unseen: Vec::new(),
                unseen_more: false,
            }],
            held_total: 1,
            unconfirmed_total: 1,
            window_days: 7,
        })),
        ..super::HeldReview::default()
    };
    let why = held.waiting_for().unwrap();
    assert!(why.contains("tick every one to send"), "{why}");
    assert!(!why.contains("file"), "{why}");
}

/// The branch, province and city typed were sent but left out of the review.
#[test]
fn the_review_shows_the_branch_province_and_city_that_will_be_sent() {
    let mut h = harness(None);
    fill(&mut h);
    let f = &mut h.state_mut().form;
    f.branch = "深圳分行".into();
    f.province = "广东".into();
    f.city = "深圳".into();
    h.step();
    click(&mut h, "Review payout…");
    h.run_steps(10);
    for (name, value) in [
        ("Branch", "深圳分行"),
        ("Province", "广东"),
        ("City", "深圳"),
    ] {
        assert!(h.query_by_label(name).is_some(), "{name}");
        assert!(h.query_by_label(value).is_some(), "{value}");
    }
}

/// The details of a payout sent once, left unknown, then checked until found: its four
/// attempts are listed in order, each with its time, hash, HTTP status, code and outcome.
#[test]
fn the_details_of_a_sent_payout_list_every_attempt_and_check() {
    use paydesk::domain::journal::{Attempt, CHECK, SEND, State};
    let attempt = |number: i64, kind: &str, outcome: &str| Attempt {
        number,
        kind: kind.into(),
        started_at: 1_700_000_000 + number * 60,
        body_sha256: (kind == SEND).then(|| "ab12cd34ef56".repeat(5) + "7788"),
        finished_at: Some(1_700_000_001 + number * 60),
        outcome: Some(outcome.into()),
        gateway_code: None,
        code_meaning: None,
        http_status: None,
        summary: Some("what Paydesk read".into()),
        reconstructed: false,
    };
    let mut attempts = vec![
        Attempt {
            http_status: Some(502),
            ..attempt(1, SEND, "unknown")
        },
        attempt(2, CHECK, "not found yet"),
        attempt(3, CHECK, "check failed"),
        Attempt {
            gateway_code: Some("3".into()),
            code_meaning: Some("success".into()),
            ..attempt(4, CHECK, "found")
        },
    ];
    attempts[2].summary = Some("the gateway did not answer in time".into());
    let mut sent = super::PayoutsSent {
        entries: vec![journal_entry(State::Accepted)],
        details: Some("c1".into()),
        details_history: Some(Ok(super::PayoutHistory {
            attempts,
            audit: Vec::new(),
        })),
        ..super::PayoutsSent::default()
    };
    let cx = ConsoleContext::default();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui(move |ui| {
            let _ = sent.ui(ui, &cx);
        });
    h.step();
    h.step();
    assert!(h.query_by_label("Attempts and checks").is_some());
    for word in [
        "unknown",
        "not found yet",
        "check failed",
        "found",
        "502",
        "3 success",
    ] {
        assert!(h.query_by_label(word).is_some(), "{word} is not shown");
    }
    // The send's body hash, short; checks have none.
    assert_eq!(h.query_all_by_label("ab12cd34ef56…").count(), 1);
    // In the order they happened, one below the other.
    let tops: Vec<f32> = ["unknown", "not found yet", "check failed", "found"]
        .iter()
        .map(|w| h.get_by_label(w).rect().top())
        .collect();
    assert!(tops.windows(2).all(|p| p[0] < p[1]), "{tops:?}");
}

/// "Send anyway" confirms a held row against the matches the review showed, not by name
/// alone: the domain then holds it again when another match appeared before the send.
#[test]
fn a_ticked_row_is_confirmed_against_the_matches_shown() {
    use paydesk::domain::duplicates::{Earlier, HeldRow, Seen};
    use std::collections::HashMap;
    let row = HeldRow {
        row: Some(2),
        id: "pd_a".into(),
        what: "¥515.00 to 6222 **** 1001".into(),
        earlier: vec![Earlier::SameFile {
            row: 1,
            id: "pd_x".into(),
        }],
        more_earlier: 0,
        confirmed: false,
        unseen: Vec::new(),
        unseen_more: false,
    };
    let report = DuplicateReport {
        held: vec![row.clone()],
        held_total: 1,
        unconfirmed_total: 1,
        window_days: 7,
    };
    let mut held = super::HeldReview {
        report: Some(Ok(report)),
        ..super::HeldReview::default()
    };
    assert_eq!(held.confirmation(), Confirmation::Nothing);
    held.ticked.insert("pd_a".into());
    assert_eq!(
        held.confirmation(),
        Confirmation::Ids(HashMap::from([("pd_a".to_owned(), Seen::shown(&row))]))
    );
}

/// A file held again at the send shows what the send found: the row with a match it was
/// not ticked against is unticked, so "Send" waits for a new review; the others stay ticked.
#[test]
fn a_file_held_again_at_the_send_is_reviewed_against_what_the_send_found() {
    use paydesk::domain::duplicates::{Earlier, HeldRow};
    let row = |id: &str, confirmed: bool, unseen: Vec<String>| HeldRow {
        row: Some(2),
        id: id.into(),
        what: "¥515.00 to 6222 **** 1001".into(),
        earlier: vec![Earlier::SameFile {
            row: 1,
            id: "pd_x".into(),
        }],
        more_earlier: 0,
        confirmed,
        unseen,
        unseen_more: false,
    };
    let mut bulk = super::BulkImport::default();
    bulk.held.ticked = ["pd_a".to_owned(), "pd_c".to_owned()].into();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (_progress, progress_rx) = tokio::sync::mpsc::channel(1);
    bulk.begin_sending(rx, progress_rx);
    let found = DuplicateReport {
        held: vec![
            row("pd_a", false, vec!["payout pd_b of ¥515.00".into()]),
            row("pd_c", true, Vec::new()),
        ],
        held_total: 2,
        unconfirmed_total: 1,
        window_days: 7,
    };
    tx.send(Ok(super::BulkEnd::Held(Box::new(found)))).unwrap();
    let said = bulk.poll_sending().expect("the send ended");
    assert!(
        said.contains("a new likely duplicate appeared since the review: payout pd_b"),
        "{said}"
    );
    assert!(!bulk.is_sending());
    assert_eq!(bulk.held.ticked, ["pd_c".to_owned()].into());
    assert!(!bulk.held.ready(), "pd_a waits for a new tick");
}
