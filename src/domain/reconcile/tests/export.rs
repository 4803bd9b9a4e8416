//! The export of differences: its rows, its cells' guard and its manifest.

use super::*;

#[test]
fn differences_export_as_csv_with_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (file, report) = run(
        dir.path(),
        vec![
            l("=HYPERLINK(1)", 10, LedgerStatus::Credited, IN),
            l("B", 12, LedgerStatus::Credited, IN),
            l("C", 5, LedgerStatus::Credited, IN),
        ],
        vec![
            ("B", g("P2", 10, SUCCESS, IN)),
            ("C", g("P3", 5, SUCCESS, IN)),
        ],
    );
    let target = dir.path().join("diff.csv");
    let out = export_differences(
        &file,
        &[],
        &target,
        ExportFormat::Csv,
        "paydesk reconcile deposits --ledger ledger.csv --from 1970-01-12 --to 1970-01-13",
    )
    .unwrap();
    assert_eq!(out.rows, 2);
    let bytes = std::fs::read(&target).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("Class,Merchant order ID,Detail,Difference (yuan)"));
    assert!(
        lines[1].starts_with(
            "amount_differs,B,\"ledger ¥12.00, gateway amount ¥10.00\",2.00,2,12.00,paid,"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("missing_at_gateway,'=HYPERLINK(1),"),
        "{}",
        lines[2]
    );
    assert_eq!(lines.len(), 4, "two rows and the last line's end");
    let (_, sha) = crate::domain::export::hash_file(&target).unwrap();
    assert_eq!(out.sha256, sha);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out.manifest).unwrap()).unwrap();
    assert_eq!(out.manifest, dir.path().join("diff.csv.manifest.json"));
    assert_eq!(
        manifest["command"],
        "paydesk reconcile deposits --ledger ledger.csv --from 1970-01-12 --to 1970-01-13"
    );
    assert_eq!(manifest["kind"], "deposits");
    assert_eq!(manifest["period"]["from"], "1970-01-12");
    assert_eq!(manifest["period"]["timezone"], "UTC");
    assert_eq!(manifest["period"]["to_secs"], TO);
    assert_eq!(manifest["margin_secs"], DEFAULT_MARGIN_SECS);
    assert_eq!(manifest["mapping"]["credited"][0], "paid");
    assert_eq!(manifest["ledger"]["file"], "ledger.csv");
    assert_eq!(manifest["ledger"]["sha256"], "ab".repeat(32));
    assert_eq!(manifest["gateway"]["sha256"], report.gateway_sha256);
    assert_eq!(manifest["ledger_sum"]["fen"], 2700);
    assert_eq!(manifest["gateway_sum"]["display"], "¥15.00");
    assert_eq!(manifest["export"]["rows"], 2);
    assert_eq!(manifest["export"]["sha256"], out.sha256);
    assert_eq!(manifest["export"]["format"], "csv");
    let classes = manifest["classes"].as_array().unwrap();
    assert_eq!(classes.len(), Class::ALL.len());
    assert_eq!(classes[1]["class"], "amount_differs");
    assert_eq!(classes[1]["difference"]["fen"], 200);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());

    // One class, as XLSX: every cell a string holding the exact text.
    let xlsx = dir.path().join("diff.xlsx");
    let out = export_differences(&file, &[Class::Matched], &xlsx, ExportFormat::Xlsx, "x").unwrap();
    assert_eq!(out.rows, 1);
    use calamine::{Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range("Differences").unwrap();
    let row: Vec<String> = range
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(row[0], "matched");
    assert_eq!(row[1], "C");
    assert_eq!(row[5], "5.00");
}
