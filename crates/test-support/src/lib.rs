//! Test support shared by the workspace's tests: dev-only (`publish = false`, a
//! dev-dependency only), so nothing here reaches a user's build.
//!
//! - [`process`]: a real child process that announces `listening on ADDR` (what
//!   `servicetask serve` prints first), killed when dropped.
//! - [`postgres`]: the test PostgreSQL (`SERVICETASK_TEST_POSTGRES_URL`) and a fresh database
//!   on it per test.
//! - [`records`]: execution records to store and analyse, and a sink that keeps what a runner
//!   records.
//! - [`runtime`]: the tokio runtimes tests block on.
//!
//! It depends on no crate of ours but `servicetask-core`, so the unit tests of any crate above
//! core can use it without a second copy of the crate under test.

pub mod postgres;
pub mod process;
pub mod records;
pub mod runtime;
