//! The web client: its files from `web/` (compiled into the binary, so the node
//! serves them offline), the sign-in and sign-out routes, and the security
//! headers of every page.
//!
//! `/login?token=…` redeems a login link and sets the session cookie:
//! `HttpOnly` (scripts cannot read it) and `SameSite=Strict` (other sites'
//! requests do not carry it). An API call authenticated by the cookie must also
//! carry the [`CLIENT_HEADER`] header, which a cross-site form cannot set and a
//! cross-site script cannot send without a CORS preflight that this node never
//! grants.

use warp::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST, LOCATION, REFERRER_POLICY,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};
use warp::Filter;

use switchboard_actors::Hub;

use crate::web_auth::{self, SESSION_COOKIE};

/// Header that the web client sends with every cookie-authenticated request.
pub const CLIENT_HEADER: &str = "x-switchboard-client";

/// Lifetime of the session cookie in the browser, in seconds (30 days). The
/// session ends earlier on sign-out.
const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;

/// The files of the web client, as (path under `/web/`, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/api.js"),
    ),
    (
        "socket.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/socket.js"),
    ),
    (
        "render.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/render.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
];

/// The page at `/`.
const INDEX_HTML: &str = include_str!("../../web/index.html");

/// Builds the web client's routes: `/`, `/web/{file}`, `/login` and `/logout`.
pub fn routes(hub: Hub) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let index = warp::path::end()
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .map(|headers: HeaderMap| page(&headers, "text/html; charset=utf-8", INDEX_HTML));

    let asset = warp::path!("web" / String)
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and_then(|name: String, headers: HeaderMap| async move {
            match ASSETS.iter().find(|(path, _, _)| *path == name) {
                Some((_, content_type, body)) => Ok(page(&headers, content_type, body)),
                None => Err(warp::reject::not_found()),
            }
        });

    let login = {
        let hub = hub.clone();
        warp::path!("login")
            .and(warp::get())
            .and(warp::query::<std::collections::HashMap<String, String>>())
            .then(move |query: std::collections::HashMap<String, String>| {
                let hub = hub.clone();
                async move {
                    let token = query.get("token").map(String::as_str).unwrap_or_default();
                    login(&hub, token).await
                }
            })
    };

    let logout = warp::path!("logout")
        .and(warp::post())
        .and(warp::header::headers_cloned())
        .then(move |headers: HeaderMap| {
            let hub = hub.clone();
            async move { logout(&hub, &headers).await }
        });

    index.or(asset).unify().or(login).unify().or(logout).unify()
}

/// Redeems a login link; on success sets the cookie and redirects to `/`,
/// which also takes the token out of the address bar.
async fn login(hub: &Hub, token: &str) -> Response {
    match web_auth::redeem_login_link(hub.store().as_ref(), token).await {
        Ok((cookie, _session)) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            headers.insert(LOCATION, HeaderValue::from_static("/"));
            insert_cookie(
                headers,
                &format!(
                    "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}"
                ),
            );
            headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(web_auth::WebAuthError::Store(error)) => {
            tracing::error!(%error, "sign-in failed in the store");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed because the store failed; try the link again.",
            )
        }
        Err(error) => plain(StatusCode::UNAUTHORIZED, &error.to_string()),
    }
}

/// Ends the browser session and clears the cookie. Requires [`CLIENT_HEADER`],
/// so another site cannot sign a browser out.
async fn logout(hub: &Hub, headers: &HeaderMap) -> Response {
    if !headers.contains_key(CLIENT_HEADER) {
        return plain(
            StatusCode::FORBIDDEN,
            "sign-out needs the x-switchboard-client header",
        );
    }
    if let Some(cookie) = session_cookie(headers) {
        if let Err(error) = web_auth::sign_out(hub.store().as_ref(), &cookie).await {
            tracing::error!(%error, "sign-out failed in the store");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-out failed because the store failed; try again.",
            );
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    insert_cookie(
        response.headers_mut(),
        &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

/// Returns the session cookie's text from a request's `Cookie` headers.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

fn insert_cookie(headers: &mut HeaderMap, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            headers.insert(SET_COOKIE, value);
        }
        Err(error) => tracing::error!(%error, "session cookie is not a valid header value"),
    }
}

/// Builds the response for a page or asset, with the security headers.
fn page(request: &HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(request)) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Builds the Content-Security-Policy: scripts, styles and images only from
/// this node (no inline script, no `eval`), and network connections only to
/// this node, over HTTP and its WebSocket.
fn content_security_policy(request: &HeaderMap) -> String {
    let host = request
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    let sockets = host
        .map(|host| format!(" ws://{host} wss://{host}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{sockets}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = warp::reply::with_status(text.to_owned(), status).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
