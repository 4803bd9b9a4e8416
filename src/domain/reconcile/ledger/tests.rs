//! The ledger reader on CSV and on XLSX built as Excel lays them out.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use super::*;
use crate::domain::export::AmountUnit;
use crate::domain::sheet::tests::xlsx;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn secs(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn mapping() -> Mapping {
    let mut m = Mapping::new("order_id", "amount", "status", "time");
    m.fee = Some("fee".into());
    m
}

fn read(
    name: &str,
    bytes: &[u8],
    m: &Mapping,
) -> Result<(LedgerSummary, Vec<LedgerRow>), Vec<LedgerProblem>> {
    let mut rows = Vec::new();
    let summary = read_ledger(name, bytes, m, &shanghai(), &Limits::default(), |r| {
        rows.push(r)
    })?;
    Ok((summary, rows))
}

fn at(p: &LedgerProblem) -> (usize, Option<&str>) {
    (p.row, p.column.as_deref())
}

#[test]
fn csv_with_bom_reads_ids_amounts_statuses_times_and_skips_blank_rows() {
    let csv = "\u{feff}order_id,amount,status,time,fee\n\
               A-001,\"1,234.50\",paid,2026-12-03 08:30:00,1.20\n\
               ,,,,\n\
               00123,¥5,FAILED,2026-12-03T23:59:59Z,\n\
               B-3,0.01,处理中,2026/12/3 0:05,0\n\
               C-4,7,success,2026-12-03 10:00:00+0530,\n";
    let (summary, rows) = read("l.csv", csv.as_bytes(), &mapping()).unwrap();
    assert_eq!(summary.rows, 4);
    assert_eq!(summary.blank, 1);
    assert_eq!(
        summary.headers,
        ["order_id", "amount", "status", "time", "fee"]
    );
    assert_eq!(rows[0].row, 2);
    assert_eq!(rows[0].order_id, "A-001");
    assert_eq!(rows[0].amount, Fen::from_fen(123_450));
    assert_eq!(rows[0].status, LedgerStatus::Credited);
    assert_eq!(rows[0].status_text, "paid");
    assert_eq!(rows[0].time_secs, secs("2026-12-03T00:30:00Z"));
    assert_eq!(rows[0].fee, Some(Fen::from_fen(120)));
    // Leading zeros of a text ID are kept; a blank fee is no fee.
    assert_eq!(rows[1].row, 4);
    assert_eq!(rows[1].order_id, "00123");
    assert_eq!(rows[1].amount, Fen::from_fen(500));
    assert_eq!(rows[1].status, LedgerStatus::NotCredited);
    assert_eq!(rows[1].time_secs, secs("2026-12-03T23:59:59Z"));
    assert_eq!(rows[1].fee, None);
    assert_eq!(rows[2].status, LedgerStatus::Pending);
    assert_eq!(rows[2].time_secs, secs("2026-12-02T16:05:00Z"));
    assert_eq!(rows[2].fee, Some(Fen::ZERO));
    assert_eq!(rows[3].time_secs, secs("2026-12-03T04:30:00Z"));
}

#[test]
fn unit_fen_reads_whole_fen_only() {
    let mut m = mapping();
    m.unit = AmountUnit::Fen;
    let csv = "order_id,amount,status,time,fee\nA,123450,paid,2026-12-03 08:30:00,12\nB,12.5,paid,2026-12-03 08:30:00,\n";
    let problems = read("l.csv", csv.as_bytes(), &m).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(at(&problems[0]), (3, Some("B")));
    assert!(
        problems[0].message.contains("whole number of fen"),
        "{}",
        problems[0]
    );
    let csv = "order_id,amount,status,time,fee\nA,123450,paid,2026-12-03 08:30:00,12\n";
    let (_, rows) = read("l.csv", csv.as_bytes(), &m).unwrap();
    assert_eq!(rows[0].amount, Fen::from_fen(123_450));
    assert_eq!(rows[0].fee, Some(Fen::from_fen(12)));
}

#[test]
fn bad_cells_are_problems_by_row_and_column_and_good_rows_still_handed_on() {
    let csv = "order_id,amount,status,time,fee\n\
               2.02612E+13,1.00,paid,2026-12-03 08:30:00,\n\
               A2,-5,paid,2026-12-03 08:30:00,\n\
               A3,0,paid,2026-12-03 08:30:00,\n\
               A4,1.234,paid,2026-12-03 08:30:00,\n\
               A5,1.00,refunded,2026-12-03 08:30:00,\n\
               A6,1.00,paid,2026-12-03,\n\
               A7,1.00,paid,03/12/2026 08:30,\n\
               ,1.00,paid,2026-12-03 08:30:00,\n\
               A9,1.00,paid,2026-12-03 08:30:00,-1\n\
               A10,1.00,paid,2026-12-03 08:30:00,,extra\n\
               OK,1.00,paid,2026-12-03 08:30:00,\n";
    let mut handed = Vec::new();
    let problems = read_ledger(
        "l.csv",
        csv.as_bytes(),
        &mapping(),
        &shanghai(),
        &Limits::default(),
        |r| handed.push(r.order_id),
    )
    .unwrap_err();
    assert_eq!(handed, ["OK"]);
    let located: Vec<_> = problems.iter().map(at).collect();
    assert_eq!(
        located,
        [
            (2, Some("A")),
            (3, Some("B")),
            (4, Some("B")),
            (5, Some("B")),
            (6, Some("C")),
            (7, Some("D")),
            (8, Some("D")),
            (9, Some("A")),
            (10, Some("E")),
            (11, Some("F")),
        ]
    );
    let text = |i: usize| problems[i].to_string();
    assert!(
        text(0).contains("Excel has already shortened"),
        "{}",
        text(0)
    );
    assert!(text(1).contains("negative"), "{}", text(1));
    assert!(text(2).contains("zero"), "{}", text(2));
    assert!(text(3).contains("decimal"), "{}", text(3));
    assert!(
        text(4).contains("“refunded”") && text(4).contains("credited: credited, paid"),
        "{}",
        text(4)
    );
    assert!(text(5).contains("date without a time"), "{}", text(5));
    assert!(text(6).contains("not a date and time"), "{}", text(6));
    assert!(text(7).contains("empty"), "{}", text(7));
    assert!(text(8).contains("fee"), "{}", text(8));
    assert!(text(9).contains("beyond the header"), "{}", text(9));
    assert!(text(0).starts_with("row 2, column A: "), "{}", text(0));
}

#[test]
fn sixty_bad_rows_keep_fifty_and_count_the_rest() {
    let mut csv = "order_id,amount,status,time,fee\n".to_owned();
    for i in 0..60 {
        writeln!(csv, "X{i},abc,paid,2026-12-03 08:30:00,").unwrap();
    }
    let problems = read("l.csv", csv.as_bytes(), &mapping()).unwrap_err();
    assert_eq!(problems.len(), MAX_PROBLEMS + 1);
    assert_eq!(at(&problems[49]), (51, Some("B")));
    assert_eq!(problems[50].row, 0);
    assert_eq!(problems[50].message, "… and 10 more problems");
}

#[test]
fn mapping_that_does_not_fit_is_one_problem_at_the_header() {
    let csv = "\n订单号,金额,状态,时间\nA,1,paid,2026-12-03 08:30:00\n";
    let problems = read("l.csv", csv.as_bytes(), &mapping()).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(at(&problems[0]), (2, None));
    assert!(
        problems[0].message.contains("no column “order_id”"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].message.contains("A “订单号”"),
        "{}",
        problems[0]
    );
    assert_eq!(
        read_headers("l.csv", csv.as_bytes(), &Limits::default()).unwrap(),
        ["订单号", "金额", "状态", "时间"]
    );
    assert!(read_headers("l.csv", b"", &Limits::default()).is_err());
    assert!(read("l.csv", b"", &mapping()).is_err());
}

#[test]
fn file_over_the_limit_is_refused() {
    let csv = "order_id,amount,status,time,fee\nA,1,paid,2026-12-03 08:30:00,\n";
    let limits = Limits {
        max_file_bytes: 10,
        ..Limits::default()
    };
    let problems = read_ledger(
        "l.csv",
        csv.as_bytes(),
        &mapping(),
        &shanghai(),
        &limits,
        |_| {},
    )
    .unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("at most 10 bytes"),
        "{}",
        problems[0]
    );
    assert!(read_headers("l.csv", csv.as_bytes(), &limits).is_err());
}

#[test]
fn gbk_csv_is_refused_with_how_to_save_it() {
    // 订单号 in GBK: not UTF-8, never guessed.
    let mut bytes = b"order_id,amount,status,time\n".to_vec();
    bytes.extend_from_slice(&[0xB6, 0xA9, 0xB5, 0xA5]);
    bytes.extend_from_slice(b",1,paid,2026-12-03 08:30:00\n");
    let m = Mapping::new("order_id", "amount", "status", "time");
    let problems = read("l.csv", &bytes, &m).unwrap_err();
    assert_eq!(at(&problems[0]), (2, Some("A")));
    assert!(problems[0].message.contains("UTF-8"), "{}", problems[0]);
}

const STYLES: &str = r#"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="1"/><xf numFmtId="22"/><xf numFmtId="14"/><xf numFmtId="164"/></cellXfs></styleSheet>"#;

fn inline(r: &str, t: &str) -> String {
    format!(r#"<c r="{r}" t="inlineStr"><is><t>{t}</t></is></c>"#)
}

#[test]
fn xlsx_number_id_midnight_date_time_and_date_only() {
    let header: String = ["order_id", "amount", "status", "time"]
        .iter()
        .zip(["A1", "B1", "C1", "D1"])
        .map(|(t, r)| inline(r, t))
        .collect();
    let sheet = format!(
        r#"<sheetData><row r="1">{header}</row>
<row r="2"><c r="A2" s="1"><v>20261203001234</v></c>{}{}<c r="D2" s="2"><v>46359</v></c></row>
<row r="3">{}<c r="B3"><v>1234.5</v></c>{}<c r="D3" s="4"><v>46359.354166666664</v></c></row>
<row r="4">{}{}{}<c r="D4" s="3"><v>46359</v></c></row>
<row r="5"><c r="A5" s="1"><v>2026120300123456</v></c>{}{}<c r="D5" s="2"><v>46359.5</v></c></row>
<row r="6"><c r="A6"><v>2.0261203001234E+13</v></c>{}{}<c r="D6"><v>46359.5</v></c></row>
</sheetData>"#,
        inline("B2", "1,234.50"),
        inline("C2", "paid"),
        inline("A3", "T-3"),
        inline("C3", "成功"),
        inline("A4", "T-4"),
        inline("B4", "1"),
        inline("C4", "paid"),
        inline("B5", "1"),
        inline("C5", "paid"),
        inline("B6", "1"),
        inline("C6", "paid"),
    );
    let book = xlsx(&sheet, None, Some(STYLES));
    let m = Mapping::new("order_id", "amount", "status", "time");
    let mut rows = Vec::new();
    let problems = read_ledger("l.xlsx", &book, &m, &shanghai(), &Limits::default(), |r| {
        rows.push(r);
    })
    .unwrap_err();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].order_id, "20261203001234");
    assert_eq!(rows[0].amount, Fen::from_fen(123_450));
    // Midnight under a date-time format is a time, not a date alone.
    assert_eq!(rows[0].time_secs, secs("2026-12-02T16:00:00Z"));
    assert_eq!(rows[1].order_id, "T-3");
    assert_eq!(rows[1].amount, Fen::from_fen(123_450));
    assert_eq!(rows[1].time_secs, secs("2026-12-03T00:30:00Z"));
    let located: Vec<_> = problems.iter().map(at).collect();
    assert_eq!(
        located,
        [
            (4, Some("D")),
            (5, Some("A")),
            (6, Some("A")),
            (6, Some("D"))
        ]
    );
    assert!(
        problems[0].message.contains("date without a time"),
        "{}",
        problems[0]
    );
    assert!(problems[1].message.contains("15 digits"), "{}", problems[1]);
    assert!(
        problems[2].message.contains("not an ID as written")
            || problems[2].message.contains("15 digits"),
        "{}",
        problems[2]
    );
    assert!(
        problems[3].message.contains("format the column as a date"),
        "{}",
        problems[3]
    );
    assert_eq!(
        read_headers("l.xlsx", &book, &Limits::default()).unwrap(),
        ["order_id", "amount", "status", "time"]
    );
}
