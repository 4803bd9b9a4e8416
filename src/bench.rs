//! `paydesk bench console`: the UI thread's cost of a frame of the real orders panel with
//! many loaded rows, beside the same panel with one page (500 rows) measured in the same run.
//! A frame here is egui's layout and tessellation, as on screen, without the GPU upload.

use std::hint::black_box;
use std::time::{Duration, Instant};

use eframe::egui;
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::cny::wire::{Order, OrderKind};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

use crate::ui::orders::{LoadedPage, OrdersPanel, PersistedFilter};

fn orders(n: usize) -> Vec<Order> {
    let key = Secret::new("bench-key");
    (0..n)
        .map(|i| {
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
        .collect()
}

struct Measured {
    mean: Duration,
    p95: Duration,
}

fn measure(rows: usize, frames: usize) -> Measured {
    let ctx = egui::Context::default();
    crate::ui::fonts::install(&ctx);
    let mut panel = OrdersPanel::new(OrderKind::Payout, &PersistedFilter::default());
    let generation = panel.begin_request(true);
    let tz = jiff::tz::TimeZone::UTC;
    let page = paydesk::gateway::cny::wire::QueryPage {
        kind: OrderKind::Payout,
        total: rows as u64,
        offset: 0,
        limit: 500,
        orders: orders(rows),
    };
    panel.receive(generation, Ok(LoadedPage::from_page(page, &tz)));
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
        let output = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                black_box(panel.ui(ui, &mut open));
            });
        });
        black_box(ctx.tessellate(output.shapes, output.pixels_per_point));
        if frame >= 10 {
            times.push(start.elapsed());
        }
    }
    times.sort_unstable();
    Measured {
        mean: times.iter().sum::<Duration>() / frames as u32,
        p95: times[frames * 95 / 100],
    }
}

pub fn console(rows: usize, frames: usize) {
    let base = measure(500, frames);
    let big = measure(rows, frames);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("frame time of the Payouts panel while scrolling ({frames} frames, 1280x800)");
    println!(
        "  {:>7} rows loaded   mean {:>6.2} ms   p95 {:>6.2} ms   (baseline)",
        500,
        ms(base.mean),
        ms(base.p95)
    );
    println!(
        "  {rows:>7} rows loaded   mean {:>6.2} ms   p95 {:>6.2} ms   {:.2}x the baseline's mean",
        ms(big.mean),
        ms(big.p95),
        big.mean.as_secs_f64() / base.mean.as_secs_f64()
    );
}
