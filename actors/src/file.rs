//! Uploaded files: their metadata and the conversations they are shared in.
//! The bytes live outside the store, content-addressed by their SHA-256.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, FileId, TeamId, UserId};
use crate::ts::Ts;

/// Where a file is in its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// `files.getUploadURLExternal` issued an upload URL; no bytes yet.
    Pending,
    /// The bytes are stored; `files.completeUploadExternal` has not run yet.
    Uploaded,
    /// The upload is complete and the file is visible.
    Complete,
}

impl FileState {
    /// Returns the name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Uploaded => "uploaded",
            FileState::Complete => "complete",
        }
    }

    /// Parses a stored state name; unknown names read as `Pending`, which no
    /// reader shows.
    pub fn parse(value: &str) -> FileState {
        match value {
            "uploaded" => FileState::Uploaded,
            "complete" => FileState::Complete,
            _ => FileState::Pending,
        }
    }
}

/// The metadata of one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// File id, `F…`.
    pub id: FileId,
    /// Team that owns the file.
    pub team_id: TeamId,
    /// User who uploaded it.
    pub user: UserId,
    /// File name as given by the uploader.
    pub name: String,
    /// Title shown in clients; defaults to the name.
    pub title: String,
    /// MIME type guessed from the name, such as `text/plain`.
    pub mimetype: String,
    /// Slack's short type name, such as `text`, `png` or `pdf`.
    pub filetype: String,
    /// Size in bytes; the announced length until the bytes are stored.
    pub size: u64,
    /// Hex SHA-256 of the bytes, which names the blob on disk; `None` until the
    /// bytes are stored.
    pub sha256: Option<String>,
    /// Upload progress.
    pub state: FileState,
    /// Hex SHA-256 of the secret in the upload URL; empty once the bytes are
    /// stored, so the URL works once.
    pub upload_hash: String,
    /// When the upload URL was issued.
    pub created: Ts,
}

/// One share of a file into a conversation: the message that carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileShare {
    /// Team of the file and the conversation.
    pub team_id: TeamId,
    /// The shared file.
    pub file_id: FileId,
    /// The conversation it was shared in.
    pub channel_id: ChannelId,
    /// `ts` of the message that carries the file.
    pub ts: Ts,
}

/// Which files `files.list` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct FileFilter {
    /// The user asking: only files they uploaded or that are shared in a
    /// conversation they are a member of are listed.
    pub viewer: UserId,
    /// Only files shared in this conversation.
    pub channel: Option<ChannelId>,
    /// Only files uploaded by this user.
    pub user: Option<UserId>,
    /// Only files of these kinds; empty means every kind.
    pub kinds: Vec<FileKind>,
}

/// The groups of `files.list`'s `types` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `images`: MIME type `image/*`.
    Images,
    /// `pdfs`: file type `pdf`.
    Pdfs,
    /// `zips`: file type `zip`.
    Zips,
    /// `snippets`: text files (MIME type `text/*`).
    Snippets,
}

impl FileKind {
    /// Parses one name of `types`; `all` is handled by the caller.
    pub fn parse(value: &str) -> Option<FileKind> {
        match value {
            "images" => Some(FileKind::Images),
            "pdfs" => Some(FileKind::Pdfs),
            "zips" => Some(FileKind::Zips),
            "snippets" => Some(FileKind::Snippets),
            _ => None,
        }
    }
}
