//! Tests of the reconciliation: every rule of the classification table, the sums and their
//! identity, the work file's pages and filter, the export and its manifest.

use std::path::Path;

use proptest::prelude::*;

mod export;

use super::classify::{Rules, decide};
use super::*;
use crate::domain::export::{AmountUnit, ExportFormat};
use crate::gateway::cny::wire::{OrderKind, OrderStatus};
use crate::money::Fen;

const FROM: i64 = 1_000_000;
const TO: i64 = 1_086_399;
const KIND: OrderKind = OrderKind::Deposit;
// Deposit status codes: 0 pending, 1 processing, 2 success, 3 cancelled, 4 failed.
const SUCCESS: i64 = 2;
const CANCELLED: i64 = 3;
const FAILED: i64 = 4;
const PROCESSING: i64 = 1;

fn mapping(fee: bool, compare_with: CompareWith) -> Mapping {
    Mapping {
        order_id: "id".into(),
        amount: "amount".into(),
        status: "status".into(),
        time: "time".into(),
        fee: fee.then(|| "fee".into()),
        unit: AmountUnit::Yuan,
        compare_with,
        credited: vec!["paid".into()],
        not_credited: vec!["failed".into()],
        pending: vec!["pending".into()],
    }
}

fn rules() -> Rules {
    Rules {
        period: Period {
            from_secs: FROM,
            to_secs: TO,
        },
        compare_with: CompareWith::Amount,
        fee_mapped: false,
    }
}

fn record(mapping: Mapping) -> RunRecord {
    RunRecord {
        kind: KIND,
        period: Period {
            from_secs: FROM,
            to_secs: TO,
        },
        from_date: "1970-01-12".into(),
        to_date: "1970-01-13".into(),
        timezone: "UTC".into(),
        margin_secs: DEFAULT_MARGIN_SECS,
        mapping,
        ledger_file: "ledger.csv".into(),
    }
}

fn l(id: &str, yuan: i64, status: LedgerStatus, time_secs: i64) -> LedgerRow {
    LedgerRow {
        row: 2,
        order_id: id.into(),
        amount: Fen::from_fen(yuan * 100),
        status,
        status_text: match status {
            LedgerStatus::Credited => "paid",
            LedgerStatus::NotCredited => "failed",
            LedgerStatus::Pending => "pending",
        }
        .into(),
        time_secs,
        fee: None,
    }
}

fn g(system_id: &str, yuan: i64, code: i64, create: i64) -> GatewaySide {
    GatewaySide {
        system_id: system_id.into(),
        amount: Some(Fen::from_fen(yuan * 100)),
        real_amount: Some(Fen::from_fen(yuan * 100)),
        fee: Some(Fen::ZERO),
        status: OrderStatus::new(KIND, code),
        create_time_secs: Some(create),
        update_time_secs: Some(create + 60),
        signature_valid: true,
        text: format!(r#"{{"payment_id":"{system_id}","amount":"{yuan}"}}"#),
    }
}

const IN: i64 = FROM + 3600;
const BEFORE: i64 = FROM - 3600;
const AFTER: i64 = TO + 3600;

fn class_of(l: Option<&LedgerRow>, g: Option<&GatewaySide>) -> Option<Class> {
    decide(l, g, &rules()).map(|(c, _)| c)
}

#[test]
fn both_sides_agreeing_are_matched() {
    use LedgerStatus::{Credited, NotCredited, Pending};
    let pairs = [
        (Credited, SUCCESS),
        (NotCredited, FAILED),
        (NotCredited, CANCELLED),
        (Pending, PROCESSING),
    ];
    for (ls, code) in pairs {
        assert_eq!(
            class_of(Some(&l("A", 10, ls, IN)), Some(&g("P", 10, code, IN))),
            Some(Class::Matched),
            "{ls:?} {code}"
        );
    }
    // Not credited at both ends with different amounts: no money moved, still matched.
    assert_eq!(
        class_of(
            Some(&l("A", 10, NotCredited, IN)),
            Some(&g("P", 99, FAILED, IN))
        ),
        Some(Class::Matched)
    );
}

#[test]
fn amounts_differ_by_one_fen_or_by_fee_or_when_missing() {
    let mut gw = g("P", 10, SUCCESS, IN);
    gw.amount = Some(Fen::from_fen(999));
    let (class, detail) = decide(
        Some(&l("A", 10, LedgerStatus::Credited, IN)),
        Some(&gw),
        &rules(),
    )
    .unwrap();
    assert_eq!(class, Class::AmountDiffers);
    assert_eq!(detail, "ledger ¥10.00, gateway amount ¥9.99");

    gw.amount = None;
    assert_eq!(
        class_of(Some(&l("A", 10, LedgerStatus::Credited, IN)), Some(&gw)),
        Some(Class::AmountDiffers),
        "a missing compared amount is never matched"
    );

    // Compared with what arrived.
    let mut real = rules();
    real.compare_with = CompareWith::RealAmount;
    let mut gw = g("P", 10, SUCCESS, IN);
    gw.real_amount = Some(Fen::from_fen(900));
    let ledger = l("A", 10, LedgerStatus::Credited, IN);
    assert_eq!(
        decide(Some(&ledger), Some(&gw), &real).unwrap().0,
        Class::AmountDiffers
    );
    assert_eq!(
        decide(Some(&ledger), Some(&gw), &rules()).unwrap().0,
        Class::Matched
    );

    // The fee, when mapped.
    let mut fee = rules();
    fee.fee_mapped = true;
    let mut ledger = l("A", 10, LedgerStatus::Credited, IN);
    ledger.fee = Some(Fen::from_fen(50));
    let gw = g("P", 10, SUCCESS, IN);
    let (class, detail) = decide(Some(&ledger), Some(&gw), &fee).unwrap();
    assert_eq!(class, Class::AmountDiffers);
    assert_eq!(detail, "fee: ledger ¥0.50, gateway ¥0.00");
    assert_eq!(
        decide(Some(&ledger), Some(&gw), &rules()).unwrap().0,
        Class::Matched,
        "an unmapped fee is not compared"
    );
}

#[test]
fn statuses_that_disagree_differ_both_ways() {
    use LedgerStatus::{Credited, NotCredited, Pending};
    for (ls, code) in [
        (Credited, FAILED),
        (Credited, CANCELLED),
        (Credited, PROCESSING),
        (NotCredited, SUCCESS),
        (Pending, SUCCESS),
        (Pending, FAILED),
        (Credited, 9),
        (NotCredited, 9),
        (Pending, 9),
    ] {
        assert_eq!(
            class_of(Some(&l("A", 10, ls, IN)), Some(&g("P", 10, code, IN))),
            Some(Class::StatusDiffers),
            "{ls:?} {code}"
        );
    }
    let (_, detail) = decide(
        Some(&l("A", 10, Credited, IN)),
        Some(&g("P", 10, FAILED, IN)),
        &rules(),
    )
    .unwrap();
    assert_eq!(
        detail,
        "the ledger says \"paid\" (credited), the gateway says failed"
    );
}

#[test]
fn both_sides_across_an_edge_are_edge_cases() {
    let credited = |t| l("A", 10, LedgerStatus::Credited, t);
    for (lt, gt) in [
        (IN, BEFORE),
        (BEFORE, IN),
        (IN, AFTER),
        (AFTER, IN),
        (BEFORE, AFTER),
    ] {
        assert_eq!(
            class_of(Some(&credited(lt)), Some(&g("P", 10, SUCCESS, gt))),
            Some(Class::Edge),
            "{lt} {gt}"
        );
    }
    let (_, detail) = decide(
        Some(&credited(IN)),
        Some(&g("P", 10, SUCCESS, BEFORE)),
        &rules(),
    )
    .unwrap();
    assert_eq!(
        detail,
        "both sides agree (¥10.00, success); the ledger booked it in the period, the gateway \
         created it before the period"
    );
    // Across the edge the two sides are still compared: a wrong amount or status shows.
    assert_eq!(
        class_of(Some(&credited(AFTER)), Some(&g("P", 12, SUCCESS, IN))),
        Some(Class::AmountDiffers)
    );
    assert_eq!(
        class_of(
            Some(&l("A", 10, LedgerStatus::NotCredited, IN)),
            Some(&g("P", 10, SUCCESS, BEFORE))
        ),
        Some(Class::StatusDiffers)
    );
    // The period's bounds are inclusive.
    assert_eq!(
        class_of(Some(&credited(FROM)), Some(&g("P", 10, SUCCESS, TO))),
        Some(Class::Matched)
    );
}

#[test]
fn only_in_the_ledger() {
    assert_eq!(
        class_of(Some(&l("A", 10, LedgerStatus::Credited, IN)), None),
        Some(Class::MissingAtGateway)
    );
    assert_eq!(
        class_of(Some(&l("A", 10, LedgerStatus::NotCredited, IN)), None),
        Some(Class::MissingAtGateway)
    );
    assert_eq!(
        class_of(Some(&l("A", 10, LedgerStatus::Credited, AFTER)), None),
        Some(Class::Edge)
    );
}

#[test]
fn only_at_the_gateway() {
    assert_eq!(
        class_of(None, Some(&g("P", 10, SUCCESS, IN))),
        Some(Class::MissingInLedger)
    );
    let mut late = g("P", 10, SUCCESS, TO - 10);
    late.update_time_secs = Some(TO + 5);
    let (class, detail) = decide(None, Some(&late), &rules()).unwrap();
    assert_eq!(class, Class::Edge, "settled after the end");
    assert!(detail.contains("settled after its end"), "{detail}");
    for code in [FAILED, CANCELLED, PROCESSING, 9] {
        assert_eq!(
            class_of(None, Some(&g("P", 10, code, IN))),
            Some(Class::NoMoney),
            "{code}"
        );
    }
    for t in [BEFORE, AFTER] {
        assert_eq!(
            class_of(None, Some(&g("P", 10, SUCCESS, t))),
            None,
            "margin only: in no class"
        );
    }
    // Created before the period and settled in it, never booked: the money arrived in this
    // period, and this period's ledger lacks it.
    let mut settled_in = g("P", 10, SUCCESS, BEFORE);
    settled_in.update_time_secs = Some(IN);
    assert_eq!(
        class_of(None, Some(&settled_in)),
        Some(Class::MissingInLedger)
    );
    settled_in.status = OrderStatus::new(KIND, FAILED);
    assert_eq!(class_of(None, Some(&settled_in)), None, "no money moved");
}

#[test]
fn an_invalid_signature_is_never_matched() {
    let mut bad = g("P", 10, SUCCESS, IN);
    bad.signature_valid = false;
    assert_eq!(
        class_of(Some(&l("A", 10, LedgerStatus::Credited, IN)), Some(&bad)),
        Some(Class::InvalidSignature)
    );
    assert_eq!(class_of(None, Some(&bad)), Some(Class::InvalidSignature));
    bad.create_time_secs = Some(BEFORE);
    assert_eq!(
        class_of(None, Some(&bad)),
        Some(Class::InvalidSignature),
        "even in the margins"
    );
}

#[test]
fn class_words_and_differences() {
    for c in Class::ALL {
        assert_eq!(Class::from_id(c.id()), Some(c));
        assert_eq!(serde_json::to_value(c).unwrap(), c.id());
    }
    let differences: Vec<_> = Class::ALL
        .into_iter()
        .filter(|c| c.is_difference())
        .collect();
    assert_eq!(
        differences,
        [
            Class::AmountDiffers,
            Class::StatusDiffers,
            Class::MissingAtGateway,
            Class::MissingInLedger,
            Class::InvalidSignature,
            Class::Duplicate
        ]
    );
    assert_eq!(Class::AmountDiffers.label(), "Amount differs");
}

/// A work file from rows at hand.
fn run(
    dir: &Path,
    ledger: Vec<LedgerRow>,
    gateway: Vec<(&str, GatewaySide)>,
) -> (Workfile, Report) {
    reconcile_rows(
        &dir.join("work.sqlite"),
        &record(mapping(false, CompareWith::Amount)),
        ledger,
        gateway.into_iter().map(|(id, g)| (id.to_owned(), g)),
        "ab".repeat(32),
    )
    .unwrap()
}

fn total(report: &Report, class: Class) -> &ClassTotal {
    report.total(class).unwrap()
}

fn assert_identity(report: &Report) {
    let parts: i64 = report.classes.iter().map(|t| t.difference().fen()).sum();
    assert_eq!(parts, report.difference().fen(), "{report:#?}");
}

#[test]
fn duplicates_on_either_side_take_every_row_of_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut second = l("D1", 5, LedgerStatus::Credited, IN);
    second.row = 3;
    let (file, report) = run(
        dir.path(),
        vec![
            l("D1", 10, LedgerStatus::Credited, IN),
            second,
            l("D2", 7, LedgerStatus::Credited, IN),
            l("M", 1, LedgerStatus::Credited, IN),
        ],
        vec![
            ("D1", g("P1", 10, SUCCESS, IN)),
            ("D2", g("P2", 7, SUCCESS, IN)),
            ("D2", g("P3", 7, SUCCESS, IN)),
            ("M", g("P4", 1, SUCCESS, IN)),
        ],
    );
    let dup = total(&report, Class::Duplicate);
    assert_eq!((dup.count, dup.ledger_rows, dup.gateway_orders), (2, 3, 3));
    assert_eq!(dup.ledger, Fen::from_fen(2200));
    assert_eq!(dup.gateway, Fen::from_fen(2400));
    assert_eq!(total(&report, Class::Matched).count, 1);
    assert!(!report.all_matched());
    assert_identity(&report);
    let rows = file.page(Some(Class::Duplicate), "", 0, 100).unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows[0].detail,
        "the ID appears 2 times in the ledger and once at the gateway (ledger row 2)"
    );
    assert!(
        rows.iter()
            .all(|r| r.ledger.is_some() != r.gateway.is_some())
    );
    assert_eq!(rows[4].gateway.as_ref().unwrap().system_id, "P2");
}

#[test]
fn sums_explain_the_difference_to_the_fen() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run(
        dir.path(),
        vec![
            l("A", 100, LedgerStatus::Credited, IN),
            l("B", 120, LedgerStatus::Credited, IN),
            l("C", 50, LedgerStatus::Credited, IN),
            l("E", 30, LedgerStatus::Credited, IN),
        ],
        vec![
            ("A", g("P1", 100, SUCCESS, IN)),
            ("B", g("P2", 100, SUCCESS, IN)),
            ("D", g("P3", 40, SUCCESS, IN)),
            ("E", g("P4", 30, SUCCESS, BEFORE)),
            ("F", g("P5", 70, SUCCESS, AFTER)),
            ("G", g("P6", 10, FAILED, IN)),
        ],
    );
    assert_eq!(report.ledger_sum, Fen::from_fen(30_000));
    assert_eq!(report.gateway_sum, Fen::from_fen(24_000));
    assert_eq!(report.ledger_rows, 4);
    assert_eq!(report.gateway_orders, 6);
    let amount = total(&report, Class::AmountDiffers);
    assert_eq!(
        (amount.count, amount.difference()),
        (1, Fen::from_fen(2000))
    );
    assert_eq!(
        total(&report, Class::MissingAtGateway).ledger,
        Fen::from_fen(5000)
    );
    assert_eq!(
        total(&report, Class::MissingInLedger).gateway,
        Fen::from_fen(4000)
    );
    let edge = total(&report, Class::Edge);
    assert_eq!(
        (edge.count, edge.ledger, edge.gateway),
        (1, Fen::from_fen(3000), Fen::ZERO)
    );
    assert_eq!(total(&report, Class::NoMoney).count, 1);
    let counted: u64 = report.classes.iter().map(|t| t.gateway_orders).sum();
    assert_eq!(counted, 5, "the margin-only order is in no class");
    assert_identity(&report);
    let lines = report.explanation();
    assert!(
        lines.contains(
            &"Amount differs: 1 ID, ledger ¥120.00, gateway ¥100.00, adds +¥20.00".to_owned()
        ),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().unwrap(),
        "Sum of the parts: +¥60.00 = ledger ¥300.00 \u{2212} gateway ¥240.00"
    );
    assert!(!lines.iter().any(|l| l.starts_with("Invalid signature")));
}

#[test]
fn pages_are_ordered_filtered_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let ledger: Vec<LedgerRow> = (0..25)
        .map(|i| l(&format!("ORD-{i:03}"), 10, LedgerStatus::Credited, IN))
        .collect();
    let gateway: Vec<(String, GatewaySide)> = (0..25)
        .filter(|i| i % 5 != 0)
        .map(|i| {
            (
                format!("ORD-{i:03}"),
                g(
                    &format!("SYS{i}"),
                    if i % 2 == 0 { 10 } else { 9 },
                    SUCCESS,
                    IN,
                ),
            )
        })
        .collect();
    let (file, report) = reconcile_rows(
        &dir.path().join("w.sqlite"),
        &record(mapping(false, CompareWith::Amount)),
        ledger,
        gateway,
        String::new(),
    )
    .unwrap();
    assert_identity(&report);
    assert_eq!(file.count(None, "").unwrap(), 25);
    assert_eq!(file.count(Some(Class::MissingAtGateway), "").unwrap(), 5);
    assert_eq!(file.count(Some(Class::AmountDiffers), "").unwrap(), 10);
    assert_eq!(file.count(None, "ord-01").unwrap(), 10);
    assert_eq!(file.count(None, "sys13").unwrap(), 1);
    assert_eq!(file.count(None, "GATEWAY AMOUNT ¥9.00").unwrap(), 10);
    let page = file.page(None, "", 10, 5).unwrap();
    let ids: Vec<_> = page.iter().map(|d| d.order_id.as_str()).collect();
    assert_eq!(ids, ["ORD-010", "ORD-011", "ORD-012", "ORD-013", "ORD-014"]);
    assert_eq!(page[0].class, Class::MissingAtGateway);
    assert_eq!(page[0].difference, Fen::from_fen(1000));
    assert_eq!(page[1].class, Class::AmountDiffers);
    assert_eq!(page[1].difference, Fen::from_fen(100));
    assert_eq!(
        page[1].gateway.as_ref().unwrap().text,
        r#"{"payment_id":"SYS11","amount":"9"}"#
    );
    assert!(file.page(None, "", 25, 5).unwrap().is_empty());
    let class_page = file.page(Some(Class::AmountDiffers), "", 8, 5).unwrap();
    assert_eq!(class_page.len(), 2);
}

#[test]
fn a_work_file_opens_with_its_report_and_without_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run(
        dir.path(),
        vec![l("A", 1, LedgerStatus::Credited, IN)],
        vec![("A", g("P", 1, SUCCESS, IN))],
    );
    let file = Workfile::open(&dir.path().join("work.sqlite")).unwrap();
    assert_eq!(file.report().unwrap(), report);
    assert!(report.all_matched());
    assert_eq!(file.page(None, "", 0, 10).unwrap()[0].class, Class::Matched);

    let path = dir.path().join("half.sqlite");
    let half = Workfile::create(&path, &record(mapping(false, CompareWith::Amount))).unwrap();
    drop(half);
    let err = Workfile::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("not the work file of a finished reconciliation"),
        "{err}"
    );
    let err = Workfile::open(&dir.path().join("none.sqlite"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no work file"), "{err}");
    std::fs::write(dir.path().join("junk.sqlite"), b"not a database").unwrap();
    assert!(Workfile::open(&dir.path().join("junk.sqlite")).is_err());
}

#[test]
fn the_gateway_hash_is_of_the_texts_sorted_by_system_id() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run(
        dir.path(),
        vec![],
        vec![
            ("B", g("P2", 1, SUCCESS, IN)),
            ("A", g("P1", 1, SUCCESS, IN)),
        ],
    );
    let expect = format!(
        "{}\n{}\n",
        g("P1", 1, SUCCESS, IN).text,
        g("P2", 1, SUCCESS, IN).text
    );
    assert_eq!(report.gateway_sha256, hex::encode(Sha256::digest(expect)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// On any mix of rows, every ledger row is in exactly one class, every gateway order in
    /// the period too, and the parts add up to the difference exactly.
    #[test]
    fn the_parts_add_up_on_any_set(
        ledger in proptest::collection::vec((0u8..30, 0i64..500, 0u8..3, 0u8..3), 0..60),
        gateway in proptest::collection::vec((0u8..30, 0i64..500, 0i64..6, 0u8..3, any::<bool>(), any::<bool>()), 0..60),
    ) {
        let at = |w: u8| match w { 0 => BEFORE, 1 => IN, _ => AFTER };
        let ledger_rows: Vec<LedgerRow> = ledger
            .iter()
            .enumerate()
            .map(|(i, &(id, amount, status, when))| {
                let status = [LedgerStatus::Credited, LedgerStatus::NotCredited, LedgerStatus::Pending][status as usize];
                let mut row = l(&format!("O{id}"), amount, status, at(when));
                row.row = i + 2;
                row
            })
            .collect();
        let gateway_rows: Vec<(String, GatewaySide)> = gateway
            .iter()
            .enumerate()
            .map(|(i, &(id, amount, code, when, valid, missing))| {
                let mut side = g(&format!("S{i}"), amount, code, at(when));
                side.signature_valid = valid || i % 3 != 0;
                if missing { side.amount = None; }
                (format!("O{id}"), side)
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let (file, report) = reconcile_rows(
            &dir.path().join("w.sqlite"),
            &record(mapping(false, CompareWith::Amount)),
            ledger_rows.clone(),
            gateway_rows.clone(),
            String::new(),
        ).unwrap();
        let parts: i64 = report.classes.iter().map(|t| t.difference().fen()).sum();
        prop_assert_eq!(parts, report.difference().fen());
        let ledger_sum: i64 = ledger_rows.iter()
            .filter(|r| r.status == LedgerStatus::Credited && (FROM..=TO).contains(&r.time_secs))
            .map(|r| r.amount.fen()).sum();
        prop_assert_eq!(report.ledger_sum.fen(), ledger_sum);
        let gateway_sum: i64 = gateway_rows.iter()
            .filter(|(_, s)| s.status.code == Some(SUCCESS) && (FROM..=TO).contains(&s.create_time_secs.unwrap()))
            .map(|(_, s)| s.amount.map_or(0, Fen::fen)).sum();
        prop_assert_eq!(report.gateway_sum.fen(), gateway_sum);
        let l_rows: u64 = report.classes.iter().map(|t| t.ledger_rows).sum();
        prop_assert_eq!(l_rows, ledger_rows.len() as u64);
        let g_rows: u64 = report.classes.iter().map(|t| t.gateway_orders).sum();
        prop_assert!(g_rows <= gateway_rows.len() as u64);
        let in_period = gateway_rows.iter().filter(|(_, s)| (FROM..=TO).contains(&s.create_time_secs.unwrap())).count() as u64;
        prop_assert!(g_rows >= in_period);
        let ids: u64 = report.classes.iter().map(|t| t.count).sum();
        prop_assert_eq!(file.count(None, "").unwrap() >= ids, true);
        prop_assert!(report.total(Class::Matched).unwrap().count <= ids);
    }
}

#[test]
fn each_window_has_its_own_folder_and_ended_ones_are_cleared() {
    let base = tempfile::tempdir().unwrap();
    let mine = super::run::process_dir(base.path());
    // A process number no system hands out: its window has ended.
    let ended = base.path().join("window-4000000000");
    let other = base.path().join("kept");
    for d in [&mine, &ended, &other] {
        std::fs::create_dir_all(d.join("ledger")).unwrap();
    }
    super::run::clear_ended_process_dirs(base.path());
    assert!(mine.exists(), "this window's folder stays");
    assert!(other.exists(), "what is not a window's folder stays");
    assert_eq!(ended.exists(), !cfg!(target_os = "linux"));
}
