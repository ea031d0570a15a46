//! The soak: mixed traffic on every driver through fault proxies, counted
//! message by message, while the process's descriptors, threads and memory
//! are sampled. The command is `tests/examples/soak.rs`; this module holds
//! its parts:
//!
//! - [`payload`]: what a message carries (sequence number, disruption
//!   stamp, checkable padding);
//! - [`tracker`]: per-path accounting, which tells a loss libzmq's rules
//!   allow (in flight at a disruption) from a lost message;
//! - [`proto`]: the one protocol type, counters only;
//! - [`open`]: opening it on each driver;
//! - [`paths`]: the four patterns and their senders;
//! - [`trend`]: whether the samples grow.

pub mod open;
pub mod paths;
pub mod payload;
pub mod proto;
pub mod tracker;
pub mod trend;

pub use open::{Open, SoakDriver};
pub use paths::{Path, Pattern};
pub use proto::{PathState, Role, SoakProto};
pub use tracker::Tracker;
