//! Fault injection: each request draws at most one fault, with the given probabilities,
//! from a generator seeded by `--seed`, so a run can be replayed.

use std::fmt;

/// What can go wrong with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A create is recorded, then the reply is cut off mid-body: the case that loses money
    /// in careless clients.
    DropAfterCommit,
    /// HTTP 500 before anything is recorded.
    Http500,
    /// A create is recorded, then the reply is held past the client's timeout.
    Timeout,
    /// A create is recorded, then the reply is not JSON.
    Malformed,
}

/// Probabilities of each fault, 0 to 1; `bad_sign` applies to each returned order instead.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    pub drop_after_commit: f64,
    pub http500: f64,
    pub timeout: f64,
    pub malformed: f64,
    pub bad_sign: f64,
}

/// One request fault the sandbox injected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiredFault {
    pub kind: FaultKind,
    /// `GET` or `POST`: a CNY payout's create and lookup share one path.
    pub method: &'static str,
    /// The endpoint's path, as in the gateway core's `*_PATH` constants.
    pub path: &'static str,
    /// The merchant order ID the request named (a payout's create or lookup), if any.
    pub order_id: Option<String>,
}

/// Every fault injected so far: a test that injects faults asserts that they fired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultsFired {
    /// Request faults, in the order they were drawn.
    pub requests: Vec<FiredFault>,
    /// Orders served with a broken `sign`.
    pub bad_signs: usize,
}

impl FaultsFired {
    /// How many request faults of `kind` fired.
    pub fn count(&self, kind: FaultKind) -> usize {
        self.requests.iter().filter(|f| f.kind == kind).count()
    }

    /// The faults that hit `method` requests to `path` naming `order_id`.
    pub fn on(&self, method: &str, path: &str, order_id: &str) -> Vec<FaultKind> {
        self.requests
            .iter()
            .filter(|f| {
                f.method == method && f.path == path && f.order_id.as_deref() == Some(order_id)
            })
            .map(|f| f.kind)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultsParseError {
    #[error(
        "'{0}' is not NAME=PROBABILITY (names: drop-after-commit, http500, timeout, malformed, bad-sign)"
    )]
    Item(String),
    #[error(
        "unknown fault '{0}' (names: drop-after-commit, http500, timeout, malformed, bad-sign)"
    )]
    Name(String),
    #[error("the probability of {0} must be a number from 0 to 1")]
    Probability(String),
    #[error("the request faults' probabilities add up to more than 1")]
    Sum,
}

impl Faults {
    pub fn is_empty(&self) -> bool {
        *self == Faults::default()
    }

    /// Parses `drop-after-commit=0.1,http500=0.05,…`.
    pub fn parse(text: &str) -> Result<Faults, FaultsParseError> {
        let mut f = Faults::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, p) = item
                .split_once('=')
                .ok_or_else(|| FaultsParseError::Item(item.to_owned()))?;
            let p: f64 = p
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultsParseError::Probability(name.to_owned()))?;
            match name.trim() {
                "drop-after-commit" => f.drop_after_commit = p,
                "http500" => f.http500 = p,
                "timeout" => f.timeout = p,
                "malformed" => f.malformed = p,
                "bad-sign" => f.bad_sign = p,
                other => return Err(FaultsParseError::Name(other.to_owned())),
            }
        }
        if f.drop_after_commit + f.http500 + f.timeout + f.malformed > 1.0 + 1e-9 {
            return Err(FaultsParseError::Sum);
        }
        Ok(f)
    }

    /// The fault a uniform draw in [0, 1) lands on.
    pub fn pick(&self, roll: f64) -> Option<FaultKind> {
        let mut edge = 0.0;
        for (p, kind) in [
            (self.drop_after_commit, FaultKind::DropAfterCommit),
            (self.http500, FaultKind::Http500),
            (self.timeout, FaultKind::Timeout),
            (self.malformed, FaultKind::Malformed),
        ] {
            edge += p;
            if roll < edge {
                return Some(kind);
            }
        }
        None
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drop-after-commit={},http500={},timeout={},malformed={},bad-sign={}",
            self.drop_after_commit, self.http500, self.timeout, self.malformed, self.bad_sign
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_picks() {
        let f = Faults::parse(
            "drop-after-commit=0.25, http500=0.25,timeout=0,malformed=0.5,bad-sign=0.1",
        )
        .unwrap();
        assert_eq!(f.pick(0.1), Some(FaultKind::DropAfterCommit));
        assert_eq!(f.pick(0.3), Some(FaultKind::Http500));
        assert_eq!(f.pick(0.9), Some(FaultKind::Malformed));
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        assert_eq!(
            Faults::parse("nope=1"),
            Err(FaultsParseError::Name("nope".into()))
        );
        assert_eq!(
            Faults::parse("http500=2"),
            Err(FaultsParseError::Probability("http500".into()))
        );
        assert_eq!(
            Faults::parse("http500"),
            Err(FaultsParseError::Item("http500".into()))
        );
        assert_eq!(
            Faults::parse("http500=0.6,timeout=0.6"),
            Err(FaultsParseError::Sum)
        );
        assert_eq!(Faults::parse(&f.to_string()).unwrap(), f);
    }
}
