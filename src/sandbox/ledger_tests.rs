use super::*;

fn config(deposits: usize) -> SandboxConfig {
    SandboxConfig {
        seed: 11,
        deposits,
        payouts: 500,
        // 2026-11-30 12:00:00 +08:00
        anchor_secs: Some(1_764_475_200),
        ..SandboxConfig::default()
    }
}

fn spec(dir: &Path, name: &str, faults: &str) -> LedgerSpec {
    LedgerSpec {
        path: dir.join(name),
        kind: OrderKind::Deposit,
        from: "2025-10-01".into(),
        to: "2025-11-20".into(),
        tz_name: "Asia/Shanghai".into(),
        faults: LedgerFaults::parse(faults).unwrap(),
    }
}

#[test]
fn faults_parse_and_refuse() {
    let f = LedgerFaults::parse(
        "amount=0.01, status=0.02,missing=0,extra=0.5,duplicate=0.005,edge=0.1",
    )
    .unwrap();
    assert!((f.status - 0.02).abs() < 1e-12);
    assert_eq!(f.pick(0.005), Some(Fault::Amount));
    assert_eq!(f.pick(0.02), Some(Fault::Status));
    assert_eq!(f.pick(0.9), None);
    assert!(
        LedgerFaults::parse("nope=0.1")
            .unwrap_err()
            .contains("nope")
    );
    assert!(LedgerFaults::parse("amount=2").is_err());
    assert!(LedgerFaults::parse("amount").is_err());
    assert!(LedgerFaults::parse("amount=0.6,edge=0.6").is_err());
    assert_eq!(LedgerFaults::parse("").unwrap(), LedgerFaults::default());
}

#[test]
fn same_seed_same_ledger_and_the_parts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let faults = "amount=0.02,status=0.02,missing=0.02,extra=0.02,duplicate=0.01,edge=0.01";
    let a = write_ledger(&config(4_000), &spec(dir.path(), "a.csv", faults)).unwrap();
    let b = write_ledger(&config(4_000), &spec(dir.path(), "b.csv", faults)).unwrap();
    assert_eq!(
        std::fs::read(&a.file).unwrap(),
        std::fs::read(&b.file).unwrap()
    );
    let t = &a.truth;
    assert!(t.injected.amount > 0 && t.injected.missing > 0 && t.injected.extra > 0);
    assert!(t.injected.duplicate > 0 && t.injected.edge > 0 && t.injected.status > 0);
    let parts: i64 = t.classes.iter().map(|c| c.ledger_fen - c.gateway_fen).sum();
    assert_eq!(parts, t.difference_fen);
    assert_eq!(t.difference_fen, t.ledger_sum_fen - t.gateway_sum_fen);
    // Every ledger row is in exactly one class.
    let rows: u64 = t.classes.iter().map(|c| c.ledger_rows).sum();
    assert_eq!(rows, t.ledger_rows);
    assert_eq!(
        t.class("missing_at_gateway").unwrap().count,
        t.injected.extra
    );
    assert_eq!(
        t.class("missing_in_ledger").unwrap().count,
        t.injected.missing
    );
    assert!(!t.all_matched);
    // The CSV has the header and one line per row.
    let text = std::fs::read_to_string(&a.file).unwrap();
    assert!(text.starts_with("Order No,Amount (CNY),Fee,State,Booked at,Channel\n"));
    assert_eq!(text.lines().count() as u64, t.ledger_rows + 1);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&a.truth_file).unwrap()).unwrap();
    assert_eq!(json["difference_fen"], t.difference_fen);
}

#[test]
fn without_faults_only_the_seeds_own_tampered_orders_differ() {
    let dir = tempfile::tempdir().unwrap();
    let w = write_ledger(&config(4_000), &spec(dir.path(), "clean.xlsx", "")).unwrap();
    let t = &w.truth;
    for (id, difference) in CLASS_IDS {
        if difference && id != "invalid_signature" {
            assert_eq!(t.class(id).unwrap().count, 0, "{id}");
        }
    }
    assert!(t.class("matched").unwrap().count > 1_000);
    assert!(t.class("edge").unwrap().count > 0);
    assert!(std::fs::metadata(&w.file).unwrap().len() > 10_000);
}

#[test]
fn a_ledger_needs_a_fixed_anchor_and_a_known_extension() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(10);
    c.anchor_secs = None;
    assert!(write_ledger(&c, &spec(dir.path(), "a.csv", "")).is_err());
    assert!(write_ledger(&config(10), &spec(dir.path(), "a.txt", "")).is_err());
}
