//! `paydesk bench team`: K operators (K PostgreSQL roles, each its own desk and connection)
//! sending the same file of R payouts at once through the team journal to an in-process
//! sandbox, against one operator sending the same file through the desktop (SQLite) journal
//! in the same run: seconds, rows a second, the ratio, and the rows paid twice or never.
//! The server: `PAYDESK_TEST_PG` (a superuser URL) or a throwaway cluster (`.ci/pg-cluster`).

use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use paydesk::clock::SystemClock;
use paydesk::domain::bulk::plan;
use paydesk::domain::duplicates::{Confirmation, DuplicateWindow};
use paydesk::domain::journal::team::testing::{PrivateCluster, Server, server};
use paydesk::domain::journal::{Journal, journal_path};
use paydesk::domain::payouts::PayoutDesk;
use paydesk::gateway::cny::banks::default_banks;
use paydesk::gateway::cny::{CnyClient, CnyConfig};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::sandbox::{SandboxConfig, SandboxHandle};

fn client(sb: &SandboxHandle) -> anyhow::Result<CnyClient> {
    let config = CnyConfig {
        base_url: parse_base_url(sb.base_url())?,
        platform_id: sb.info.cny.platform_id.clone(),
        auth_token: sb.info.cny.auth_token.clone(),
        md5_key: Some(sb.info.cny.md5_key.clone()),
        sign_options: paydesk::gateway::cny::SignOptions::default(),
        brand: paydesk::gateway::cny::Brand::default(),
        banks: paydesk::domain::banks::default_banks(),
        http: HttpSettings {
            connect_timeout_secs: 2,
            timeout_secs: 10,
        },
    };
    Ok(CnyClient::new(config, Arc::new(SystemClock))?)
}

/// A file of `rows` payouts, each to its own account (no likely duplicates), its amounts
/// offset by `salt` so that two runs are two files.
fn file(rows: usize, salt: usize) -> String {
    let mut csv = String::from("amount,bank,name,number\n");
    for i in 0..rows {
        let _ = writeln!(
            csv,
            "{}.{:02},ICBC,张伟,6222{:012}",
            10 + i % 900,
            salt % 100,
            salt * 1_000_000 + i
        );
    }
    csv
}

struct Run {
    secs: f64,
    sent: usize,
    doubled: usize,
    missing: usize,
}

/// Every desk sends the same file at once; what the sandbox received tells doubles.
async fn send_together(desks: &[PayoutDesk], sb: &SandboxHandle, csv: &str) -> anyhow::Result<Run> {
    let before = sb.payout_create_requests();
    let start = Instant::now();
    let runs = desks.iter().map(|d| async move {
        let p = plan("bench.csv", csv.as_bytes(), &default_banks(), |id| {
            paydesk::lock_unpoisoned(&d.journal)
                .get(&d.merchant, id)
                .ok()
                .flatten()
                .map(|e| e.import_id)
        })
        .map_err(|e| anyhow::anyhow!("{} row errors", e.len()))?;
        d.enqueue_import_unless_duplicate(&p, DuplicateWindow::default(), &Confirmation::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let sent = d
            .run_import(&p, &AtomicBool::new(false), |_, _, _| {})
            .await?;
        anyhow::Ok((p.len(), sent.sent))
    });
    let results = futures_util::future::join_all(runs).await;
    let secs = start.elapsed().as_secs_f64();
    let mut sent = 0;
    let mut rows = 0;
    for r in results {
        let (n, s) = r?;
        rows = n;
        sent += s;
    }
    let after = sb.payout_create_requests();
    let new: Vec<usize> = after
        .iter()
        .filter(|(id, _)| !before.contains_key(*id))
        .map(|(_, n)| *n)
        .collect();
    Ok(Run {
        secs,
        sent,
        doubled: new.iter().filter(|n| **n > 1).count(),
        missing: rows.saturating_sub(new.len()),
    })
}

pub async fn run(operators: &[usize], rows: usize) -> anyhow::Result<()> {
    let sb = paydesk::sandbox::start(SandboxConfig {
        deposits: 10,
        payouts: 10,
        ..SandboxConfig::default()
    })
    .await?;
    let private;
    let server: &'static Server = if let Some(s) = server() {
        s
    } else {
        private = PrivateCluster::start()
            .ok_or_else(|| anyhow::anyhow!("no PostgreSQL server for the team bench"))?;
        private.server
    };
    println!(
        "K operators send the same file of {rows} payouts at once through the team journal \
         (PostgreSQL), against one operator and the desktop journal (SQLite), to an in-process sandbox"
    );
    let dir = std::env::temp_dir().join(format!("paydesk-bench-team-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let desktop = {
        let journal = Journal::open(&journal_path(&dir))?;
        PayoutDesk::new(
            Arc::new(Mutex::new(journal)),
            client(&sb)?,
            Arc::new(SystemClock),
        )
    };
    let base = send_together(std::slice::from_ref(&desktop), &sb, &file(rows, 0)).await?;
    println!(
        "{:>10} {:>8} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "journal", "K", "seconds", "rows/s", "time x", "doubled", "missing"
    );
    let line = |name: &str, k: usize, r: &Run| {
        println!(
            "{name:>10} {k:>8} {:>10.2} {:>10.0} {:>8.2} {:>8} {:>8}",
            r.secs,
            r.sent as f64 / r.secs.max(1e-9),
            r.secs / base.secs.max(1e-9),
            r.doubled,
            r.missing
        );
    };
    line("desktop", 1, &base);
    for (i, &k) in operators.iter().enumerate() {
        let names: Vec<String> = (0..k).map(|n| format!("op{n}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let db = server.fresh(&refs);
        let desks = names
            .iter()
            .map(|n| {
                let journal = Journal::open_team(&db.url(n), Some(&db.password(n)))?;
                anyhow::Ok(PayoutDesk::new(
                    Arc::new(Mutex::new(journal)),
                    client(&sb)?,
                    Arc::new(SystemClock),
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let r = send_together(&desks, &sb, &file(rows, i + 1)).await?;
        line("team", k, &r);
        drop(desks);
        drop(db);
    }
    let _ = std::fs::remove_dir_all(&dir);
    sb.stop().await;
    Ok(())
}
