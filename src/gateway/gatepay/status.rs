//! GatePay's batch and sub-order statuses, typed at the wire: a status GatePay adds later is
//! kept as `Unknown(text)` (shown as it came, never final) rather than refused.

use serde::{Serialize, Serializer};

/// A batch's status.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BatchStatus {
    Init,
    Processing,
    Success,
    Partial,
    Fail,
    Unknown(String),
}

/// A sub-order's status.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubOrderStatus {
    Init,
    Pending,
    Processing,
    Check,
    Done,
    Fail,
    Unknown(String),
}

/// A sub-order's audit status, beside its payout status: GatePay may hold a payout for review.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditStatus {
    Auditing,
    AuditSuccess,
    AuditReject,
    AuditTimeout,
    Unknown(String),
}

impl From<&str> for AuditStatus {
    fn from(text: &str) -> AuditStatus {
        match text {
            "AUDITING" => AuditStatus::Auditing,
            "AUDIT_SUCCESS" => AuditStatus::AuditSuccess,
            "AUDIT_REJECT" => AuditStatus::AuditReject,
            "AUDIT_TIMEOUT" => AuditStatus::AuditTimeout,
            other => AuditStatus::Unknown(other.to_owned()),
        }
    }
}

impl AuditStatus {
    /// The four statuses GatePay lists, for a filter's choices.
    pub const KNOWN: [&'static str; 4] =
        ["AUDITING", "AUDIT_SUCCESS", "AUDIT_REJECT", "AUDIT_TIMEOUT"];

    /// GatePay's text for this status.
    pub fn as_str(&self) -> &str {
        match self {
            AuditStatus::Auditing => "AUDITING",
            AuditStatus::AuditSuccess => "AUDIT_SUCCESS",
            AuditStatus::AuditReject => "AUDIT_REJECT",
            AuditStatus::AuditTimeout => "AUDIT_TIMEOUT",
            AuditStatus::Unknown(text) => text,
        }
    }

    /// What an operator reads beside the status.
    pub fn meaning(&self) -> &'static str {
        match self {
            AuditStatus::Auditing => "under audit",
            AuditStatus::AuditSuccess => "audit passed",
            AuditStatus::AuditReject => "rejected by the audit",
            AuditStatus::AuditTimeout => "the audit timed out",
            AuditStatus::Unknown(_) => "an audit status not in GatePay's list",
        }
    }
}

impl From<&str> for BatchStatus {
    fn from(text: &str) -> BatchStatus {
        match text {
            "INIT" => BatchStatus::Init,
            "PROCESSING" => BatchStatus::Processing,
            "SUCCESS" => BatchStatus::Success,
            "PARTIAL" => BatchStatus::Partial,
            "FAIL" => BatchStatus::Fail,
            other => BatchStatus::Unknown(other.to_owned()),
        }
    }
}

impl From<&str> for SubOrderStatus {
    fn from(text: &str) -> SubOrderStatus {
        match text {
            "INIT" => SubOrderStatus::Init,
            "PENDING" => SubOrderStatus::Pending,
            "PROCESSING" => SubOrderStatus::Processing,
            "CHECK" => SubOrderStatus::Check,
            "DONE" => SubOrderStatus::Done,
            "FAIL" => SubOrderStatus::Fail,
            other => SubOrderStatus::Unknown(other.to_owned()),
        }
    }
}

impl BatchStatus {
    /// GatePay's text for this status.
    pub fn as_str(&self) -> &str {
        match self {
            BatchStatus::Init => "INIT",
            BatchStatus::Processing => "PROCESSING",
            BatchStatus::Success => "SUCCESS",
            BatchStatus::Partial => "PARTIAL",
            BatchStatus::Fail => "FAIL",
            BatchStatus::Unknown(text) => text,
        }
    }

    /// What an operator reads beside the status.
    pub fn meaning(&self) -> &'static str {
        match self {
            BatchStatus::Init => "new",
            BatchStatus::Processing => "processing",
            BatchStatus::Success => "all sub-orders paid out",
            BatchStatus::Partial => "some sub-orders failed",
            BatchStatus::Fail => "all sub-orders failed",
            BatchStatus::Unknown(_) => "a status not in GatePay's list",
        }
    }

    /// Whether the batch will not change any more; an unknown status is never taken as final.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            BatchStatus::Success | BatchStatus::Partial | BatchStatus::Fail
        )
    }
}

impl SubOrderStatus {
    /// GatePay's text for this status.
    pub fn as_str(&self) -> &str {
        match self {
            SubOrderStatus::Init => "INIT",
            SubOrderStatus::Pending => "PENDING",
            SubOrderStatus::Processing => "PROCESSING",
            SubOrderStatus::Check => "CHECK",
            SubOrderStatus::Done => "DONE",
            SubOrderStatus::Fail => "FAIL",
            SubOrderStatus::Unknown(text) => text,
        }
    }

    /// What an operator reads beside the status.
    pub fn meaning(&self) -> &'static str {
        match self {
            SubOrderStatus::Init => "new",
            SubOrderStatus::Pending => "pending",
            SubOrderStatus::Processing => "submitted, awaiting confirmation",
            SubOrderStatus::Check => "under review",
            SubOrderStatus::Done => "paid out",
            SubOrderStatus::Fail => "failed",
            SubOrderStatus::Unknown(_) => "a status not in GatePay's list",
        }
    }

    /// Whether the sub-order will not change any more; an unknown status is never final.
    pub fn is_final(&self) -> bool {
        matches!(self, SubOrderStatus::Done | SubOrderStatus::Fail)
    }
}

macro_rules! as_text {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

as_text!(BatchStatus);
as_text!(SubOrderStatus);
as_text!(AuditStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_from_the_wire_and_back() {
        for text in ["INIT", "PROCESSING", "SUCCESS", "PARTIAL", "FAIL", "LATER"] {
            assert_eq!(BatchStatus::from(text).as_str(), text);
        }
        for text in [
            "INIT",
            "PENDING",
            "PROCESSING",
            "CHECK",
            "DONE",
            "FAIL",
            "LATER",
        ] {
            assert_eq!(SubOrderStatus::from(text).as_str(), text);
        }
        assert!(BatchStatus::from("PARTIAL").is_final());
        assert!(!BatchStatus::from("LATER").is_final());
        assert!(SubOrderStatus::from("DONE").is_final());
        assert!(!SubOrderStatus::from("CHECK").is_final());
        for text in AuditStatus::KNOWN.into_iter().chain(["LATER"]) {
            assert_eq!(AuditStatus::from(text).as_str(), text);
        }
        assert_eq!(AuditStatus::from("AUDIT_REJECT"), AuditStatus::AuditReject);
        assert_eq!(
            SubOrderStatus::from("LATER").meaning(),
            "a status not in GatePay's list"
        );
    }
}
