//! A CLI session: telemetry with span capture, a runner with the CLI's tasks registered and a
//! history writer, and an engine whose service tasks run through that runner (mocked task types
//! answered before it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use servicetask::engine::{RunnerHandler, UnknownTasks};
use servicetask::record::{ExecutionRecord, RecordSink};
use servicetask::Runner;
use servicetask_engine::{Engine, EngineBuilder};
use servicetask_history::{HistoryWriter, SqliteStore, WriterConfig};

use crate::capture::Capture;
use crate::mock::{Mock, MockHandler};
use crate::progress::Progress;
use crate::summary::RecordSummary;
use crate::Tasks;

/// Environment variable naming the history database `run` writes and `report` reads.
pub const ENV_HISTORY: &str = "SERVICETASK_HISTORY";

/// The history database: `flag`, else `$SERVICETASK_HISTORY`, else `[history] path` in
/// `servicetask.toml`, else `./servicetask-history.db`.
pub fn history_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(ENV_HISTORY)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        // a broken file is reported by the runner, every problem; here it only has no say
        .or_else(|| {
            servicetask::ConfigLoader::from_env()
                .ok()
                .and_then(|c| c.history().path.clone())
        })
        .unwrap_or_else(|| PathBuf::from("servicetask-history.db"))
}

/// Sums this run's records for the summary (bounded memory) and forwards them to the history
/// writer.
pub struct Records {
    summary: Mutex<RecordSummary>,
    history: Option<HistoryWriter>,
}

impl RecordSink for Records {
    fn record(&self, record: ExecutionRecord) {
        self.summary.lock().unwrap_or_else(|p| p.into_inner()).add(&record);
        if let Some(h) = &self.history {
            h.record(record);
        }
    }
}

impl Records {
    /// This run's summary.
    pub fn take(&self) -> RecordSummary {
        std::mem::take(&mut *self.summary.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Flushes the history to disk; an error when a batch could not be written (a damaged
    /// file, with the way to recover in its message).
    pub fn flush(&self) -> Result<(), servicetask_history::HistoryError> {
        match &self.history {
            Some(h) => {
                h.flush()?;
                h.health()
            }
            None => Ok(()),
        }
    }
}

/// A writer of execution records into the history database at `path` (created with its
/// folder when missing; checked on open: a damaged file is refused before the run, not found
/// after it), also registered as the batches' history of their pace.
pub fn open_history(path: &Path) -> anyhow::Result<HistoryWriter> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = SqliteStore::open_checked(path).with_context(|| format!("opening history {}", path.display()))?;
    // past cx.batch runs' pace, in the same file: where a batch's time left starts from
    let pace = servicetask_history::SqliteBatchPace::open(path)
        .with_context(|| format!("opening history {}", path.display()))?;
    servicetask::batch::predict_from(Arc::new(pace));
    Ok(HistoryWriter::spawn(Arc::new(store), WriterConfig::default())?)
}

/// Everything a command needs to run processes.
pub struct Session {
    /// Telemetry with captured spans.
    pub capture: Capture,
    /// The runner, with the CLI's tasks registered.
    pub runner: Runner,
    /// This run's execution records.
    pub records: Arc<Records>,
}

impl Session {
    /// Sets up telemetry, the history (when `history` is given) and a runner with `tasks`
    /// (configured from `servicetask.toml` and `SERVICETASK__*` variables).
    pub fn start(history: Option<&Path>, tasks: &Tasks) -> anyhow::Result<Session> {
        let capture = Capture::install()?;
        let history = history.map(open_history).transpose()?;
        let records = Arc::new(Records {
            summary: Mutex::new(RecordSummary::default()),
            history,
        });
        let runner = Runner::builder()
            .telemetry(capture.telemetry())
            .record_sink(records.clone())
            .anomaly_detection(Default::default())
            .build();
        tasks.register_into(&runner)?;
        Ok(Session {
            capture,
            runner,
            records,
        })
    }

    /// An engine running service tasks through the runner; `mocks` answer their task types.
    pub fn engine(
        &self,
        stub_unknown: bool,
        library: Vec<servicetask_bpmn::Definitions>,
        mocks: BTreeMap<String, Mock>,
    ) -> Engine {
        self.engine_builder(stub_unknown, library, mocks).build()
    }

    /// [`Session::engine`], still to be finished (a clock to set, say).
    pub fn engine_builder(
        &self,
        stub_unknown: bool,
        library: Vec<servicetask_bpmn::Definitions>,
        mocks: BTreeMap<String, Mock>,
    ) -> EngineBuilder {
        let unknown = if stub_unknown {
            UnknownTasks::Stub
        } else {
            UnknownTasks::Fail
        };
        let handler = RunnerHandler::new(self.runner.clone()).unknown_tasks(unknown);
        Engine::builder(Arc::new(MockHandler::new(mocks, Arc::new(handler))))
            .observer(Progress::shared())
            .library(library)
    }
}
