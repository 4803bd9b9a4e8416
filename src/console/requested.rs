//! The state of one request, as Rerun's viewer keeps it: the previous result stays on screen
//! while the next one loads or after it fails.

// The variant names are Rerun's, where the pattern comes from.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Default)]
pub enum Requested<T> {
    #[default]
    NotYetRequested,
    Pending {
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
            Requested::Pending { previous } | Requested::Failed { previous, .. } => {
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

    /// Starts a new request, keeping what is shown.
    pub fn begin(&mut self) {
        let previous = self.take_shown();
        *self = Requested::Pending { previous };
    }

    pub fn fail(&mut self, err: String) {
        let previous = self.take_shown();
        *self = Requested::Failed { err, previous };
    }

    fn take_shown(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Requested::Completed(t) => Some(t),
            Requested::Pending { previous } | Requested::Failed { previous, .. } => previous,
            Requested::NotYetRequested => None,
        }
    }
}
