//! The upload URL that `files.getUploadURLExternal` hands out, and the
//! download URL (`url_private`) of a file.
//!
//! The upload URL carries its own secret, because `slack_sdk`'s
//! `files_upload_v2` (3.48.0) POSTs the raw bytes there with no token. The
//! download URL takes the caller's token in `Authorization: Bearer`, as
//! Slack's `url_private` does.

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use switchboard_actors::file::FileState;
use switchboard_actors::ids::{is_valid_id, FileId, TeamId};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ApiError;

use crate::api::params::Params;
use crate::api::Api;
use crate::auth::hash_token;
use crate::files::blobs::BlobError;
use crate::files::may_read;

/// Builds a plain-text response, as Slack's file servers send.
fn text(status: StatusCode, body: impl Into<String>) -> Response {
    warp::reply::with_status(body.into(), status).into_response()
}

/// Stores the bytes of a pending upload: `POST /upload/v1/{team}/{file}/{secret}`.
pub async fn upload<S, B>(
    api: &Api,
    team: &str,
    file_id: &str,
    secret: &str,
    headers: &HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    if !is_valid_id(team, &['T']) || !is_valid_id(file_id, &['F']) {
        return text(StatusCode::NOT_FOUND, "invalid_upload_url");
    }
    let team_id = TeamId::from(team);
    let file_id = FileId::from(file_id);
    let store = api.hub().store();
    let file = match store.file(&team_id, &file_id).await {
        Ok(Some(file)) => file,
        Ok(None) => return text(StatusCode::NOT_FOUND, "invalid_upload_url"),
        Err(error) => return storage_failed(&error, "file lookup"),
    };
    let secret_matches = !file.upload_hash.is_empty() && file.upload_hash == hash_token(secret);
    if file.state != FileState::Pending || !secret_matches {
        return text(StatusCode::NOT_FOUND, "invalid_upload_url");
    }

    let blobs = api.blobs();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > blobs.max_bytes()) {
        forget_pending(api, &team_id, &file_id).await;
        return text(StatusCode::PAYLOAD_TOO_LARGE, ApiError::FileTooLarge.code());
    }

    let staged = match blobs.stage(body).await {
        Ok(staged) => staged,
        Err(BlobError::TooLarge { limit }) => {
            tracing::info!(team = %team_id, file = %file_id, limit, "upload rejected: larger than the limit");
            forget_pending(api, &team_id, &file_id).await;
            return text(StatusCode::PAYLOAD_TOO_LARGE, ApiError::FileTooLarge.code());
        }
        Err(error) => {
            tracing::warn!(team = %team_id, file = %file_id, %error, "upload failed");
            return text(StatusCode::BAD_REQUEST, "upload_failed");
        }
    };

    // Publish and commit under the lock, so a concurrent delete of a file with
    // the same bytes cannot remove the blob between the two steps.
    let _guard = blobs.lock().await;
    if let Err(error) = blobs.publish(&team_id, &staged).await {
        tracing::error!(team = %team_id, file = %file_id, %error, "publishing an upload failed");
        blobs.discard(staged).await;
        return text(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    }
    let mut stored = file.clone();
    stored.size = staged.size;
    stored.sha256 = Some(staged.sha256.clone());
    stored.state = FileState::Uploaded;
    stored.upload_hash = String::new();
    if let Err(error) = api.hub().write(vec![Write::UpdateFile(stored)]).await {
        // The blob may now have no reference; it is removed when a file
        // with the same bytes is deleted, or stays as an orphan.
        return storage_failed(&error, "file update");
    }
    tracing::info!(team = %team_id, file = %file_id, size = staged.size, "file bytes stored");
    text(StatusCode::OK, format!("OK - {}", staged.size))
}

/// Deletes the metadata of a pending upload that was rejected, so no file is
/// left behind.
async fn forget_pending(api: &Api, team_id: &TeamId, file_id: &FileId) {
    let write = Write::DeleteFile {
        team_id: team_id.clone(),
        file_id: file_id.clone(),
    };
    if let Err(error) = api.hub().write(vec![write]).await {
        tracing::warn!(team = %team_id, file = %file_id, %error, "failed to delete a rejected upload's metadata");
    }
}

fn storage_failed(error: &StoreError, action: &str) -> Response {
    tracing::error!(action, %error, "store failed during a file request");
    text(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
}

/// Serves a file's bytes: `GET /files-pri/{team}-{file}/{name}` with the
/// token in `Authorization: Bearer`. Only the uploader and members of a
/// conversation the file is shared in may read it; others get 404.
pub async fn download(api: &Api, team_and_file: &str, headers: &HeaderMap) -> Response {
    let Some((team, file_id)) = team_and_file.split_once('-') else {
        return text(StatusCode::NOT_FOUND, "file_not_found");
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let caller = match api.authenticate(token).await {
        Ok(caller) => caller,
        Err(error) => return text(StatusCode::UNAUTHORIZED, error.code()),
    };
    if caller.team_id().as_str() != team || !is_valid_id(file_id, &['F']) {
        return text(StatusCode::NOT_FOUND, "file_not_found");
    }
    let store = api.hub().store();
    let file = match store.file(caller.team_id(), &FileId::from(file_id)).await {
        Ok(Some(file)) => file,
        Ok(None) => return text(StatusCode::NOT_FOUND, "file_not_found"),
        Err(error) => return storage_failed(&error, "file lookup"),
    };
    match may_read(store.as_ref(), &file, &caller.user.id).await {
        Ok(true) => {}
        Ok(false) => return text(StatusCode::NOT_FOUND, "file_not_found"),
        Err(error) => return storage_failed(&error, "file access check"),
    }
    let Some(sha256) = &file.sha256 else {
        return text(StatusCode::NOT_FOUND, "file_not_found");
    };
    let bytes = match api.blobs().read(&file.team_id, sha256).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(team = %file.team_id, file = %file.id, %error, "reading a file's bytes failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
        }
    };
    let mut response = Response::new(bytes.into());
    let content_type = HeaderValue::from_str(&file.mimetype)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

/// Largest text field of a multipart `files.upload` body, in bytes.
const MAX_MULTIPART_TEXT_BYTES: usize = 64 * 1024;

/// Runs `files.upload` from a `multipart/form-data` body, streaming the `file`
/// part to disk. The token must come in `Authorization: Bearer` or the query
/// string, so that no body is read for an unauthenticated caller.
pub async fn multipart_upload<S, B>(
    api: &Api,
    headers: &HeaderMap,
    query: Params,
    token: Option<String>,
    body: S,
    host: Option<&str>,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin + Send + 'static,
    B: Buf + Send + 'static,
{
    let json_error = |error: ApiError| {
        warp::reply::json(&serde_json::json!({ "ok": false, "error": error.code() }))
            .into_response()
    };
    if let Err(error) = api.authenticate(token.as_deref()).await {
        return json_error(error);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        return json_error(ApiError::InvalidFormData);
    };
    let stream = body.map(|chunk| chunk.map(|mut buf| buf.copy_to_bytes(buf.remaining())));
    let mut multipart = multer::Multipart::new(stream, boundary);

    let mut params = query;
    let mut staged = None;
    let outcome: Result<(), ApiError> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|_| ApiError::InvalidFormData)?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" && staged.is_none() {
                if params.str("filename").is_none() {
                    if let Some(file_name) = field.file_name() {
                        params.insert("filename", file_name.to_owned());
                    }
                }
                match api.blobs().stage(&mut field).await {
                    Ok(blob) => staged = Some(blob),
                    Err(BlobError::TooLarge { .. }) => return Err(ApiError::FileTooLarge),
                    Err(error) => {
                        tracing::warn!(%error, "multipart upload failed");
                        return Err(ApiError::InvalidFormData);
                    }
                }
                continue;
            }
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| ApiError::InvalidFormData)? {
                if text.len() + chunk.len() > MAX_MULTIPART_TEXT_BYTES {
                    return Err(ApiError::InvalidFormData);
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text).map_err(|_| ApiError::InvalidFormData)?;
            params.insert(&name, text);
        }
        Ok(())
    }
    .await;
    if let Err(error) = outcome {
        if let Some(blob) = staged {
            api.blobs().discard(blob).await;
        }
        return json_error(error);
    }
    let body = match staged {
        Some(blob) => api.call_upload(token.as_deref(), params, blob, host).await,
        None => {
            api.call("files.upload", token.as_deref(), params, host)
                .await
        }
    };
    warp::reply::json(&body).into_response()
}
