//! Implementations of the [`Store`](switchboard_actors::ports::Store) port: the
//! system of record behind the storage actor.

pub mod sqlite;
