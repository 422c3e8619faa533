//! Authentication: the API key, the bare JWT and its claims, user tokens on server-only routes.

use serde_json::json;

use crate::common::{Api, SECRET, jwt, start};

#[tokio::test]
async fn a_missing_or_wrong_api_key_is_401_code_2() {
    let (emulator, api) = start().await;
    for key in [None, Some("wrong-key".to_owned())] {
        let api = Api {
            key: key.clone(),
            ..api.clone()
        };
        let reply = api.get("/tasks/some-id").await;
        reply.assert_error(401, 2, "GetTask", "api_key");
        reply.assert_rate_headers();
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_401_code_43() {
    let (_emulator, api) = start().await;
    let api = api.with_token(&jwt(&json!({"server": true}), "not-the-secret"));
    let reply = api
        .post(
            "/export_channels",
            json!({"channels": [{"cid": "messaging:general-001"}]}),
        )
        .await;
    reply.assert_error(401, 43, "ExportChannels", "signature");
    reply.assert_rate_headers();
}

#[tokio::test]
async fn time_claims_are_checked_on_the_emulator_clock() {
    let (emulator, api) = start().await;
    let now = emulator.clock().now().timestamp();
    let cases = [
        (json!({"server": true, "exp": now - 1}), 40),
        (json!({"server": true, "exp": now}), 40),
        (json!({"server": true, "nbf": now + 30}), 41),
        (json!({"server": true, "iat": now + 30}), 42),
    ];
    for (claims, code) in cases {
        let reply = api.with_token(&jwt(&claims, SECRET)).get("/tasks/x").await;
        reply.assert_error(401, code, "GetTask", "");
    }
    // A token issued "in the future" becomes good once the clock catches up.
    let token = jwt(&json!({"iat": now + 30}), SECRET);
    emulator.clock().advance(chrono::Duration::seconds(30));
    let reply = api.with_token(&token).get("/tasks/x").await;
    assert_eq!(reply.status, 404, "{}", reply.text);
}

#[tokio::test]
async fn malformed_tokens_and_missing_auth_headers_are_401_code_5() {
    let (_emulator, api) = start().await;
    for token in ["", "Bearer abc", "a.b", "x.y.z"] {
        let reply = api.with_token(token).get("/tasks/x").await;
        reply.assert_error(401, 5, "GetTask", "");
    }
    let bearer = format!("Bearer {}", jwt(&json!({"server": true}), SECRET));
    api.with_token(&bearer)
        .get("/tasks/x")
        .await
        .assert_error(401, 5, "GetTask", "");
    let no_token = Api {
        token: None,
        ..api.clone()
    };
    no_token
        .get("/tasks/x")
        .await
        .assert_error(401, 5, "GetTask", "Authorization");
    let no_auth_type = Api {
        auth_type: None,
        ..api.clone()
    };
    no_auth_type
        .get("/tasks/x")
        .await
        .assert_error(401, 5, "GetTask", "Stream-Auth-Type");
}

#[tokio::test]
async fn server_tokens_with_or_without_server_iat_and_exp_are_accepted() {
    let (emulator, api) = start().await;
    let now = emulator.clock().now().timestamp();
    let claims = [
        json!({"server": true}),
        json!({}),
        json!({"iat": now - 5, "iss": "java", "sub": "server", "scope": "admins"}),
        json!({"server": true, "iat": now, "exp": now + 300}),
    ];
    for claims in claims {
        let reply = api
            .with_token(&jwt(&claims, SECRET))
            .get("/tasks/unknown")
            .await;
        reply.assert_error(404, 16, "GetTask", "Can't find task with id unknown");
    }
}

#[tokio::test]
async fn user_tokens_are_refused_on_export_routes_with_403_code_17() {
    let (emulator, api) = start().await;
    let user = api.with_token(&jwt(&json!({"user_id": "user-001"}), SECRET));
    let body = json!({"channels": [{"cid": "messaging:general-001"}]});
    user.post("/export_channels", body).await.assert_error(
        403,
        17,
        "ExportChannels",
        "server-side",
    );
    user.post("/export/users", json!({"user_ids": ["user-001"]}))
        .await
        .assert_error(403, 17, "ExportUsers", "server-side");
    user.get("/tasks/x")
        .await
        .assert_error(403, 17, "GetTask", "server-side");
    user.get("/export_channels/x").await.assert_error(
        403,
        17,
        "GetExportChannelsStatus",
        "server-side",
    );
    // Query channels takes user tokens (and then shows that user's channels only).
    let reply = user
        .post("/channels", json!({"filter_conditions": {}}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    // The emulator's own signing helpers agree with hand-signed tokens.
    let helper = api.with_token(&emulator.sign_user_token("user-001"));
    helper
        .get("/tasks/x")
        .await
        .assert_error(403, 17, "GetTask", "");
    let server = api.with_token(&emulator.sign_server_token());
    assert_eq!(server.get("/tasks/x").await.status, 404);
}

#[tokio::test]
async fn header_names_match_whatever_their_case() {
    let (_emulator, api) = start().await;
    let title_case = reqwest::Client::builder()
        .http1_title_case_headers()
        .build()
        .unwrap();
    let api = Api {
        http: title_case,
        ..api
    };
    let reply = api.get("/tasks/x").await;
    reply.assert_error(404, 16, "GetTask", "Can't find task");
}
