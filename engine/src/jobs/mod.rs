//! The job system: the queue backends ([`embedded`], [`kafka`]), the outbox
//! [`relay`], the reminder [`scheduler`], the [`worker`]s, the [`handlers`] of
//! each job kind, the record [`codec`], the [`metrics`] and the [`month_end`]
//! billing check. [`JobSystem`] starts and stops them.

pub mod codec;
pub mod embedded;
pub mod handlers;
pub mod kafka;
pub mod metrics;
pub mod month_end;
pub mod relay;
pub mod scheduler;
pub mod system;
pub mod worker;

pub use handlers::{JobSettings, UnfurlSettings};
pub use metrics::JobMetrics;
pub use system::JobSystem;
