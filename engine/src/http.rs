//! warp routes: the Web API at `/api/{method}`, the socket at `/rtm`, the
//! incoming-webhook gateway at `/hooks/…`, file uploads at `/upload/v1/…`,
//! downloads at `/files-pri/…`, and the web client (`web`).

use std::convert::Infallible;

use bytes::Bytes;
use serde_json::json;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::hyper::upgrade::OnUpgrade;
use warp::reply::{Reply, Response};
use warp::Filter;

use switchboard_actors::{ApiError, Hub};

use crate::api::params::Params;
use crate::api::{Api, Credential};
use crate::files::routes as file_routes;
use crate::gateway::{self, HookError};
use crate::socket::{accept, serve_socket};

/// Builds every route of the node. `max_body` caps API request bodies and
/// `max_webhook_body` incoming-webhook bodies, in bytes.
pub fn routes(
    api: Api,
    hub: Hub,
    max_body: u64,
    max_webhook_body: u64,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let api_get = {
        let api = api.clone();
        warp::path!("api" / String)
            .and(warp::get())
            .and(warp::header::headers_cloned())
            .and(raw_query())
            .and_then(move |method: String, headers: HeaderMap, query: String| {
                let api = api.clone();
                async move {
                    Ok::<_, Infallible>(handle_api(&api, &method, &headers, &query, &[]).await)
                }
            })
    };
    let api_post = {
        let api = api.clone();
        warp::path!("api" / String)
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(raw_query())
            .and(warp::body::stream())
            .and_then(
                move |method: String, headers: HeaderMap, query: String, body| {
                    let api = api.clone();
                    async move {
                        if method == "files.upload" && is_multipart(&headers) {
                            return Ok::<_, Infallible>(
                                handle_multipart_upload(&api, &headers, &query, body).await,
                            );
                        }
                        let body = match read_body(&headers, body, max_body).await {
                            Ok(body) => body,
                            Err(response) => return Ok::<_, Infallible>(response),
                        };
                        Ok::<_, Infallible>(
                            handle_api(&api, &method, &headers, &query, &body).await,
                        )
                    }
                },
            )
    };

    let web = crate::web::routes(hub.clone());
    let webhook_post = {
        let hub = hub.clone();
        warp::path!("hooks" / String / String / String)
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .and_then(
                move |team: String, webhook: String, secret: String, headers: HeaderMap, body| {
                    let hub = hub.clone();
                    async move {
                        Ok::<_, Infallible>(
                            handle_webhook(
                                &hub,
                                &team,
                                &webhook,
                                &secret,
                                &headers,
                                body,
                                max_webhook_body,
                            )
                            .await,
                        )
                    }
                },
            )
    };
    let upload = {
        let api = api.clone();
        warp::path!("upload" / "v1" / String / String / String)
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .and_then(
                move |team: String, file: String, secret: String, headers: HeaderMap, body| {
                    let api = api.clone();
                    async move {
                        Ok::<_, Infallible>(
                            file_routes::upload(&api, &team, &file, &secret, &headers, body).await,
                        )
                    }
                },
            )
    };
    let download = {
        let api = api.clone();
        warp::path!("files-pri" / String / String)
            .and(warp::get())
            .and(warp::header::headers_cloned())
            .and_then(
                move |team_and_file: String, _name: String, headers: HeaderMap| {
                    let api = api.clone();
                    async move {
                        Ok::<_, Infallible>(
                            file_routes::download(&api, &team_and_file, &headers).await,
                        )
                    }
                },
            )
    };

    let socket_filter = {
        let api = api.clone();
        // `ws()` checks the upgrade headers and rejects a request that is no
        // WebSocket upgrade, as before, but the node answers the upgrade itself
        // (`socket::accept`) to set its buffer sizes. The upgrade handle is
        // taken before `ws()`, which removes it from the request.
        warp::path!("rtm")
            .and(warp::query::<std::collections::HashMap<String, String>>())
            .and(warp::ext::optional::<OnUpgrade>())
            .and(warp::ws())
            .and(warp::header::value("sec-websocket-key"))
            .map(
                move |query: std::collections::HashMap<String, String>,
                      on_upgrade: Option<OnUpgrade>,
                      _ws: warp::ws::Ws,
                      key: HeaderValue| {
                    let ticket = query.get("ticket").map(String::as_str).unwrap_or_default();
                    let ticket = match api.tickets().redeem(ticket) {
                        Ok(ticket) => ticket,
                        Err(error) => return error_response(StatusCode::UNAUTHORIZED, error),
                    };
                    let Some(on_upgrade) = on_upgrade else {
                        tracing::error!(user = %ticket.user_id, "socket upgrade unavailable on this connection");
                        return error_response(StatusCode::INTERNAL_SERVER_ERROR, ApiError::InternalError);
                    };
                    let hub = hub.clone();
                    accept(&key, on_upgrade, move |socket| serve_socket(hub, ticket, socket))
                },
            )
    };

    api_get
        .or(api_post)
        .unify()
        .or(socket_filter)
        .unify()
        .or(web)
        .unify()
        .or(webhook_post)
        .unify()
        .or(upload)
        .unify()
        .or(download)
        .unify()
        .recover(|rejection: warp::Rejection| async move {
            Ok::<_, Infallible>(rejection_response(rejection))
        })
        .unify()
}

/// Extracts the raw query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// Authenticates an incoming-webhook post, reads its body up to the limit and
/// posts it. Returns `ok` or Slack's plain-text error.
async fn handle_webhook<S, B>(
    hub: &Hub,
    team: &str,
    webhook: &str,
    secret: &str,
    headers: &HeaderMap,
    stream: S,
    max_body: u64,
) -> Response
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    let webhook = match gateway::authenticate(hub, team, webhook, secret).await {
        Ok(webhook) => webhook,
        Err(error) => return error.into_response(),
    };
    let body = match read_limited(headers, stream, max_body).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return HookError::TOO_LARGE.into_response(),
        Err(BodyError::Broken) => {
            return warp::reply::with_status("invalid_payload", StatusCode::BAD_REQUEST)
                .into_response()
        }
    };
    match gateway::post(hub, &webhook, headers, &body).await {
        Ok(()) => warp::reply::with_status("ok", StatusCode::OK).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Failure to read a request body.
enum BodyError {
    /// It is larger than the limit.
    TooLarge,
    /// The connection failed while reading it.
    Broken,
}

/// Reads a request body of at most `max` bytes, mapping failures to the Web
/// API's JSON errors.
async fn read_body<S, B>(headers: &HeaderMap, stream: S, max: u64) -> Result<Bytes, Response>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    read_limited(headers, stream, max)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => too_large(),
            BodyError::Broken => error_response(StatusCode::BAD_REQUEST, ApiError::InvalidFormData),
        })
}

/// Reads a request body of at most `max` bytes. A larger body is refused from
/// its `Content-Length` before any of it is read, or as soon as the bytes read
/// pass `max` when no length is given.
async fn read_limited<S, B>(
    headers: &HeaderMap,
    mut stream: S,
    max: u64,
) -> Result<Bytes, BodyError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: bytes::Buf,
{
    use futures_util::StreamExt;

    let declared = headers
        .get(warp::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|error| {
            tracing::debug!(%error, "request body read failed");
            BodyError::Broken
        })?;
        if (body.len() + chunk.remaining()) as u64 > max {
            return Err(BodyError::TooLarge);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let read = part.len();
            body.extend_from_slice(part);
            chunk.advance(read);
        }
    }
    Ok(body.freeze())
}

/// Builds the response to a body over the configured limit.
fn too_large() -> Response {
    let body = warp::reply::json(&json!({ "ok": false, "error": "request_too_large" }));
    warp::reply::with_status(body, StatusCode::PAYLOAD_TOO_LARGE).into_response()
}

/// Returns whether the request body is `multipart/form-data`.
fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(warp::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Returns the token of `Authorization: Bearer`, else the query's `token`.
fn request_token(headers: &HeaderMap, query: &Params) -> Option<String> {
    headers
        .get(warp::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned)
        .or_else(|| query.str("token"))
}

/// Runs `files.upload` from a multipart body, which is streamed rather than
/// read whole, so `max_file_bytes` bounds it instead of `max_body_bytes`.
async fn handle_multipart_upload<S, B>(
    api: &Api,
    headers: &HeaderMap,
    query: &str,
    body: S,
) -> Response
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin + Send + 'static,
    B: bytes::Buf + Send + 'static,
{
    let query = match Params::parse_form(query.as_bytes()) {
        Ok(values) => Params::new(values),
        Err(error) => return error_response(StatusCode::OK, error),
    };
    let token = request_token(headers, &query);
    let host = headers
        .get(warp::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    file_routes::multipart_upload(api, headers, query, token, body, host.as_deref()).await
}

/// Runs one API call from its HTTP parts.
async fn handle_api(
    api: &Api,
    method: &str,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response {
    let mut params = match Params::parse_form(query.as_bytes()) {
        Ok(values) => Params::new(values),
        Err(error) => return error_response(StatusCode::OK, error),
    };
    if !body.is_empty() {
        let content_type = headers
            .get(warp::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let parsed = if content_type.starts_with("application/json") {
            Params::parse_json(body)
        } else if content_type.starts_with("multipart/") {
            Err(ApiError::InvalidFormData)
        } else {
            Params::parse_form(body)
        };
        match parsed {
            // Body arguments win over the query string.
            Ok(values) => {
                let mut merged = Params::new(values);
                merged.merge_missing(params.values().clone());
                params = merged;
            }
            Err(error) => return error_response(StatusCode::OK, error),
        }
    }

    let bearer = headers
        .get(warp::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned);
    let token = bearer.or_else(|| params.str("token"));
    let host = headers
        .get(warp::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    // The web client's cookie counts only without a token and with the client
    // header, which cross-site requests cannot carry (see `web`).
    let cookie = match &token {
        None if headers.contains_key(crate::web::CLIENT_HEADER) => {
            crate::web::session_cookie(headers)
        }
        _ => None,
    };
    let credential = match &cookie {
        Some(cookie) => Credential::BrowserSession(cookie),
        None => Credential::Token(token.as_deref()),
    };
    let body = api
        .call_with(method, credential, params, host.as_deref())
        .await;
    warp::reply::json(&body).into_response()
}

/// A Slack-style error body with the given status.
fn error_response(status: StatusCode, error: ApiError) -> Response {
    let body = warp::reply::json(&json!({ "ok": false, "error": error.code() }));
    warp::reply::with_status(body, status).into_response()
}

/// Maps warp's rejections to Slack-style errors.
fn rejection_response(rejection: warp::Rejection) -> Response {
    if rejection.is_not_found() {
        return error_response(StatusCode::NOT_FOUND, ApiError::UnknownMethod);
    }
    if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        return too_large();
    }
    if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        return error_response(StatusCode::METHOD_NOT_ALLOWED, ApiError::InvalidArguments);
    }
    tracing::debug!(?rejection, "request rejected");
    error_response(StatusCode::BAD_REQUEST, ApiError::InvalidArguments)
}
