//! Running jobs. One tick of one job goes lease → the erased users (read from the state
//! store, left out of every export the run stores) → claim → windows and batches → for each
//! batch: create the export (its task id recorded at once) → poll → transfer → manifest →
//! then the run's seal (`seal`) → the watermark, once every batch of the tick is committed →
//! release (`tick`, `batch`; `claim` owns the ledger writes of a run). `plan::due` says which
//! ticks to run; `daemon` runs them on schedule. Sibling files here never use each other in a
//! cycle: what several of them share (`outcome`, `events`, `error`) sits below the ones that
//! run.

mod batch;
mod claim;
pub mod daemon;
mod error;
pub mod events;
mod expire;
mod lease_keeper;
pub mod media;
mod missing;
mod outcome;
mod pause;
mod recovery;
mod seal;
mod shutdown;
mod tick;
pub mod windows;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use error::{Failure, RunError, one_line};
pub use events::{Event, Fanout, LogReporter, MediaTally, Phase, Reporter};
pub use outcome::{BatchFailure, TickError, TickOutcome};
pub use shutdown::Shutdown;

use crate::api::StreamClient;
use crate::archive::media::capture::Refresher;
use crate::archive::media::refresh::ApiRefresher;
use crate::archive::seal::SealMemory;
use crate::clock::SharedClock;
use crate::config::job::Job;
use crate::retry::RetryPolicy;
use crate::signing::{Keyring, SigningKey};
use crate::state::{Leases, Ledger};
use crate::store::url::StoreUrl;
use crate::store::{Store, StoreOptions};

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// How long a tick's lease lasts without renewal; a crashed holder's tick is taken over
    /// after this. Renewed every third of it while the run goes on.
    pub lease_ttl: Duration,
    /// Batches of one tick worked on at once (creates stay within Stream's rate limits either
    /// way; this bounds concurrent polls and transfers).
    pub batch_concurrency: usize,
    /// Attempts per transfer, each with a fresh link, and the waits between them.
    pub transfer_retry: RetryPolicy,
    /// Freeze at this phase (crash tests).
    pub pause_at: Option<Phase>,
    /// Signs every manifest, record and seal the runs write; none: they are written unsigned.
    pub signing_key: Option<Arc<SigningKey>>,
    /// The deployment's public keys (the signing key's own half and the global config's
    /// `signing.public_key_files`): with a signing key, a run seals only documents whose
    /// signature holds with one of them.
    pub keyring: Keyring,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            lease_ttl: Duration::from_secs(300),
            batch_concurrency: 4,
            transfer_retry: RetryPolicy::new(5, Duration::from_secs(1), Duration::from_secs(30)),
            pause_at: None,
            signing_key: None,
            keyring: Keyring::default(),
        }
    }
}

/// A destination's URL, options and whether it is write-once, and the store opened from them.
type OpenDestination = (StoreUrl, StoreOptions, bool, Store);

/// What every run shares: the API client, the state store, the clock, open destinations.
pub struct Runner {
    client: Arc<StreamClient>,
    /// Fresh links for expired media links, through the same client (its rate limits and
    /// retries).
    refresher: Arc<dyn Refresher>,
    http: reqwest::Client,
    clock: SharedClock,
    state: Store,
    env_vars: Vec<(String, String)>,
    holder: String,
    /// Per job: the destination as opened, and its store.
    destinations: Mutex<HashMap<String, OpenDestination>>,
    /// Per job, kept across runs: a ledger remembers the newest version it saw, so loads
    /// only ask the store whether there is a newer one.
    ledgers: Mutex<HashMap<String, Ledger>>,
    /// Per destination and job, the seal chain as far as this process has read or written it,
    /// so a daemon's tick reads only newer seals and no manifest of another job again.
    seals: SealMemory,
    failures: recovery::Failures,
    reporter: Arc<dyn Reporter>,
    options: RunnerOptions,
    /// Cancelled when shutdown begins: no new tick and no new export starts; polls and
    /// transfers stop (their tasks are recorded), while a create in flight is let through to
    /// its ledger record, so nothing Stream started is forgotten.
    drain: CancellationToken,
    /// Cancelled on shutdown once the grace period is over: runs stop where they are
    /// (their tasks are already recorded) and free their leases.
    cancel: CancellationToken,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("state", &self.state.url())
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// `env_vars` feed the `AWS_*` / `GOOGLE_*` settings of destinations.
    pub fn new(
        client: StreamClient,
        state: Store,
        clock: SharedClock,
        env_vars: Vec<(String, String)>,
        reporter: Arc<dyn Reporter>,
        options: RunnerOptions,
    ) -> Result<Runner, RunError> {
        // No overall timeout: an archive may take hours. A stalled connection is caught by
        // the read timeout instead.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("chatvault/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(RunError::DownloadClient)?;
        let client = Arc::new(client);
        let refresher = Arc::new(ApiRefresher::new(client.clone()));
        Ok(Runner {
            client,
            refresher,
            http,
            clock,
            state,
            env_vars,
            holder: crate::state::process_id().to_owned(),
            destinations: Mutex::new(HashMap::new()),
            ledgers: Mutex::new(HashMap::new()),
            seals: SealMemory::default(),
            failures: recovery::Failures::default(),
            reporter,
            options,
            drain: CancellationToken::new(),
            cancel: CancellationToken::new(),
        })
    }

    /// Names this runner in leases and ledger records (default: [`crate::state::process_id`]);
    /// tests running several "replicas" in one process give each its own.
    pub fn with_holder(mut self, holder: &str) -> Runner {
        holder.clone_into(&mut self.holder);
        self
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Stops every run at its next step: what was started stays recorded for the next run,
    /// leases are released.
    pub fn interrupt(&self) {
        self.drain.cancel();
        self.cancel.cancel();
    }

    /// Stops every run at its next recorded point: nothing new starts, a create in flight
    /// reaches its ledger record, polls and transfers stop; claims and leases are released.
    /// [`Runner::interrupt`] is the hard stop for runs that do not get there in time.
    pub fn drain(&self) {
        self.drain.cancel();
    }

    pub fn is_draining(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// `step`, unless a drain comes first: a step whose progress the ledger already holds.
    async fn unless_draining<T>(&self, step: impl Future<Output = T>) -> Result<T, RunError> {
        tokio::select! {
            out = step => Ok(out),
            () = self.drain.cancelled() => Err(RunError::Interrupted),
        }
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The API client, for its request counts and rate-limit waits.
    pub fn client(&self) -> &StreamClient {
        &self.client
    }

    pub fn ledger(&self, job: &str) -> Ledger {
        self.ledgers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(job.to_owned())
            .or_insert_with(|| {
                Ledger::open(self.state.clone(), job)
                    .with_writer(&self.holder)
                    .with_clock(self.clock.clone())
            })
            .clone()
    }

    pub fn leases(&self, job: &str) -> Leases {
        Leases::open(self.state.clone(), job, &self.holder, self.clock.clone())
    }

    fn report(&self, event: &Event) {
        self.reporter.event(event);
    }

    /// The job's destination, opened once per job and again when a reload changed it.
    fn destination(&self, job: &Job) -> Result<Store, RunError> {
        let wanted = (
            &job.destination.url,
            &job.destination.options,
            job.destination.immutable,
        );
        let mut open = self
            .destinations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((url, options, immutable, store)) = open.get(&job.name)
            && (url, options, *immutable) == wanted
        {
            return Ok(store.clone());
        }
        let store = job.destination.open_to_write(&self.env_vars)?;
        open.insert(
            job.name.clone(),
            (
                job.destination.url.clone(),
                job.destination.options.clone(),
                job.destination.immutable,
                store.clone(),
            ),
        );
        Ok(store)
    }
}
