//! The state of one request, as Rerun's viewer keeps it: the previous result stays on screen
//! while the next one loads or after it fails. A pending request owns the receiver of its
//! reply, so a superseded request's reply is dropped with its receiver (no generation numbers)
//! and an error lands in the panel that asked.

use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;

/// Where the reply to one request arrives: the result, or what went wrong in words.
pub type Reply<T> = oneshot::Receiver<Result<T, String>>;

// The variant names are Rerun's, where the pattern comes from.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Default)]
pub enum Requested<T> {
    #[default]
    NotYetRequested,
    Pending {
        rx: Reply<T>,
        previous: Option<T>,
    },
    Completed(T),
    Failed {
        err: String,
        previous: Option<T>,
    },
}

impl<T> Requested<T> {
    /// The result to show: the latest one, whatever is happening now.
    pub fn shown(&self) -> Option<&T> {
        match self {
            Requested::Completed(t) => Some(t),
            Requested::Pending { previous, .. } | Requested::Failed { previous, .. } => {
                previous.as_ref()
            }
            Requested::NotYetRequested => None,
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self, Requested::Pending { .. })
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Requested::Failed { err, .. } => Some(err),
            _ => None,
        }
    }

    /// Waits for `rx`, keeping what is shown; a request still pending is dropped with its
    /// receiver, so its reply goes nowhere.
    pub fn request(&mut self, rx: Reply<T>) {
        let previous = self.take_shown();
        *self = Requested::Pending { rx, previous };
    }

    pub fn fail(&mut self, err: String) {
        let previous = self.take_shown();
        *self = Requested::Failed { err, previous };
    }

    /// Takes in the reply if it has come; `true` when it did.
    pub fn poll(&mut self) -> bool {
        let Requested::Pending { rx, .. } = self else {
            return false;
        };
        let Some(outcome) = take_reply(rx) else {
            return false;
        };
        match outcome {
            Ok(t) => *self = Requested::Completed(t),
            Err(e) => self.fail(e),
        }
        true
    }

    fn take_shown(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Requested::Completed(t) => Some(t),
            Requested::Pending { previous, .. } | Requested::Failed { previous, .. } => previous,
            Requested::NotYetRequested => None,
        }
    }
}

/// The reply if it has come. A task that ended without replying (it panicked) is an error
/// of the request, reported where it was asked.
pub fn take_reply<T>(rx: &mut Reply<T>) -> Option<Result<T, String>> {
    match rx.try_recv() {
        Ok(outcome) => Some(outcome),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Closed) => Some(Err("The task stopped without a result".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_superseded_reply_is_dropped_with_its_receiver() {
        let mut r: Requested<u32> = Requested::NotYetRequested;
        let (old_tx, old_rx) = oneshot::channel();
        r.request(old_rx);
        let (new_tx, new_rx) = oneshot::channel();
        r.request(new_rx);
        assert!(
            old_tx.send(Ok(1)).is_err(),
            "nobody listens to the old request"
        );
        assert!(!r.poll());
        new_tx.send(Ok(2)).unwrap();
        assert!(r.poll());
        assert_eq!(r.shown(), Some(&2));
    }

    #[test]
    fn a_task_that_never_replies_fails_its_request_and_keeps_what_was_shown() {
        let mut r = Requested::Completed(7_u32);
        let (tx, rx) = oneshot::channel::<Result<u32, String>>();
        r.request(rx);
        drop(tx);
        assert!(r.poll());
        assert_eq!(r.error(), Some("The task stopped without a result"));
        assert_eq!(r.shown(), Some(&7));
    }
}
