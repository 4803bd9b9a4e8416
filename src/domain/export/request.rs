//! What an operator asks to export, and the one place it becomes a plan, so the CLI and the
//! console cannot lay out or label the same export differently.

use std::path::PathBuf;

use serde_json::Value;

use super::{Layout, ManifestProfile};

/// An export as asked for: the file's layout and the profile its rows come from.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub layout: Layout,
    pub profile: ManifestProfile,
}

/// Everything an export needs besides its rows.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    pub target: PathBuf,
    pub layout: Layout,
    pub profile: ManifestProfile,
    pub gateway: &'static str,
    pub scope: String,
    pub filter: Value,
}

impl ExportRequest {
    /// The plan for writing to `target`. The filter is recorded by the run (an export of every
    /// page records the query with its pinned upper bound), or by the caller with
    /// [`ExportPlan::with_filter`] for rows at hand.
    pub fn plan(self, target: PathBuf, scope: impl Into<String>) -> ExportPlan {
        ExportPlan {
            target,
            gateway: self.layout.kind.gateway(),
            layout: self.layout,
            profile: self.profile,
            scope: scope.into(),
            filter: Value::Null,
        }
    }
}

impl ExportPlan {
    /// The same plan with the filter its manifest records.
    #[must_use]
    pub fn with_filter(self, filter: Value) -> ExportPlan {
        ExportPlan { filter, ..self }
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;
    use crate::domain::export::{AmountUnit, ExportFormat, ExportKind};

    fn request(kind: ExportKind) -> ExportRequest {
        ExportRequest {
            layout: Layout {
                kind,
                format: ExportFormat::Csv,
                columns: kind.default_columns(),
                tz: TimeZone::UTC,
                tz_name: "UTC".to_owned(),
                unit: AmountUnit::Fen,
            },
            profile: ManifestProfile {
                name: "p".to_owned(),
                marker: String::new(),
                base_url: "http://127.0.0.1:1".to_owned(),
                merchant: "m".to_owned(),
            },
        }
    }

    #[test]
    fn a_plan_names_the_gateway_its_rows_come_from() {
        let plan = request(ExportKind::BatchSubOrders).plan("b.csv".into(), "batch sub-orders");
        assert_eq!(plan.gateway, "gatepay");
        assert_eq!(plan.scope, "batch sub-orders");
        assert_eq!(plan.filter, Value::Null);
        for kind in [ExportKind::Deposits, ExportKind::Payouts] {
            let plan = request(kind).plan("o.csv".into(), "all pages");
            assert_eq!(plan.gateway, "cny");
            assert_eq!(plan.layout.kind, kind);
            assert_eq!(plan.layout.unit, AmountUnit::Fen);
        }
    }
}
