//! Shared by the connector tests: a real `servicetask serve --connector` process, and a real
//! OTLP/gRPC trace receiver keeping every span it gets (`servicetask-test-support`'s).

#![allow(dead_code, unused_imports)]

pub use servicetask_test_support::otlp::{SpanSeen, TraceReceiver as Receiver};
use servicetask_test_support::output::clean_command;
use servicetask_test_support::process::Listening;

/// Starts `servicetask serve --connector` (or the full `serve`) processes: each is a
/// [`Listening`] (`base`, `kill9`, `terminate`), killed when dropped.
pub struct ConnectorServer;

impl ConnectorServer {
    /// Starts `servicetask serve --connector` on a free port with `extra` flags; its spans go to
    /// `otlp` (OTLP/gRPC) when given, else nowhere.
    pub fn start(extra: &[&str], otlp: Option<&str>) -> Listening {
        Self::spawn(&["serve", "--connector", "--bind", "127.0.0.1:0"], extra, otlp)
    }

    /// Starts the full `servicetask serve` over the SQLite file `database`.
    pub fn start_full(database: &std::path::Path, extra: &[&str]) -> Listening {
        let db = database.to_str().unwrap();
        Self::spawn(&["serve", "--bind", "127.0.0.1:0", "--database", db], extra, None)
    }

    fn spawn(args: &[&str], extra: &[&str], otlp: Option<&str>) -> Listening {
        // none of the developer's OTEL_* settings: the spans go where the test says
        let mut c = clean_command(env!("CARGO_BIN_EXE_servicetask"));
        c.args(args).args(extra);
        match otlp {
            Some(endpoint) => {
                c.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
                    .env("OTEL_BSP_SCHEDULE_DELAY", "50")
                    .env("OTEL_SERVICE_NAME", "servicetask-connector");
            }
            None => {
                c.env("OTEL_SDK_DISABLED", "true");
            }
        }
        Listening::spawn(c)
    }
}
