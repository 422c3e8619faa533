//! A TCP proxy a test puts between chatvault and a server, to take the server away and bring
//! it back without touching it: [`Proxy::stop`] cuts every connection in flight (a reset, as a
//! crashing server's host sends) and then refuses new ones (the port closed) or resets each
//! right after accepting it; [`Proxy::resume`] serves again on the same port.
//!
//! It also tells a driver whether the server is busy: a request is outstanding on a
//! connection from the moment bytes go up until the first bytes come back. It needs a tokio
//! runtime.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How a stopped proxy turns new connections away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The port is closed: connecting fails (connection refused).
    Refuse,
    /// Connections are accepted and reset at once, before any byte is read.
    Reset,
}

/// What the proxy saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub connections: u64,
    /// Requests relayed (each stretch of bytes going up after the last answer).
    pub requests: u64,
    /// Connections open when the proxy stopped, reset.
    pub cut: u64,
    /// Of those, connections that were waiting for an answer.
    pub cut_waiting: u64,
    /// Connections accepted while stopped and reset ([`Outage::Reset`]).
    pub reset: u64,
    pub outages: u64,
}

/// A running proxy on `127.0.0.1`. Dropping it closes the port and every connection.
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: SocketAddr,
    port: u16,
    mode: Mutex<Mode>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
    /// Bumped to cut every open connection.
    cut: watch::Sender<u64>,
    /// Requests waiting for their answer.
    waiting: AtomicU64,
    /// Microseconds since `epoch` of the last byte relayed.
    last_activity: AtomicU64,
    epoch: Instant,
    stats: Mutex<ProxyStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    Down(Outage),
}

impl Proxy {
    /// Starts relaying `127.0.0.1:<free port>` to `upstream` (`http://host:port` or
    /// `host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let host_port = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let upstream: SocketAddr = tokio::net::lookup_host(&host_port)
            .await
            .unwrap_or_else(|e| panic!("the proxy's upstream {host_port}: {e}"))
            .next()
            .unwrap_or_else(|| panic!("the proxy's upstream {host_port} has no address"));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the proxy binds a port on 127.0.0.1");
        let port = listener.local_addr().expect("a bound address").port();
        let (cut, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            upstream,
            port,
            mode: Mutex::new(Mode::Up),
            acceptor: Mutex::new(None),
            cut,
            waiting: AtomicU64::new(0),
            last_activity: AtomicU64::new(0),
            epoch: Instant::now(),
            stats: Mutex::new(ProxyStats::default()),
        });
        inner.spawn_acceptor(listener);
        Proxy { inner }
    }

    /// `http://127.0.0.1:PORT`: where clients connect.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.inner.port)
    }

    /// Takes the server away: every open connection is reset, then new ones are turned away
    /// as `how` says until [`Proxy::resume`].
    pub async fn stop(&self, how: Outage) {
        {
            // Under the lock: a connection is either relayed and subscribed to this cut, or
            // turned away.
            let mut mode = self.inner.lock_mode();
            *mode = Mode::Down(how);
            self.inner.cut.send_modify(|n| *n += 1);
        }
        self.inner.stats().outages += 1;
        if how == Outage::Refuse {
            let acceptor = self.inner.lock_acceptor().take();
            if let Some(acceptor) = acceptor {
                acceptor.abort();
                // Once the task is gone, so is its listener: the port is closed.
                let _ = acceptor.await;
            }
        }
    }

    /// Serves again, on the same port.
    pub async fn resume(&self) {
        *self.inner.lock_mode() = Mode::Up;
        if self.inner.lock_acceptor().is_some() {
            return;
        }
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, self.inner.port)).await {
                Ok(listener) => break listener,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("the proxy cannot bind port {} again: {e}", self.inner.port),
            }
        };
        self.inner.spawn_acceptor(listener);
    }

    pub fn is_up(&self) -> bool {
        *self.inner.lock_mode() == Mode::Up
    }

    /// Whether a request is waiting for its answer.
    pub fn busy(&self) -> bool {
        self.inner.waiting.load(Ordering::Acquire) > 0
    }

    /// Real time since a byte was last relayed either way.
    pub fn quiet_for(&self) -> Duration {
        let last = Duration::from_micros(self.inner.last_activity.load(Ordering::Acquire));
        self.inner.epoch.elapsed().saturating_sub(last)
    }

    pub fn stats(&self) -> ProxyStats {
        *self.inner.stats()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self.inner.lock_acceptor().take() {
            acceptor.abort();
        }
        self.inner.cut.send_modify(|n| *n += 1);
    }
}

impl Inner {
    fn spawn_acceptor(self: &Arc<Self>, listener: TcpListener) {
        let inner = Arc::clone(self);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let cut = match *inner.lock_mode() {
                    Mode::Up => Some(inner.cut.subscribe()),
                    Mode::Down(_) => None,
                };
                match cut {
                    Some(cut) => {
                        inner.stats().connections += 1;
                        tokio::spawn(relay(Arc::clone(&inner), client, cut));
                    }
                    None => {
                        inner.stats().reset += 1;
                        let _ = client.set_zero_linger();
                    }
                }
            }
        });
        *self.lock_acceptor() = Some(task);
    }

    fn touch(&self) {
        let micros = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_activity.store(micros, Ordering::Release);
    }

    fn lock_mode(&self) -> std::sync::MutexGuard<'_, Mode> {
        self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_acceptor(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.acceptor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, ProxyStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Relays one connection until either side closes it or the proxy cuts it.
async fn relay(inner: Arc<Inner>, mut client: TcpStream, mut cut: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(inner.upstream).await else {
        let _ = client.set_zero_linger();
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // Whether this connection's request is waiting for its answer.
    let waiting = AtomicBool::new(false);
    let cut_off = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let up = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                inner.touch();
                if !waiting.swap(true, Ordering::AcqRel) {
                    inner.waiting.fetch_add(1, Ordering::AcqRel);
                    inner.stats().requests += 1;
                }
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        };
        let down = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match server_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                inner.touch();
                if waiting.swap(false, Ordering::AcqRel) {
                    inner.waiting.fetch_sub(1, Ordering::AcqRel);
                }
                if client_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = client_write.shutdown().await;
        };
        tokio::select! {
            _ = async { tokio::join!(up, down) } => false,
            _ = cut.changed() => true,
        }
    };
    let was_waiting = waiting.swap(false, Ordering::AcqRel);
    if was_waiting {
        inner.waiting.fetch_sub(1, Ordering::AcqRel);
    }
    if cut_off {
        {
            let mut stats = inner.stats();
            stats.cut += 1;
            stats.cut_waiting += u64::from(was_waiting);
        }
        // A reset, not an orderly close: the client sees the connection break.
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}
