//! Incoming webhooks over real sockets: posting into existing and missing
//! channels, a creation race, and Slack's plain-text errors.

mod common;

use serde_json::{json, Value};

use common::TestNode;

/// Returns the id of the channel named `name`, if listed.
async fn channel_named(node: &TestNode, token: &str, name: &str) -> Vec<String> {
    let list = node
        .call_ok(
            "conversations.list",
            token,
            json!({ "limit": 1000, "exclude_archived": false }),
        )
        .await;
    list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates a webhook with `admin.webhooks.create`; returns (url, bot user id).
async fn create_webhook(node: &TestNode, channel: &str) -> (String, String) {
    let admin = &node.bootstrap.admin.token;
    let created = node
        .call_ok(
            "admin.webhooks.create",
            admin,
            json!({ "channel": channel }),
        )
        .await;
    let url = created["webhook"]["url"].as_str().unwrap().to_owned();
    let bot = created["webhook"]["bot_user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (url, bot)
}

/// POSTs a JSON payload; returns (status, body text).
async fn post_json(url: &str, payload: &Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .json(payload)
        .send()
        .await
        .expect("webhook request sent");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POSTs a raw body with a content type; returns (status, body text).
async fn post_raw(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("webhook request sent");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn general_id(node: &TestNode) -> String {
    channel_named(node, &node.bootstrap.admin.token, "general")
        .await
        .pop()
        .expect("general exists")
}

#[tokio::test]
async fn webhook_posts_into_existing_channel() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let general = general_id(&node).await;
    let (url, bot) = create_webhook(&node, &general).await;
    assert!(url.contains("/hooks/"), "{url}");
    let (_, token) = node.create_user("reader").await;
    let mut socket = node.connect(&token).await;

    let blocks = json!([{ "type": "section", "text": { "type": "mrkdwn", "text": "*deploy*" } }]);
    let (status, body) = post_json(
        &url,
        &json!({ "text": "deploy finished", "blocks": blocks, "username": "ci", "icon_emoji": ":rocket:" }),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "ok"));

    let event = socket
        .next_matching(|e| e["type"] == "message" && e["text"] == "deploy finished")
        .await;
    assert_eq!(event["channel"], general.as_str());
    assert_eq!(event["user"], bot.as_str());
    assert_eq!(event["subtype"], "bot_message");
    assert_eq!(event["blocks"], blocks);
    assert_eq!(event["username"], "ci");
    assert_eq!(event["icon_emoji"], ":rocket:");

    // The form encoding with a `payload` field, naming an existing channel.
    let random = channel_named(&node, &token, "random").await.pop().unwrap();
    let form = format!(
        "payload={}",
        serde_json::to_string(&json!({ "text": "from a form", "channel": "#random" }))
            .unwrap()
            .replace('%', "%25")
            .replace('&', "%26")
            .replace('+', "%2B")
            .replace('#', "%23")
    );
    let (status, body) = post_raw(&url, "application/x-www-form-urlencoded", form).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let history = node
        .call_ok(
            "conversations.history",
            &node.bootstrap.admin.token,
            json!({ "channel": random }),
        )
        .await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"from a form"), "{history}");
    node.stop().await;
}

#[tokio::test]
async fn webhook_creates_missing_channel_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let general = general_id(&node).await;
    let (first, _) = create_webhook(&node, &general).await;
    let (second, _) = create_webhook(&node, &general).await;
    let (_, token) = node.create_user("watcher").await;
    let mut socket = node.connect(&token).await;

    // Eight posts from two webhooks race to create the same channel.
    let posts = (0..8).map(|index| {
        let url = if index % 2 == 0 { &first } else { &second };
        let payload = json!({ "text": format!("alert {index}"), "channel": "#new-alerts" });
        async move { post_json(url, &payload).await }
    });
    let results = futures_util::future::join_all(posts).await;
    for (status, body) in &results {
        assert_eq!((*status, body.as_str()), (200, "ok"));
    }

    let ids = channel_named(&node, &token, "new-alerts").await;
    assert_eq!(ids.len(), 1, "exactly one #new-alerts: {ids:?}");
    let created = socket
        .next_matching(|e| e["type"] == "channel_created")
        .await;
    assert_eq!(created["channel"]["name"], "new-alerts");
    assert_eq!(created["channel"]["id"], ids[0].as_str());
    let history = node
        .call_ok(
            "conversations.history",
            &node.bootstrap.admin.token,
            json!({ "channel": ids[0] }),
        )
        .await;
    let alerts = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.starts_with("alert ")))
        .count();
    assert_eq!(alerts, 8, "{history}");
    node.stop().await;
}

#[tokio::test]
async fn webhook_rejects_wrong_secret_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let general = general_id(&node).await;
    let (url, _) = create_webhook(&node, &general).await;

    let wrong = format!("{}x", url);
    let (status, body) = post_json(&wrong, &json!({ "text": "hi" })).await;
    assert_eq!((status, body.as_str()), (403, "invalid_token"));

    let webhook_id = url.rsplit('/').nth(1).unwrap().to_owned();
    let (_, member_token) = node.create_user("plain-member").await;
    let denied = node
        .call(
            "admin.webhooks.revoke",
            &member_token,
            json!({ "webhook": webhook_id }),
        )
        .await;
    assert_eq!(denied["error"], "not_an_admin");
    node.call_ok(
        "admin.webhooks.revoke",
        &node.bootstrap.admin.token,
        json!({ "webhook": webhook_id }),
    )
    .await;
    let (status, body) = post_json(&url, &json!({ "text": "hi" })).await;
    assert_eq!((status, body.as_str()), (404, "no_service"));

    let denied = node
        .call(
            "admin.webhooks.create",
            &member_token,
            json!({ "channel": general }),
        )
        .await;
    assert_eq!(denied["error"], "not_an_admin");
    node.stop().await;
}

#[tokio::test]
async fn webhook_rejects_malformed_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let node =
        TestNode::start_with(dir.path(), |config| config.max_webhook_body_bytes = 4096).await;
    let general = general_id(&node).await;
    let (url, _) = create_webhook(&node, &general).await;

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "application/json",
            "{not json".into(),
            400,
            "invalid_payload",
        ),
        ("application/json", "[1, 2]".into(), 400, "invalid_payload"),
        (
            "application/json",
            r#"{"text": 5}"#.into(),
            400,
            "invalid_payload",
        ),
        (
            "application/json",
            r#"{"text": "x", "blocks": "no"}"#.into(),
            400,
            "invalid_payload",
        ),
        (
            "application/x-www-form-urlencoded",
            "text=hello".into(),
            400,
            "invalid_payload",
        ),
        (
            "application/json",
            r#"{"text": "   "}"#.into(),
            400,
            "no_text",
        ),
        (
            "application/json",
            r##"{"text": "x", "channel": "#Bad Name"}"##.into(),
            404,
            "channel_not_found",
        ),
        (
            "application/json",
            format!(r#"{{"text": "{}"}}"#, "a".repeat(5000)),
            413,
            "request_too_large",
        ),
    ];
    for (content_type, body, expected_status, expected_body) in cases {
        let (status, text) = post_raw(&url, content_type, body.clone()).await;
        assert_eq!(status, expected_status, "status for {body:.60}");
        assert_eq!(text, expected_body, "body for {body:.60}");
    }

    // A body streamed without Content-Length is cut off at the limit too.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let (status, text) =
        post_raw(&url, "application/json", reqwest::Body::wrap_stream(chunks)).await;
    assert_eq!((status, text.as_str()), (413, "request_too_large"));
    node.stop().await;
}

#[tokio::test]
async fn webhook_into_archived_channel_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let created = node
        .call_ok(
            "conversations.create",
            &admin,
            json!({ "name": "old-news" }),
        )
        .await;
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    let (url, _) = create_webhook(&node, &channel).await;
    let (status, _) = post_json(&url, &json!({ "text": "still open" })).await;
    assert_eq!(status, 200);

    node.call_ok(
        "conversations.archive",
        &admin,
        json!({ "channel": channel }),
    )
    .await;
    let (status, body) = post_json(&url, &json!({ "text": "too late" })).await;
    assert_eq!((status, body.as_str()), (410, "channel_is_archived"));
    let (status, body) =
        post_json(&url, &json!({ "text": "too late", "channel": "#old-news" })).await;
    assert_eq!((status, body.as_str()), (410, "channel_is_archived"));
    node.stop().await;
}
