//! Rows, writes and reads of incoming webhooks, files and file shares.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};
use switchboard_actors::file::{File, FileFilter, FileKind, FileShare, FileState};
use switchboard_actors::ids::{ChannelId, FileId, TeamId, UserId, WebhookId};
use switchboard_actors::ports::StoreError;
use switchboard_actors::webhook::Webhook;

use super::rows::{limit_to_sql, ts_from_sql, ts_to_sql};
use super::writes::{require_changed, write_error};

/// Columns read by [`webhook_from_row`], in its order.
const WEBHOOK_COLUMNS: &str =
    "team_id, id, secret_hash, channel_id, bot_user_id, created_by, created, revoked";

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        team_id: TeamId(row.get(0)?),
        id: WebhookId(row.get(1)?),
        secret_hash: row.get(2)?,
        channel_id: ChannelId(row.get(3)?),
        bot_user: UserId(row.get(4)?),
        created_by: UserId(row.get(5)?),
        created: ts_from_sql(row.get(6)?),
        revoked: row.get(7)?,
    })
}

/// Columns read by [`file_from_row`], in its order, for a table aliased `f`.
const FILE_COLUMNS: &str = "f.team_id, f.id, f.user_id, f.name, f.title, f.mimetype, \
     f.filetype, f.size, f.sha256, f.state, f.upload_hash, f.created";

fn file_from_row(row: &Row<'_>) -> rusqlite::Result<File> {
    let size: i64 = row.get(7)?;
    let state: String = row.get(9)?;
    Ok(File {
        team_id: TeamId(row.get(0)?),
        id: FileId(row.get(1)?),
        user: UserId(row.get(2)?),
        name: row.get(3)?,
        title: row.get(4)?,
        mimetype: row.get(5)?,
        filetype: row.get(6)?,
        size: u64::try_from(size).unwrap_or(0),
        sha256: row.get(8)?,
        state: FileState::parse(&state),
        upload_hash: row.get(10)?,
        created: ts_from_sql(row.get(11)?),
    })
}

fn size_to_sql(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Maps an error of a read query to `Backend`, naming what was read.
fn read_error(subject: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Backend(format!("failed to read {subject}: {error}"))
}

pub(super) fn insert_webhook(connection: &Connection, webhook: &Webhook) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO webhooks (team_id, id, secret_hash, channel_id, bot_user_id, created_by, created, revoked) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            (
                webhook.team_id.as_str(),
                webhook.id.as_str(),
                &webhook.secret_hash,
                webhook.channel_id.as_str(),
                webhook.bot_user.as_str(),
                webhook.created_by.as_str(),
                ts_to_sql(webhook.created),
                webhook.revoked,
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &format!("webhook {} in team {}", webhook.id, webhook.team_id)))
}

pub(super) fn revoke_webhook(
    connection: &Connection,
    team_id: &TeamId,
    id: &WebhookId,
) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "UPDATE webhooks SET revoked = 1 WHERE team_id = ?1 AND id = ?2",
            (team_id.as_str(), id.as_str()),
        )
        .map_err(|error| write_error(error, &format!("webhook {id} in team {team_id}")))?;
    require_changed(changed, || format!("webhook {id} in team {team_id}"))
}

pub(super) fn insert_file(connection: &Connection, file: &File) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO files (team_id, id, user_id, name, title, mimetype, filetype, size, sha256, state, upload_hash, created) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params![
                file.team_id.as_str(),
                file.id.as_str(),
                file.user.as_str(),
                &file.name,
                &file.title,
                &file.mimetype,
                &file.filetype,
                size_to_sql(file.size),
                file.sha256.as_deref(),
                file.state.as_str(),
                &file.upload_hash,
                ts_to_sql(file.created),
            ],
        )
        .map(drop)
        .map_err(|error| write_error(error, &format!("file {} in team {}", file.id, file.team_id)))
}

pub(super) fn update_file(connection: &Connection, file: &File) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "UPDATE files SET name = ?3, title = ?4, mimetype = ?5, filetype = ?6, size = ?7, \
             sha256 = ?8, state = ?9, upload_hash = ?10 WHERE team_id = ?1 AND id = ?2",
            rusqlite::params![
                file.team_id.as_str(),
                file.id.as_str(),
                &file.name,
                &file.title,
                &file.mimetype,
                &file.filetype,
                size_to_sql(file.size),
                file.sha256.as_deref(),
                file.state.as_str(),
                &file.upload_hash,
            ],
        )
        .map_err(|error| {
            write_error(error, &format!("file {} in team {}", file.id, file.team_id))
        })?;
    require_changed(changed, || {
        format!("file {} in team {}", file.id, file.team_id)
    })
}

pub(super) fn delete_file(
    connection: &Connection,
    team_id: &TeamId,
    file_id: &FileId,
) -> Result<(), StoreError> {
    let subject = || format!("file {file_id} in team {team_id}");
    connection
        .execute(
            "DELETE FROM file_shares WHERE team_id = ?1 AND file_id = ?2",
            (team_id.as_str(), file_id.as_str()),
        )
        .map_err(|error| write_error(error, &subject()))?;
    let changed = connection
        .execute(
            "DELETE FROM files WHERE team_id = ?1 AND id = ?2",
            (team_id.as_str(), file_id.as_str()),
        )
        .map_err(|error| write_error(error, &subject()))?;
    require_changed(changed, subject)
}

pub(super) fn share_file(connection: &Connection, share: &FileShare) -> Result<(), StoreError> {
    let subject = || {
        format!(
            "share of file {} into {} in team {}",
            share.file_id, share.channel_id, share.team_id
        )
    };
    let exists = connection
        .query_row(
            "SELECT 1 FROM files WHERE team_id = ?1 AND id = ?2",
            (share.team_id.as_str(), share.file_id.as_str()),
            |_| Ok(()),
        )
        .optional()
        .map_err(|error| write_error(error, &subject()))?;
    if exists.is_none() {
        return Err(StoreError::NotFound(subject()));
    }
    connection
        .execute(
            "INSERT INTO file_shares (team_id, file_id, channel_id, ts) VALUES (?1, ?2, ?3, ?4)",
            (
                share.team_id.as_str(),
                share.file_id.as_str(),
                share.channel_id.as_str(),
                ts_to_sql(share.ts),
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &subject()))
}

pub(super) fn webhook(
    connection: &Connection,
    team_id: &TeamId,
    id: &WebhookId,
) -> Result<Option<Webhook>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE team_id = ?1 AND id = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), id.as_str()), webhook_from_row)
                .optional()
        })
        .map_err(read_error("webhook"))
}

pub(super) fn file(
    connection: &Connection,
    team_id: &TeamId,
    file_id: &FileId,
) -> Result<Option<File>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE f.team_id = ?1 AND f.id = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), file_id.as_str()), file_from_row)
                .optional()
        })
        .map_err(read_error("file"))
}

/// Returns the SQL condition that selects one kind of `files.list`'s `types`.
fn kind_condition(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Images => "f.mimetype LIKE 'image/%'",
        FileKind::Pdfs => "f.filetype = 'pdf'",
        FileKind::Zips => "f.filetype = 'zip'",
        FileKind::Snippets => "f.mimetype LIKE 'text/%'",
    }
}

/// Lists complete files the viewer may see (they uploaded it, or it is shared
/// in a conversation they are a member of), newest first.
pub(super) fn files(
    connection: &Connection,
    team_id: &TeamId,
    filter: &FileFilter,
    offset: usize,
    limit: usize,
) -> Result<(Vec<File>, usize), StoreError> {
    let mut conditions = vec![
        "f.team_id = ?1".to_owned(),
        "f.state = 'complete'".to_owned(),
        "(f.user_id = ?2 OR EXISTS (SELECT 1 FROM file_shares s JOIN members m \
           ON m.team_id = s.team_id AND m.channel_id = s.channel_id \
           WHERE s.team_id = f.team_id AND s.file_id = f.id AND m.user_id = ?2))"
            .to_owned(),
    ];
    let mut parameters = vec![
        Value::Text(team_id.0.clone()),
        Value::Text(filter.viewer.0.clone()),
    ];
    if let Some(channel) = &filter.channel {
        parameters.push(Value::Text(channel.0.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM file_shares c WHERE c.team_id = f.team_id \
             AND c.file_id = f.id AND c.channel_id = ?{})",
            parameters.len()
        ));
    }
    if let Some(user) = &filter.user {
        parameters.push(Value::Text(user.0.clone()));
        conditions.push(format!("f.user_id = ?{}", parameters.len()));
    }
    if !filter.kinds.is_empty() {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| kind_condition(*k)).collect();
        conditions.push(format!("({})", kinds.join(" OR ")));
    }
    let condition = conditions.join(" AND ");

    let total: i64 = connection
        .query_row(
            &format!("SELECT COUNT(*) FROM files f WHERE {condition}"),
            rusqlite::params_from_iter(parameters.iter()),
            |row| row.get(0),
        )
        .map_err(read_error("file count"))?;

    parameters.push(Value::Integer(limit_to_sql(limit)));
    let limit_placeholder = parameters.len();
    parameters.push(Value::Integer(limit_to_sql(offset)));
    let offset_placeholder = parameters.len();
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files f WHERE {condition} \
         ORDER BY f.created DESC, f.id DESC LIMIT ?{limit_placeholder} OFFSET ?{offset_placeholder}"
    );
    let files = connection
        .prepare(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(rusqlite::params_from_iter(parameters), file_from_row)?
                .collect()
        })
        .map_err(read_error("files"))?;
    Ok((files, usize::try_from(total).unwrap_or(0)))
}

pub(super) fn file_shares(
    connection: &Connection,
    team_id: &TeamId,
    file_id: &FileId,
) -> Result<Vec<FileShare>, StoreError> {
    connection
        .prepare_cached(
            "SELECT team_id, file_id, channel_id, ts FROM file_shares \
             WHERE team_id = ?1 AND file_id = ?2 ORDER BY ts, channel_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map((team_id.as_str(), file_id.as_str()), |row| {
                    Ok(FileShare {
                        team_id: TeamId(row.get(0)?),
                        file_id: FileId(row.get(1)?),
                        channel_id: ChannelId(row.get(2)?),
                        ts: ts_from_sql(row.get(3)?),
                    })
                })?
                .collect()
        })
        .map_err(read_error("file shares"))
}

pub(super) fn blob_references(
    connection: &Connection,
    team_id: &TeamId,
    sha256: &str,
) -> Result<usize, StoreError> {
    let count: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM files WHERE team_id = ?1 AND sha256 = ?2",
            (team_id.as_str(), sha256),
            |row| row.get(0),
        )
        .map_err(read_error("blob references"))?;
    Ok(usize::try_from(count).unwrap_or(0))
}
