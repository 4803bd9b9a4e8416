//! Time and randomness that signing depends on, injected so tests and vectors are exact.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Wall-clock time in Unix milliseconds.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that always reads the same instant (tests, vectors).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// Another clock shifted by a fixed number of milliseconds (a machine whose clock is off).
#[derive(Clone)]
pub struct OffsetClock {
    pub inner: Arc<dyn Clock>,
    pub offset_ms: i64,
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        self.inner.now_ms().saturating_add(self.offset_ms)
    }
}

/// Where GatePay's per-request nonces come from.
pub trait NonceSource: Send + Sync {
    fn nonce(&self) -> String;
}

/// 32 random letters and digits per call, as GatePay recommends.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomNonce;

impl NonceSource for RandomNonce {
    fn nonce(&self) -> String {
        rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect()
    }
}

/// The same nonce every time (vectors, and tests of nonce-reuse refusal).
#[derive(Clone, Debug)]
pub struct FixedNonce(pub String);

impl NonceSource for FixedNonce {
    fn nonce(&self) -> String {
        self.0.clone()
    }
}
