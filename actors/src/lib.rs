//! Switchboard's core: the domain model, the events sent to clients, the actors
//! that own teams, channels, sessions and presence, and the ports (such as
//! [`ports::Store`]) that the engine implements. No sockets and no SQL live here.
//!
//! The actor tree of a node:
//!
//! ```text
//! NodeSupervisor
//! ├─ StorageActor            group commit to the Store
//! └─ TeamActor (per team)
//!    ├─ ChannelActor (per active conversation)
//!    ├─ SessionActor (per connected socket)
//!    └─ PresenceActor (per connected user)
//! ```

pub mod activity;
pub mod audit;
pub mod billing;
pub mod calendar;
pub mod channel;
pub mod domain;
pub mod error;
pub mod events;
pub mod file;
pub mod hub;
pub mod ids;
pub mod jobs;
pub mod node;
pub mod policy;
pub mod ports;
pub mod presence;
pub mod presence_batcher;
pub mod presence_registry;
pub mod profile_push;
pub mod registry;
pub mod reminder;
pub mod session;
pub mod session_handle;
pub mod storage;
pub mod team;
pub mod team_cache;
pub mod ts;
pub mod web_auth;
pub mod webhook;

pub use error::ApiError;
pub use hub::{Hub, HubSettings};
