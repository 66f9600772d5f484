//! The bytes of uploaded files on disk, content-addressed by SHA-256:
//! `FILES_DIR/{team_id}/{first two hex digits}/{sha256}`.
//!
//! An upload streams into `FILES_DIR/tmp/` and is renamed into place only
//! when every byte is written and fsynced, so a reader never sees a partial
//! blob. A node killed mid-upload leaves only a temporary file, which
//! [`Blobs::open`] removes on the next start.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, MutexGuard};

use switchboard_actors::ids::TeamId;

/// Failure to store a streamed upload.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The body passed the size limit; nothing was kept.
    #[error("upload is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading the request body failed (the client went away).
    #[error("reading the upload body failed: {0}")]
    Body(String),
    /// Writing, syncing or renaming on disk failed.
    #[error("storing the upload failed: {0}")]
    Io(#[from] io::Error),
}

/// A blob written to a temporary file, not yet visible under its name.
#[derive(Debug)]
pub struct StagedBlob {
    /// The temporary file.
    path: PathBuf,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Number of bytes.
    pub size: u64,
}

/// The blob directory of one node.
#[derive(Debug)]
pub struct Blobs {
    /// Root of the blob tree.
    root: PathBuf,
    /// Largest accepted blob, in bytes.
    max_bytes: u64,
    /// Serializes publishing a blob with the commit that refers to it, and
    /// counting references with removing a blob, so that a delete never
    /// removes bytes an upload is about to refer to.
    publish: Mutex<()>,
}

impl Blobs {
    /// Opens the blob tree under `root`, creating it when missing, and removes
    /// temporary files that a killed node left behind.
    pub fn open(root: &Path, max_bytes: u64) -> io::Result<Blobs> {
        let temporary = root.join("tmp");
        std::fs::create_dir_all(&temporary)?;
        let mut removed = 0usize;
        for entry in std::fs::read_dir(&temporary)? {
            let entry = entry?;
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(
                dir = %temporary.display(),
                removed,
                "removed partial uploads left by an earlier run"
            );
        }
        Ok(Blobs {
            root: root.to_owned(),
            max_bytes,
            publish: Mutex::new(()),
        })
    }

    /// Returns the largest accepted blob, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Returns where the blob with this hash lives.
    pub fn path(&self, team_id: &TeamId, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root.join(team_id.as_str()).join(prefix).join(sha256)
    }

    /// Streams a body into a temporary file, hashing it, and fsyncs it. Stops
    /// and removes the file as soon as the body passes the size limit.
    pub async fn stage<S, B, E>(&self, mut body: S) -> Result<StagedBlob, BlobError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: Buf,
        E: std::fmt::Display,
    {
        let name = format!("{}.part", hex::encode(rand::random::<[u8; 16]>()));
        let path = self.root.join("tmp").join(name);
        let mut file = tokio::fs::File::create(&path).await?;
        let result = async {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let mut chunk = chunk.map_err(|error| BlobError::Body(error.to_string()))?;
                size += chunk.remaining() as u64;
                if size > self.max_bytes {
                    return Err(BlobError::TooLarge {
                        limit: self.max_bytes,
                    });
                }
                while chunk.has_remaining() {
                    let part = chunk.chunk();
                    hasher.update(part);
                    file.write_all(part).await?;
                    let read = part.len();
                    chunk.advance(read);
                }
            }
            file.sync_all().await?;
            Ok((hex::encode(hasher.finalize()), size))
        }
        .await;
        drop(file);
        match result {
            Ok((sha256, size)) => Ok(StagedBlob { path, sha256, size }),
            Err(error) => {
                if let Err(remove_error) = tokio::fs::remove_file(&path).await {
                    tracing::warn!(path = %path.display(), %remove_error, "failed to remove a rejected upload");
                }
                Err(error)
            }
        }
    }

    /// Takes the lock that orders publishing against removal. Hold it from
    /// [`Blobs::publish`] until the metadata that refers to the blob commits,
    /// and from counting references until [`Blobs::remove`] returns.
    pub async fn lock(&self) -> MutexGuard<'_, ()> {
        self.publish.lock().await
    }

    /// Renames a staged blob into place. Identical bytes uploaded twice share
    /// one blob: the rename replaces it with the same content.
    pub async fn publish(&self, team_id: &TeamId, staged: &StagedBlob) -> io::Result<()> {
        let target = self.path(team_id, &staged.sha256);
        let parent = target.parent().expect("a blob path has a parent");
        tokio::fs::create_dir_all(parent).await?;
        tokio::fs::rename(&staged.path, &target).await?;
        // The rename is durable once the directory entry is synced.
        tokio::fs::File::open(parent).await?.sync_all().await?;
        Ok(())
    }

    /// Removes a staged blob that will not be published.
    pub async fn discard(&self, staged: StagedBlob) {
        if let Err(error) = tokio::fs::remove_file(&staged.path).await {
            tracing::warn!(path = %staged.path.display(), %error, "failed to remove a staged upload");
        }
    }

    /// Removes a blob; a missing blob is not an error.
    pub async fn remove(&self, team_id: &TeamId, sha256: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(team_id, sha256)).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Reads a whole blob.
    pub async fn read(&self, team_id: &TeamId, sha256: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path(team_id, sha256)).await
    }
}
