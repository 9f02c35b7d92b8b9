//! Test support shared by the workspace's tests: dev-only (`publish = false`, a
//! dev-dependency only), so nothing here reaches a user's build.
//!
//! - [`process`]: a real child process that announces `listening on ADDR` (what
//!   `servicetask serve` prints first), killed when dropped.
//! - [`output`]: a program run to its end without the developer's telemetry or servicetask
//!   settings, and what it wrote.
//! - `otlp` (feature `otlp`): a real OTLP/gRPC trace receiver keeping the spans it is sent.
//! - [`net`]: a local port nothing listens on.
//! - [`postgres`]: the test PostgreSQL (`SERVICETASK_TEST_POSTGRES_URL`) and a fresh database
//!   on it per test.
//! - [`records`]: execution records to store and analyse, and a sink that keeps what a runner
//!   records.
//! - [`runtime`]: the tokio runtimes tests block on.
//! - [`tidy`]: every Rust file of a crate opens with a `//!` line.
//!
//! It depends on no crate of ours but `servicetask-core`, so the unit tests of any crate above
//! core can use it without a second copy of the crate under test.

pub mod net;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod output;
pub mod postgres;
pub mod process;
pub mod records;
pub mod runtime;
pub mod tidy;
