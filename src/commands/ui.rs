//! `chatvault ui`: the read-only web viewer, from arguments to a listening server.

use std::path::PathBuf;
use std::sync::Arc;

use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use super::keys::configured_keys;
use super::signals::Signals;
use super::{Picked, Wanted, World, exit, load_and_pick, logging, output, runtime, state_to_read};
use crate::cli::{LogFormat, UiArgs};
use crate::clock::SystemClock;
use crate::config::MissingVars;
use crate::signing::Keyring;
use crate::store;

use crate::ui::auth::{Token, listen_address};
use crate::ui::{Shown, Viewer, serve};

pub fn run(
    args: &UiArgs,
    zone: Tz,
    config: Option<PathBuf>,
    log: LogFormat,
    world: &World<'_>,
) -> u8 {
    logging::init(log, "info");
    let token = match &args.auth_token_file {
        Some(path) => match Token::from_file(path) {
            Ok(token) => Some(token),
            Err(e) => {
                output::error(&e.to_string(), None);
                return exit::INVALID;
            }
        },
        None => None,
    };
    let addr = match listen_address(&args.listen, token.is_some()) {
        Ok(addr) => addr,
        Err(e) => {
            output::error(&e.to_string(), None);
            return exit::INVALID;
        }
    };
    let wanted = Wanted {
        paths: &args.paths.paths,
        config,
        jobs: &args.jobs,
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let Picked { set, jobs, .. } = match load_and_pick(&wanted, world) {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    let state = match state_to_read(&set, world) {
        Ok(state) => state,
        Err(code) => return code,
    };
    let mut keys = Keyring::default();
    if let Err(e) = configured_keys(&mut keys, &set.settings) {
        output::error(&format!("signing: {e}"), e.hint());
        return exit::INVALID;
    }
    let mut shown = Vec::new();
    for job in jobs {
        match store::open_to_read(
            &job.destination.url,
            &job.destination.options,
            &world.env_vars,
        ) {
            Ok(store) => shown.push(Shown { job, store }),
            Err(e) => {
                output::error(&format!("job {}: destination: {e}", job.name), None);
                return exit::FAILED;
            }
        }
    }
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                output::error(&format!("cannot listen on {addr}: {e}"), None);
                return exit::FAILED;
            }
        };
        let bound = listener.local_addr().unwrap_or(addr);
        output::stderr(&format!("chatvault ui: listening on http://{bound}/\n"));
        let stop = CancellationToken::new();
        let Some(mut signals) = Signals::listen(false) else {
            return exit::FAILED;
        };
        let stopping = stop.clone();
        tokio::spawn(async move {
            signals.stop().await;
            stopping.cancel();
        });
        let viewer = Viewer::new(shown, state, zone, Arc::new(SystemClock))
            .with_keys(keys)
            .with_holds(set.settings.holds.clone());
        match serve(listener, viewer, token, stop).await {
            Ok(()) => exit::OK,
            Err(e) => {
                output::error(&format!("the viewer stopped: {e}"), None);
                exit::FAILED
            }
        }
    })
}
