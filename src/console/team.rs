//! The app's side of a team journal: the active profile's journal (the team's server when
//! the profile names one, else this desktop's file, never one for the other), the Awaiting
//! approval requests, and hearing the team (LISTEN/NOTIFY) on a blocking worker so that the
//! lists refresh when another operator acts, without polling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paydesk::domain::journal::team::{TeamEvent, TeamListener, TeamUrl};
use paydesk::domain::journal::{DamageWatch, Journal};
use paydesk::secret::Secret;
use tokio::sync::mpsc;

use super::connection::TeamSetting;
use super::context::{Reply, take_reply};
use super::panels::approvals::{ApprovalAction, Decided};
use super::{Command, PaydeskApp, feedback};

/// How many heard events may wait for the UI thread; more only repeat "look again".
const HEARD_CAPACITY: usize = 16;
/// How long the listener waits for an event before looking whether it should stop.
const LISTEN_WAIT: Duration = Duration::from_millis(500);
/// The first and the longest wait before listening again after the connection was lost.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The desktop's own journal: opened once at start, used by profiles without a team journal.
pub(super) enum Desktop {
    /// Not opened yet: it is opened (and created, the first time) only when a profile without
    /// a team journal, or the sandbox, becomes active; a team profile never creates it.
    NotOpened(Option<std::path::PathBuf>),
    Opening,
    Open(Arc<Mutex<Journal>>, DamageWatch),
    Refused(String),
}

/// A team journal opened on a worker, with what the UI keeps of it.
pub(super) struct TeamOpened {
    journal: Arc<Mutex<Journal>>,
    role: String,
}

/// The active profile's team journal.
pub(super) struct TeamSide {
    /// `user@host:port/db`.
    pub target: String,
    /// The database role, once the journal is open.
    pub role: Option<String>,
    pub opening: Option<Reply<TeamOpened>>,
    watch: Option<TeamWatch>,
    /// How live updates stand, in words.
    pub live: Option<String>,
    /// Why the team's server is away (its listening connection was lost): sending is
    /// stopped until it is heard again.
    pub away: Option<String>,
    access: Option<(TeamUrl, Option<Secret>)>,
}

/// What the listening worker tells the UI.
#[derive(Debug)]
enum Heard {
    Listening,
    Event(TeamEvent),
    Lost { why: String, retry_secs: u64 },
}

/// The listening worker: it stops when this is dropped (the profile changed or went).
struct TeamWatch {
    stop: Arc<AtomicBool>,
    rx: mpsc::Receiver<Heard>,
}

impl Drop for TeamWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl TeamWatch {
    fn start(
        runtime: &tokio::runtime::Handle,
        ctx: &eframe::egui::Context,
        url: TeamUrl,
        password: Option<Secret>,
    ) -> TeamWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel(HEARD_CAPACITY);
        let (flag, ctx) = (Arc::clone(&stop), ctx.clone());
        runtime.spawn_blocking(move || listen(&url, password.as_ref(), &flag, &tx, &ctx));
        TeamWatch { stop, rx }
    }
}

/// Listens until told to stop, opening the connection again with a growing wait when it is
/// lost. Each event wakes the UI; an event the full channel cannot take is dropped, since
/// the ones waiting already say "look again".
fn listen(
    url: &TeamUrl,
    password: Option<&Secret>,
    stop: &AtomicBool,
    tx: &mpsc::Sender<Heard>,
    ctx: &eframe::egui::Context,
) {
    let tell = |heard: Heard| match tx.try_send(heard) {
        Ok(()) => {
            ctx.request_repaint();
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => true,
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    };
    let mut retry = RETRY_FIRST;
    while !stop.load(Ordering::Relaxed) {
        let why = match TeamListener::open(url, password) {
            Ok(mut listener) => {
                retry = RETRY_FIRST;
                if !tell(Heard::Listening) {
                    return;
                }
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match listener.next(LISTEN_WAIT) {
                        Ok(Some(event)) => {
                            if !tell(Heard::Event(event)) {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => break e.to_string(),
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        if !tell(Heard::Lost {
            why,
            retry_secs: retry.as_secs(),
        }) {
            return;
        }
        // Waits in short steps so that a stop is heard soon.
        let until = std::time::Instant::now() + retry;
        while std::time::Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        retry = (retry * 2).min(RETRY_MAX);
    }
}

impl PaydeskApp {
    /// Uses the journal of the profile just connected: its team journal (opened on a worker)
    /// when it names one, else this desktop's. A team journal that cannot be opened blocks
    /// sending with its reason; nothing falls back to the desktop's journal.
    pub(super) fn use_journal_of(&mut self, team: Option<TeamSetting>) {
        if self.team.take().is_some() {
            // The team journal's connection closes off the UI thread (closing blocks).
            let old = self.journal.take();
            self.runtime.spawn_blocking(move || drop(old));
            self.sent.entries.clear();
            self.sent.message = None;
        }
        self.approvals.clear();
        let Some(setting) = team else {
            self.apply_desktop();
            return;
        };
        self.journal = None;
        self.journal_error = None;
        self.journal_damage = DamageWatch::default();
        self.sent.entries.clear();
        self.sent.message = None;
        let mut side = TeamSide {
            target: setting.target.clone(),
            role: None,
            opening: None,
            watch: None,
            live: None,
            away: None,
            access: None,
        };
        match setting.access {
            Err(why) => self.team_refused(&setting.target, &team_error_text(&why, false)),
            Ok(access) => {
                let missing = access.password.is_none();
                let (url, password) = (access.url, access.password);
                side.access = Some((url.clone(), password.clone()));
                side.opening = Some(self.request_blocking(move || {
                    let journal = Journal::open_team(&url, password.as_ref())
                        .map_err(|e| team_error_text(&e.to_string(), missing))?;
                    let role = journal
                        .team()
                        .map(|t| t.role().to_owned())
                        .unwrap_or_default();
                    Ok(TeamOpened {
                        journal: Arc::new(Mutex::new(journal)),
                        role,
                    })
                }));
            }
        }
        self.team = Some(side);
    }

    /// The desktop's journal becomes the active one (or its refusal, or its opening).
    pub(super) fn apply_desktop(&mut self) {
        if let Desktop::NotOpened(dir) = &mut self.desktop {
            let dir = dir.take();
            self.desktop = Desktop::Opening;
            self.open_journal(dir);
        }
        match &self.desktop {
            Desktop::Open(journal, damage) => {
                self.journal = Some(Arc::clone(journal));
                self.journal_damage = damage.clone();
                self.journal_error = None;
                self.commands.push(Command::LoadJournal);
            }
            Desktop::Refused(why) => {
                self.journal = None;
                self.journal_damage = DamageWatch::default();
                self.sent.message = Some(why.clone());
                self.journal_error = Some(why.clone());
            }
            Desktop::Opening | Desktop::NotOpened(_) => {
                self.journal = None;
                self.journal_error = None;
            }
        }
    }

    /// A team journal that cannot be used: the banner, and sending blocked with it.
    fn team_refused(&mut self, target: &str, text: &str) {
        let message = format!("Team journal {target}: {text}");
        self.sent.message = Some(message.clone());
        self.journal_error = Some(message);
    }

    /// Takes in the team journal's opening, what the listener heard, and decisions made.
    pub(super) fn poll_team(&mut self) {
        let mut refresh = false;
        if let Some(side) = &mut self.team
            && let Some(opened) = side.opening.as_mut().and_then(take_reply)
        {
            side.opening = None;
            let target = side.target.clone();
            match opened {
                Ok(TeamOpened { journal, role }) => {
                    side.role = Some(role);
                    if let Some((url, password)) = side.access.clone() {
                        side.watch =
                            Some(TeamWatch::start(&self.runtime, &self.ctx, url, password));
                        side.live = Some("Live updates: connecting…".to_owned());
                    }
                    self.journal = Some(journal);
                    self.journal_error = None;
                    self.commands.push(Command::LoadJournal);
                    refresh = true;
                }
                Err(text) => self.team_refused(&target, &text),
            }
        }
        if let Some(side) = &mut self.team
            && let Some(watch) = &mut side.watch
        {
            while let Ok(heard) = watch.rx.try_recv() {
                match heard {
                    Heard::Listening => {
                        side.live = Some("Live updates: on".to_owned());
                        side.away = None;
                        refresh = true;
                    }
                    Heard::Event(event) => {
                        side.live = Some(format!(
                            "Live updates: on (last heard: {} by {})",
                            event.action, event.actor
                        ));
                        refresh = true;
                    }
                    Heard::Lost { why, retry_secs } => {
                        side.live = Some(format!(
                            "Live updates lost ({why}); trying again in {retry_secs} s"
                        ));
                        side.away = Some(format!(
                            "The team journal {} cannot be reached ({why}): nothing can be sent \
                             until it is back (trying again in {retry_secs} s); searching and \
                             exporting keep working",
                            side.target
                        ));
                    }
                }
            }
        }
        if refresh {
            if self.journal_listing.is_none() {
                self.commands.push(Command::LoadJournal);
            }
            // Batches sent covers the team's batches too.
            if self.batches_listing.is_none() {
                self.commands.push(Command::LoadBatches);
            }
            if !self.approvals.list.is_pending() && !self.approvals.batches.is_pending() {
                self.commands
                    .push(Command::Approval(ApprovalAction::Refresh));
            }
        }
        if let Some(decided) = self.approvals.poll() {
            match &decided {
                Ok(d) if d.went_well() => {
                    feedback::notify(&self.ctx, feedback::Level::Success, d.describe());
                }
                Ok(d) => feedback::notify(&self.ctx, feedback::Level::Warning, d.describe()),
                Err(e) => feedback::error(&self.ctx, format!("The decision was not made: {e}")),
            }
            self.commands.push(Command::LoadJournal);
            if matches!(decided, Ok(Decided::BatchApproved(_))) {
                self.commands.push(Command::LoadBatches);
            }
            self.commands
                .push(Command::Approval(ApprovalAction::Refresh));
        }
    }

    /// Runs what the Awaiting approval view asked, on a worker: the payouts of a CNY profile,
    /// the batches of a GatePay one.
    pub(super) fn approval(&mut self, action: ApprovalAction) {
        if self.team.is_none() {
            return;
        }
        let deciding = !matches!(action, ApprovalAction::Refresh);
        if deciding && self.approvals.is_deciding() {
            return;
        }
        let (id, rx) = match action {
            ApprovalAction::Refresh => {
                if let Some(desk) = self.desk() {
                    let rx = self.request_blocking(move || {
                        desk.pending_approvals().map_err(|e| e.to_string())
                    });
                    self.approvals.list.request(rx);
                }
                if let Some(desk) = self.batch_desk() {
                    let window = self.window().unwrap_or_default();
                    let rx = self.request_blocking(move || {
                        desk.pending_approvals_checked(window)
                            .map_err(|e| e.to_string())
                    });
                    self.approvals.batches.request(rx);
                }
                return;
            }
            ApprovalAction::Approve { cl_id, reason } => {
                let Some(desk) = self.desk() else { return };
                let id = cl_id.clone();
                let rx = self.request(async move {
                    desk.approve(&id, reason.as_deref())
                        .await
                        .map(|s| Decided::Approved(Box::new(s)))
                        .map_err(|e| e.to_string())
                });
                (cl_id, rx)
            }
            ApprovalAction::Reject { cl_id, reason } => {
                let Some(desk) = self.desk() else { return };
                let id = cl_id.clone();
                let rx = self.request_blocking(move || {
                    desk.reject(&id, &reason)
                        .map(|e| Decided::Rejected(Box::new(e)))
                        .map_err(|e| e.to_string())
                });
                (cl_id, rx)
            }
            ApprovalAction::ApproveBatch { batch_id, reason } => {
                let Some(desk) = self.batch_desk() else {
                    return;
                };
                let id = batch_id.clone();
                let rx = self.request(async move {
                    desk.approve(&id, reason.as_deref())
                        .await
                        .map(|s| Decided::BatchApproved(Box::new(s)))
                        .map_err(|e| e.to_string())
                });
                (batch_id, rx)
            }
            ApprovalAction::RejectBatch { batch_id, reason } => {
                let Some(desk) = self.batch_desk() else {
                    return;
                };
                let id = batch_id.clone();
                let rx = self.request_blocking(move || {
                    desk.reject(&id, &reason)
                        .map(|e| Decided::BatchRejected(Box::new(e)))
                        .map_err(|e| e.to_string())
                });
                (batch_id, rx)
            }
        };
        self.approvals.result = None;
        self.approvals.deciding = Some((id, rx));
    }

    /// Which journal payouts go to, for the panels.
    pub(super) fn journal_in_use(&self) -> Option<String> {
        match &self.team {
            Some(side) => Some(match &side.role {
                Some(role) => format!("Team journal {} (signed in as {role})", side.target),
                None => format!("Team journal {}", side.target),
            }),
            None => self
                .desktop_path
                .as_ref()
                .map(|p| format!("Desktop journal {}", p.display())),
        }
    }
}

/// Why a team journal cannot be used, with what to do; a missing password says where it
/// goes. Never falls back, so it says that nothing can be sent.
fn team_error_text(why: &str, password_missing: bool) -> String {
    let mut text = why.to_owned();
    if !text.contains("nothing can be sent") {
        text.push_str("; nothing can be sent until it can be used");
    }
    if password_missing {
        text.push_str(
            ". The OS keyring holds no team journal password for this profile: store it with \
             `paydesk profile add NAME --replace --team-journal URL` (it asks for the password), \
             then choose the profile again",
        );
    } else {
        text.push_str(
            ". Payouts of this profile are never recorded in this desktop's journal instead. \
             Check that the server is running and reachable and that the role may sign in, \
             then choose the profile again (searching and exporting still work)",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::team_error_text;

    #[test]
    fn a_refusal_says_nothing_is_sent_and_what_to_do() {
        let missing = team_error_text("password authentication failed for user \"alice\"", true);
        assert!(missing.contains("nothing can be sent"), "{missing}");
        assert!(missing.contains("no team journal password"), "{missing}");
        let away = team_error_text(
            "the team journal at alice@db:5432/p cannot be reached: refused; nothing can be sent until it is back",
            false,
        );
        assert_eq!(away.matches("nothing can be sent").count(), 1, "{away}");
        assert!(
            away.contains("never recorded in this desktop's journal"),
            "{away}"
        );
    }
}
