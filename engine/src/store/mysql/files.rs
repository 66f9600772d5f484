//! Incoming webhooks, files and file shares in MySQL, with the semantics of the
//! SQLite store: a share needs its file, and deleting a file deletes its shares.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction, Value};
use switchboard_actors::file::{File, FileFilter, FileKind, FileShare, FileState};
use switchboard_actors::ids::{ChannelId, FileId, TeamId, UserId, WebhookId};
use switchboard_actors::ports::StoreError;
use switchboard_actors::webhook::Webhook;

use super::rows::{column, limit_to_sql, optional_text, ts_from_sql, ts_to_sql};
use super::writes::{execute, require_matched, WriteFailure};

type WriteResult = Result<(), WriteFailure>;
type ReadResult<T> = Result<T, mysql_async::Error>;

/// Columns read by [`webhook_from_row`], in its order.
const WEBHOOK_COLUMNS: &str =
    "team_id, id, secret_hash, channel_id, bot_user_id, created_by, created, revoked";

fn webhook_from_row(mut row: Row) -> ReadResult<Webhook> {
    Ok(Webhook {
        team_id: TeamId(column(&mut row, 0, "webhooks.team_id")?),
        id: WebhookId(column(&mut row, 1, "webhooks.id")?),
        secret_hash: column(&mut row, 2, "webhooks.secret_hash")?,
        channel_id: ChannelId(column(&mut row, 3, "webhooks.channel_id")?),
        bot_user: UserId(column(&mut row, 4, "webhooks.bot_user_id")?),
        created_by: UserId(column(&mut row, 5, "webhooks.created_by")?),
        created: ts_from_sql(column(&mut row, 6, "webhooks.created")?),
        revoked: column(&mut row, 7, "webhooks.revoked")?,
    })
}

/// Columns read by [`file_from_row`], in its order, for a table aliased `f`.
const FILE_COLUMNS: &str = "f.team_id, f.id, f.user_id, f.name, f.title, f.mimetype, \
     f.filetype, f.size, f.sha256, f.state, f.upload_hash, f.created";

fn file_from_row(mut row: Row) -> ReadResult<File> {
    let size: i64 = column(&mut row, 7, "files.size")?;
    let state: String = column(&mut row, 9, "files.state")?;
    Ok(File {
        team_id: TeamId(column(&mut row, 0, "files.team_id")?),
        id: FileId(column(&mut row, 1, "files.id")?),
        user: UserId(column(&mut row, 2, "files.user_id")?),
        name: column(&mut row, 3, "files.name")?,
        title: column(&mut row, 4, "files.title")?,
        mimetype: column(&mut row, 5, "files.mimetype")?,
        filetype: column(&mut row, 6, "files.filetype")?,
        size: u64::try_from(size).unwrap_or(0),
        sha256: column(&mut row, 8, "files.sha256")?,
        state: FileState::parse(&state),
        upload_hash: column(&mut row, 10, "files.upload_hash")?,
        created: ts_from_sql(column(&mut row, 11, "files.created")?),
    })
}

fn size_to_sql(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn file_subject(team_id: &TeamId, file_id: &FileId) -> String {
    format!("file {file_id} in team {team_id}")
}

pub(super) async fn insert_webhook(
    transaction: &mut Transaction<'_>,
    webhook: &Webhook,
) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO webhooks (team_id, id, secret_hash, channel_id, bot_user_id, created_by, created, revoked) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            webhook.team_id.as_str().into(),
            webhook.id.as_str().into(),
            webhook.secret_hash.as_str().into(),
            webhook.channel_id.as_str().into(),
            webhook.bot_user.as_str().into(),
            webhook.created_by.as_str().into(),
            ts_to_sql(webhook.created).into(),
            webhook.revoked.into(),
        ],
        &format!("webhook {} in team {}", webhook.id, webhook.team_id),
    )
    .await
    .map(drop)
}

pub(super) async fn revoke_webhook(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    id: &WebhookId,
) -> WriteResult {
    let subject = format!("webhook {id} in team {team_id}");
    let matched = execute(
        transaction,
        "UPDATE webhooks SET revoked = 1 WHERE team_id = ? AND id = ?",
        vec![team_id.as_str().into(), id.as_str().into()],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

/// Returns the values of a file's columns after `team_id, id, user_id`.
fn file_values(file: &File) -> Vec<Value> {
    vec![
        file.name.as_str().into(),
        file.title.as_str().into(),
        file.mimetype.as_str().into(),
        file.filetype.as_str().into(),
        size_to_sql(file.size).into(),
        optional_text(file.sha256.as_deref()),
        file.state.as_str().into(),
        file.upload_hash.as_str().into(),
    ]
}

pub(super) async fn insert_file(transaction: &mut Transaction<'_>, file: &File) -> WriteResult {
    let mut parameters: Vec<Value> = vec![
        file.team_id.as_str().into(),
        file.id.as_str().into(),
        file.user.as_str().into(),
    ];
    parameters.extend(file_values(file));
    parameters.push(ts_to_sql(file.created).into());
    execute(
        transaction,
        "INSERT INTO files (team_id, id, user_id, name, title, mimetype, filetype, size, sha256, state, upload_hash, created) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        parameters,
        &file_subject(&file.team_id, &file.id),
    )
    .await
    .map(drop)
}

pub(super) async fn update_file(transaction: &mut Transaction<'_>, file: &File) -> WriteResult {
    let mut parameters = file_values(file);
    parameters.push(file.team_id.as_str().into());
    parameters.push(file.id.as_str().into());
    let subject = file_subject(&file.team_id, &file.id);
    let matched = execute(
        transaction,
        "UPDATE files SET name = ?, title = ?, mimetype = ?, filetype = ?, size = ?, \
         sha256 = ?, state = ?, upload_hash = ? WHERE team_id = ? AND id = ?",
        parameters,
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

pub(super) async fn delete_file(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    file_id: &FileId,
) -> WriteResult {
    let subject = file_subject(team_id, file_id);
    execute(
        transaction,
        "DELETE FROM file_shares WHERE team_id = ? AND file_id = ?",
        vec![team_id.as_str().into(), file_id.as_str().into()],
        &subject,
    )
    .await?;
    let matched = execute(
        transaction,
        "DELETE FROM files WHERE team_id = ? AND id = ?",
        vec![team_id.as_str().into(), file_id.as_str().into()],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

pub(super) async fn share_file(
    transaction: &mut Transaction<'_>,
    share: &FileShare,
) -> WriteResult {
    let subject = format!(
        "share of file {} into {} in team {}",
        share.file_id, share.channel_id, share.team_id
    );
    let exists: Option<i64> = transaction
        .exec_first(
            "SELECT 1 FROM files WHERE team_id = ? AND id = ? FOR UPDATE",
            (share.team_id.as_str(), share.file_id.as_str()),
        )
        .await
        .map_err(WriteFailure::Connection)?;
    if exists.is_none() {
        return Err(WriteFailure::Rejected(StoreError::NotFound(subject)));
    }
    execute(
        transaction,
        "INSERT INTO file_shares (team_id, file_id, channel_id, ts) VALUES (?, ?, ?, ?)",
        vec![
            share.team_id.as_str().into(),
            share.file_id.as_str().into(),
            share.channel_id.as_str().into(),
            ts_to_sql(share.ts).into(),
        ],
        &subject,
    )
    .await
    .map(drop)
}

pub(super) async fn webhook(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    id: &WebhookId,
) -> ReadResult<Option<Webhook>> {
    let row: Option<Row> = connection
        .exec_first(
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE team_id = ? AND id = ?"),
            (team_id.as_str(), id.as_str()),
        )
        .await?;
    row.map(webhook_from_row).transpose()
}

pub(super) async fn file(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    file_id: &FileId,
) -> ReadResult<Option<File>> {
    let row: Option<Row> = connection
        .exec_first(
            format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.team_id = ? AND f.id = ?"),
            (team_id.as_str(), file_id.as_str()),
        )
        .await?;
    row.map(file_from_row).transpose()
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
/// in a conversation they are a member of), newest first, with the number of
/// matching files in all.
pub(super) async fn files(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    filter: &FileFilter,
    offset: usize,
    limit: usize,
) -> ReadResult<(Vec<File>, usize)> {
    let mut conditions = vec![
        "f.team_id = ?",
        "f.state = 'complete'",
        "(f.user_id = ? OR EXISTS (SELECT 1 FROM file_shares s JOIN members m \
           ON m.team_id = s.team_id AND m.channel_id = s.channel_id \
           WHERE s.team_id = f.team_id AND s.file_id = f.id AND m.user_id = ?))",
    ];
    let mut parameters: Vec<Value> = vec![
        team_id.as_str().into(),
        filter.viewer.as_str().into(),
        filter.viewer.as_str().into(),
    ];
    if let Some(channel) = &filter.channel {
        conditions.push(
            "EXISTS (SELECT 1 FROM file_shares c WHERE c.team_id = f.team_id \
             AND c.file_id = f.id AND c.channel_id = ?)",
        );
        parameters.push(channel.as_str().into());
    }
    if let Some(user) = &filter.user {
        conditions.push("f.user_id = ?");
        parameters.push(user.as_str().into());
    }
    let kinds: Vec<&str> = filter.kinds.iter().map(|k| kind_condition(*k)).collect();
    let kinds = format!("({})", kinds.join(" OR "));
    if !filter.kinds.is_empty() {
        conditions.push(&kinds);
    }
    let condition = conditions.join(" AND ");

    let total: Option<i64> = connection
        .exec_first(
            format!("SELECT COUNT(*) FROM files f WHERE {condition}"),
            parameters.clone(),
        )
        .await?;

    parameters.push(limit_to_sql(limit).into());
    parameters.push(limit_to_sql(offset).into());
    let rows: Vec<Row> = connection
        .exec(
            format!(
                "SELECT {FILE_COLUMNS} FROM files f WHERE {condition} \
                 ORDER BY f.created DESC, f.id DESC LIMIT ? OFFSET ?"
            ),
            parameters,
        )
        .await?;
    let files = rows
        .into_iter()
        .map(file_from_row)
        .collect::<ReadResult<Vec<File>>>()?;
    Ok((files, usize::try_from(total.unwrap_or(0)).unwrap_or(0)))
}

pub(super) async fn file_shares(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    file_id: &FileId,
) -> ReadResult<Vec<FileShare>> {
    let rows: Vec<Row> = connection
        .exec(
            "SELECT team_id, file_id, channel_id, ts FROM file_shares \
             WHERE team_id = ? AND file_id = ? ORDER BY ts, channel_id",
            (team_id.as_str(), file_id.as_str()),
        )
        .await?;
    rows.into_iter()
        .map(|mut row| {
            Ok(FileShare {
                team_id: TeamId(column(&mut row, 0, "file_shares.team_id")?),
                file_id: FileId(column(&mut row, 1, "file_shares.file_id")?),
                channel_id: ChannelId(column(&mut row, 2, "file_shares.channel_id")?),
                ts: ts_from_sql(column(&mut row, 3, "file_shares.ts")?),
            })
        })
        .collect()
}

pub(super) async fn blob_references(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    sha256: &str,
) -> ReadResult<usize> {
    let count: Option<i64> = connection
        .exec_first(
            "SELECT COUNT(*) FROM files WHERE team_id = ? AND sha256 = ?",
            (team_id.as_str(), sha256),
        )
        .await?;
    Ok(usize::try_from(count.unwrap_or(0)).unwrap_or(0))
}
