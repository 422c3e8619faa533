//! Secret hygiene: every command (validate, plan, run --dry-run, run --once, the daemon with
//! its metrics, status, verify), at trace log level, in both log formats, with known values
//! for the API secret, the S3 keys, a webhook token and the private signing key, including
//! runs that fail because a secret is wrong and a download link that is cut mid-transfer.
//! Everything they print, and every object they write (state records, manifests, media
//! records), is searched for those values, for any JWT and for signed-URL query strings: none
//! may appear.
//!
//! Real processes against the emulator (real clock, one-second tasks) and s3s-fs (which checks
//! signatures, so the S3 keys are really used).

use std::process::Stdio;
use std::time::Duration;

use chatvault::signing::SigningKey;
use chatvault::store;
use chatvault::store::url::StoreUrl;
use chatvault_emulator::{Emulator, EmulatorConfig, Endpoint};
use futures::TryStreamExt as _;
use object_store::{ObjectMeta, ObjectStore as _, ObjectStoreExt as _};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common;
use crate::common::processes::{finish, realtime_config, signal, start_emulator, wait_for};
use crate::common::servers;

const API_SECRET: &str = "api-secret-7c1e9a04d2b35f86";
const WRONG_API_SECRET: &str = "wrong-api-secret-3b8e5d1f90a2";
const WRONG_S3_SECRET: &str = "wrong-s3-secret-6a2f0c9e7d14";
const HOOK_TOKEN: &str = "hook-token-51d8c3e0f2a7";
/// The body of a signing key that is not one (a run given it stops, and must not quote it).
const WRONG_SIGNING_KEY: &str = "d3Jvbmctc2lnbmluZy1rZXktOGM0ZTJhMTk=";

/// Text that must never appear: (what it is, the text).
fn forbidden(s3_secret: &str, signing_key: &str) -> Vec<(&'static str, String)> {
    let mut forbidden = vec![
        ("the API secret", API_SECRET.into()),
        ("a wrong API secret", WRONG_API_SECRET.into()),
        ("the S3 secret key", s3_secret.into()),
        ("a wrong S3 secret key", WRONG_S3_SECRET.into()),
        ("the webhook's token", HOOK_TOKEN.into()),
        // A JWT's header, base64 of `{"`: every JWT starts with it.
        ("a JWT", "eyJ".into()),
        // The query of the emulator's signed download links, and of S3 presigned URLs.
        ("a signed-URL query", "Signature=".into()),
        ("a signed-URL query", "AWSAccessKeyId=".into()),
        ("a signed-URL query", "X-Amz-Signature".into()),
        ("a signed-URL query", "X-Amz-Credential".into()),
        ("a wrong signing key", WRONG_SIGNING_KEY.into()),
    ];
    // Each line of the key's base64 body.
    forbidden.extend(
        signing_key
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.is_empty())
            .map(|l| ("the private signing key", l.to_owned())),
    );
    forbidden
}

async fn emulator() -> Emulator {
    start_emulator(EmulatorConfig {
        api_secret: API_SECRET.into(),
        ..realtime_config(48)
    })
    .await
}

struct Setup {
    emu: Emulator,
    s3: servers::S3Server,
    prefix: String,
    project: common::Project,
    /// The private signing key's PEM, given to chatvault as ${SIGNING_KEY}.
    signing_key: String,
}

impl Setup {
    async fn new() -> Setup {
        let emu = emulator().await;
        let s3 = servers::s3s();
        let prefix = servers::unique_prefix("secrets");
        let project = common::Project::new();
        let options = format!(
            "  options:\n    aws_endpoint: {}\n    aws_allow_http: \"true\"\n    aws_region: {}\n",
            s3.endpoint, s3.region
        );
        project.file(
            "chatvault.yaml",
            format!(
                "api:\n  base_url: {}\n\
                 state:\n  url: s3://{}/{prefix}/state\n{options}\
                 notify:\n  webhooks:\n    - url: ${{HOOK_URL}}\n  ping: ${{HOOK_URL}}\n\
                 signing:\n  key: ${{SIGNING_KEY}}\n",
                emu.base_url(),
                s3.bucket
            ),
        );
        project.job(
            "hygiene.yaml",
            format!(
                "name: hygiene\nschedule: \"0 0 * * *\"\n\
                 channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
                 destination:\n  url: s3://{}/{prefix}/archive\n  compression: gzip\n{options}",
                s3.bucket,
            ),
        );
        let (_, signing_key) = SigningKey::generate().expect("a signing key");
        Setup {
            emu,
            s3,
            prefix,
            project,
            signing_key,
        }
    }

    /// `chatvault ARGS` at trace level, with every secret in the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatvault"));
        cmd.args(args)
            .current_dir(self.project.dir.path())
            .env("CHATVAULT_LOG", "trace")
            .env("STREAM_API_KEY", self.emu.api_key())
            .env("STREAM_API_SECRET", API_SECRET)
            .env("AWS_ACCESS_KEY_ID", &self.s3.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.s3.secret_key)
            // Nothing listens on port 9: notifications fail, and say so in the log.
            .env(
                "HOOK_URL",
                format!("http://127.0.0.1:9/hook?token={HOOK_TOKEN}"),
            )
            .env("SIGNING_KEY", &self.signing_key)
            .env_remove("CHATVAULT_PAUSE_AT")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Every object below the test's prefix: (key, contents).
    async fn objects(&self) -> Vec<(String, String)> {
        let url = StoreUrl::parse(
            &format!("s3://{}/{}", self.s3.bucket, self.prefix),
            std::path::Path::new("."),
        )
        .expect("an S3 URL");
        let store = store::open(&url, &self.s3.options(), &[]).expect("open the bucket");
        let inner = store.object_store();
        let metas: Vec<ObjectMeta> = inner
            .list(None)
            .try_collect()
            .await
            .expect("list the objects");
        let mut out = Vec::new();
        for meta in metas {
            let key = meta.location.to_string();
            if key.ends_with(".gz") {
                continue; // archive bodies: Stream's data, compressed
            }
            let bytes = inner
                .get(&meta.location)
                .await
                .expect("read an object")
                .bytes()
                .await
                .expect("its bytes");
            out.push((key, String::from_utf8_lossy(&bytes).into_owned()));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_prints_or_stores_a_secret_a_jwt_or_a_signed_url() {
    let setup = Setup::new().await;
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut record = |what: &str, (code, stdout, stderr): (i32, String, String)| {
        seen.push((format!("{what} (exit {code}) stdout"), stdout));
        seen.push((format!("{what} (exit {code}) stderr"), stderr));
        code
    };

    for format in ["human", "json", "github", "sarif"] {
        let code = record(
            &format!("validate --format {format}"),
            finish(setup.command(&["validate", "--format", format, "jobs"])).await,
        );
        assert_eq!(code, 0, "validate --format {format}");
    }
    for args in [
        &["plan", "--format", "json", "jobs"][..],
        &["plan", "jobs"],
        &["run", "--dry-run", "jobs"],
    ] {
        let code = record(&args.join(" "), finish(setup.command(args)).await);
        assert_eq!(code, 0, "{args:?}");
    }

    // Runs that fail on a wrong secret say so without the secret.
    let mut wrong_api = setup.command(&["run", "--once", "jobs"]);
    wrong_api.env("STREAM_API_SECRET", WRONG_API_SECRET);
    assert_eq!(
        record("run --once, wrong API secret", finish(wrong_api).await),
        1
    );
    let mut wrong_s3 = setup.command(&["--log-format", "json", "run", "--once", "jobs"]);
    wrong_s3.env("AWS_SECRET_ACCESS_KEY", WRONG_S3_SECRET);
    assert_eq!(
        record("run --once, wrong S3 secret", finish(wrong_s3).await),
        1
    );

    let mut wrong_key = setup.command(&["run", "--once", "jobs"]);
    wrong_key.env(
        "SIGNING_KEY",
        format!("-----BEGIN PRIVATE KEY-----\n{WRONG_SIGNING_KEY}\n-----END PRIVATE KEY-----\n"),
    );
    assert_eq!(
        record(
            "run --once, a signing key that is not one",
            finish(wrong_key).await
        ),
        2
    );

    // A real run, its download link cut mid-transfer once (renewed and retried).
    setup.emu.faults().cut_next_downloads(1, 1024);
    let code = record(
        "run --once",
        finish(setup.command(&["--log-format", "json", "run", "--once", "jobs"])).await,
    );
    assert_eq!(code, 0, "{:?}", seen.last());
    assert!(
        setup
            .emu
            .requests()
            .iter()
            .filter(|r| r.endpoint == Some(Endpoint::DownloadExport))
            .count()
            >= 2,
        "the cut download was retried"
    );

    for args in [
        &["status", "jobs"][..],
        &["status", "--format", "json", "jobs"],
        &["verify", "--job", "hygiene", "jobs"],
    ] {
        let code = record(&args.join(" "), finish(setup.command(args)).await);
        assert_eq!(code, 0, "{args:?}: {:?}", seen.last());
    }

    // The daemon (nothing due now: the tick is done), its metrics and health, and its stop.
    let mut daemon = setup.command(&["run", "--listen", "127.0.0.1:0", "jobs"]);
    daemon.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = daemon.spawn().expect("the daemon starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut daemon_log = Vec::new();
    wait_for(&mut lines, "serving /metrics", &mut daemon_log).await;
    let address = daemon_log
        .last()
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
        })
        .expect("the address")
        .to_owned();
    let base = format!("http://{address}");
    for path in ["/metrics", "/healthz", "/readyz"] {
        let body = reqwest::get(format!("{base}{path}"))
            .await
            .expect("GET")
            .text()
            .await
            .expect("a body");
        seen.push((format!("GET {path}"), body));
    }
    signal(&child, "TERM");
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the daemon stops")
        .expect("wait");
    while let Ok(Some(line)) = lines.next_line().await {
        daemon_log.push(line);
    }
    seen.push(("the daemon's log".into(), daemon_log.join("\n")));

    let objects = setup.objects().await;
    assert!(
        objects.iter().any(|(k, _)| k.starts_with("state/")),
        "state records were written: {:?}",
        objects.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    assert!(
        objects
            .iter()
            .any(|(k, text)| k.ends_with(".manifest.json") && text.contains("\"signature\"")),
        "a signed manifest was written"
    );
    assert!(
        objects.iter().any(|(k, _)| k.contains(".media.")),
        "a media record was written"
    );
    for (key, text) in objects {
        seen.push((format!("object {key}"), text));
    }

    let trace_lines: usize = seen.iter().map(|(_, t)| t.lines().count()).sum();
    assert!(
        trace_lines > 200,
        "trace level logs plenty ({trace_lines} lines)"
    );
    let mut leaks = Vec::new();
    for (what, text) in &seen {
        for (name, needle) in forbidden(&setup.s3.secret_key, &setup.signing_key) {
            if let Some(at) = text.find(&needle) {
                let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
                leaks.push(format!("{name} in {what}: {}", &text[from..to]));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    setup.emu.shutdown().await;
}
