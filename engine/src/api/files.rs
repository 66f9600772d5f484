//! The `files.*` methods: the two-step upload that `slack_sdk`'s
//! `files_upload_v2` uses (`files.getUploadURLExternal`, a POST of the bytes
//! to the returned URL, then `files.completeUploadExternal`), and
//! `files.info`, `files.list` and `files.delete`.

use serde_json::{json, Map, Value};

use switchboard_actors::channel::PostRequest;
use switchboard_actors::file::{File, FileFilter, FileKind, FileState};
use switchboard_actors::ids::{is_valid_id, ChannelId, FileId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ts::Ts;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};
use crate::auth::hash_token;
use crate::files::blobs::{BlobError, StagedBlob};
use crate::files::{file_json, guess_types, may_read};

/// Maximum length of a file name, in characters.
const MAX_FILE_NAME_CHARS: usize = 255;

/// `files.getUploadURLExternal`: records a pending file and returns the URL
/// its bytes go to. The URL's secret works once.
pub async fn get_upload_url(
    api: &Api,
    caller: &Caller,
    params: &Params,
    host: Option<&str>,
) -> MethodResult {
    let name = params.required_str("filename")?;
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(ApiError::InvalidArguments);
    }
    let length: u64 = params
        .required_str("length")?
        .trim()
        .parse()
        .map_err(|_| ApiError::InvalidArguments)?;
    if length > api.blobs().max_bytes() {
        return Err(ApiError::FileTooLarge);
    }

    let secret = hex::encode(rand::random::<[u8; 16]>());
    let (mimetype, filetype) = guess_types(&name);
    let file = File {
        id: FileId::generate(),
        team_id: caller.team_id().clone(),
        user: caller.user.id.clone(),
        title: name.clone(),
        name,
        mimetype,
        filetype,
        size: length,
        sha256: None,
        state: FileState::Pending,
        upload_hash: hash_token(&secret),
        created: Ts::now(),
    };
    api.hub
        .write(vec![Write::InsertFile(file.clone())])
        .await
        .map_err(internal("file insert"))?;
    let upload_url = format!(
        "{}/upload/v1/{}/{}/{}",
        api.base_url(host),
        file.team_id,
        file.id,
        secret
    );
    fields(json!({ "upload_url": upload_url, "file_id": file.id }))
}

/// One entry of `files.completeUploadExternal`'s `files` argument.
struct Completion {
    /// The file.
    id: FileId,
    /// New title, when given.
    title: Option<String>,
}

/// Parses the `files` argument: a JSON array of `{"id": "F…", "title": …}`.
fn parse_completions(params: &Params) -> Result<Vec<Completion>, ApiError> {
    let Some(Value::Array(items)) = params.json("files")? else {
        return Err(ApiError::InvalidArguments);
    };
    if items.is_empty() {
        return Err(ApiError::InvalidArguments);
    }
    items
        .iter()
        .map(|item| {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| is_valid_id(id, &['F']))
                .ok_or(ApiError::InvalidArguments)?;
            let title = item
                .get("title")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned);
            Ok(Completion {
                id: FileId::from(id),
                title,
            })
        })
        .collect()
}

/// Returns the conversations to share into: `channel_id`, or each id of the
/// comma-separated `channels`.
fn target_channels(params: &Params) -> Result<Vec<ChannelId>, ApiError> {
    if params.str("channel_id").is_some_and(|c| !c.is_empty()) {
        return Ok(vec![params.channel_named("channel_id")?]);
    }
    let Some(list) = params.str("channels") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            if is_valid_id(id, &['C', 'D', 'G']) {
                Ok(ChannelId::from(id))
            } else {
                Err(ApiError::ChannelNotFound)
            }
        })
        .collect()
}

/// `files.completeUploadExternal`: makes uploaded files visible and, with a
/// channel, posts one message that shares them there.
pub async fn complete_upload(
    api: &Api,
    caller: &Caller,
    params: &Params,
    host: Option<&str>,
) -> MethodResult {
    let completions = parse_completions(params)?;
    let channels = target_channels(params)?;
    let thread_ts = params.ts("thread_ts", ApiError::InvalidTs)?;
    let comment = params.str("initial_comment").unwrap_or_default();

    // Every check comes before the first write.
    check_targets(api, caller, &channels).await?;
    let store = api.hub.store();
    let mut files = Vec::with_capacity(completions.len());
    for completion in &completions {
        let file = store
            .file(caller.team_id(), &completion.id)
            .await
            .map_err(internal("file lookup"))?
            .filter(|file| file.user == caller.user.id && file.state == FileState::Uploaded)
            .ok_or(ApiError::FileNotFound)?;
        let mut file = file;
        if let Some(title) = &completion.title {
            file.title = title.clone();
        }
        files.push(file);
    }
    let shown = complete_and_share(api, caller, files, &channels, thread_ts, comment, host).await?;
    fields(json!({ "files": shown }))
}

/// Checks that the caller is a member of every conversation to share into.
async fn check_targets(api: &Api, caller: &Caller, channels: &[ChannelId]) -> Result<(), ApiError> {
    for channel_id in channels {
        let (_, member) = api.visible_channel(caller, channel_id).await?;
        if !member {
            return Err(ApiError::NotInChannel);
        }
    }
    Ok(())
}

/// Marks uploaded files complete, posts one message that shares them into
/// each conversation, and returns their file objects.
async fn complete_and_share(
    api: &Api,
    caller: &Caller,
    mut files: Vec<File>,
    channels: &[ChannelId],
    thread_ts: Option<Ts>,
    comment: String,
    host: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    for file in &mut files {
        file.state = FileState::Complete;
    }
    let store = api.hub.store();
    let writes = files.iter().cloned().map(Write::UpdateFile).collect();
    match api.hub.write(writes).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(ApiError::FileNotFound),
        Err(error) => return Err(internal("file completion")(error)),
    }
    let base_url = api.base_url(host);

    for channel_id in channels {
        let mut shown = Vec::with_capacity(files.len());
        for file in &files {
            shown.push(
                file_json(store.as_ref(), file, &base_url)
                    .await
                    .map_err(internal("file serialization"))?,
            );
        }
        let mut extra = Map::new();
        extra.insert("files".into(), Value::Array(shown));
        extra.insert("upload".into(), true.into());
        extra.insert("display_as_bot".into(), false.into());
        let request = PostRequest {
            user: caller.user.id.clone(),
            text: comment.clone(),
            thread_ts,
            bot_id: caller.user.bot_id.clone(),
            subtype: None,
            extra,
            files: files.iter().map(|f| f.id.clone()).collect(),
            writes: Vec::new(),
        };
        api.hub
            .post_message(caller.team_id(), channel_id, request)
            .await?;
    }

    let mut result = Vec::with_capacity(files.len());
    for file in &files {
        result.push(
            file_json(store.as_ref(), file, &base_url)
                .await
                .map_err(internal("file serialization"))?,
        );
    }
    tracing::info!(team = %caller.team_id(), user = %caller.user.id, files = files.len(), channels = channels.len(), "file upload completed");
    Ok(result)
}

/// `files.upload`, the older one-request upload: stores the multipart `file`
/// part (staged by the HTTP layer), or else the `content` argument, as a new
/// file and shares it into `channels`.
pub async fn upload(
    api: &Api,
    caller: &Caller,
    params: &Params,
    staged: Option<StagedBlob>,
    host: Option<&str>,
) -> MethodResult {
    let blobs = api.blobs();
    let staged = match staged {
        Some(staged) => staged,
        None => {
            let content = params.str("content").ok_or(ApiError::NoFileData)?;
            let body =
                futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(content))]);
            match blobs.stage(body).await {
                Ok(staged) => staged,
                Err(BlobError::TooLarge { .. }) => return Err(ApiError::FileTooLarge),
                Err(error) => return Err(internal("staging file content")(error)),
            }
        }
    };
    let result = store_upload(api, caller, params, &staged, host).await;
    if result.is_err() {
        blobs.discard(staged).await;
    }
    result
}

/// Checks the arguments of `files.upload`, publishes the staged bytes and
/// shares the new file.
async fn store_upload(
    api: &Api,
    caller: &Caller,
    params: &Params,
    staged: &StagedBlob,
    host: Option<&str>,
) -> MethodResult {
    let channels = target_channels(params)?;
    let thread_ts = params.ts("thread_ts", ApiError::InvalidTs)?;
    let comment = params.str("initial_comment").unwrap_or_default();
    check_targets(api, caller, &channels).await?;

    let name = params
        .str("filename")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Uploaded file".into());
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(ApiError::InvalidArguments);
    }
    let title = params
        .str("title")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| name.clone());
    let (mimetype, filetype) = guess_types(&name);
    let file = File {
        id: FileId::generate(),
        team_id: caller.team_id().clone(),
        user: caller.user.id.clone(),
        name,
        title,
        mimetype,
        filetype,
        size: staged.size,
        sha256: Some(staged.sha256.clone()),
        state: FileState::Uploaded,
        upload_hash: String::new(),
        created: Ts::now(),
    };
    {
        let blobs = api.blobs();
        let _guard = blobs.lock().await;
        blobs
            .publish(&file.team_id, staged)
            .await
            .map_err(internal("publishing an upload"))?;
        api.hub
            .write(vec![Write::InsertFile(file.clone())])
            .await
            .map_err(internal("file insert"))?;
    }
    let mut shown =
        complete_and_share(api, caller, vec![file], &channels, thread_ts, comment, host).await?;
    fields(json!({ "file": shown.pop().unwrap_or_default() }))
}

/// Loads a file the caller may read; `file_not_found` otherwise.
async fn readable_file(api: &Api, caller: &Caller, params: &Params) -> Result<File, ApiError> {
    let id = params
        .required_str("file")
        .map_err(|_| ApiError::FileNotFound)?;
    if !is_valid_id(&id, &['F']) {
        return Err(ApiError::FileNotFound);
    }
    let store = api.hub.store();
    let file = store
        .file(caller.team_id(), &FileId(id))
        .await
        .map_err(internal("file lookup"))?
        .ok_or(ApiError::FileNotFound)?;
    let readable = may_read(store.as_ref(), &file, &caller.user.id)
        .await
        .map_err(internal("file access check"))?;
    if !readable {
        return Err(ApiError::FileNotFound);
    }
    Ok(file)
}

/// `files.info`.
pub async fn info(api: &Api, caller: &Caller, params: &Params, host: Option<&str>) -> MethodResult {
    let file = readable_file(api, caller, params).await?;
    let value = file_json(api.hub.store().as_ref(), &file, &api.base_url(host))
        .await
        .map_err(internal("file serialization"))?;
    fields(json!({
        "file": value,
        "comments": [],
        "response_metadata": { "next_cursor": "" },
    }))
}

/// Parses `files.list`'s `types`: a comma-separated list of `all`, `images`,
/// `pdfs`, `zips` and `snippets`.
fn parse_kinds(params: &Params) -> Result<Vec<FileKind>, ApiError> {
    let mut kinds = Vec::new();
    for name in params
        .str("types")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if name == "all" {
            return Ok(Vec::new());
        }
        kinds.push(FileKind::parse(name).ok_or(ApiError::InvalidArguments)?);
    }
    Ok(kinds)
}

/// Reads a positive integer argument, `default` when absent.
fn positive(params: &Params, name: &str, default: usize) -> Result<usize, ApiError> {
    match params.str(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(0) => Ok(default),
            Ok(value) => Ok(value),
            Err(_) => Err(ApiError::InvalidArguments),
        },
    }
}

/// `files.list`: files the caller may read, newest first, paged by `count`
/// (at most 1,000) and `page` as Slack pages it.
pub async fn list(api: &Api, caller: &Caller, params: &Params, host: Option<&str>) -> MethodResult {
    let channel = match params.str("channel").filter(|c| !c.is_empty()) {
        Some(_) => Some(params.channel()?),
        None => None,
    };
    let user = match params.str("user").filter(|u| !u.is_empty()) {
        Some(_) => Some(params.user("user")?),
        None => None,
    };
    let filter = FileFilter {
        viewer: caller.user.id.clone(),
        channel,
        user,
        kinds: parse_kinds(params)?,
    };
    let count = positive(params, "count", 100)?.min(1000);
    let page = positive(params, "page", 1)?;
    let offset = (page - 1).saturating_mul(count);
    let store = api.hub.store();
    let (files, total) = store
        .files(caller.team_id(), &filter, offset, count)
        .await
        .map_err(internal("file list"))?;
    let base_url = api.base_url(host);
    let mut items = Vec::with_capacity(files.len());
    for file in &files {
        items.push(
            file_json(store.as_ref(), file, &base_url)
                .await
                .map_err(internal("file serialization"))?,
        );
    }
    fields(json!({
        "files": items,
        "paging": {
            "count": count,
            "total": total,
            "page": page,
            "pages": total.div_ceil(count),
        },
    }))
}

/// `files.delete`: the uploader or an admin deletes a file. Its bytes are
/// removed once no other file of the team refers to them.
pub async fn delete(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let file = readable_file(api, caller, params).await?;
    policy::check(
        Actor::User(&caller.user),
        Action::DeleteFile {
            uploader: &file.user,
        },
    )?;
    let blobs = api.blobs();
    let _guard = blobs.lock().await;
    let write = Write::DeleteFile {
        team_id: file.team_id.clone(),
        file_id: file.id.clone(),
    };
    match api.hub.write(vec![write]).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(ApiError::FileNotFound),
        Err(error) => return Err(internal("file delete")(error)),
    }
    if let Some(sha256) = &file.sha256 {
        let references = api
            .hub
            .store()
            .blob_references(&file.team_id, sha256)
            .await
            .map_err(internal("blob reference count"))?;
        if references == 0 {
            if let Err(error) = blobs.remove(&file.team_id, sha256).await {
                tracing::error!(team = %file.team_id, file = %file.id, %error, "removing a deleted file's bytes failed");
            }
        }
    }
    tracing::info!(team = %file.team_id, file = %file.id, by = %caller.user.id, "file deleted");
    fields(json!({}))
}
