//! What every panel reads and nothing else: the connection's marker, why sending is blocked,
//! the journal's health, the time zone. Panels import this module and never the app, so the
//! app can change without its panels knowing (Rerun's viewer keeps its `ViewerContext` below
//! both for the same reason).

use jiff::tz::TimeZone;
use paydesk::domain::dates::{GATEWAY_TZ, zone};
use paydesk::gateway::cny::banks::Bank;
use paydesk::gateway::cny::sign::SignOptions;
use serde::{Deserialize, Serialize};

pub use super::requested::{Reply, Requested, take_reply};

/// How a profile is marked, in the title and the top bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Live,
    Test,
    Sandbox,
}

impl Marker {
    pub fn label(self) -> &'static str {
        match self {
            Marker::Live => "LIVE",
            Marker::Test => "TEST",
            Marker::Sandbox => "SANDBOX",
        }
    }
}

/// The zone dates are read and shown in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TzChoice {
    /// The gateway's own time, Asia/Shanghai.
    #[default]
    Gateway,
    Local,
    Utc,
}

impl TzChoice {
    pub fn zone(self) -> TimeZone {
        match self {
            TzChoice::Gateway => zone(GATEWAY_TZ).unwrap_or(TimeZone::UTC),
            TzChoice::Local => TimeZone::system(),
            TzChoice::Utc => TimeZone::UTC,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TzChoice::Gateway => "Gateway time (Asia/Shanghai)",
            TzChoice::Local => "This computer's time",
            TzChoice::Utc => "UTC",
        }
    }
}

/// One frame's view of the console, built by the app before the panels draw.
#[derive(Clone, Debug, Default)]
pub struct ConsoleContext {
    /// The active profile's name and marker, when connected.
    pub profile: Option<(String, Marker)>,
    /// What is being connected, or why there is no connection.
    pub connection_status: String,
    /// The zone times are shown in outside the order filters (batches, sent payouts).
    pub tz: TzChoice,
    /// Why CNY payouts cannot be sent right now; `None` when they can.
    pub cny_blocked: Option<String>,
    /// Why GatePay batches cannot be sent right now; `None` when they can.
    pub gatepay_blocked: Option<String>,
    /// Why the payout journal cannot be trusted (damaged while open, or refused when opened);
    /// anything that writes to it is off.
    pub journal_damage: Option<String>,
    /// The bank list payouts choose from.
    pub banks: Vec<Bank>,
    /// How the active CNY profile signs, when it has an MD5 key.
    pub cny_signing: Option<SignOptions>,
    /// The active profile has GatePay credentials.
    pub has_gatepay: bool,
    /// Which journal payouts are recorded in: the desktop's file or the team's server.
    pub journal_in_use: Option<String>,
    /// The database role this operator is on an open team journal; `None` on a desktop one.
    pub team_role: Option<String>,
    /// How live updates from the team journal stand (listening, lost and retrying).
    pub team_live: Option<String>,
}

impl ConsoleContext {
    pub fn marker(&self) -> Option<Marker> {
        self.profile.as_ref().map(|(_, m)| *m)
    }

    pub fn profile_name(&self) -> Option<&str> {
        self.profile.as_ref().map(|(n, _)| n.as_str())
    }
}
