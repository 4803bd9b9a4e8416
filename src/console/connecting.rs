//! Opening a profile or the sandbox, and changing the saved profiles: the commands that
//! touch the keyring and the profiles file, each off the UI thread.

use super::connection::{self, Connection};
use super::{Opened, PaydeskApp};
use crate::console::panels::profiles::ProfileForm;
use paydesk::clock::{Clock, SystemClock};
use paydesk::domain::journal::Actor;
use paydesk::domain::profiles::{ProfileError, Profiles};
use paydesk::lock_unpoisoned as lock;
use std::sync::Arc;

/// The port the console's built-in sandbox takes when it is free (else any free port).
pub(super) const PREFERRED_SANDBOX_PORT: u16 = 47_817;

impl PaydeskApp {
    pub(super) fn use_sandbox(&mut self) {
        self.connection = None;
        if let Some(handle) = &self.sandbox {
            // Whatever was being opened is superseded: its reply goes with its receiver.
            self.connecting = None;
            match Connection::sandbox(handle) {
                Ok(c) => self.connected(c),
                Err(e) => self.connection_status = e,
            }
            return;
        }
        "Starting the sandbox gateway…".clone_into(&mut self.connection_status);
        let config = self.sandbox_config.clone();
        self.connecting = Some(self.request(async move {
            // The same port each time when it is free: payouts are checked only through the
            // gateway address they were sent to, so a sandbox back on its port keeps them.
            let preferred = (config.port == 0).then(|| paydesk::sandbox::SandboxConfig {
                port: PREFERRED_SANDBOX_PORT,
                ..config.clone()
            });
            let first = match preferred {
                Some(p) => paydesk::sandbox::start(p).await.ok(),
                None => None,
            };
            let started = match first {
                Some(handle) => Ok(handle),
                None => paydesk::sandbox::start(config).await,
            };
            let started = match started {
                Ok(handle) => Connection::sandbox(&handle).map(|c| (handle, c)),
                Err(e) => Err(e.to_string()),
            };
            started
                .map(|(handle, c)| Opened::Sandbox(Box::new((handle, c))))
                .map_err(|e| format!("The sandbox could not start: {e}"))
        }));
    }

    pub(super) fn activate(&mut self, name: String) {
        self.connection = None;
        self.connection_status =
            format!("Opening profile “{name}”: reading its secrets from the keyring…");
        let (store, dir) = (Arc::clone(&self.store), self.config_dir.clone());
        let runtime = self.runtime.clone();
        self.connecting = Some(self.request(async move {
            // The keyring blocks: off the async workers too.
            runtime
                .spawn_blocking(move || {
                    connection::from_profile(dir.as_deref(), store, &name)
                        .map(|c| Opened::Profile(Box::new(c)))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        }));
    }

    pub(super) fn save_profile(&mut self, form: &ProfileForm) {
        let profile = match form.to_profile() {
            Ok(p) => p,
            Err(e) => {
                self.profiles.message = Some(Err(e));
                return;
            }
        };
        let secrets = form.secrets();
        let replace = form.editing.is_some();
        self.profile_change(move |p| {
            let name = profile.name.clone();
            p.save(profile, &secrets, replace)?;
            Ok(format!(
                "Saved profile “{name}”; its secrets are in the OS keyring"
            ))
        });
    }

    /// Runs a change to the profiles file and keyring on a blocking thread.
    pub(super) fn profile_change(
        &mut self,
        change: impl FnOnce(&mut Profiles) -> Result<String, ProfileError> + Send + 'static,
    ) {
        let (store, dir, runtime) = (
            Arc::clone(&self.store),
            self.config_dir.clone(),
            self.runtime.clone(),
        );
        let journal = self.journal.clone();
        self.profiles.pending = Some(self.request(async move {
            runtime
                .spawn_blocking(move || {
                    let Some(dir) = dir else {
                        return (
                            Err("This system has no config directory for profiles".to_owned()),
                            None,
                        );
                    };
                    let mut profiles = match Profiles::load(&dir, store) {
                        Ok(p) => p,
                        Err(e) => return (Err(e.to_string()), None),
                    };
                    let message = change(&mut profiles).map_err(|e| e.to_string());
                    if let (Ok(m), Some(j)) = (&message, &journal) {
                        let _ = lock(j).audit(
                            Actor::current().as_str(),
                            "profile changed",
                            m,
                            SystemClock.now_secs(),
                        );
                    }
                    (message, Some(profiles.list().to_vec()))
                })
                .await
                .map_err(|e| e.to_string())
        }));
    }
}
