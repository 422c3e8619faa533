//! Helpers: start an emulator, talk to it with a plain HTTP client and hand-signed tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatvault_emulator::{Emulator, EmulatorConfig};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::Sha256;

pub const KEY: &str = "test-key";
pub const SECRET: &str = "test-secret";

/// The default configuration with the test key and secret.
pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        api_key: KEY.to_owned(),
        api_secret: SECRET.to_owned(),
        ..EmulatorConfig::default()
    }
}

pub async fn start() -> (Emulator, Api) {
    start_with(config()).await
}

pub async fn start_with(config: EmulatorConfig) -> (Emulator, Api) {
    let emulator = Emulator::start(config).await.expect("emulator starts");
    let api = Api::new(&emulator.base_url(), jwt(&json!({"server": true}), SECRET));
    (emulator, api)
}

/// An HS256 JWT, signed here independently of the emulator's own signer.
pub fn jwt(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

/// A client for the emulated Stream API, sending what the SDKs send.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: Option<String>,
    pub token: Option<String>,
    pub auth_type: Option<String>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a Stream error body: status, code, and a message of the form
    /// `<op> failed with error: "<…detail…>"`.
    pub fn assert_error(&self, status: u16, code: i64, op: &str, detail: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["StatusCode"], status, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{op} failed with error: \"")),
            "{message}"
        );
        assert!(message.ends_with('"'), "{message}");
        assert!(message.contains(detail), "{message} lacks {detail}");
        assert!(body["duration"].as_str().unwrap().ends_with("ms"));
        assert!(body["more_info"].is_string());
        assert_eq!(body["details"], json!([]));
    }

    /// Asserts the three `X-RateLimit-*` headers are present and numeric.
    pub fn assert_rate_headers(&self) -> (u64, u64, i64) {
        let num = |name| {
            self.header(name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .parse::<i64>()
                .unwrap()
        };
        let limit = num("x-ratelimit-limit");
        let remaining = num("x-ratelimit-remaining");
        (limit as u64, remaining as u64, num("x-ratelimit-reset"))
    }
}

impl Api {
    pub fn new(base: &str, token: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            key: Some(KEY.to_owned()),
            token: Some(token),
            auth_type: Some("jwt".to_owned()),
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).unwrap();
        if let Some(key) = &self.key {
            url.query_pairs_mut().append_pair("api_key", key);
        }
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", token);
        }
        if let Some(auth_type) = &self.auth_type {
            request = request.header("Stream-Auth-Type", auth_type);
        }
        request
    }

    pub async fn get(&self, path: &str) -> Reply {
        read(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        read(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Reply {
        let request = self
            .request(reqwest::Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body);
        read(request).await
    }

    /// Creates a channel export; asserts 201 and returns the task ID.
    pub async fn export(&self, body: Value) -> String {
        let reply = self.post("/export_channels", body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["task_id"].as_str().unwrap().to_owned()
    }

    /// `GET /tasks/{id}`; asserts 200.
    pub async fn task(&self, id: &str) -> Value {
        let reply = self.get(&format!("/tasks/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    /// Downloads a result URL (no Stream credentials, as for S3).
    pub async fn download(&self, url: &str) -> Reply {
        read(self.http.get(url)).await
    }
}

pub async fn read(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request is answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body is read");
    Reply {
        status,
        headers,
        text,
    }
}

/// Creates an export, moves the clock past the task's run and returns the download URL.
pub async fn export_file(emulator: &Emulator, api: &Api, body: Value) -> (String, String) {
    let id = api.export(body).await;
    emulator
        .clock()
        .advance(emulator.config().task_durations.total());
    let status = api.task(&id).await;
    assert_eq!(status["status"], "completed", "{status}");
    (id, status["result"]["url"].as_str().unwrap().to_owned())
}

/// The URL of a finished export of one channel (`messaging:general-001`, v1 by default).
pub async fn one_channel_file(emulator: &Emulator, api: &Api) -> String {
    let body = serde_json::json!({"channels": [{"cid": "messaging:general-001"}]});
    export_file(emulator, api, body).await.1
}

/// The message IDs in an export file, v1 (one or several channels) or v2, per channel.
pub fn file_message_ids(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut ids: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut add = |message: &Value| {
        ids.entry(message["cid"].as_str().unwrap().to_owned())
            .or_default()
            .push(message["id"].as_str().unwrap().to_owned());
    };
    if text.starts_with("{\"type\"") || text.is_empty() {
        for line in text.lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            if line["type"] == "message" {
                add(&line["item"]);
            }
        }
    } else {
        let doc: Value = serde_json::from_str(text).unwrap();
        let channels = match doc.get("channels") {
            Some(list) => list.as_array().unwrap().clone(),
            None => vec![doc],
        };
        for channel in channels {
            for message in channel["messages"].as_array().unwrap() {
                add(message);
            }
        }
    }
    ids
}
