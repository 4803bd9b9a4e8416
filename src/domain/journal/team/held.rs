//! A connection that closes where it may: the blocking client's own drop blocks on its
//! runtime, which panics inside another (every console and CLI task runs in one).

use postgres::Client;

use super::TeamError;
use super::connect::off_runtime;

pub(crate) struct Held(Option<Client>);

impl Held {
    pub(crate) fn new(client: Client) -> Held {
        Held(Some(client))
    }

    pub(crate) fn get(&mut self) -> Result<&mut Client, TeamError> {
        self.0.as_mut().ok_or_else(|| TeamError::Unreachable {
            target: "the server".into(),
            why: "the connection was closed".into(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}
