//! The CDN: signed media links in exports, their expiry, deleted files, what the CDN claims,
//! the refresh calls, and what the request log shows of CDN requests.

use chatvault_emulator::{
    DataSpec, Emulator, EmulatorConfig, Endpoint, MediaKind, MediaOwner, MediaRef,
};
use chrono::{DateTime, Duration, Utc};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Api, config, export_file, start_with};

fn media_config() -> EmulatorConfig {
    EmulatorConfig {
        data: DataSpec {
            media_every: 3,
            avatars: true,
            ..DataSpec::default()
        },
        ..config()
    }
}

struct Fetched {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A plain GET, as a CDN client makes it: no Stream credential.
async fn fetch(url: &str) -> Fetched {
    let response = reqwest::get(url).await.expect("answered");
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The messages of a v1 export of `messaging:general-001` over `[since, now)`.
async fn exported_messages(emulator: &Emulator, api: &Api, since: DateTime<Utc>) -> Vec<Value> {
    let body = json!({"channels": [{"cid": "messaging:general-001",
        "messages_since": since.to_rfc3339()}]});
    let (_, url) = export_file(emulator, api, body).await;
    api.download(&url).await.json()["messages"]
        .as_array()
        .unwrap()
        .clone()
}

/// Every (message, field, link) of the messages' attachments.
fn links(messages: &[Value]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for m in messages {
        for (i, a) in m["attachments"].as_array().unwrap().iter().enumerate() {
            for field in ["asset_url", "image_url", "thumb_url"] {
                if let Some(url) = a[field].as_str() {
                    out.push((
                        m["id"].as_str().unwrap().to_owned(),
                        format!("attachments[{i}].{field}"),
                        url.to_owned(),
                    ));
                }
            }
        }
    }
    out
}

fn truth_of<'a>(truth: &'a [MediaRef], id: &str, field: &str) -> &'a MediaRef {
    truth
        .iter()
        .find(|r| r.owner == MediaOwner::Message(id.to_owned()) && r.field == field)
        .unwrap_or_else(|| panic!("{id} {field} not in the truth"))
}

#[tokio::test]
async fn exported_links_serve_the_true_bytes_until_they_expire() {
    let (emulator, api) = start_with(media_config()).await;
    let start = emulator.config().start_time;
    let messages = exported_messages(&emulator, &api, start - Duration::days(2)).await;
    let links = links(&messages);
    let truth = emulator.media_truth();
    let cdn = emulator.cdn_base().to_owned();
    assert!(cdn.starts_with("http://localhost:"), "{cdn}");
    let mut served = 0;
    for (id, field, url) in &links {
        let known = truth_of(&truth, id, field);
        if known.foreign {
            assert!(url.starts_with("https://example.com/"), "{url}");
            continue;
        }
        assert!(
            url.starts_with(&format!("{}?Key-Pair-Id=", known.url)),
            "{url}"
        );
        assert!(
            url.contains("&Policy=") && url.contains("&Signature="),
            "{url}"
        );
        let fetched = fetch(url).await;
        if known.deleted {
            assert_eq!(fetched.status, 404, "{url}");
            continue;
        }
        assert_eq!(fetched.status, 200, "{url}");
        assert_eq!(fetched.bytes.len() as u64, known.size);
        assert_eq!(
            fetched.header("content-length"),
            Some(&*known.size.to_string())
        );
        assert_eq!(Some(sha256(&fetched.bytes)), known.sha256);
        let path = known.path.as_deref().unwrap();
        assert_eq!(emulator.cdn_file_bytes(path).unwrap(), fetched.bytes);
        served += 1;
    }
    assert!(served > 10, "{served} files served");

    // A link lives link_lifetime (14 days) from its message's post, then answers 403.
    let (_, _, url) = &links[0];
    let expires: i64 = url.rsplit("Expires=").next().unwrap().parse().unwrap();
    let posted = DateTime::parse_from_rfc3339(
        messages
            .iter()
            .find(|m| m["id"] == links[0].0.as_str())
            .unwrap()["created_at"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(expires, (posted + Duration::days(14)).timestamp());
    emulator
        .clock()
        .set(DateTime::from_timestamp(expires, 0).unwrap());
    let expired = fetch(url).await;
    assert_eq!(expired.status, 403);
    assert!(String::from_utf8_lossy(&expired.bytes).contains("<Code>AccessDenied</Code>"));
}

#[tokio::test]
async fn tampered_bare_and_foreign_signed_links_are_refused() {
    let (emulator, _api) = start_with(media_config()).await;
    let truth = emulator.media_truth();
    let file = truth
        .iter()
        .find(|r| !r.foreign && !r.deleted && r.kind == Some(MediaKind::Png))
        .unwrap();
    let path = file.path.as_deref().unwrap();
    let good = emulator.cdn_link(path, emulator.clock().now() + Duration::hours(1));
    assert_eq!(fetch(&good).await.status, 200);
    let later = good.replace("&Expires=", "&Expires=1");
    assert_eq!(fetch(&later).await.status, 403, "a moved expiry");
    let other = truth
        .iter()
        .find(|r| !r.foreign && !r.deleted && r.path.as_deref() != Some(path))
        .unwrap();
    let swapped = good.replace(&file.url, &other.url);
    assert_eq!(
        fetch(&swapped).await.status,
        403,
        "another path's signature"
    );
    assert_eq!(fetch(&file.url).await.status, 403, "no signature at all");
    let unsigned = good.split("&Signature=").next().unwrap().to_owned();
    assert_eq!(fetch(&unsigned).await.status, 403);
    let expired = emulator.cdn_link(path, emulator.clock().now());
    assert_eq!(
        fetch(&expired).await.status,
        403,
        "expired the moment it is used"
    );
    // Signed by another emulator (another CDN key): refused.
    let stranger = Emulator::start(EmulatorConfig {
        data: DataSpec {
            seed: 7,
            ..media_config().data
        },
        ..media_config()
    })
    .await
    .unwrap();
    let foreign = stranger.cdn_link(path, emulator.clock().now() + Duration::hours(1));
    let foreign = foreign.replace(stranger.cdn_base(), emulator.cdn_base());
    assert_eq!(fetch(&foreign).await.status, 403);
}

#[tokio::test]
async fn deleted_files_answer_404_and_the_svg_claims_to_be_a_png() {
    let (emulator, _api) = start_with(media_config()).await;
    let soon = emulator.clock().now() + Duration::hours(1);
    let gone = emulator.deleted_cdn_path().unwrap();
    let truth = emulator.media_truth();
    assert!(
        truth
            .iter()
            .any(|r| r.path.as_deref() == Some(&*gone) && r.deleted)
    );
    assert_eq!(fetch(&emulator.cdn_link(&gone, soon)).await.status, 404);

    let svg = truth
        .iter()
        .find(|r| r.kind == Some(MediaKind::Svg))
        .unwrap();
    let fetched = fetch(&emulator.cdn_link(svg.path.as_deref().unwrap(), soon)).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.header("content-type"), Some("image/png"));
    assert!(String::from_utf8_lossy(&fetched.bytes).contains("<script>"));

    let pdf = truth
        .iter()
        .find(|r| r.kind == Some(MediaKind::Pdf) && !r.deleted)
        .unwrap();
    let path = pdf.path.as_deref().unwrap();
    assert_eq!(fetch(&emulator.cdn_link(path, soon)).await.status, 200);
    emulator.delete_cdn_file(path);
    assert_eq!(fetch(&emulator.cdn_link(path, soon)).await.status, 404);
    assert!(
        emulator
            .media_truth()
            .iter()
            .any(|r| r.path.as_deref() == Some(path) && r.deleted)
    );

    let large = truth.iter().find(|r| r.large).unwrap();
    assert_eq!(large.size, 2 * 1024 * 1024);
    let fetched = fetch(&emulator.cdn_link(large.path.as_deref().unwrap(), soon)).await;
    assert_eq!(fetched.bytes.len(), 2 * 1024 * 1024);
    assert!(fetched.bytes.starts_with(b"PK\x03\x04"));
}

#[tokio::test]
async fn the_request_log_shows_whether_a_credential_went_to_the_cdn() {
    let (emulator, api) = start_with(media_config()).await;
    let truth = emulator.media_truth();
    let path = truth
        .iter()
        .find(|r| !r.foreign && !r.deleted)
        .unwrap()
        .path
        .clone()
        .unwrap();
    let link = emulator.cdn_link(&path, emulator.clock().now() + Duration::hours(1));
    emulator.clear_requests();
    assert_eq!(fetch(&link).await.status, 200);
    let clean = emulator.take_requests();
    assert_eq!(clean.len(), 1);
    let entry = &clean[0];
    assert_eq!(entry.endpoint, Some(Endpoint::CdnFile));
    assert_eq!(entry.path, format!("/cdn/{path}"));
    assert!(entry.has_header("host"));
    for credential in ["authorization", "stream-auth-type", "cookie"] {
        assert!(!entry.has_header(credential), "{credential}");
    }
    assert_eq!(
        entry.query_names,
        ["Key-Pair-Id", "Policy", "Signature", "Expires"]
    );

    // A careless client's credentials show (their values blanked), and the CDN ignores them.
    let careless = api
        .http
        .get(format!("{link}&api_key=test-key"))
        .header("Authorization", api.token.clone().unwrap())
        .header("Stream-Auth-Type", "jwt")
        .header("Cookie", "session=1")
        .send()
        .await
        .unwrap();
    assert_eq!(careless.status(), 200);
    let logged = emulator.take_requests();
    let entry = &logged[0];
    for credential in ["authorization", "stream-auth-type", "cookie"] {
        assert!(entry.has_header(credential), "{credential}");
    }
    assert!(entry.query_names.iter().any(|n| n == "api_key"));
    let text = format!("{entry:?}");
    assert!(!text.contains(api.token.as_deref().unwrap()), "{text}");
    assert!(!text.contains("session=1"), "{text}");
}

#[tokio::test]
async fn get_message_refreshes_an_expired_link() {
    let (emulator, api) = start_with(media_config()).await;
    let start = emulator.config().start_time;
    // A window older than the link lifetime: every link in it has expired.
    let messages = exported_messages(&emulator, &api, start - Duration::days(30)).await;
    let old: Vec<_> = links(&messages)
        .into_iter()
        .filter(|(_, _, url)| url.contains("/cdn/") && !url.contains("/deleted/"))
        .take(5)
        .collect();
    assert_eq!(old.len(), 5);
    for (id, field, url) in old {
        assert_eq!(fetch(&url).await.status, 403, "{url}");
        let reply = api.get(&format!("/messages/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.assert_rate_headers();
        let message = &reply.json()["message"];
        assert_eq!(message["id"], id.as_str());
        let index: usize = field[12..13].parse().unwrap();
        let name = field.rsplit('.').next().unwrap();
        let fresh = message["attachments"][index][name].as_str().unwrap();
        assert_eq!(fresh.split('?').next(), url.split('?').next());
        let expires: i64 = fresh.rsplit("Expires=").next().unwrap().parse().unwrap();
        assert_eq!(
            expires,
            (emulator.clock().now() + Duration::days(14)).timestamp()
        );
        assert_eq!(fetch(fresh).await.status, 200);
    }
    let missing = api
        .get("/messages/00000000-0000-0000-0000-000000000000")
        .await;
    missing.assert_error(404, 16, "GetMessage", "Can't find message with id");
    let unsigned = api
        .with_token("nonsense")
        .get(&format!(
            "/messages/{}",
            messages[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(unsigned.status, 401);
    assert!(
        emulator
            .requests()
            .iter()
            .any(|r| r.endpoint == Some(Endpoint::GetMessage))
    );
}

#[tokio::test]
async fn users_and_channels_carry_avatars_refreshed_by_their_queries() {
    let (emulator, api) = start_with(media_config()).await;
    let start = emulator.config().start_time;
    let messages = exported_messages(&emulator, &api, start - Duration::days(1)).await;
    let avatar = messages[0]["user"]["image"].as_str().unwrap().to_owned();
    let expires = |url: &str| -> i64 { url.rsplit("Expires=").next().unwrap().parse().unwrap() };
    assert_eq!(expires(&avatar), (start + Duration::days(14)).timestamp());
    emulator.clock().advance(Duration::days(15));
    assert_eq!(fetch(&avatar).await.status, 403);

    let user = messages[0]["user"]["id"].as_str().unwrap();
    let payload =
        json!({"filter_conditions": {"id": {"$in": [user, "user-001", "nobody"]}}, "limit": 10});
    let reply = api
        .get(&format!(
            "/users?payload={}",
            urlencode(&payload.to_string())
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.assert_rate_headers();
    let users = reply.json()["users"].as_array().unwrap().clone();
    let ids: Vec<_> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&user) && ids.contains(&"user-001") && ids.len() == 2,
        "{ids:?}"
    );
    let fresh = users.iter().find(|u| u["id"] == user).unwrap()["image"]
        .as_str()
        .unwrap();
    assert_eq!(fresh.split('?').next(), avatar.split('?').next());
    let fetched = fetch(fresh).await;
    assert_eq!(fetched.status, 200);
    assert!(fetched.bytes.starts_with(b"\x89PNG"));
    let bad = api.get("/users?payload=%7Bnot%20json").await;
    bad.assert_error(400, 4, "QueryUsers", "payload");

    let channels = api
        .post(
            "/channels",
            json!({"filter_conditions": {"cid": "messaging:general-001"}}),
        )
        .await
        .json();
    let image = channels["channels"][0]["channel"]["image"]
        .as_str()
        .unwrap();
    assert_eq!(
        expires(image),
        (emulator.clock().now() + Duration::days(14)).timestamp()
    );
    assert_eq!(fetch(image).await.status, 200);
    let truth = emulator.media_truth();
    assert!(truth.iter().any(
        |r| r.owner == MediaOwner::Channel("messaging:general-001".into())
            && r.field == "image"
            && image.starts_with(&r.url)
    ));
    assert!(
        truth
            .iter()
            .any(|r| r.owner == MediaOwner::User(user.to_owned()))
    );
}

#[tokio::test]
async fn v2_and_users_exports_carry_the_same_links() {
    let (emulator, api) = start_with(media_config()).await;
    let since = (emulator.config().start_time - Duration::days(3)).to_rfc3339();
    let v1 = exported_messages(
        &emulator,
        &api,
        emulator.config().start_time - Duration::days(3),
    )
    .await;
    let body = json!({"version": "v2", "channels": [{"cid": "messaging:general-001", "messages_since": since}]});
    let (_, url) = export_file(&emulator, &api, body).await;
    let v2: Vec<Value> = api
        .download(&url)
        .await
        .text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let v2_messages: Vec<Value> = v2
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| l["item"].clone())
        .collect();
    assert_eq!(links(&v1), links(&v2_messages));
    assert!(!links(&v1).is_empty());
    assert!(
        v2.iter()
            .any(|l| l["type"] == "member" && l["item"]["user"]["image"].is_string())
    );
    assert!(v2[0]["item"]["image"].is_string(), "the channel's image");

    let reply = api
        .post("/export/users", json!({"user_ids": ["user-007"]}))
        .await;
    assert_eq!(reply.status, 201);
    let id = reply.json()["task_id"].as_str().unwrap().to_owned();
    emulator
        .clock()
        .advance(emulator.config().task_durations.total());
    let url = api.task(&id).await["result"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines: Vec<Value> = api
        .download(&url)
        .await
        .text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    assert!(
        lines[0]["item"]["image"]
            .as_str()
            .unwrap()
            .contains("/cdn/emulator/images/avatar-user-007/")
    );
    assert!(lines.iter().any(
        |l| l["type"] == "message" && !l["item"]["attachments"].as_array().unwrap().is_empty()
    ));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_cdn_file_can_redirect_or_break_off_and_faults_reach_the_cdn() {
    let (emulator, _api) = start_with(media_config()).await;
    let soon = emulator.clock().now() + Duration::hours(1);
    let truth = emulator.media_truth();
    let file = truth
        .iter()
        .find(|r| !r.foreign && !r.deleted && r.size > 1000)
        .unwrap();
    let path = file.path.as_deref().unwrap();
    let link = emulator.cdn_link(path, soon);

    emulator.redirect_cdn_file(path, "http://127.0.0.1:9/elsewhere.png");
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirected = manual.get(&link).send().await.unwrap();
    assert_eq!(redirected.status(), 302);
    assert_eq!(
        redirected.headers()["location"],
        "http://127.0.0.1:9/elsewhere.png"
    );
    // The signature is checked before the redirect.
    let bare = manual.get(&file.url).send().await.unwrap();
    assert_eq!(bare.status(), 403);

    let other = truth
        .iter()
        .find(|r| !r.foreign && !r.deleted && r.size > 1000 && r.path.as_deref() != Some(path))
        .unwrap();
    let other_link = emulator.cdn_link(other.path.as_deref().unwrap(), soon);
    emulator.faults().cut_next_cdn_files(1, 100);
    let cut = reqwest::get(&other_link).await.unwrap();
    assert_eq!(cut.content_length(), Some(other.size));
    assert!(cut.bytes().await.is_err(), "the body breaks off");
    assert_eq!(fetch(&other_link).await.bytes.len() as u64, other.size);

    emulator
        .faults()
        .fail_next_requests(Endpoint::CdnFile, 1, 503);
    assert_eq!(fetch(&other_link).await.status, 503);
    emulator.faults().rate_limit_next(Endpoint::CdnFile, 1);
    assert_eq!(fetch(&other_link).await.status, 503);
    assert_eq!(fetch(&other_link).await.status, 200);
}
