//! `paydesk bench console`: the process memory and the UI thread's cost of a frame of the
//! real orders panel with many loaded rows, beside the same panel with one page (500 rows)
//! measured in the same run. A frame here is egui's layout and tessellation, as on screen,
//! without the GPU upload.

use std::hint::black_box;
use std::time::{Duration, Instant};

use eframe::egui;
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::cny::wire::{Order, OrderKind};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

use crate::console::panels::orders::{LoadedPage, OrdersPanel, PersistedFilter, Reread, SortKey};

const BENCH_KEY: &str = "bench-key";

/// `n` signed payouts, made one at a time so only their rows stay.
fn orders(n: usize) -> impl Iterator<Item = Order> {
    let key = Secret::new(BENCH_KEY);
    (0..n).map(move |i| {
        let mut o: Map<String, Value> = match json!({
            "amount": 10_000 + (i * 37) % 5_000_000, "real_amount": 0, "fee": 0,
            "payout_id": format!("POT{i:08}"), "payout_cl_id": format!("pay_1796000000_{i}"),
            "platform_id": "PF0060", "platform_channel_id": "PFC00000142",
            "status": i % 7, "memo": if i % 9 == 0 { "工资" } else { "" },
            "create_time": 1_796_000_000 - i as i64 * 13, "update_time": 1_796_000_100 - i as i64 * 13,
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let sign = sign_object(&o, &key, SignOptions::default());
        o.insert("sign".into(), Value::from(sign));
        Order::from_raw(OrderKind::Payout, o, Some(&key), SignOptions::default())
    })
}

/// `VmRSS` and `VmHWM` of this process in bytes, from `/proc/self/status` (zero elsewhere).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Measured {
    mean: Duration,
    p95: Duration,
    /// Process memory with the rows loaded and drawn.
    rss: u64,
    filter: Duration,
    sort_number: Duration,
    sort_text: Duration,
}

fn measure(rows: usize, frames: usize) -> Measured {
    let ctx = egui::Context::default();
    crate::console::panels::fonts::install(&ctx);
    let mut panel = OrdersPanel::new(OrderKind::Payout, &PersistedFilter::default());
    let (reply, rx) = tokio::sync::oneshot::channel();
    panel.begin_request(true, rx, None);
    let cx = crate::console::context::ConsoleContext {
        tz: crate::console::context::TzChoice::Utc,
        ..Default::default()
    };
    let reread = Reread::new(
        OrderKind::Payout,
        Some(Secret::new(BENCH_KEY)),
        SignOptions::default(),
    );
    let page = LoadedPage::from_orders(orders(rows), rows as u64, reread);
    let _ = reply.send(Ok(page));
    panel.poll();
    // The quick filter and a sort over every row, as an operator would ask them.
    let started = Instant::now();
    panel.narrow("pay_1796000000_4242", None);
    let filter = started.elapsed();
    let started = Instant::now();
    panel.narrow("", Some((SortKey::Amount, true)));
    let sort_number = started.elapsed();
    let started = Instant::now();
    panel.narrow("", Some((SortKey::MerchantId, false)));
    let sort_text = started.elapsed();
    panel.narrow("", None);
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0));
    let mut times = Vec::with_capacity(frames);
    let mut open = false;
    for frame in 0..frames + 10 {
        let mut input = egui::RawInput {
            screen_rect: Some(screen),
            ..Default::default()
        };
        input.time = Some(frame as f64 / 60.0);
        // Scroll through the table as a person would, so every frame draws other rows.
        input
            .events
            .push(egui::Event::PointerMoved(egui::pos2(640.0, 500.0)));
        input.events.push(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -120.0),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
            source: egui::MouseWheelSource::Wheel,
        });
        let start = Instant::now();
        let mut output = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                black_box(panel.ui(ui, &cx, &mut open));
            });
        });
        black_box(ctx.tessellate(output.shapes, output.pixels_per_point));
        // No GPU here takes the font atlas: dropped on purpose.
        output.textures_delta.clear();
        if frame >= 10 {
            times.push(start.elapsed());
        }
    }
    times.sort_unstable();
    Measured {
        mean: times.iter().sum::<Duration>() / frames as u32,
        p95: times[frames * 95 / 100],
        rss: memory().0,
        filter,
        sort_number,
        sort_text,
    }
}

pub fn console(rows: &[usize], frames: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "the Payouts panel while scrolling ({frames} frames, 1280x800): frame time, and process \
         memory with the rows loaded (VmRSS)"
    );
    let (idle, _) = memory();
    println!("  before loading anything: {:.1} MB", mb(idle));
    let base = measure(500, frames);
    let line = |n: usize, m: &Measured, tail: String| {
        println!(
            "  {n:>8} rows   mean {:>6.2} ms   p95 {:>6.2} ms   memory {:>7.1} MB   \
             quick filter {:>6.1} ms   sort by amount {:>6.1} ms, by merchant ID {:>6.1} ms{tail}",
            ms(m.mean),
            ms(m.p95),
            mb(m.rss),
            ms(m.filter),
            ms(m.sort_number),
            ms(m.sort_text),
        );
    };
    line(500, &base, "   (baseline)".to_owned());
    for &n in rows {
        // Each count is measured alone: the previous panel is gone before the next loads.
        let big = measure(n, frames);
        line(
            n,
            &big,
            format!(
                "   {:.2}x the baseline's frame",
                big.mean.as_secs_f64() / base.mean.as_secs_f64()
            ),
        );
    }
    println!("  peak memory of the run (VmHWM): {:.1} MB", mb(memory().1));
}

/// A sandbox in a child process (`paydesk sandbox`), so this process's memory is the
/// client's alone; killed when dropped.
pub(crate) struct ChildSandbox {
    child: std::process::Child,
    info: Value,
}

impl ChildSandbox {
    fn start(orders: usize, latency_ms: u64) -> anyhow::Result<ChildSandbox> {
        let orders = orders.to_string();
        let latency_ms = latency_ms.to_string();
        ChildSandbox::start_with(&[
            "--deposits",
            "100",
            "--payouts",
            &orders,
            "--latency-ms",
            &latency_ms,
        ])
    }

    /// A sandbox with these arguments after `sandbox --port 0`.
    pub(crate) fn start_with(args: &[&str]) -> anyhow::Result<ChildSandbox> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args(["sandbox", "--port", "0"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            std::io::BufReader::new(out).read_line(&mut line)?;
        }
        let sandbox = ChildSandbox {
            child,
            info: serde_json::from_str(&line).unwrap_or(Value::Null),
        };
        anyhow::ensure!(
            sandbox.info.is_object(),
            "the sandbox did not start (it printed {} bytes)",
            line.len()
        );
        Ok(sandbox)
    }

    pub(crate) fn text(&self, path: &[&str]) -> String {
        path.iter()
            .fold(&self.info, |v, k| &v[*k])
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn client(&self) -> anyhow::Result<paydesk::gateway::cny::CnyClient> {
        let config = paydesk::domain::credentials::CnyCredentials {
            base_url: Some(self.text(&["base_url"])),
            platform_id: Some(self.text(&["cny", "platform_id"])),
            auth_token: Some(Secret::new(self.text(&["cny", "auth_token"]))),
            md5_key: Some(Secret::new(self.text(&["cny", "md5_key"]))),
            sign_options: SignOptions::default(),
            brand: paydesk::gateway::cny::Brand::default(),
            banks: None,
            source: "sandbox".to_owned(),
        }
        .client_config(paydesk::gateway::http::HttpSettings::default())?;
        Ok(paydesk::gateway::cny::CnyClient::new(
            config,
            std::sync::Arc::new(paydesk::clock::SystemClock),
        )?)
    }
}

impl Drop for ChildSandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's peak resident memory (`VmHWM`), in MB.
pub(crate) fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak to the current resident memory (Linux 4.0 and later), so the next reading
/// is the peak of what runs in between; false where that is not possible.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub(crate) fn mb(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MB"))
}

/// `paydesk bench export`: the export of every order against what a user would script (one
/// page after another), both against the same sandbox (a child process, with latency) in the
/// same run, with this process's peak memory for each; then the writers alone on in-memory
/// rows.
/// What the export benchmarks write: every order of `kind` of the child sandbox at
/// `base_url`, in yuan, in Shanghai time (`tz`), to `target`.
pub(crate) fn sandbox_export_plan(
    target: std::path::PathBuf,
    kind: paydesk::domain::export::ExportKind,
    format: paydesk::domain::export::ExportFormat,
    tz: &jiff::tz::TimeZone,
    base_url: String,
) -> paydesk::domain::export::ExportPlan {
    use paydesk::domain::export::{ExportPlan, ManifestProfile};
    ExportPlan {
        target,
        layout: bench_layout(kind, format, tz),
        profile: ManifestProfile {
            name: "Sandbox".into(),
            marker: "SANDBOX".into(),
            base_url,
            merchant: String::new(),
        },
        gateway: "cny",
        scope: "all pages".into(),
        filter: serde_json::Value::Null,
    }
}

/// The columns and units the export benchmarks write: `kind`'s defaults, in yuan, in Shanghai
/// time (`tz`).
fn bench_layout(
    kind: paydesk::domain::export::ExportKind,
    format: paydesk::domain::export::ExportFormat,
    tz: &jiff::tz::TimeZone,
) -> paydesk::domain::export::Layout {
    paydesk::domain::export::Layout {
        kind,
        format,
        columns: kind.default_columns(),
        tz: tz.clone(),
        tz_name: "Asia/Shanghai".into(),
        unit: paydesk::domain::export::AmountUnit::Yuan,
    }
}

#[allow(clippy::too_many_lines)]
pub async fn export(orders: usize, latency_ms: u64, rows: u64) -> anyhow::Result<()> {
    use paydesk::domain::export::{Cell, ExportFormat, ExportKind, export_all_orders, write_file};
    use paydesk::gateway::cny::wire::{MAX_LIMIT, OrderQuery, TimeRange};
    use paydesk::money::Fen;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    let started = Instant::now();
    let sandbox =
        tokio::task::spawn_blocking(move || ChildSandbox::start(orders, latency_ms)).await??;
    let sandbox_start = started.elapsed();
    let client = sandbox.client()?;
    let dir = std::env::temp_dir().join(format!("paydesk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai")?;
    let now = jiff::Timestamp::now().as_second();
    println!(
        "sandbox of {orders} payouts (a child process, latency {latency_ms} ms a reply): started in {:.2} s",
        sandbox_start.as_secs_f64()
    );

    // Baseline: one page after another, as a script would.
    let resettable = reset_peak();
    let started = Instant::now();
    let mut fetched = 0usize;
    let mut offset = 0u64;
    loop {
        let page = client
            .query(
                OrderKind::Payout,
                &OrderQuery {
                    offset,
                    limit: MAX_LIMIT,
                    created: Some(TimeRange {
                        from_secs: 0,
                        to_secs: now - 1,
                    }),
                    ..OrderQuery::default()
                },
            )
            .await?;
        fetched += page.orders.len();
        offset += u64::from(MAX_LIMIT);
        if offset >= page.total {
            break;
        }
    }
    let sequential = started.elapsed();
    println!(
        "  sequential page loop (baseline, fetch only, 500 a page): {fetched} orders in {:.2} s; peak memory {}",
        sequential.as_secs_f64(),
        mb(peak_mb())
    );
    for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
        let reset = reset_peak();
        let started = Instant::now();
        let report = export_all_orders(
            &client,
            OrderKind::Payout,
            &OrderQuery::default(),
            4,
            sandbox_export_plan(
                dir.join(format!("payouts.{}", format.extension())),
                ExportKind::Payouts,
                format,
                &tz,
                sandbox.text(&["base_url"]),
            ),
            Arc::new(AtomicBool::new(false)),
            |_| {},
        )
        .await?;
        let exported = started.elapsed();
        let peak = peak_mb();
        println!(
            "  paydesk export to {} (4 pages at a time, verified, written, manifest): {:.2} s = {:.2}x the baseline",
            format.extension(),
            exported.as_secs_f64(),
            sequential.as_secs_f64() / exported.as_secs_f64()
        );
        println!(
            "    {} rows written, the gateway's total {}{}; {} duplicates dropped; {} time windows; {:.1} MB file",
            report.written.rows,
            report.gateway_total.unwrap_or_default(),
            if report.count_note.is_none() {
                " (equal)"
            } else {
                " (NOT EQUAL)"
            },
            report.duplicates_dropped,
            report.time_windows.unwrap_or(1),
            report.written.bytes as f64 / 1e6
        );
        println!(
            "    peak memory of this process during the export: {}{}",
            mb(peak),
            if reset && resettable {
                ""
            } else {
                " (the peak could not be reset: this is the largest since the bench started)"
            }
        );
        let _ = std::fs::remove_file(&report.file);
        let _ = std::fs::remove_file(&report.manifest);
    }
    drop(sandbox);

    // The writers alone.
    let synthetic = move |i: u64| -> Vec<Cell> {
        let fen = 10_000 + (i as i64 * 37) % 5_000_000;
        vec![
            Cell::Text(format!("POT{i:08}")),
            Cell::Text(format!("pay_1796000000_{i}")),
            Cell::Time((1_796_000_000 - i as i64) * 1000),
            Cell::Time((1_796_000_100 - i as i64) * 1000),
            Cell::Cny(Fen::from_fen(fen)),
            Cell::Cny(Fen::from_fen(fen)),
            Cell::Cny(Fen::from_fen(fen / 100)),
            Cell::Text("success".into()),
            Cell::Int(3),
            Cell::Text("PFC00000142".into()),
            Cell::Text(if i.is_multiple_of(9) {
                "工资".into()
            } else {
                String::new()
            }),
            Cell::Text("valid".into()),
        ]
    };
    println!("writing {rows} in-memory payouts (12 columns), the writers alone:");
    for format in [ExportFormat::Csv, ExportFormat::Xlsx, ExportFormat::Jsonl] {
        let target = dir.join(format!("synthetic.{}", format.extension()));
        let started = Instant::now();
        let written = write_file(
            &target,
            &bench_layout(ExportKind::Payouts, format, &tz),
            (0..rows).map(synthetic),
            &AtomicBool::new(false),
            |_| {},
        )?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {:5}: {:.2} s, {:.1} MB, {:.1} MB/s, {:.0} rows/s",
            format.extension(),
            secs,
            written.bytes as f64 / 1e6,
            written.bytes as f64 / 1e6 / secs,
            written.rows as f64 / secs
        );
        black_box(&written);
        let _ = std::fs::remove_file(&target);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
