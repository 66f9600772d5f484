//! Uploaded files: the blob store on disk, the file object in Slack's shape,
//! who may read a file, and the upload and download routes.

pub mod blobs;
pub mod routes;

use serde_json::{json, Map, Value};

use switchboard_actors::domain::ChannelKind;
use switchboard_actors::file::{File, FileState};
use switchboard_actors::ids::UserId;
use switchboard_actors::ports::{Store, StoreError};

/// Returns the MIME type and Slack's short file type for a file name, such as
/// (`image/png`, `png`). Unknown extensions give
/// (`application/octet-stream`, `binary`).
pub fn guess_types(name: &str) -> (String, String) {
    let mimetype = mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let extension = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let filetype = match extension.as_deref() {
        Some("txt") | None if mimetype.starts_with("text/") => "text".to_owned(),
        Some(extension) if mimetype != "application/octet-stream" => extension.to_owned(),
        _ if mimetype.starts_with("text/") => "text".to_owned(),
        _ => "binary".to_owned(),
    };
    (mimetype, filetype)
}

/// Returns the path of a file's download URL below the base URL.
pub fn private_path(file: &File) -> String {
    let safe_name: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe_name = if safe_name.is_empty() {
        "file".to_owned()
    } else {
        safe_name
    };
    format!("/files-pri/{}-{}/{}", file.team_id, file.id, safe_name)
}

/// Returns whether `user` may read a complete file: they uploaded it, or they
/// are a member of a conversation it is shared in.
pub async fn may_read(store: &dyn Store, file: &File, user: &UserId) -> Result<bool, StoreError> {
    if file.state != FileState::Complete {
        return Ok(false);
    }
    if &file.user == user {
        return Ok(true);
    }
    for share in store.file_shares(&file.team_id, &file.id).await? {
        if store
            .is_member(&file.team_id, &share.channel_id, user)
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Serializes a file as Slack's file object, with the conversations it is
/// shared in (`channels`, `groups`, `ims` and `shares`).
pub async fn file_json(
    store: &dyn Store,
    file: &File,
    base_url: &str,
) -> Result<Value, StoreError> {
    let mut channels = Vec::new();
    let mut groups = Vec::new();
    let mut ims = Vec::new();
    let mut public_shares = Map::new();
    let mut private_shares = Map::new();
    for share in store.file_shares(&file.team_id, &file.id).await? {
        let Some(channel) = store.channel(&file.team_id, &share.channel_id).await? else {
            continue;
        };
        let entry =
            json!({ "ts": share.ts, "channel_name": channel.name, "team_id": file.team_id });
        let (list, shares) = match channel.kind {
            ChannelKind::Public => (&mut channels, &mut public_shares),
            ChannelKind::Private => (&mut groups, &mut private_shares),
            ChannelKind::Im | ChannelKind::Mpim => (&mut ims, &mut private_shares),
        };
        if !list.contains(&channel.id) {
            list.push(channel.id.clone());
        }
        if let Value::Array(items) = shares
            .entry(channel.id.as_str())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            items.push(entry);
        }
    }
    let url = format!("{}{}", base_url, private_path(file));
    Ok(json!({
        "id": file.id,
        "created": file.created.seconds(),
        "timestamp": file.created.seconds(),
        "name": file.name,
        "title": file.title,
        "mimetype": file.mimetype,
        "filetype": file.filetype,
        "pretty_type": file.filetype.to_uppercase(),
        "user": file.user,
        "user_team": file.team_id,
        "editable": false,
        "size": file.size,
        "mode": "hosted",
        "is_external": false,
        "external_type": "",
        "is_public": !channels.is_empty(),
        "public_url_shared": false,
        "display_as_bot": false,
        "username": "",
        "url_private": url,
        "url_private_download": url,
        "permalink": format!("{}/files/{}/{}", base_url, file.user, file.id),
        "channels": channels,
        "groups": groups,
        "ims": ims,
        "shares": { "public": public_shares, "private": private_shares },
        "comments_count": 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(
            guess_types("notes.txt"),
            ("text/plain".into(), "text".into())
        );
        assert_eq!(guess_types("photo.png"), ("image/png".into(), "png".into()));
        assert_eq!(
            guess_types("blob"),
            ("application/octet-stream".into(), "binary".into())
        );
    }
}
