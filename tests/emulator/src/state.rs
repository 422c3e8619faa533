//! The state shared by the server's handlers and the test-facing handle.

use crate::clock::EmulatorClock;
use crate::config::EmulatorConfig;
use crate::data::DataSet;
use crate::faults::Faults;
use crate::limits::RateLimiter;
use crate::log::RequestLog;
use crate::signed_url::UrlSigner;
use crate::tasks::TaskStore;

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    /// `http://127.0.0.1:PORT`, for the download URLs.
    pub base_url: String,
    pub clock: EmulatorClock,
    pub data: DataSet,
    pub tasks: TaskStore,
    pub limiter: RateLimiter,
    pub faults: Faults,
    pub log: RequestLog,
    pub signer: UrlSigner,
}

impl Shared {
    pub fn new(config: EmulatorConfig, base_url: String) -> Self {
        let seed = config.data.seed;
        Self {
            base_url,
            clock: EmulatorClock::new(config.clock, config.start_time),
            data: DataSet::new(&config.data, config.start_time),
            tasks: TaskStore::new(seed),
            limiter: RateLimiter::new(config.limits),
            faults: Faults::new(seed),
            log: RequestLog::default(),
            signer: UrlSigner::new(&config.api_secret),
            config,
        }
    }
}
