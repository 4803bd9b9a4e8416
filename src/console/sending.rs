//! The shell's commands that send money or follow it: payouts and batches checked for likely
//! duplicates, sent, imported and reconciled, and the journals that list them. `commands.rs`
//! routes each command here.

use super::files::OpenKind;
use super::panels::gatepay::whole_file;
use super::tasks::{open_or_read, send_bulk};
use super::{PROGRESS_CAPACITY, PaydeskApp};
use tokio::sync::mpsc;

use std::path::PathBuf;
use std::sync::Arc;

use paydesk::domain::profiles::GatewayKind;

use std::sync::atomic::Ordering;

use paydesk::domain::bulk::{BulkPlan, plan};
use paydesk::domain::duplicates::Confirmation;
use paydesk::domain::journal::ListFilter;
use paydesk::gateway::cny::wire::PayoutRequest;
use paydesk::lock_unpoisoned as lock;

use paydesk::domain::batches::plan_batch_file;
use paydesk::gateway::gatepay::wire::BatchRequest;

use super::commands::BatchSend;

impl PaydeskApp {
    pub(super) fn check_duplicates(&mut self, request: Box<PayoutRequest>) {
        let (Some(desk), Some(window)) = (self.desk(), self.window()) else {
            return;
        };
        // The review asks the gateway too while a restored journal's gap is open: the same
        // holds as the send will apply, so what is held can be ticked before sending.
        // Only a team journal has approval rules: a desktop's review never waits for one.
        let forecast = self.team.is_some().then(|| {
            let (forecast_desk, forecast_request) = (desk.clone(), request.clone());
            self.request_blocking(move || {
                forecast_desk
                    .approval_forecast(&forecast_request)
                    .map_err(|e| e.to_string())
            })
        });
        let search = self.request(async move {
            desk.review_duplicates(&request, window, &Confirmation::Nothing)
                .await
                .map_err(|e| e.to_string())
        });
        if let Some((_, held)) = &mut self.payout_form.review {
            held.search = Some(search);
            held.approval_check = forecast;
        }
    }

    pub(super) fn check_bulk_duplicates(&mut self, plan: Box<BulkPlan>) {
        let (Some(desk), Some(window)) = (self.desk(), self.window()) else {
            return;
        };
        self.bulk.held.search = Some(self.request(async move {
            desk.review_plan_duplicates(&plan, window, &Confirmation::Nothing)
                .await
                .map_err(|e| e.to_string())
        }));
    }

    // The desk writes the audit record itself (one failure policy for CLI and console).
    /// `confirmation`: the held rows ticked, each bound to the matches the review showed.
    pub(super) fn submit_payout(
        &mut self,
        request: Box<PayoutRequest>,
        confirmation: Confirmation,
    ) {
        let (Some(desk), Some(window)) = (self.desk(), self.window()) else {
            return;
        };
        let mut request = request;
        if request.notify_url.is_none() {
            request.notify_url.clone_from(&self.sandbox_notify);
        }
        self.payout_form.sending = Some(self.request(async move {
            desk.submit_unless_duplicate(&request, window, &confirmation)
                .await
                .map(|(sent, _)| Box::new(sent))
                .map_err(|e| e.to_string())
        }));
    }

    pub(super) fn retry_payout(&mut self, cl_id: String) {
        let Some(desk) = self.desk() else {
            return;
        };
        self.payout_form.sending = Some(self.request(async move {
            desk.retry(&cl_id)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string())
        }));
    }

    pub(super) fn open_bulk_file(&mut self, dropped: Option<PathBuf>) {
        let Some(desk) = self.desk() else {
            return;
        };
        let runtime = self.runtime.clone();
        let (dialogs, banks) = (Arc::clone(&self.file_dialogs), self.banks());
        let ctx = self.ctx.clone();
        self.bulk.import = Some(self.request(async move {
            let Some((name, bytes)) =
                open_or_read(&*dialogs, OpenKind::Payouts, dropped, &ctx).await?
            else {
                return Ok(None);
            };
            runtime
                .spawn_blocking(move || {
                    let existing = |id: &str| {
                        lock(&desk.journal)
                            .get(&desk.merchant, id)
                            .ok()
                            .flatten()
                            .map(|e| e.import_id)
                    };
                    let p = plan(&name, bytes, &banks, existing);
                    Some((name, p))
                })
                .await
                .map_err(|e| e.to_string())
        }));
    }

    pub(super) fn send_bulk(&mut self, plan: Box<BulkPlan>, confirmation: Confirmation) {
        let (Some(desk), Some(window)) = (self.desk(), self.window()) else {
            return;
        };
        self.bulk_stop.store(false, Ordering::Relaxed);
        let (progress, progress_rx) = mpsc::channel(PROGRESS_CAPACITY);
        let (stop, ctx) = (Arc::clone(&self.bulk_stop), self.ctx.clone());
        let rx = self.request(async move {
            Ok(send_bulk(&desk, &plan, window, &confirmation, &stop, &progress, &ctx).await)
        });
        self.bulk.begin_sending(rx, progress_rx);
    }

    /// `now`: the operator asked ("Check with the gateway now"), so every unknown and
    /// unfinished payout is checked, not only what the backoff says is due.
    pub(super) fn reconcile(&mut self, now: bool) {
        // One check at a time: the button is off while one runs, the timer waits for it.
        if self.sent.is_checking() {
            return;
        }
        let Some(desk) = self.desk() else {
            return;
        };
        let after_crash = !self.reconciled_once;
        self.reconciled_once = true;
        self.sent.check = Some(self.request(async move {
            let report = if now {
                desk.reconcile_now(after_crash).await
            } else {
                desk.reconcile(after_crash).await
            };
            report.map_err(|e| e.to_string())
        }));
    }

    /// The active merchant's payouts, whichever gateway address they were sent through: a
    /// sandbox restarted on another port, or a brand's other domain, keeps its history
    /// (rows of another address are marked and left alone by checks); without a payout
    /// service, whatever the journal holds.
    pub(super) fn load_journal(&mut self) {
        let (journal, merchant) = match self.desk() {
            Some(desk) => {
                self.sent.origin = Some(desk.origin);
                (desk.journal, Some(desk.merchant))
            }
            None => match self.journal.clone() {
                Some(journal) => (journal, None),
                None => return,
            },
        };
        self.journal_listing = Some(self.request_blocking(move || {
            Ok(lock(&journal)
                .list(&ListFilter {
                    merchant,
                    ..ListFilter::default()
                })
                .unwrap_or_default())
        }));
    }

    pub(super) fn payout_details(&mut self, cl_id: String) {
        self.sent.details = Some(cl_id.clone());
        self.sent.details_history = None;
        let Some(journal) = self.journal.clone() else {
            self.sent.details_history = Some(Err("the payout journal is not open".into()));
            return;
        };
        let merchant = (self.sent.entries.iter())
            .find(|e| e.payout_cl_id == cl_id)
            .map(|e| e.merchant.clone());
        self.sent.details_reading = Some(self.request_blocking(move || {
            super::panels::payouts::read_history(&lock(&journal), merchant.as_deref(), &cl_id)
        }));
    }

    // Looking a batch up needs only the GatePay client; the journal is for what is sent.
    pub(super) fn load_batch(&mut self) {
        let Some(client) = self.connection.as_ref().and_then(|c| c.gatepay.clone()) else {
            self.batches.error = Some(if self.connection.is_some() {
                "This profile has no GatePay credentials: add them in Profiles to look up batches"
                    .to_owned()
            } else {
                self.send_blocker(GatewayKind::Gatepay).unwrap_or_default()
            });
            return;
        };
        let batch_id = self.batches.batch_id.trim().to_owned();
        // A batch the journal holds that was never sent: GatePay knows nothing of it.
        if let Some(e) = self
            .batches
            .sent
            .iter()
            .find(|e| e.batch_id == batch_id && e.never_sent())
        {
            self.batches.error = Some(format!(
                "Batch {batch_id} was never sent to GatePay, so GatePay has no detail of it: {}",
                e.state_words()
            ));
            self.batches.detail = None;
            self.batches.rows.clear();
            self.batches.totals.clear();
            return;
        }
        let filter = self.batches.filter;
        let rx = self.request(async move {
            client
                .batch_detail(&batch_id, filter)
                .await
                .map(|d| (d, client.clock_warning()))
                .map_err(|e| e.to_string())
        });
        self.batches.begin(rx);
    }

    // Reading a file of sub-orders needs nothing of the connection.
    pub(super) fn open_batch_file(&mut self, dropped: Option<PathBuf>) {
        let runtime = self.runtime.clone();
        let dialogs = Arc::clone(&self.file_dialogs);
        let batch_id = self.new_batch.batch_id.trim().to_owned();
        let ctx = self.ctx.clone();
        self.new_batch.import = Some(self.request(async move {
            let shown = dropped
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let file = match open_or_read(&*dialogs, OpenKind::SubOrders, dropped, &ctx).await {
                Ok(file) => file,
                Err(message) => return Ok(Some((shown, Err(vec![whole_file(message)])))),
            };
            let Some((name, bytes)) = file else {
                return Ok(None);
            };
            let planned = runtime
                .spawn_blocking(move || {
                    let p = plan_batch_file(&name, &bytes, &batch_id);
                    (name, p)
                })
                .await;
            Ok(Some(match planned {
                Ok(named) => named,
                Err(e) => (shown, Err(vec![whole_file(e.to_string())])),
            }))
        }));
    }

    pub(super) fn check_batch_duplicates(&mut self, request: Box<BatchRequest>) {
        let (Some(desk), Some(window)) = (self.batch_desk(), self.window()) else {
            return;
        };
        // As the send will: GatePay's sub-orders after a restored copy count too.
        // Only a team journal has approval rules: a desktop's review never waits for one.
        let forecast = self.team.is_some().then(|| {
            let (forecast_desk, forecast_request) = (desk.clone(), request.clone());
            self.request_blocking(move || {
                forecast_desk
                    .approval_forecast(&forecast_request)
                    .map_err(|e| e.to_string())
            })
        });
        let search = self.request(async move {
            desk.review_batch_duplicates(&request, window, &Confirmation::Nothing)
                .await
                .map_err(|e| e.to_string())
        });
        if let Some((_, held)) = &mut self.new_batch.review {
            held.search = Some(search);
            held.approval_check = forecast;
        }
    }

    // The desk writes the audit records itself.
    pub(super) fn submit_batch(&mut self, send: BatchSend) {
        let (Some(desk), Some(window)) = (self.batch_desk(), self.window()) else {
            self.new_batch.result = Some(Err(self
                .send_blocker(GatewayKind::Gatepay)
                .unwrap_or_else(|| "This profile cannot send GatePay batches".to_owned())));
            return;
        };
        self.new_batch.sending = Some(self.request(async move {
            let outcome = match send {
                BatchSend::New(request, confirmation) => desk
                    .submit_unless_duplicate(&request, window, &confirmation)
                    .await
                    .map(|(s, _)| s)
                    .map_err(|e| e.to_string()),
                BatchSend::Retry(batch_id) => {
                    desk.retry(&batch_id).await.map_err(|e| e.to_string())
                }
            };
            outcome.map(|s| Box::new(s.entry))
        }));
    }

    pub(super) fn load_batches(&mut self) {
        let Some(desk) = self.batch_desk() else {
            return;
        };
        self.batches_listing =
            Some(self.request_blocking(move || desk.list(200).map_err(|e| e.to_string())));
    }

    pub(super) fn reconcile_batches(&mut self) {
        if self.batches_check.is_some() {
            return;
        }
        let Some(desk) = self.batch_desk() else {
            return;
        };
        let after_crash = !self.batches_reconciled_once;
        self.batches_reconciled_once = true;
        self.batches_check =
            Some(self.request(async move {
                desk.reconcile(after_crash).await.map_err(|e| e.to_string())
            }));
    }
}
