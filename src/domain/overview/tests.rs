use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;
use crate::domain::batches::StatusTotal;
use crate::gateway::gatepay::SubOrderStatus;
use crate::money::CryptoAmount;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

/// 2026-12-02T16:30:00Z: Dec 3 in Shanghai (00:30), Dec 2 in UTC.
const LATE_DEC_2_UTC: i64 = 1_796_229_000;

fn facts(secs: i64, class: StatusClass, channel: &str, fen: i64, fee: i64) -> OrderFacts<'_> {
    OrderFacts {
        create_time_secs: Some(secs),
        class,
        channel,
        amount: Some(Fen::from_fen(fen)),
        fee: Some(Fen::from_fen(fee)),
    }
}

fn sample(zone: TimeZone) -> Overview {
    let mut o = Overview::new(zone);
    // 2026-12-02T01:00:00Z: Dec 2 in both zones.
    let early = LATE_DEC_2_UTC - 15 * 3600 - 1800;
    o.add(&facts(early, StatusClass::Success, "bank", 10_001, 30));
    o.add(&facts(
        LATE_DEC_2_UTC,
        StatusClass::Success,
        "bank",
        20_002,
        60,
    ));
    o.add(&facts(
        LATE_DEC_2_UTC + 60,
        StatusClass::Failed,
        "alipay",
        5_000,
        0,
    ));
    o.add(&facts(
        LATE_DEC_2_UTC + 120,
        StatusClass::InProgress,
        "alipay",
        7,
        0,
    ));
    o.add(&OrderFacts {
        create_time_secs: None,
        class: StatusClass::Success,
        channel: "alipay",
        amount: None,
        fee: None,
    });
    o
}

#[test]
fn the_instant_is_dec_3_in_shanghai_and_dec_2_in_utc() {
    assert_eq!(
        jiff::Timestamp::from_second(LATE_DEC_2_UTC)
            .unwrap()
            .to_string(),
        "2026-12-02T16:30:00Z"
    );
    assert_eq!(day_of(LATE_DEC_2_UTC, &shanghai()), Some(date(2026, 12, 3)));
    assert_eq!(
        day_of(LATE_DEC_2_UTC, &TimeZone::UTC),
        Some(date(2026, 12, 2))
    );
}

#[test]
fn sums_in_fen_fall_on_the_day_of_the_zone() {
    let s = sample(shanghai());
    let days: Vec<_> = s.days().map(|(d, _)| d).collect();
    assert_eq!(days, [date(2026, 12, 2), date(2026, 12, 3)]);
    let d2 = s.day_tallies(date(2026, 12, 2)).unwrap();
    assert_eq!(d2[class_index(StatusClass::Success)].count, 1);
    assert_eq!(
        d2[class_index(StatusClass::Success)].amount,
        Fen::from_fen(10_001)
    );
    let d3 = s.day_tallies(date(2026, 12, 3)).unwrap();
    assert_eq!(d3[0].amount, Fen::from_fen(20_002));
    assert_eq!(d3[0].fee, Fen::from_fen(60));
    assert_eq!(
        d3[class_index(StatusClass::Failed)].amount,
        Fen::from_fen(5_000)
    );
    assert_eq!(
        d3[class_index(StatusClass::InProgress)].amount,
        Fen::from_fen(7)
    );
    assert_eq!(s.day_fee(date(2026, 12, 3)), Some(Fen::from_fen(60)));
    assert_eq!((s.orders, s.undated), (5, 1));

    let u = sample(TimeZone::UTC);
    let days: Vec<_> = u.days().map(|(d, _)| d).collect();
    assert_eq!(days, [date(2026, 12, 2)]);
    let d2 = u.day_tallies(date(2026, 12, 2)).unwrap();
    assert_eq!(d2[0].count, 2);
    assert_eq!(d2[0].amount, Fen::from_fen(30_003));
    assert_eq!(u.day_fee(date(2026, 12, 2)), Some(Fen::from_fen(90)));
}

#[test]
fn day_bounds_are_the_zones_midnights() {
    let (from, to) = day_bounds(date(2026, 12, 3), &shanghai()).unwrap();
    assert_eq!(from, LATE_DEC_2_UTC - 1800);
    assert_eq!(to, from + 86_399);
    let (from, to) = day_bounds(date(2026, 12, 2), &TimeZone::UTC).unwrap();
    assert_eq!(
        (from, to),
        (
            LATE_DEC_2_UTC - 16 * 3600 - 1800,
            LATE_DEC_2_UTC + 7 * 3600 + 1799
        )
    );
}

#[test]
fn success_rate_by_channel_is_exact_counts() {
    let s = sample(shanghai());
    let rates: Vec<_> = s.channels().map(|(c, r)| (c.to_owned(), *r)).collect();
    assert_eq!(
        rates,
        [
            (
                "alipay".to_owned(),
                ChannelRate {
                    orders: 3,
                    finals: 2,
                    successes: 1
                }
            ),
            (
                "bank".to_owned(),
                ChannelRate {
                    orders: 2,
                    finals: 2,
                    successes: 2
                }
            ),
        ]
    );
    assert_eq!(rates[0].1.percent_text(), "50.00%");
    assert_eq!(rates[1].1.percent_text(), "100.00%");
    let third = ChannelRate {
        orders: 3,
        finals: 3,
        successes: 2,
    };
    assert_eq!(third.percent_text(), "66.67%");
    assert_eq!(ChannelRate::default().percent_text(), "no final orders");
}

#[test]
fn csv_text_is_exact() {
    let s = sample(shanghai());
    assert_eq!(
        s.daily_csv(),
        "date,zone,status,orders,amount_fen,amount_yuan,orders_without_amount\n\
         2026-12-02,Asia/Shanghai,success,1,10001,100.01,0\n\
         2026-12-03,Asia/Shanghai,success,1,20002,200.02,0\n\
         2026-12-03,Asia/Shanghai,in progress,1,7,0.07,0\n\
         2026-12-03,Asia/Shanghai,failed,1,5000,50.00,0\n"
    );
    assert_eq!(
        s.fees_csv(),
        "date,zone,status,orders,fee_fen,fee_yuan,orders_without_fee\n\
         2026-12-02,Asia/Shanghai,success,1,30,0.30,0\n\
         2026-12-03,Asia/Shanghai,success,1,60,0.60,0\n\
         2026-12-03,Asia/Shanghai,in progress,1,0,0.00,0\n\
         2026-12-03,Asia/Shanghai,failed,1,0,0.00,0\n"
    );
    assert_eq!(
        s.channels_csv(),
        "channel,orders,final_orders,successes,success_rate\n\
         alipay,3,2,1,50.00%\n\
         bank,2,2,2,100.00%\n"
    );
}

#[test]
fn hostile_channels_stay_text_and_negative_amounts_stay_numbers() {
    let mut o = Overview::new(TimeZone::UTC);
    o.add(&facts(0, StatusClass::Failed, "=HYPERLINK(\"x\")", -5, 0));
    let csv = o.channels_csv();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"x\"\")\",1,1,0,0.00%\n"),
        "{csv}"
    );
    assert!(o.daily_csv().contains(",failed,1,-5,-0.05,0\n"));
}

#[test]
fn missing_and_overflowing_amounts_are_counted_not_summed() {
    let mut o = Overview::new(TimeZone::UTC);
    o.add(&facts(0, StatusClass::Success, "c", i64::MAX, 0));
    o.add(&facts(1, StatusClass::Success, "c", 1, 0));
    o.add(&OrderFacts {
        amount: None,
        ..facts(2, StatusClass::Success, "c", 0, 0)
    });
    let t = o.day_tallies(date(1970, 1, 1)).unwrap()[0];
    assert_eq!(
        (t.count, t.amount, t.unsummed_amount),
        (3, Fen::from_fen(i64::MAX), 2)
    );
    assert_eq!(o.notes().len(), 1);
}

#[test]
fn days_and_channels_are_bounded() {
    let mut o = Overview::new(TimeZone::UTC);
    for i in 0..(MAX_DAYS as i64 + 5) {
        o.add(&facts(i * 86_400, StatusClass::Success, "c", 1, 0));
    }
    assert_eq!(o.days().count(), MAX_DAYS);
    assert_eq!(o.beyond_days, 5);
    let mut o = Overview::new(TimeZone::UTC);
    for i in 0..(MAX_CHANNELS + 3) {
        let name = format!("ch{i}");
        o.add(&facts(0, StatusClass::Success, &name, 1, 0));
    }
    assert_eq!(o.channels().count(), MAX_CHANNELS + 1);
    assert_eq!(
        o.channels()
            .find(|(c, _)| *c == OTHER_CHANNELS)
            .map(|(_, r)| r.orders),
        Some(3)
    );
}

#[test]
fn a_pick_matches_its_day_and_class_or_channel() {
    let pick = Pick::day(date(2026, 12, 3), &shanghai(), StatusClass::Success).unwrap();
    assert!(pick.matches(Some(LATE_DEC_2_UTC), StatusClass::Success, "x"));
    assert!(!pick.matches(Some(LATE_DEC_2_UTC), StatusClass::Failed, "x"));
    assert!(!pick.matches(Some(LATE_DEC_2_UTC - 1801), StatusClass::Success, "x"));
    assert!(!pick.matches(None, StatusClass::Success, "x"));
    assert_eq!(pick.describe(), "2026-12-03 · success");
    let utc = Pick::day(date(2026, 12, 3), &TimeZone::UTC, StatusClass::Success).unwrap();
    assert!(!utc.matches(Some(LATE_DEC_2_UTC), StatusClass::Success, "x"));
    let ch = Pick::Channel("bank".into());
    assert!(ch.matches(None, StatusClass::Failed, "bank"));
    assert!(!ch.matches(None, StatusClass::Failed, "bank2"));
}

fn total(status: SubOrderStatus, currency: &str, count: usize, amount: &str) -> StatusTotal {
    StatusTotal {
        status,
        currency: currency.into(),
        count,
        amount: CryptoAmount::parse_wire(amount).unwrap(),
        fee: CryptoAmount::parse_wire("0.000001").unwrap(),
        done_amount: CryptoAmount::parse_wire("0").unwrap(),
        unreadable: 0,
    }
}

#[test]
fn batch_totals_keep_exact_decimals() {
    let totals = [
        total(SubOrderStatus::Done, "USDT", 2, "100.123456"),
        total(SubOrderStatus::Done, "BTC", 1, "0.000000000000000001"),
        total(SubOrderStatus::Fail, "USDT", 1, "0.10"),
    ];
    assert_eq!(batch_currencies(&totals), ["USDT", "BTC"]);
    assert_eq!(
        batch_csv("M1", &totals),
        "batch_id,currency,status,sub_orders,amount,fee,done_amount,unreadable\n\
         M1,USDT,DONE,2,100.123456,0.000001,0,0\n\
         M1,USDT,FAIL,1,0.10,0.000001,0,0\n\
         M1,BTC,DONE,1,0.000000000000000001,0.000001,0,0\n"
    );
}

#[test]
fn a_text_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.csv");
    write_text_file(&path, "a,b\n1,2\n").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"\xEF\xBB\xBFa,b\n1,2\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// How long a million orders take to chart (run with `--ignored --nocapture`).
#[test]
#[ignore = "a timing, not a check"]
fn a_million_orders_time() {
    let started = std::time::Instant::now();
    let mut o = Overview::new(shanghai());
    for i in 0..1_000_000_i64 {
        let channel = if i % 3 == 0 { "bank" } else { "alipay" };
        o.add(&facts(
            LATE_DEC_2_UTC + i * 3,
            CLASSES[(i % 5) as usize],
            channel,
            i,
            1,
        ));
    }
    println!("1,000,000 orders in {:?}", started.elapsed());
    assert_eq!(o.orders, 1_000_000);
}
