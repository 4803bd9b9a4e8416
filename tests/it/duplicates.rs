//! Likely duplicates are held back until confirmed by name (issue 10, findings 1 and 8): the
//! `paydesk` binary against the sandbox over real HTTP, checked against the sandbox's own
//! records and the journal.

use crate::common;

use std::fmt::Write as _;
use std::process::{Command, Output};

use common::*;
use paydesk::domain::journal::{Journal, ListFilter, journal_path};
use paydesk::gateway::gatepay::wire::DetailStatus;
use paydesk::sandbox::SandboxHandle;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");

struct Env {
    dir: tempfile::TempDir,
    vars: Vec<(&'static str, String)>,
}

impl Env {
    fn new(sb: &SandboxHandle) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let i = &sb.info;
        let vars = vec![
            ("PAYDESK_CNY_BASE_URL", sb.base_url().to_owned()),
            ("PAYDESK_CNY_PLATFORM_ID", i.cny.platform_id.clone()),
            (
                "PAYDESK_CNY_AUTH_TOKEN",
                i.cny.auth_token.expose().to_owned(),
            ),
            ("PAYDESK_CNY_MD5_KEY", i.cny.md5_key.expose().to_owned()),
            ("PAYDESK_GATEPAY_BASE_URL", sb.base_url().to_owned()),
            ("PAYDESK_GATEPAY_CLIENT_ID", i.gatepay.client_id.clone()),
            (
                "PAYDESK_GATEPAY_SECRET",
                i.gatepay.secret.expose().to_owned(),
            ),
            (
                "PAYDESK_GATEPAY_ON_BEHALF_OF",
                i.gatepay.on_behalf_of.clone(),
            ),
            ("PAYDESK_CONFIG_DIR", dir.path().display().to_string()),
            (
                "PAYDESK_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
            ("USER", "dup-tester".to_owned()),
        ];
        Env { dir, vars }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Runs the binary off the runtime's threads, so the in-process sandbox keeps serving.
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("PAYDESK_DUPLICATE_WINDOW_DAYS");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.args(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    fn journal(&self) -> Journal {
        Journal::open(&journal_path(&self.dir.path().join("data"))).unwrap()
    }

    fn journal_count(&self) -> usize {
        self.journal().list(&ListFilter::default()).unwrap().len()
    }

    /// The audit details of the confirmations.
    fn confirmations(&self) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(journal_path(&self.dir.path().join("data"))).unwrap();
        let mut stmt = conn
            .prepare("SELECT actor, detail FROM audit WHERE action = 'likely duplicate confirmed' ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the sandbox has a payout with this merchant order ID.
async fn at_gateway(sb: &SandboxHandle, cl_id: &str) -> bool {
    cny(sb)
        .find_payout(cl_id)
        .await
        .unwrap()
        .orders
        .iter()
        .any(|o| o.merchant_id == cl_id)
}

const FIRST: &str = "merchant order id,amount,bank,name,number\n\
    dupA1,1234.56,ICBC,王小头,6222020200000001\n\
    dupA2,88.00,CMB,李娜,6222020200000002\n\
    dupA3,10.5,ABC,张伟,6222020200000003\n";

/// The same payouts in another file: other header order, other IDs, account spaced, one new row.
const SECOND: &str = "number,name,bank,amount,merchant order id\n\
    6222 0202 0000 0002,李娜,CMB,88,dupB2\n\
    6222020200000001,王小头,ICBC,1234.56,dupB1\n\
    6222020200000003,张伟,ABC,10.50,dupB3\n\
    6222020200000099,赵六,ICBC,50.00,dupB4\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_file_with_the_same_payouts_is_held_until_each_row_is_confirmed() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let first = env.file("first.csv", FIRST);
    let out = env.run(&["payout", "import", &first, "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.journal_count(), 3);

    let second = env.file("second.csv", SECOND);
    let out = env.run(&["payout", "import", &second, "--yes"]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("3 of 3 likely duplicate(s) not confirmed"),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    // Each match says when and how the earlier one was paid.
    assert!(
        err.contains("row 3, dupB1 (¥1,234.56 to 6222 **** 0001) is held back"),
        "{err}"
    );
    assert!(
        err.contains("payout dupA1 of ¥1,234.56 to 6222 **** 0001, accepted by the gateway"),
        "{err}"
    );
    assert!(err.contains("created 20"), "{err}");
    assert!(err.contains("--allow-duplicate"), "{err}");
    let held: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(held["sent"], 0);
    assert_eq!(held["held_back"]["held_total"], 3);
    assert_eq!(env.journal_count(), 3, "nothing of the import was recorded");
    for id in ["dupB1", "dupB2", "dupB3", "dupB4"] {
        assert!(!at_gateway(&sb, id).await, "{id} reached the gateway");
    }

    // Confirming some is not enough: nothing is sent until every held row is confirmed.
    let out = env
        .run(&[
            "payout",
            "import",
            &second,
            "--yes",
            "--allow-duplicate",
            "dupB1",
        ])
        .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2 of 3 likely duplicate(s) not confirmed"),
        "{err}"
    );
    assert!(
        !err.contains("dupB1 (¥"),
        "a confirmed row is not listed as held: {err}"
    );
    assert!(!at_gateway(&sb, "dupB4").await);
    assert!(env.confirmations().is_empty());

    let out = env
        .run(&[
            "payout",
            "import",
            &second,
            "--yes",
            "--allow-duplicate",
            "dupB1",
            "--allow-duplicate",
            "dupB2",
            "--allow-duplicate",
            "dupB3",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for id in ["dupB1", "dupB2", "dupB3", "dupB4"] {
        assert!(
            at_gateway(&sb, id).await,
            "{id} was confirmed and sent: {} {}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    assert_eq!(env.journal_count(), 7);
    let audit = env.confirmations();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].0, "dup-tester");
    assert!(audit[0].1.contains("dupB1 against dupA1"), "{audit:?}");
    assert!(audit[0].1.contains("dupB3 against dupA3"), "{audit:?}");

    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_saved_file_is_never_paid_twice() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let mut lf = String::from("amount,bank,name,number\n");
    for i in 0..10 {
        writeln!(lf, "{}.{i:02},ICBC,王小头,62220202100000{i:02}", 1000 + i).unwrap();
    }
    let file = env.file("pay.csv", &lf);
    let out = env.run(&["payout", "import", &file, "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(env.journal_count(), 10);
    // Re-saved with CRLF line endings, then with its rows reordered.
    let crlf = env.file("pay-crlf.csv", &lf.replace('\n', "\r\n"));
    let mut lines: Vec<&str> = lf.lines().collect();
    lines[1..].reverse();
    let reordered = env.file("pay-reordered.csv", &(lines.join("\n") + "\n"));
    for file in [crlf, reordered] {
        let out = env.run(&["payout", "import", &file, "--yes"]).await;
        let code = out.status.code();
        // Held back (exit 2) or, where the import is known as the same rows, resumed (0).
        assert!(code == Some(2) || code == Some(0), "{}", text(&out.stderr));
        assert_eq!(env.journal_count(), 10, "{}", text(&out.stderr));
    }
    sb.stop().await;
}

/// A file imported again is reviewed as what it is: every row already paid, nothing left to
/// send. Before, the review said "N payouts" and asked to send them all, as if the file had
/// never been paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_imported_again_is_said_to_be_paid_before_it_is_confirmed() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let file = env.file(
        "again.csv",
        "amount,bank,name,number\n\
         500.00,ICBC,李娜,6228480402564890018\n\
         88.80,CCB,王芳,6217000010012345678\n",
    );
    let out = env.run(&["payout", "import", &file, "--yes"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Without --yes (no terminal to answer): the review is printed, then nothing is sent.
    let out = env.run(&["payout", "import", &file]).await;
    let said = text(&out.stderr);
    assert!(said.contains("This file was imported before"), "{said}");
    assert!(
        said.contains("2 of its 2 payout(s) are in the journal (2 accepted"),
        "{said}"
    );
    assert!(said.contains("nothing is left to send"), "{said}");
    assert_eq!(env.journal_count(), 2);
    // A new file says nothing of the kind.
    let other = env.file(
        "other.csv",
        "amount,bank,name,number\n12.00,ICBC,李娜,6228480402564890099\n",
    );
    let out = env.run(&["payout", "import", &other]).await;
    assert!(
        !text(&out.stderr).contains("imported before"),
        "{}",
        text(&out.stderr)
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_equal_rows_in_one_file_are_held() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let file = env.file(
        "twice.csv",
        "merchant order id,amount,bank,name,number\n\
         twice1,300.00,ICBC,王小头,6222020200000777\n\
         other1,301.00,ICBC,王小头,6222020200000777\n\
         twice2,300,ICBC,王小头,6222 0202 0000 0777\n",
    );
    let out = env.run(&["payout", "import", &file, "--yes"]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("row 4, twice2"), "{err}");
    assert!(
        err.contains("row 2 of this file (twice1): the same account and amount"),
        "{err}"
    );
    assert!(!err.contains("row 3, other1"), "{err}");
    assert_eq!(env.journal_count(), 0);
    assert!(!at_gateway(&sb, "twice1").await);

    let out = env
        .run(&[
            "payout",
            "import",
            &file,
            "--yes",
            "--allow-duplicate",
            "twice2",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for id in ["twice1", "other1", "twice2"] {
        assert!(at_gateway(&sb, id).await, "{id}");
    }
    assert!(
        env.confirmations()[0]
            .1
            .contains("twice2 against twice1 (row 2)")
    );
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payout_create_of_a_duplicate_is_held_unless_allowed() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let create = |id: &'static str, extra: &'static [&'static str]| {
        let mut args = vec![
            "payout",
            "create",
            "--amount",
            "520.00",
            "--bank",
            "ICBC",
            "--name",
            "王小头",
            "--number",
            "6222020200000555",
            "--cl-id",
            id,
            "--yes",
        ];
        args.extend_from_slice(extra);
        args
    };
    let out = env.run(&create("single1", &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = env.run(&create("single2", &[])).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("single2 (¥520.00 to 6222 **** 0555) is held back"),
        "{err}"
    );
    assert!(err.contains("payout single1 of ¥520.00"), "{err}");
    assert!(!at_gateway(&sb, "single2").await);
    assert_eq!(env.journal_count(), 1);

    // The window is a setting; seven days holds it as the default does.
    let out = env
        .run(&create("single2", &["--duplicate-window-days", "7"]))
        .await;
    assert_eq!(out.status.code(), Some(2));

    let out = env.run(&create("single2", &["--allow-duplicate"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(at_gateway(&sb, "single2").await);
    let audit = env.confirmations();
    assert!(audit[0].1.contains("single2 against single1"), "{audit:?}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatepay_the_same_sub_orders_under_a_new_batch_id_are_held() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let file = env.file(
        "batch.csv",
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
         gd1,USDT,12.5,TRX,TXdup1,,0\n\
         gd2,BTC,0.0001,BTC,bc1qdup,,0\n",
    );
    let create = |batch: &'static str, file: String, extra: &'static [&'static str]| {
        let mut args: Vec<String> = ["gatepay", "create", "--batch-id", batch, "--file"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        args.push(file);
        args.push("--yes".to_owned());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let run = |args: Vec<String>| {
        let env = &env;
        async move {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            env.run(&a).await
        }
    };
    let out = run(create("dup_b1", file.clone(), &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The same file under a new batch ID.
    let out = run(create("dup_b2", file.clone(), &[])).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("row 1, gd1 (12.5 USDT to TXdup1 (TRX)) is held back"),
        "{err}"
    );
    assert!(err.contains("sub-order gd1 of batch dup_b1"), "{err}");
    assert!(err.contains("the same merchant withdraw ID"), "{err}");
    let gp = gatepay(&sb);
    assert!(gp.batch_detail("dup_b2", DetailStatus::All).await.is_err());

    // New IDs, the same address, currency and amount (written differently).
    let renamed = env.file(
        "renamed.csv",
        "merchant_withdraw_id,currency,amount,chain,address\n\
         gd9,usdt,12.50,TRX,TXdup1\n\
         gd10,USDT,3,TRX,TXnew\n",
    );
    let out = run(create("dup_b3", renamed.clone(), &[])).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("gd9"), "{err}");
    assert!(
        err.contains("the same address, currency and amount"),
        "{err}"
    );
    assert!(!err.contains("gd10 ("), "{err}");
    assert!(gp.batch_detail("dup_b3", DetailStatus::All).await.is_err());

    let out = run(create("dup_b3", renamed, &["--allow-duplicate", "gd9"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(gp.batch_detail("dup_b3", DetailStatus::All).await.is_ok());
    let audit = env.confirmations();
    assert!(audit[0].1.contains("batch dup_b3"), "{audit:?}");
    assert!(
        audit[0].1.contains("gd9 against gd1 of batch dup_b1"),
        "{audit:?}"
    );
    sb.stop().await;
}

/// Nothing is sent by a `gatepay create` that finds another live process sending the batch:
/// that is an error with nothing sent (2), not an unknown outcome (3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatepay_create_of_a_batch_another_process_is_sending_exits_2() {
    let sb = sandbox(small_config()).await;
    let env = Env::new(&sb);
    let file = env.file(
        "batch.csv",
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
         gs1,USDT,12.5,TRX,TXsend1,,0\n",
    );
    let args = [
        "gatepay",
        "create",
        "--batch-id",
        "busy_b1",
        "--file",
        file.as_str(),
        "--yes",
    ];
    let out = env.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let host = paydesk::domain::journal::claimer_id()
        .rsplitn(3, ':')
        .nth(2)
        .unwrap()
        .to_owned();
    let conn = rusqlite::Connection::open(journal_path(&env.dir.path().join("data"))).unwrap();
    conn.execute(
        "UPDATE gatepay_batches SET state = 'sending', claimed_by = ?1, claimed_at = ?2 WHERE batch_id = 'busy_b1'",
        rusqlite::params![
            format!("{host}:{}:other", sleeper.id()),
            jiff::Timestamp::now().as_second()
        ],
    )
    .unwrap();
    drop(conn);
    let out = env.run(&args).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("being sent right now by another Paydesk"),
        "{err}"
    );
    assert!(err.contains("nothing was sent by this command"), "{err}");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    sb.stop().await;
}
