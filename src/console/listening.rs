//! The app's side of "Receive notifications": starting the domain's listener for the active
//! profile on the console's runtime, handing its events to the panel, refreshing the lists a
//! notification settled, and pointing the built-in sandbox at it so a demo works.

use std::sync::Arc;

use paydesk::clock::SystemClock;
use paydesk::domain::listener::{AllowList, CnySide, GatePaySide, Listener, MAX_BODY_BYTES, serve};
use tokio::sync::mpsc;

use super::connection::Connection;
use super::context::Marker;
use super::panels::listener::bind_addr;
use super::{Command, PaydeskApp};

/// How many handled notifications may wait for the UI thread; the listener waits beyond it.
const EVENTS_CAPACITY: usize = 64;

impl PaydeskApp {
    pub(super) fn start_listener(&mut self, port: u16, allow: AllowList) {
        if self.listener.is_on() {
            return;
        }
        if self.team.is_some() {
            let why = "Notifications received are not kept in the team journal yet, so none is \
                 received for this profile: its payouts are settled by the background check \
                 (by merchant order ID) instead";
            // Said where it is seen too: the panel's own line may be scrolled out of view.
            super::feedback::warning(&self.ctx, why);
            self.listener.error = Some(why.to_owned());
            return;
        }
        let Some(journal) = self.journal.clone() else {
            self.listener.error = Some(
                "The payout journal is not open: notifications cannot be recorded, so none is \
                 received"
                    .to_owned(),
            );
            return;
        };
        let connection = self.connection.as_ref();
        let cny = connection
            .and_then(Connection::md5_key)
            .map(|(key, options)| CnySide {
                key,
                options,
                desk: self.desk(),
            });
        let gatepay = connection
            .and_then(|c| c.gatepay.as_ref())
            .map(|client| GatePaySide {
                secret: client.config().secret.clone(),
                desk: self.batch_desk(),
            });
        if cny.is_none() && gatepay.is_none() {
            self.listener.error = Some(
                "The active profile has neither a CNY MD5 key nor GatePay credentials: nothing \
                 could be verified"
                    .to_owned(),
            );
            return;
        }
        let profile = connection
            .map(|c| c.profile_name.clone())
            .unwrap_or_default();
        let (tx, mut rx) = mpsc::channel(EVENTS_CAPACITY);
        let (ui_tx, ui_rx) = mpsc::channel(EVENTS_CAPACITY);
        let ctx = self.ctx.clone();
        // The UI thread reads events once a frame: each one wakes it.
        self.runtime.spawn(async move {
            while let Some(event) = rx.recv().await {
                if ui_tx.send(event).await.is_err() {
                    break;
                }
                ctx.request_repaint();
            }
        });
        let addr = bind_addr(port, &allow);
        let listener = Listener {
            cny,
            gatepay,
            journal,
            clock: Arc::new(SystemClock),
            allow,
            max_body: MAX_BODY_BYTES,
        };
        let started =
            self.request(async move { serve(addr, listener, tx).await.map_err(|e| e.to_string()) });
        self.listener.error = None;
        self.listener.events = Some(ui_rx);
        self.listener.starting = Some((started, profile));
    }

    /// Takes in the listener's news; run by `logic` every frame.
    pub(super) fn poll_listener(&mut self) {
        let settled = self.listener.poll();
        if settled.payouts {
            self.commands.push(Command::LoadJournal);
        }
        if settled.batches {
            self.commands.push(Command::LoadBatches);
        }
        // The built-in sandbox delivers to the listener while it serves the sandbox.
        let on_sandbox = self
            .connection
            .as_ref()
            .is_some_and(|c| c.marker == Marker::Sandbox);
        let want = self.listener.url().filter(|_| on_sandbox);
        if want != self.sandbox_notify
            && let Some(sandbox) = &self.sandbox
        {
            sandbox.set_gatepay_notify_url(want.clone());
            self.sandbox_notify = want;
        }
    }
}
