//! The daemon's listener (`run --listen`) and what keeps its answers true: every job's ledger
//! read at start-up (readiness waits for it), again after each change a run of this process
//! makes, and again every `--state-refresh` for what other replicas did.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::runner::Runner;
use crate::telemetry::http::{self, Endpoints};
use crate::telemetry::{Changed, Health, Metrics};

/// Start-up retries reading the ledgers this often while the state store cannot be read.
const SCAN_RETRY: Duration = Duration::from_secs(10);

/// Reads one job's ledger into the metrics.
async fn read_ledger(runner: &Runner, metrics: &Metrics, job: &str) -> Result<(), String> {
    let state = runner
        .ledger(job)
        .load()
        .await
        .map_err(|e| format!("cannot read the state of job {job}: {e}"))?;
    metrics.set_state(job, state.seq(), state.value());
    Ok(())
}

/// Serves /metrics, /healthz and /readyz on `addr` until `stop`; reads every ledger for the
/// metrics and readiness, then again whenever a run changes one and every `refresh`. Returns
/// the tasks doing so.
pub async fn listen(
    addr: std::net::SocketAddr,
    metrics: &Arc<Metrics>,
    changed: Changed,
    health: &Arc<Health>,
    runner: &Arc<Runner>,
    refresh: Duration,
    stop: CancellationToken,
) -> Result<JoinSet<()>, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!(address = %bound, "serving /metrics, /healthz and /readyz");
    let endpoints = Arc::new(Endpoints {
        metrics: metrics.clone(),
        health: health.clone(),
        client: runner.client().stats(),
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        if let Err(e) = http::serve(listener, endpoints, stop).await {
            tracing::error!(error = %e, "the metrics and health listener failed");
        }
    });
    tasks.spawn(read_at_start(
        runner.clone(),
        metrics.clone(),
        health.clone(),
    ));
    tasks.spawn(read_changed(runner.clone(), metrics.clone(), changed));
    tasks.spawn(sweep(runner.clone(), metrics.clone(), refresh));
    Ok(tasks)
}

/// Start-up: every job's ledger read once, into the metrics; ready when all were read. The
/// ledgers that could not be read are retried (only those, and only of jobs still loaded: a
/// reload may drop the one that keeps failing).
async fn read_at_start(runner: Arc<Runner>, metrics: Arc<Metrics>, health: Arc<Health>) {
    let mut unread = metrics.jobs();
    loop {
        let results: Vec<(String, Result<(), String>)> = futures::stream::iter(unread)
            .map(|job| {
                let (runner, metrics) = (runner.clone(), metrics.clone());
                async move {
                    let read = read_ledger(&runner, &metrics, &job).await;
                    (job, read)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut reason = None;
        unread = Vec::new();
        for (job, read) in results {
            if let Err(e) = read {
                reason = Some(e);
                unread.push(job);
            }
        }
        let Some(reason) = reason else {
            health.set_ready();
            return;
        };
        tracing::warn!(
            %reason,
            unread = unread.len(),
            "not ready yet; reading the state again in 10s"
        );
        health.set_unready(reason);
        runner.clock().sleep(SCAN_RETRY).await;
        let loaded: BTreeSet<String> = metrics.jobs().into_iter().collect();
        unread.retain(|job| loaded.contains(job));
    }
}

/// The ledgers of jobs this process's runs changed, as the runs report them: each job once
/// however many changes queued up meanwhile. A failed read is left to the next sweep.
async fn read_changed(runner: Arc<Runner>, metrics: Arc<Metrics>, mut changed: Changed) {
    while let Some(first) = changed.recv().await {
        let mut jobs = BTreeSet::from([first]);
        while let Ok(more) = changed.try_recv() {
            jobs.insert(more);
        }
        for job in jobs {
            if let Err(e) = read_ledger(&runner, &metrics, &job).await {
                tracing::debug!(error = %e, "could not read a changed job's state");
            }
        }
    }
}

/// The fewest time between two ledger reads of the sweep: at most 5 a second, whatever the
/// number of jobs (each read is a listing on S3 or GCS, which is billed).
const SWEEP_SPACING: Duration = Duration::from_millis(200);

/// Every job's ledger read again each `every`, spread over it (or every 0.2 s when there are
/// more jobs than that allows), so this replica's gauges follow what other replicas did. The
/// first pass starts after one `every`: start-up reads them all anyway. A sweep that could
/// not read every ledger says so once: the gauges of those jobs are stale.
async fn sweep(runner: Arc<Runner>, metrics: Arc<Metrics>, every: Duration) {
    let clock = runner.clock().clone();
    clock.sleep(every).await;
    loop {
        let jobs = metrics.jobs();
        let count = u32::try_from(jobs.len()).unwrap_or(u32::MAX).max(1);
        let spacing = (every / count).max(SWEEP_SPACING);
        if jobs.is_empty() {
            clock.sleep(every).await;
        }
        let mut failed = 0usize;
        let mut last_error = None;
        for job in &jobs {
            clock.sleep(spacing).await;
            if let Err(e) = read_ledger(&runner, &metrics, job).await {
                failed += 1;
                last_error = Some(e);
            }
        }
        if let Some(error) = last_error {
            tracing::warn!(
                failed,
                jobs = jobs.len(),
                %error,
                "could not refresh the state of every job; their gauges keep older values"
            );
        }
    }
}
