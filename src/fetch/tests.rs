//! The fetcher against real sockets on 127.0.0.1: small HTTP/1.1 servers written here so a
//! test controls every byte (a lying `Content-Length`, a stall), and listeners that never
//! accept, so a test can prove that no connection was made to them.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;

/// What a test server answers to a request for a path.
struct Reply {
    bytes: Vec<u8>,
    /// Keep the connection open after writing, sending nothing more.
    stall: bool,
}

fn reply(head: &str, body: &[u8]) -> Reply {
    let mut bytes = format!("{head}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    Reply {
        bytes,
        stall: false,
    }
}

fn ok(body: &str) -> Reply {
    reply(
        &format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        ),
        body.as_bytes(),
    )
}

fn status(code: u16) -> Reply {
    reply(
        &format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n"),
        b"",
    )
}

fn redirect(location: &str) -> Reply {
    reply(
        &format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nSet-Cookie: session=abc\r\n\
             Content-Length: 0\r\nConnection: close\r\n"
        ),
        b"",
    )
}

/// A server on 127.0.0.1 that records the head of every request it is sent.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    /// Connections accepted, counted before anything is read from them.
    accepted: Arc<AtomicUsize>,
}

impl Server {
    async fn start(answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&seen);
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    seen.lock().expect("lock").push(head);
                    let reply = answer(&path);
                    if socket.write_all(&reply.bytes).await.is_err() {
                        return;
                    }
                    if reply.stall {
                        std::future::pending::<()>().await;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        Server {
            addr,
            requests,
            accepted,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// A listener that never accepts: a connection made to it waits in its queue, so an empty
/// queue after a fetch proves no connection was made.
struct Silent(StdListener);

impl Silent {
    fn new() -> Silent {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        Silent(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().expect("address").port()
    }

    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
            Ok((_, from)) => panic!("a connection came from {from}"),
        }
    }
}

fn policy(hosts: &[&str], allow_private_addresses: bool) -> Policy {
    Policy {
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        allow_http: true,
        allow_private_addresses,
        max_size: 1024,
        ..Policy::from_settings(&MediaSettings::default())
    }
}

fn fetcher(policy: Policy) -> Fetcher {
    Fetcher::new(policy).expect("a fetcher")
}

async fn read_all(body: &mut Body) -> Result<Vec<u8>, FetchFailure> {
    let mut out = Vec::new();
    while let Some(chunk) = body.chunk().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn fetch(fetcher: &Fetcher, url: &str) -> Result<Vec<u8>, FetchFailure> {
    let mut body = fetcher.get(url).await?;
    read_all(&mut body).await
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn an_allowed_local_server_is_fetched_when_private_addresses_are_allowed() {
    let server = Server::start(|_| ok("hello, file")).await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    let mut body = f
        .get(&server.url("/a.png?Signature=S"))
        .await
        .expect("fetched");
    assert_eq!(body.length, Some(11));
    assert_eq!(read_all(&mut body).await, Ok(b"hello, file".to_vec()));

    let f = fetcher(policy(&["localhost"], true));
    let url = format!("http://localhost:{}/b.png", server.addr.port());
    assert_eq!(fetch(&f, &url).await, Ok(b"hello, file".to_vec()));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_local_server_is_never_connected_to_when_private_addresses_are_not_allowed() {
    let silent = Silent::new();
    let f = fetcher(policy(&["127.0.0.1", "localhost"], false));
    for url in [
        format!("http://127.0.0.1:{}/a.png", silent.port()),
        format!("http://localhost:{}/a.png", silent.port()),
        format!("http://2130706433:{}/a.png", silent.port()),
    ] {
        let got = f.get(&url).await.map(|b| b.length);
        let Err(FetchFailure::Refused(why)) = got else {
            panic!("{url}: {got:?}");
        };
        assert!(why.contains("loopback"), "{url}: {why}");
    }
    silent.assert_untouched();
}

#[tokio::test]
async fn the_same_server_sees_no_connection_until_private_addresses_are_allowed() {
    let server = Server::start(|_| ok("file")).await;
    let url = format!("http://localhost:{}/a.png", server.addr.port());
    let strict = fetcher(policy(&["localhost"], false));
    let got = strict.get(&url).await.map(|b| b.length);
    assert!(
        matches!(&got, Err(FetchFailure::Refused(why)) if why.contains("loopback")),
        "{got:?}"
    );
    let open = fetcher(policy(&["localhost"], true));
    assert_eq!(fetch(&open, &url).await, Ok(b"file".to_vec()));
    // The server accepts in order: had the refused fetch connected, it would have been
    // accepted before the one that was served.
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_host_not_on_the_list_is_never_connected_to() {
    let silent = Silent::new();
    let f = fetcher(policy(&["*.stream-io-cdn.com"], true));
    for url in [
        format!("http://127.0.0.1:{}/a.png", silent.port()),
        format!("http://localhost:{}/a.png", silent.port()),
    ] {
        let got = f.get(&url).await.map(|b| b.length);
        assert!(
            matches!(&got, Err(FetchFailure::Refused(why)) if why.contains("allow-list")),
            "{url}: {got:?}"
        );
        assert_eq!(f.check(&url), got.map(|_| ()));
    }
    silent.assert_untouched();
}

#[tokio::test]
async fn a_redirect_to_a_host_not_on_the_list_is_not_followed() {
    let silent = Silent::new();
    let target = format!(
        "http://localhost:{}/elsewhere?Signature=SECRET",
        silent.port()
    );
    let server = Server::start(move |_| redirect(&target)).await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    let got = f.get(&server.url("/a.png")).await.map(|b| b.length);
    let Err(FetchFailure::Refused(why)) = got else {
        panic!("{got:?}");
    };
    assert!(
        why.contains("redirected") && why.contains("allow-list"),
        "{why}"
    );
    assert!(!why.contains("SECRET"), "{why}");
    assert_eq!(server.requests().len(), 1);
    silent.assert_untouched();
}

#[tokio::test]
async fn allowed_redirects_are_followed_without_cookies_or_referer() {
    let server = Server::start(|path| match path {
        "/first?Signature=S" => redirect("/second"),
        _ => ok("second"),
    })
    .await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    assert_eq!(
        fetch(&f, &server.url("/first?Signature=S")).await,
        Ok(b"second".to_vec())
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for head in &requests {
        assert_eq!(header(head, "user-agent"), Some(USER_AGENT), "{head}");
        for name in ["authorization", "cookie", "referer", "proxy-authorization"] {
            assert_eq!(header(head, name), None, "{name} in {head}");
        }
    }
}

#[tokio::test]
async fn more_than_five_redirects_fail() {
    let server = Server::start(|_| redirect("/again")).await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    let got = f.get(&server.url("/start")).await.map(|b| b.length);
    assert_eq!(
        got,
        Err(FetchFailure::Failed("more than 5 redirects".into()))
    );
    assert_eq!(server.requests().len(), MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn http_is_refused_unless_allowed() {
    let silent = Silent::new();
    let f = fetcher(Policy {
        allow_http: false,
        ..policy(&["127.0.0.1"], true)
    });
    let got = f
        .get(&format!("http://127.0.0.1:{}/a.png", silent.port()))
        .await
        .map(|b| b.length);
    assert!(
        matches!(&got, Err(FetchFailure::Refused(why)) if why.contains("only https")),
        "{got:?}"
    );
    silent.assert_untouched();
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_too_large_before_reading() {
    let server = Server::start(|_| Reply {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".to_vec(),
        stall: true,
    })
    .await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    let got = f.get(&server.url("/big")).await.map(|b| b.length);
    assert_eq!(got, Err(FetchFailure::TooLarge { limit: 1024 }));
}

#[tokio::test]
async fn bytes_past_the_limit_are_too_large_when_no_length_is_declared() {
    let big = vec![b'x'; 5000];
    let chunked = {
        let mut body = format!("{:x}\r\n", big.len()).into_bytes();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        body
    };
    let server = Server::start(move |path| match path {
        "/close-delimited" => reply("HTTP/1.1 200 OK\r\nConnection: close\r\n", &big),
        _ => reply(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
            &chunked,
        ),
    })
    .await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    for path in ["/close-delimited", "/chunked"] {
        let mut body = f.get(&server.url(path)).await.expect("a response");
        assert_eq!(body.length, None, "{path}");
        assert_eq!(
            read_all(&mut body).await,
            Err(FetchFailure::TooLarge { limit: 1024 }),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_length_that_understates_the_body_bounds_what_is_read() {
    let server = Server::start(|_| {
        reply(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n",
            &[b'x'; 5000],
        )
    })
    .await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    assert_eq!(fetch(&f, &server.url("/lie")).await, Ok(b"xxxxx".to_vec()));
}

#[tokio::test]
async fn statuses_map_to_failures() {
    let server = Server::start(|path| match path {
        "/403" => status(403),
        "/404" => status(404),
        "/410" => status(410),
        "/301-no-location" => status(301),
        _ => status(500),
    })
    .await;
    let f = fetcher(policy(&["127.0.0.1"], true));
    for (path, expected) in [
        ("/403", FetchFailure::Forbidden),
        ("/404", FetchFailure::Gone { status: 404 }),
        ("/410", FetchFailure::Gone { status: 410 }),
        ("/500", FetchFailure::Failed("HTTP 500".into())),
        ("/301-no-location", FetchFailure::Failed("HTTP 301".into())),
    ] {
        let got = f.get(&server.url(path)).await.map(|b| b.length);
        assert_eq!(got, Err(expected), "{path}");
    }
}

#[tokio::test]
async fn a_stalled_body_times_out() {
    let server = Server::start(|_| Reply {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst".to_vec(),
        stall: true,
    })
    .await;
    let f = fetcher(Policy {
        read_timeout: Duration::from_millis(200),
        ..policy(&["127.0.0.1"], true)
    });
    let got = fetch(&f, &server.url("/stall")).await;
    assert_eq!(got, Err(FetchFailure::Failed("timed out".into())));
}

#[tokio::test]
async fn connection_errors_never_quote_the_query() {
    let closed = Silent::new();
    let port = closed.port();
    drop(closed);
    let f = fetcher(policy(&["127.0.0.1"], true));
    let url = format!("http://127.0.0.1:{port}/a.png?Signature=SECRET&Expires=1");
    let got = f.get(&url).await.map(|b| b.length);
    let Err(FetchFailure::Failed(why)) = got else {
        panic!("{got:?}");
    };
    assert!(!why.contains("SECRET") && !why.contains("a.png"), "{why}");
}

#[test]
fn check_needs_no_network_and_refuses_what_get_would() {
    let f = fetcher(Policy::from_settings(&MediaSettings::default()));
    assert_eq!(
        f.check("https://us-east.stream-io-cdn.com/a.png?Expires=1&Signature=S"),
        Ok(())
    );
    for url in [
        "not a link",
        "http://us-east.stream-io-cdn.com/a.png",
        "https://example.com/a.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/",
    ] {
        assert!(
            matches!(f.check(url), Err(FetchFailure::Refused(_))),
            "{url}"
        );
    }
}
