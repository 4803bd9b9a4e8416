//! The app's side of GatePay payouts by date: the sub-order search over every page on the
//! console's runtime, with its progress for the panel.

use paydesk::domain::dates::format_ms;

use super::panels::suborders::SubOrderSearch;
use super::{PaydeskApp, progress_channel};

impl PaydeskApp {
    pub(super) fn search_suborders(&mut self, search: SubOrderSearch) {
        let Some(client) = self.connection.as_ref().and_then(|c| c.gatepay.clone()) else {
            self.suborders.error = Some(
                "This profile has no GatePay credentials: add them in Profiles to search payouts"
                    .to_owned(),
            );
            return;
        };
        let tz = self.time_zone().zone();
        let what = format!(
            "created {} to {}",
            format_ms(search.from_ms, &tz),
            format_ms(search.to_ms, &tz)
        );
        let (report, progress_rx) = progress_channel(&self.ctx);
        let rx = self.request(async move {
            let progress = move |done, total| report((done, total));
            client
                .search_suborders_with_progress(
                    search.from_ms,
                    search.to_ms,
                    search.status,
                    search.audit_status,
                    progress,
                )
                .await
                .map_err(|e| e.to_string())
        });
        self.suborders.begin(rx, progress_rx, what);
    }
}
