//! Driving the export API emulator from tests: its clock as chatvault's clock, a client, and
//! finished exports to download.

use std::sync::Arc;
use std::time::Duration;

use chatvault::api::wire::TaskState;
use chatvault::api::{ApiError, ChannelsExport, ClientConfig, StreamClient, TaskKind};
use chatvault::clock::{Clock, Sleep};
use chatvault::config::job::{Cid, ExportOptions, ExportVersion};
use chatvault_emulator::{Emulator, EmulatorClock, EmulatorConfig};
use chrono::{DateTime, TimeDelta, Utc};

/// The emulator's clock seen as chatvault's: sleeping moves it at once, so backoff, polling
/// and rate-limit waits cost no real time.
pub struct EmuClock(pub EmulatorClock);

impl Clock for EmuClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.0
            .advance(TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX));
        Box::pin(std::future::ready(()))
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config)
        .await
        .expect("emulator starts on 127.0.0.1")
}

/// A client of `emu` with its secret, on its clock, `tweak`ed.
pub fn client_with(
    emu: &Emulator,
    secret: &str,
    tweak: impl FnOnce(&mut ClientConfig),
) -> StreamClient {
    let mut config = ClientConfig::new(&emu.base_url(), emu.api_key(), secret);
    tweak(&mut config);
    StreamClient::new(&config, Arc::new(EmuClock(emu.clock().clone()))).expect("client")
}

pub fn client(emu: &Emulator) -> StreamClient {
    client_with(emu, &emu.config().api_secret, |_| {})
}

/// The first `n` live channels of the data set.
pub fn cids(emu: &Emulator, n: usize) -> Vec<Cid> {
    emu.channels()
        .into_iter()
        .filter(|c| c.deleted_at.is_none())
        .take(n)
        .map(|c| Cid {
            channel_type: c.channel_type,
            id: c.id,
        })
        .collect()
}

pub fn v2(include_truncated_messages: bool) -> ExportOptions {
    ExportOptions {
        version: ExportVersion::V2,
        include_truncated_messages,
        include_soft_deleted_channels: false,
        clear_deleted_message_text: false,
    }
}

/// An emulator with a finished v2 export of `channels` channels: it, a client, the task id.
pub async fn finished_export(
    config: EmulatorConfig,
    channels: usize,
) -> (Emulator, StreamClient, String) {
    let emu = start(config).await;
    let client = client(&emu);
    let cids = cids(&emu, channels);
    let task = client
        .export_channels(&ChannelsExport {
            channels: &cids,
            since: None,
            until: None,
            options: v2(true),
        })
        .await
        .expect("created");
    let done = client.wait(TaskKind::Channels, &task).await.expect("done");
    assert_eq!(done.status, TaskState::Completed);
    (emu, client, task)
}

/// A fresh link to a finished channels export (each status request renews it).
pub async fn link(client: &StreamClient, task: &str) -> Result<String, ApiError> {
    let status = client.status(TaskKind::Channels, task).await?;
    Ok(status.result.map(|r| r.url).unwrap_or_default())
}

pub async fn download(url: &str) -> Vec<u8> {
    reqwest::get(url)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body")
        .to_vec()
}
