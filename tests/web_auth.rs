//! Browser sign-in over real HTTP: login links, the session cookie, the client
//! header that cookie-authenticated calls need, sign-out, and the page's
//! security headers.

mod common;

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;

use common::TestNode;
use switchboard_engine::web_auth::create_login_link;

/// An HTTP client that does not follow redirects, so the sign-in response itself is checked.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn admin_link(node: &TestNode) -> String {
    let store = node.engine.hub().store().clone();
    let bootstrap = &node.bootstrap;
    create_login_link(store.as_ref(), &bootstrap.team_id, &bootstrap.admin.user_id)
        .await
        .expect("create a login link")
}

/// Signs in with a fresh link; returns the `name=value` cookie pair.
async fn sign_in(node: &TestNode) -> String {
    let link = admin_link(node).await;
    let response = client()
        .get(format!("http://{}/login?token={link}", node.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn auth_test(node: &TestNode, cookie: &str, with_header: bool) -> Value {
    let mut request = client()
        .post(format!("http://{}/api/auth.test", node.addr))
        .header(COOKIE, cookie)
        .header("content-type", "application/json")
        .body("{}");
    if with_header {
        request = request.header("x-switchboard-client", "web");
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn login_link_sets_strict_httponly_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let link = admin_link(&node).await;

    let response = client()
        .get(format!("http://{}/login?token={link}", node.addr))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("switchboard_session=sbs-"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    node.stop().await;
}

#[tokio::test]
async fn login_link_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let link = admin_link(&node).await;
    let url = format!("http://{}/login?token={link}", node.addr);

    let first = client().get(&url).send().await.unwrap();
    let second = client().get(&url).send().await.unwrap();

    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert!(second.headers().get(SET_COOKIE).is_none());
    node.stop().await;
}

#[tokio::test]
async fn malformed_login_link_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let team = &node.bootstrap.team_id;

    for token in [
        String::new(),
        "garbage".to_owned(),
        format!("sbl-{team}-00000000000000000000000000000000"),
        node.bootstrap.admin.token.clone(),
    ] {
        let response = client()
            .get(format!("http://{}/login?token={token}", node.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
    }
    node.stop().await;
}

#[tokio::test]
async fn cookie_needs_client_header() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let cookie = sign_in(&node).await;

    let with_header = auth_test(&node, &cookie, true).await;
    let without_header = auth_test(&node, &cookie, false).await;

    assert_eq!(with_header["ok"], true, "{with_header}");
    assert_eq!(
        with_header["user_id"].as_str(),
        Some(node.bootstrap.admin.user_id.as_str())
    );
    assert_eq!(without_header["ok"], false, "{without_header}");
    assert_eq!(without_header["error"], "not_authed");
    node.stop().await;
}

#[tokio::test]
async fn sign_out_ends_browser_session() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let cookie = sign_in(&node).await;
    let logout = format!("http://{}/logout", node.addr);

    let forged = client()
        .post(&logout)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(auth_test(&node, &cookie, true).await["ok"], true);

    let signed_out = client()
        .post(&logout)
        .header(COOKIE, &cookie)
        .header("x-switchboard-client", "web")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    let cleared = signed_out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let after = auth_test(&node, &cookie, true).await;
    assert_eq!(after["ok"], false, "{after}");
    assert_eq!(after["error"], "invalid_auth");
    node.stop().await;
}

#[tokio::test]
async fn page_and_assets_carry_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;

    for path in ["/", "/web/app.js", "/web/style.css"] {
        let response = client()
            .get(format!("http://{}{path}", node.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    let missing = client()
        .get(format!("http://{}/web/nope.js", node.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    node.stop().await;
}

#[tokio::test]
async fn login_link_expires_after_fifteen_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let link = admin_link(&node).await;

    let record = node
        .engine
        .hub()
        .store()
        .login_link(
            &node.bootstrap.team_id,
            &switchboard_engine::auth::hash_token(&link),
        )
        .await
        .unwrap()
        .expect("the link is stored by its hash");

    assert_eq!(record.expires.0 - record.created.0, 15 * 60 * 1_000_000);
    assert!(!record.used);
    node.stop().await;
}
