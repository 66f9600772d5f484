//! Switchboard's core: the domain model, the events sent to clients, the actors
//! that own teams, channels, sessions and presence, and the ports (such as
//! [`ports::Store`]) that the engine implements. No sockets and no SQL live here.

pub mod domain;
pub mod error;
pub mod ids;
pub mod ports;
pub mod ts;

pub use error::ApiError;
