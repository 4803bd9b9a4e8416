//! The `--map` text, the checks against a header row, suggestions, and the remembered store.

use super::*;
use crate::domain::reconcile::LedgerStatus;
use crate::gateway::cny::wire::OrderKind;

fn headers(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn map_arg_defaults_and_round_trip() {
    let m = Mapping::from_map_arg("id=商户订单号, amount=金额,status=状态,time=时间").unwrap();
    assert_eq!(m, Mapping::new("商户订单号", "金额", "状态", "时间"));
    assert_eq!(m.unit, AmountUnit::Yuan);
    assert_eq!(m.compare_with, CompareWith::Amount);
    assert_eq!(m.fee, None);
    assert!(m.credited.contains(&"已入账".to_owned()));
    let text = m.to_map_arg();
    assert_eq!(
        text,
        "id=商户订单号,amount=金额,status=状态,time=时间,fee=-,unit=yuan,compare=amount,\
         credited=credited|paid|success|成功|已入账,not_credited=failed|cancelled|refused|失败|取消,\
         pending=pending|processing|处理中"
    );
    assert_eq!(Mapping::from_map_arg(&text).unwrap(), m);
    assert_eq!(Mapping::from_map_arg(&text).unwrap().to_map_arg(), text);
}

#[test]
fn map_arg_escapes_round_trip_exactly() {
    let text = r"id=Order\, ID,amount=Amount \| CNY,status=St\\atus,time=Time,fee=Fee,unit=fen,compare=real_amount,credited=yes\|ok|Y,not_credited=no\,never,pending=";
    let m = Mapping::from_map_arg(text).unwrap();
    assert_eq!(m.order_id, "Order, ID");
    assert_eq!(m.amount, "Amount | CNY");
    assert_eq!(m.status, r"St\atus");
    assert_eq!(m.fee.as_deref(), Some("Fee"));
    assert_eq!(m.unit, AmountUnit::Fen);
    assert_eq!(m.compare_with, CompareWith::RealAmount);
    assert_eq!(m.credited, ["yes|ok", "Y"]);
    assert_eq!(m.not_credited, ["no,never"]);
    assert!(m.pending.is_empty());
    assert_eq!(m.to_map_arg(), text);
    assert_eq!(Mapping::from_map_arg(&m.to_map_arg()).unwrap(), m);
}

#[test]
fn map_arg_errors_say_what_is_wrong() {
    let e = Mapping::from_map_arg("id=a,amount=b").unwrap_err();
    assert!(e.contains("status=, time="), "{e}");
    let e = Mapping::from_map_arg("id=a,amount=b,status=c,time=d,colour=red").unwrap_err();
    assert!(e.contains("unknown key “colour”"), "{e}");
    let e = Mapping::from_map_arg("id=a,id=b,amount=b,status=c,time=d").unwrap_err();
    assert!(e.contains("twice"), "{e}");
    let e = Mapping::from_map_arg("id=a,amount=b,status=c,time=d,unit=cents").unwrap_err();
    assert!(e.contains("unit=yuan or unit=fen"), "{e}");
    let e = Mapping::from_map_arg(r"id=a\n,amount=b,status=c,time=d").unwrap_err();
    assert!(e.contains("not an escape"), "{e}");
    let e = Mapping::from_map_arg("id=a,amount=b,status=c,time=d\\").unwrap_err();
    assert!(e.contains("lone backslash"), "{e}");
    let e = Mapping::from_map_arg("id=a,amount=b,status=c,time=d,pending=paid").unwrap_err();
    assert!(
        e.contains("“paid” is in both credited= and pending="),
        "{e}"
    );
    let e = Mapping::from_map_arg("id=a,amount=b,status=c,time=d,credited=").unwrap_err();
    assert!(e.contains("at least one word"), "{e}");
    let e = Mapping::from_map_arg("id=,amount=b,status=c,time=d").unwrap_err();
    assert!(e.contains("id= needs"), "{e}");
}

#[test]
fn check_finds_columns_trimmed_any_case_and_names_what_is_missing() {
    let mut m = Mapping::new("Order_ID", "amount", "status", "time");
    m.fee = Some("Fee".into());
    let h = headers(&[" order_id ", "AMOUNT", "status", "note", "time", "fee"]);
    let c = m.check(&h).unwrap();
    assert_eq!(
        c,
        ColumnIndexes {
            order_id: 0,
            amount: 1,
            status: 2,
            time: 4,
            fee: Some(5)
        }
    );
    let e = m
        .check(&headers(&["order_id", "amount", "status", "when"]))
        .unwrap_err();
    assert!(e.contains("no column “time”"), "{e}");
    assert!(
        e.contains("A “order_id”, B “amount”, C “status”, D “when”"),
        "{e}"
    );
    // A header the mapping uses, twice in the file.
    let e = m
        .check(&headers(&[
            "order_id", "amount", "status", "time", "fee", "Amount",
        ]))
        .unwrap_err();
    assert!(e.contains("two columns named “amount” (B and F)"), "{e}");
    // A duplicate the mapping does not use is no problem.
    let ok = headers(&["order_id", "amount", "status", "time", "fee", "x", "x"]);
    assert!(m.check(&ok).is_ok());
    // One column for two things.
    let same = Mapping::new("id", "id", "status", "time");
    let e = same.check(&headers(&["id", "status", "time"])).unwrap_err();
    assert!(e.contains("same column"), "{e}");
    // A word in two lists.
    let mut words = Mapping::new("order_id", "amount", "status", "time");
    words.not_credited.push("PAID".into());
    let e = words.check(&h).unwrap_err();
    assert!(e.contains("both credited= and not_credited="), "{e}");
}

#[test]
fn status_words_any_case_trimmed() {
    let m = Mapping::new("a", "b", "c", "d");
    assert_eq!(m.status_of(" PAID "), Some(LedgerStatus::Credited));
    assert_eq!(m.status_of("已入账"), Some(LedgerStatus::Credited));
    assert_eq!(m.status_of("Cancelled"), Some(LedgerStatus::NotCredited));
    assert_eq!(m.status_of("处理中"), Some(LedgerStatus::Pending));
    assert_eq!(m.status_of("refunded"), None);
}

#[test]
fn suggest_only_exact_well_known_names() {
    let s = Mapping::suggest(&headers(&["商户订单号", "金额", "状态", "时间", "手续费"])).unwrap();
    assert_eq!(
        (s.order_id.as_str(), s.amount.as_str(), s.fee.as_deref()),
        ("商户订单号", "金额", Some("手续费"))
    );
    // merchant_order_id is preferred to order_id.
    let s = Mapping::suggest(&headers(&[
        "Order_ID",
        "merchant_order_id",
        "Amount",
        "Status",
        "create_time",
    ]))
    .unwrap();
    assert_eq!(s.order_id, "merchant_order_id");
    assert_eq!(s.time, "create_time");
    assert_eq!(s.fee, None);
    // Near names are never guessed.
    assert!(Mapping::suggest(&headers(&["order no", "amount", "status", "time"])).is_none());
    assert!(Mapping::suggest(&headers(&["order_id", "amount (CNY)", "status", "time"])).is_none());
}

#[test]
fn store_remembers_per_profile_and_kind_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = MappingStore::new(dir.path());
    assert_eq!(store.get("shop", OrderKind::Deposit).unwrap(), None);
    let deposits =
        Mapping::from_map_arg("id=商户订单号,amount=金额,status=状态,time=时间,fee=手续费")
            .unwrap();
    let payouts =
        Mapping::from_map_arg("id=payout_cl_id,amount=fen,status=st,time=t,unit=fen,credited=ok")
            .unwrap();
    store.set("shop", OrderKind::Deposit, &deposits).unwrap();
    store.set("shop", OrderKind::Payout, &payouts).unwrap();
    store
        .set("other.shop", OrderKind::Deposit, &payouts)
        .unwrap();
    // Reloaded from the file by a new store.
    let again = MappingStore::new(dir.path());
    assert_eq!(
        again.get("shop", OrderKind::Deposit).unwrap(),
        Some(deposits.clone())
    );
    assert_eq!(
        again.get("shop", OrderKind::Payout).unwrap(),
        Some(payouts.clone())
    );
    assert_eq!(
        again.get("other.shop", OrderKind::Deposit).unwrap(),
        Some(payouts.clone())
    );
    assert_eq!(again.get("other.shop", OrderKind::Payout).unwrap(), None);
    // Replacing one leaves the others.
    let changed = Mapping::new("a", "b", "c", "d");
    again.set("shop", OrderKind::Deposit, &changed).unwrap();
    assert_eq!(
        store.get("shop", OrderKind::Deposit).unwrap(),
        Some(changed)
    );
    assert_eq!(
        store.get("shop", OrderKind::Payout).unwrap(),
        Some(payouts.clone())
    );
    assert_eq!(
        store.get("other.shop", OrderKind::Deposit).unwrap(),
        Some(payouts)
    );
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(text.contains("[shop.deposits]"), "{text}");
    assert!(!dir.path().join(".reconcile.toml.tmp").exists());
}

#[test]
fn store_damaged_file_is_a_clear_error_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = MappingStore::new(dir.path());
    std::fs::write(store.path(), "[shop.deposits\nid = ").unwrap();
    let e = store.get("shop", OrderKind::Deposit).unwrap_err();
    assert!(e.contains("reconcile.toml"), "{e}");
    assert!(e.contains("cannot be read"), "{e}");
    let e = store
        .set(
            "shop",
            OrderKind::Deposit,
            &Mapping::new("a", "b", "c", "d"),
        )
        .unwrap_err();
    assert!(e.contains("reconcile.toml"), "{e}");
    assert_eq!(
        std::fs::read_to_string(store.path()).unwrap(),
        "[shop.deposits\nid = "
    );
    // A table that is no mapping.
    std::fs::write(store.path(), "[shop.deposits]\nid = 3\n").unwrap();
    let e = store.get("shop", OrderKind::Deposit).unwrap_err();
    assert!(e.contains("[shop.deposits]"), "{e}");
}
