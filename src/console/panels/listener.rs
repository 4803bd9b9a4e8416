//! "Receive notifications": the console's switch for the notification listener, its port and
//! allowed addresses, its state and the last notifications it handled. The listener itself
//! (verify, record, acknowledge, settle) is the domain's; this panel only parses and shows.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use eframe::egui;
use egui::RichText;
use paydesk::domain::dates::format_secs;
use paydesk::domain::listener::{AllowList, Cidr, Event, ListenerHandle};
use paydesk::domain::payouts::Notified;
use tokio::sync::mpsc;

use crate::console::context::{ConsoleContext, Reply, take_reply};

use super::widgets::{self, field_label};

/// The port `paydesk listen` uses too.
pub const DEFAULT_PORT: u16 = 8787;
/// How many handled notifications the panel keeps on screen.
const RECENT: usize = 20;

/// What the listener panel asks of the app.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Start listening on this port (0: any free one), accepting from these addresses.
    Start {
        port: u16,
        allow: AllowList,
    },
    Stop,
}

/// The listener as the console runs it: started, its events, the last ones shown.
pub struct ListenerPanel {
    pub port: String,
    /// CIDR ranges or addresses, separated by commas or spaces; empty: loopback only.
    pub allow: String,
    /// The listener being started, and the profile it serves.
    pub starting: Option<(Reply<ListenerHandle>, String)>,
    /// The running listener and the profile it serves.
    pub running: Option<(ListenerHandle, String)>,
    pub events: Option<mpsc::Receiver<Event>>,
    pub recent: VecDeque<Event>,
    pub error: Option<String>,
}

impl Default for ListenerPanel {
    fn default() -> Self {
        ListenerPanel {
            port: DEFAULT_PORT.to_string(),
            allow: String::new(),
            starting: None,
            running: None,
            events: None,
            recent: VecDeque::new(),
            error: None,
        }
    }
}

/// What the handled notifications changed, so the app refreshes the lists they are in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub payouts: bool,
    pub batches: bool,
}

impl ListenerPanel {
    pub fn is_on(&self) -> bool {
        self.running.is_some() || self.starting.is_some()
    }

    /// The URL the gateway is to deliver to, when listening.
    pub fn url(&self) -> Option<String> {
        self.running
            .as_ref()
            .map(|(h, _)| format!("http://{}/", h.addr))
    }

    /// Where the listener is started from: the port and addresses typed, or why not.
    pub fn parsed(&self) -> Result<(u16, AllowList), String> {
        let port = self
            .port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("“{}” is not a port (0 to 65535)", self.port.trim()))?;
        let allow = self
            .allow
            .split([',', ' ', '\n'])
            .filter(|s| !s.trim().is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok((port, AllowList(allow)))
    }

    /// Takes in the start's outcome and the notifications handled since the last frame.
    pub fn poll(&mut self) -> Settled {
        if let Some(started) = self.starting.as_mut().and_then(|(r, _)| take_reply(r)) {
            let profile = self.starting.take().map(|(_, p)| p).unwrap_or_default();
            match started {
                Ok(handle) => self.running = Some((handle, profile)),
                Err(e) => {
                    self.error = Some(e);
                    self.events = None;
                }
            }
        }
        let mut settled = Settled::default();
        let Some(events) = self.events.as_mut() else {
            return settled;
        };
        while let Ok(event) = events.try_recv() {
            let applied = event.acknowledged && !event.duplicate;
            match event.source {
                "gatepay" => settled.batches |= applied,
                _ => {
                    settled.payouts |= applied
                        && matches!(
                            event.effect,
                            Some(Notified::Found | Notified::StatusChanged)
                        );
                }
            }
            self.recent.push_front(event);
            self.recent.truncate(RECENT);
        }
        settled
    }

    /// Forgets the running listener; the app stops it.
    pub fn take_running(&mut self) -> Option<ListenerHandle> {
        self.starting = None;
        self.events = None;
        self.running.take().map(|(h, _)| h)
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &ConsoleContext) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut on = self.is_on();
        ui.horizontal(|ui| {
            let switch = ui.checkbox(&mut on, "Receive notifications");
            if switch.changed() {
                if on {
                    match self.parsed() {
                        Ok((port, allow)) => {
                            self.error = None;
                            actions.push(Action::Start { port, allow });
                        }
                        Err(e) => self.error = Some(e),
                    }
                } else {
                    actions.push(Action::Stop);
                }
            }
            let idle = !self.is_on();
            let id = field_label(ui, "Port");
            ui.add_enabled(
                idle,
                egui::TextEdit::singleline(&mut self.port).desired_width(60.0),
            )
            .on_disabled_hover_text("Stop the listener to change its port")
            .labelled_by(id);
            let id = field_label(ui, "Allowed addresses");
            ui.add_enabled(
                idle,
                egui::TextEdit::singleline(&mut self.allow)
                    .hint_text("loopback only; e.g. 203.0.113.0/24")
                    .desired_width(260.0),
            )
            .on_disabled_hover_text("Stop the listener to change who may call it")
            .labelled_by(id);
        });
        match (&self.running, &self.starting) {
            (Some((handle, profile)), _) => {
                let allow = self.parsed().map(|(_, a)| a).unwrap_or_default();
                // The shared description names the command-line flag; here the way is the field.
                let accepted = if allow.0.is_empty() {
                    "loopback only (127.0.0.1, ::1); fill Allowed addresses to accept others"
                        .to_owned()
                } else {
                    allow.describe()
                };
                ui.colored_label(
                    widgets::ok(ui),
                    format!(
                        "Listening on http://{}/ for {profile}; accepting from {accepted}",
                        handle.addr
                    ),
                );
                if cx.profile_name() != Some(profile.as_str()) {
                    ui.colored_label(
                        widgets::warn(ui),
                        "The active profile changed: switch off and on again to serve it",
                    );
                }
            }
            (None, Some(_)) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Starting the listener…");
                });
            }
            (None, None) => {
                ui.label(
                    RichText::new(
                        "Off: payouts and batches are checked by polling. On, each notification \
                         is verified and recorded before it is acknowledged.",
                    )
                    .weak(),
                );
            }
        }
        if let Some(e) = &self.error {
            ui.colored_label(widgets::error(ui), e);
        }
        if !self.recent.is_empty() {
            events_table(ui, &self.recent, cx);
        }
        actions
    }
}

fn effect_text(event: &Event) -> String {
    if event.duplicate {
        return "duplicate: acknowledged again, applied once".to_owned();
    }
    // A GatePay callback settles a whole batch, not one payout.
    let what = if event.source == "gatepay" {
        "batch"
    } else {
        "payout"
    };
    match &event.effect {
        Some(Notified::Found) => format!("{what} found"),
        Some(Notified::StatusChanged) => format!("{what} settled"),
        Some(Notified::Unchanged) => "no change".to_owned(),
        Some(Notified::Taken(other)) => format!("ID taken by {other}"),
        None if !event.acknowledged => "refused, not acknowledged".to_owned(),
        None => "recorded".to_owned(),
    }
}

fn events_table(ui: &mut egui::Ui, recent: &VecDeque<Event>, cx: &ConsoleContext) {
    let tz = cx.tz.zone();
    ui.label(RichText::new(format!("Times in {}", cx.tz.label())).weak());
    egui::Grid::new("listener_events")
        .num_columns(6)
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "Received", "Gateway", "Verdict", "Order", "Status", "Effect",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for e in recent {
                ui.label(RichText::new(format_secs(e.received_at, &tz)).monospace());
                // A connection closed at accept (an address not allowed) is no gateway's yet.
                ui.label(match e.source {
                    "gatepay" => "GatePay",
                    "tcp" => "connection",
                    _ => "CNY",
                });
                let color = if e.verdict == "valid" {
                    widgets::ok(ui)
                } else {
                    widgets::error(ui)
                };
                ui.colored_label(color, e.verdict);
                ui.label(&e.order_ref);
                ui.label(e.status.as_deref().unwrap_or(""));
                let mut effect = effect_text(e);
                if let Some(err) = &e.error {
                    effect = format!("{effect}: {err}");
                }
                ui.label(effect);
                ui.end_row();
            }
        });
    // A callback's batch and sub-order lines are wider than any column: inside the table they
    // pushed the order, status and effect off the window. Beneath it they wrap instead.
    for e in recent.iter().filter(|e| !e.lines.is_empty()) {
        ui.label(RichText::new(format!("Callback read: {}", e.order_ref)).strong());
        for line in &e.lines {
            ui.add(egui::Label::new(RichText::new(line).monospace().weak()).wrap());
        }
    }
}

/// Where the listener binds: loopback, where a tunnel or a reverse proxy delivers, unless
/// other addresses are allowed, which can reach it only on every interface.
pub fn bind_addr(port: u16, allow: &AllowList) -> SocketAddr {
    let loopback = [
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ];
    let everywhere = allow
        .0
        .iter()
        .any(|c| !loopback.iter().any(|ip| c.contains(*ip)));
    let ip = if everywhere {
        [0, 0, 0, 0]
    } else {
        [127, 0, 0, 1]
    };
    SocketAddr::from((ip, port))
}

#[cfg(test)]
mod tests {
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;

    struct Drawn {
        panel: ListenerPanel,
        actions: Vec<Action>,
    }

    fn harness() -> Harness<'static, Drawn> {
        Harness::new_ui_state(
            |ui, d: &mut Drawn| {
                let actions = d.panel.ui(ui, &ConsoleContext::default());
                d.actions.extend(actions);
            },
            Drawn {
                panel: ListenerPanel::default(),
                actions: Vec::new(),
            },
        )
    }

    fn event(source: &'static str, effect: Option<Notified>, duplicate: bool) -> Event {
        Event {
            source,
            order_ref: "pay_1".into(),
            verdict: "valid",
            acknowledged: true,
            duplicate,
            peer: "127.0.0.1:5000".into(),
            received_at: 0,
            status: Some("3".into()),
            effect,
            lines: Vec::new(),
            error: None,
        }
    }

    #[test]
    fn the_switch_is_off_and_turning_it_on_asks_to_start_with_the_typed_settings() {
        let mut h = harness();
        h.step();
        assert!(
            h.query_by_label_contains("Off: payouts and batches")
                .is_some()
        );
        // The port field starts at the default; typed over as a person would select all.
        h.state_mut().panel.port.clear();
        h.step();
        let port = h.get_by_role_and_label(Role::TextInput, "Port");
        port.focus();
        port.type_text("0");
        h.step();
        let allow = h.get_by_role_and_label(Role::TextInput, "Allowed addresses");
        allow.focus();
        allow.type_text("203.0.113.0/24, 127.0.0.1");
        h.step();
        h.get_by_role_and_label(Role::CheckBox, "Receive notifications")
            .click();
        h.step();
        let [Action::Start { port, allow }] = h.state().actions.as_slice() else {
            panic!("{:?}", h.state().actions);
        };
        assert_eq!(*port, 0);
        assert_eq!(allow.0.len(), 2);
        assert_eq!(bind_addr(0, allow).ip(), IpAddr::from([0, 0, 0, 0]));
        assert_eq!(
            bind_addr(0, &AllowList::default()).ip(),
            IpAddr::from([127, 0, 0, 1])
        );
    }

    #[test]
    fn an_address_that_is_not_one_is_refused_before_anything_starts() {
        let mut h = harness();
        h.step();
        let allow = h.get_by_role_and_label(Role::TextInput, "Allowed addresses");
        allow.focus();
        allow.type_text("office");
        h.step();
        h.get_by_role_and_label(Role::CheckBox, "Receive notifications")
            .click();
        h.step();
        h.step();
        assert!(h.state().actions.is_empty());
        assert!(
            h.query_by_label_contains("'office' is not an address")
                .is_some()
        );
    }

    #[test]
    fn switching_off_while_starting_asks_to_stop() {
        let mut h = harness();
        let (_tx, rx) = tokio::sync::oneshot::channel();
        h.state_mut().panel.starting = Some((rx, "Sandbox".into()));
        h.step();
        assert!(h.query_by_label_contains("Starting the listener").is_some());
        h.get_by_role_and_label(Role::CheckBox, "Receive notifications")
            .click();
        h.step();
        assert_eq!(h.state().actions, vec![Action::Stop]);
    }

    #[test]
    fn a_settling_notification_shows_and_asks_for_the_lists_to_refresh_once() {
        let mut h = harness();
        let (tx, rx) = mpsc::channel(8);
        h.state_mut().panel.events = Some(rx);
        tx.try_send(event("cny", Some(Notified::StatusChanged), false))
            .unwrap();
        let settled = h.state_mut().panel.poll();
        assert_eq!(
            settled,
            Settled {
                payouts: true,
                batches: false
            }
        );
        tx.try_send(event("cny", Some(Notified::StatusChanged), true))
            .unwrap();
        tx.try_send(event("gatepay", None, false)).unwrap();
        let settled = h.state_mut().panel.poll();
        assert_eq!(
            settled,
            Settled {
                payouts: false,
                batches: true
            },
            "a duplicate is applied once"
        );
        h.step();
        assert!(h.query_by_label("payout settled").is_some());
        assert!(
            h.query_by_label("duplicate: acknowledged again, applied once")
                .is_some()
        );
        assert_eq!(h.state().panel.recent.len(), 3);
    }
    #[test]
    fn a_callback_with_long_lines_keeps_every_column_on_screen() {
        let mut h = harness();
        let mut callback = event("gatepay", None, false);
        callback.order_ref = "batch_7".into();
        callback.lines = vec![format!(
            "  9 d1  12.5 USDT on TRX  tx {}",
            "b00a".repeat(40)
        )];
        h.state_mut().panel.recent.push_back(callback);
        h.state_mut()
            .panel
            .recent
            .push_back(event("cny", None, false));
        h.step();
        let width = h.ctx.content_rect().width();
        for label in ["Effect", "pay_1"] {
            let right = h
                .get_all_by_label(label)
                .map(|n| n.rect().max.x)
                .fold(0.0, f32::max);
            assert!(
                right <= width,
                "{label} ends at {right}, past the window's {width}"
            );
        }
        assert!(h.query_by_label("Callback read: batch_7").is_some());
    }

    #[test]
    fn a_callback_that_settles_says_a_batch_was_settled() {
        let mut h = harness();
        let callback = event("gatepay", Some(Notified::StatusChanged), false);
        h.state_mut().panel.recent.push_back(callback);
        h.step();
        assert!(h.query_by_label("batch settled").is_some());
        assert!(h.query_by_label("payout settled").is_none());
    }

    #[test]
    fn each_notification_says_when_it_was_received_in_the_consoles_zone() {
        let mut h = harness();
        let mut received = event("cny", None, false);
        // 2026-11-21T14:30:05Z, shown in the default zone, the gateway's (UTC+8).
        received.received_at = 1_795_271_405;
        h.state_mut().panel.recent.push_back(received);
        h.step();
        assert!(h.query_by_label("Received").is_some());
        assert!(h.query_by_label("2026-11-21 22:30:05").is_some());
        assert!(
            h.query_by_label("Times in Gateway time (Asia/Shanghai)")
                .is_some()
        );
    }
}
