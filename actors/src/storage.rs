//! The storage actor: group commit. Writers send change sets; the actor gathers
//! every set that is waiting in its mailbox (up to a batch size), commits them in
//! one transaction, then tells each writer its result, in the order they arrived.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::ports::{Store, StoreError, Write};

/// Called once with the outcome of a write set, after its transaction ended.
pub type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Messages of the storage actor.
pub enum StorageMsg {
    /// Commit this change set, then call `done`.
    Write {
        /// Changes that commit together or not at all.
        writes: Vec<Write>,
        /// Receives the outcome once the batch has committed.
        done: Completion,
    },
    /// Commit what has gathered. The actor sends this to itself after the first
    /// write of a batch, so it arrives behind every write already queued.
    Flush,
}

/// Arguments of the storage actor.
pub struct StorageArgs {
    /// The system of record.
    pub store: Arc<dyn Store>,
    /// Maximum number of write sets in one transaction.
    pub max_batch: usize,
}

/// State of the storage actor.
pub struct StorageState {
    /// The system of record.
    store: Arc<dyn Store>,
    /// Maximum number of write sets in one transaction.
    max_batch: usize,
    /// Write sets waiting for the next commit, in arrival order.
    pending: Vec<(Vec<Write>, Completion)>,
    /// Whether a `Flush` is already in the mailbox.
    flush_queued: bool,
}

/// The storage actor (see the module docs).
pub struct StorageActor;

impl Actor for StorageActor {
    type Msg = StorageMsg;
    type State = StorageState;
    type Arguments = StorageArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: StorageArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        tracing::info!(max_batch = args.max_batch, "storage actor started");
        Ok(StorageState {
            store: args.store,
            max_batch: args.max_batch.max(1),
            pending: Vec::new(),
            flush_queued: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: StorageMsg,
        state: &mut StorageState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            StorageMsg::Write { writes, done } => {
                state.pending.push((writes, done));
                if state.pending.len() >= state.max_batch {
                    commit_pending(state).await;
                } else if !state.flush_queued {
                    state.flush_queued = true;
                    myself.send_message(StorageMsg::Flush)?;
                }
            }
            StorageMsg::Flush => {
                state.flush_queued = false;
                commit_pending(state).await;
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut StorageState,
    ) -> Result<(), ActorProcessingErr> {
        // A drain delivers every queued write before stopping; commit the last batch.
        commit_pending(state).await;
        tracing::info!("storage actor stopped");
        Ok(())
    }
}

/// Commits every pending write set in one transaction and completes each.
async fn commit_pending(state: &mut StorageState) {
    if state.pending.is_empty() {
        return;
    }
    let batch = std::mem::take(&mut state.pending);
    let (sets, completions): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let size = sets.len();
    let results = state.store.commit(sets).await;
    if results.len() != size {
        tracing::error!(
            expected = size,
            returned = results.len(),
            "store returned the wrong number of commit results; failing the batch"
        );
    }
    let mut results = results.into_iter();
    for done in completions {
        let result = results
            .next()
            .unwrap_or_else(|| Err(StoreError::Backend("missing commit result".into())));
        if let Err(StoreError::Backend(cause)) = &result {
            tracing::error!(%cause, "write set failed to commit");
        }
        done(result);
    }
}
