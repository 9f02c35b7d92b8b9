//! The console's per-task panels: duration percentiles over time, error rate, breaker
//! rejections and anomalies per task, computed by `servicetask-analytics` from the execution
//! history the runner writes (`servicetask serve --history FILE.db`), and the live breaker
//! states read from this process's own metrics.
//!
//! The history is streamed through a [`ReportBuilder`] (bounded memory, however long the
//! history) over the last [`super::ConsoleConfig::window`], at most once per
//! [`super::ConsoleConfig::refresh`]: polling consoles share one computation.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use servicetask_analytics::predict::{Prediction, SizeModel};
use servicetask_analytics::report::{ReportBuilder, ReportData, ReportOptions, TaskReport};
use servicetask_history::{HistoryStore, RecordQuery, SqliteStore};

use crate::MetricsText;

/// Records read from the history per query.
const READ_CHUNK: usize = 4096;
/// Anomalies listed per task (the most recent).
const LISTED_ANOMALIES: usize = 20;

/// What the console's task page shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPanels {
    /// Why there are no panels (no history configured, or it could not be read).
    pub message: Option<String>,
    /// Executions read.
    pub runs: u64,
    /// How far back the panels look, seconds (the window asked for, or the configured one).
    pub window_seconds: u64,
    /// One panel per task, by name.
    pub tasks: Vec<TaskPanel>,
    /// Every circuit breaker's current state, from this process's metrics.
    pub breakers: Vec<BreakerState>,
}

/// One task's panel.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPanel {
    /// The task name.
    pub name: String,
    /// Executions.
    pub runs: u64,
    /// Executions that failed (BPMN errors are outcomes, not failures).
    pub failures: u64,
    /// `failures / runs`.
    pub error_rate: f64,
    /// Duration p50, p95, p99 over the window, seconds.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Per time bucket: percentiles, failures, breaker rejections.
    pub buckets: Vec<PanelBucket>,
    /// Error classes with their counts, most frequent first.
    pub error_classes: Vec<(String, u64)>,
    /// The most recent anomalies.
    pub anomalies: Vec<PanelAnomaly>,
    /// Anomalies in the window.
    pub anomaly_count: u64,
    /// How duration grows with input size (`O(n)`, ...), when a model could be fitted.
    pub model: Option<String>,
    /// Whether a prediction for an input size can be asked for.
    pub predictable: bool,
}

/// One time bucket of a panel.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PanelBucket {
    /// Its start, Unix ms.
    pub at_ms: i64,
    /// Executions started in it.
    pub runs: u64,
    /// Duration percentiles, seconds.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Failed executions.
    pub failures: u64,
    /// Executions an open breaker rejected.
    pub breaker_rejections: u64,
}

/// An anomalous execution.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PanelAnomaly {
    /// When it started, Unix ms.
    pub at_ms: i64,
    /// The metric found anomalous (`duration`, `cpu`, `memory`).
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// What was expected, when known.
    pub expected: Option<f64>,
}

/// A breaker's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerState {
    /// The breaker (its dependency or task).
    pub name: String,
    /// `closed`, `open`, `half_open`, `forced_open` or `forced_closed`.
    pub state: String,
}

/// Where the execution history is.
pub enum Source {
    /// A SQLite file (opened on each computation: it may not exist yet).
    File(PathBuf),
    /// An open store (the fleet's PostgreSQL history), named for messages without credentials.
    Store(Arc<dyn HistoryStore>, String),
}

/// Computes panels from the history, sharing the last result between requests.
pub struct Panels {
    history: Option<Source>,
    metrics: Option<MetricsText>,
    window: Duration,
    refresh: Duration,
    /// The last computation per window asked for: when it finished, what it took, what it found
    /// (at most [`KEPT_WINDOWS`], the least recently computed dropped first).
    last: Mutex<Vec<Kept>>,
}

/// One window's last computation.
struct Kept {
    window: Duration,
    /// When it finished.
    at: Instant,
    /// What it took.
    cost: Duration,
    computed: Arc<Computed>,
}

/// Windows whose last computation is kept.
const KEPT_WINDOWS: usize = 8;

/// The shortest and longest window a page may ask for.
pub const WINDOW_RANGE: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(366 * 24 * 3600));

/// A computation that took `t` is kept at least this many times `t`, so a long history never
/// keeps the server reading it back to back.
const COST_FACTOR: u32 = 5;

/// A computation: the panels, and the size points for predictions.
pub struct Computed {
    /// What the page shows.
    pub panels: TaskPanels,
    report: Option<ReportData>,
}

impl Panels {
    /// Panels over `history` (none: a message says how to get them), reading the last
    /// `window`, recomputed at most every `refresh`.
    pub fn new(history: Option<Source>, metrics: Option<MetricsText>, window: Duration, refresh: Duration) -> Self {
        Panels {
            history,
            metrics,
            window,
            refresh,
            last: Mutex::new(Vec::new()),
        }
    }

    /// The current panels (blocking: SQLite reads; call from a blocking thread). Recomputed
    /// after `refresh`, or after [`COST_FACTOR`] times the last computation's time when longer.
    pub fn current(&self) -> Arc<Computed> {
        self.current_for(self.window)
    }

    /// [`Panels::current`] over the last `window` instead of the configured one (a page's
    /// choice; in [`WINDOW_RANGE`], checked by the caller).
    pub fn current_for(&self, window: Duration) -> Arc<Computed> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = last.iter().position(|k| k.window == window) {
            let k = &last[i];
            if k.at.elapsed() < self.refresh.max(k.cost * COST_FACTOR) {
                return k.computed.clone();
            }
            last.remove(i);
        }
        let started = Instant::now();
        let c = Arc::new(self.compute(window));
        if last.len() >= KEPT_WINDOWS {
            last.remove(0);
        }
        last.push(Kept {
            window,
            at: Instant::now(),
            cost: started.elapsed(),
            computed: c.clone(),
        });
        c
    }

    fn compute(&self, window: Duration) -> Computed {
        let breakers = self
            .metrics
            .as_ref()
            .map(|m| breaker_states(&m.prometheus_text()))
            .unwrap_or_default();
        let empty = |message: String| Computed {
            panels: TaskPanels {
                message: Some(message),
                runs: 0,
                window_seconds: window.as_secs(),
                tasks: Vec::new(),
                breakers: breakers.clone(),
            },
            report: None,
        };
        let (file, name) = match &self.history {
            None => {
                let how = "no execution history: start `servicetask serve --history FILE.db` for per-task panels";
                return empty(how.into());
            }
            Some(Source::File(path)) if !path.exists() => {
                return empty(format!("no execution history yet at {}", path.display()));
            }
            Some(Source::File(path)) => (Some(path), path.display().to_string()),
            Some(Source::Store(_, name)) => (None, name.clone()),
        };
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let since = now_ns.saturating_sub(window.as_nanos() as i64);
        let options = ReportOptions {
            since_unix_ns: Some(since),
            ..ReportOptions::default()
        };
        let mut builder = ReportBuilder::new(options);
        let query = RecordQuery {
            since_unix_ns: Some(since),
            ..RecordQuery::default()
        };
        let mut each = |r: servicetask_history::StoredRecord| builder.push(&r.record);
        let read = match (file, &self.history) {
            (Some(path), _) => {
                SqliteStore::open(path).and_then(|store| store.for_each_record(&query, READ_CHUNK, &mut each))
            }
            (None, Some(Source::Store(store, _))) => store.for_each_record(&query, READ_CHUNK, &mut each),
            (None, _) => Ok(0),
        };
        if let Err(e) = read {
            return empty(format!("reading the history {name}: {e}"));
        }
        let report = builder.finish();
        let panels = TaskPanels {
            message: None,
            runs: report.runs,
            window_seconds: window.as_secs(),
            tasks: report.tasks.iter().map(panel).collect(),
            breakers,
        };
        Computed {
            panels,
            report: Some(report),
        }
    }
}

impl Computed {
    /// Expected duration of `task` at `input_size` from the sizes and durations seen; `None`
    /// without enough sized runs.
    pub fn predict(&self, task: &str, input_size: f64) -> Option<Prediction> {
        let t = self.report.as_ref()?.tasks.iter().find(|t| t.name == task)?;
        let points = size_points(t);
        let model = SizeModel::fit(&points).ok()?;
        Some(model.predict(input_size))
    }
}

/// The (size, seconds) points of successful runs.
fn size_points(t: &TaskReport) -> Vec<(f64, f64)> {
    t.size_points.iter().filter(|p| !p.2).map(|p| (p.0, p.1)).collect()
}

fn panel(t: &TaskReport) -> TaskPanel {
    let points = size_points(t);
    let distinct = {
        let mut sizes: Vec<u64> = points.iter().map(|p| p.0 as u64).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes.len()
    };
    let [p50, _, p95, p99] = t.duration_percentiles;
    TaskPanel {
        name: t.name.clone(),
        runs: t.runs,
        failures: t.failures,
        error_rate: if t.runs == 0 {
            0.0
        } else {
            t.failures as f64 / t.runs as f64
        },
        p50,
        p95,
        p99,
        buckets: t
            .buckets
            .iter()
            .map(|b| PanelBucket {
                at_ms: b.start_unix_ns / 1_000_000,
                runs: b.runs,
                p50: b.p50,
                p95: b.p95,
                p99: b.p99,
                failures: b.failures,
                breaker_rejections: b.breaker_rejections,
            })
            .collect(),
        error_classes: t.error_classes.clone(),
        anomalies: t
            .anomalies
            .iter()
            .rev()
            .take(LISTED_ANOMALIES)
            .map(|a| PanelAnomaly {
                at_ms: a.at_unix_ns / 1_000_000,
                metric: a.metric.clone(),
                value: a.value,
                expected: a.expected,
            })
            .collect(),
        anomaly_count: t.anomaly_count,
        model: t.model.as_ref().and_then(|m| m.class.clone()),
        predictable: points.len() >= 5 && distinct >= 2,
    }
}

/// The breakers in state 1 of `servicetask_breaker_state_ratio` in Prometheus text.
pub fn breaker_states(text: &str) -> Vec<BreakerState> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("servicetask_breaker_state_ratio{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        if value.trim().parse::<f64>().ok() != Some(1.0) {
            continue;
        }
        let labels = parse_labels(labels);
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let (Some(name), Some(state)) = (get("servicetask_breaker_name"), get("servicetask_breaker_state")) {
            out.push(BreakerState { name, state });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// `a="x",b="y\"z"` as pairs (the exposition format's escapes: `\\`, `\"`, `\n`).
fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim().trim_start_matches(',').trim().to_string();
        if name.is_empty() || chars.next() != Some('"') {
            return out;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                c => value.push(c),
            }
        }
        out.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use servicetask_core::record::{ExecutionRecord, OutcomeKind};

    #[test]
    fn breaker_states_are_read_from_prometheus_text() {
        let text = "# TYPE servicetask_breaker_state_ratio gauge\n\
            servicetask_breaker_state_ratio{otel_scope_name=\"s\",servicetask_breaker_name=\"db \\\"main\\\"\",servicetask_breaker_state=\"open\"} 1\n\
            servicetask_breaker_state_ratio{servicetask_breaker_name=\"db \\\"main\\\"\",servicetask_breaker_state=\"closed\"} 0\n\
            servicetask_breaker_state_ratio{servicetask_breaker_name=\"api\",servicetask_breaker_state=\"closed\"} 1\n\
            servicetask_other{servicetask_breaker_name=\"x\",servicetask_breaker_state=\"open\"} 1\n";
        let got = breaker_states(text);
        let want = [("api", "closed"), ("db \"main\"", "open")];
        let got: Vec<_> = got.iter().map(|b| (b.name.as_str(), b.state.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn panels_come_from_the_history_file_and_predict_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = SqliteStore::open(&path).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
        let mut records = Vec::new();
        for i in 0..40u64 {
            let size = 100 * (1 + i % 8);
            let outcome = if i % 10 == 9 {
                OutcomeKind::Failure
            } else {
                OutcomeKind::Complete
            };
            let mut r = ExecutionRecord::new("resize", now - 1_000_000_000 * (40 - i as i64), 10_000 * size, outcome);
            r.input_size = Some(size);
            records.push(r);
        }
        store.insert_batch(&records).unwrap();
        let panels = Panels::new(
            Some(Source::File(path)),
            None,
            Duration::from_secs(3600),
            Duration::ZERO,
        );
        let c = panels.current();
        assert_eq!(c.panels.message, None);
        let t = &c.panels.tasks[0];
        assert_eq!((t.name.as_str(), t.runs, t.failures), ("resize", 40, 4));
        assert!((t.error_rate - 0.1).abs() < 1e-9);
        assert!(!t.buckets.is_empty() && t.p99 >= t.p50);
        assert!(t.predictable);
        // 10 µs per item: 2,000 items take about 20 ms
        let p = c.predict("resize", 2000.0).unwrap();
        assert!((p.expected - 0.02).abs() < 0.002, "{p:?}");
        assert!(c.predict("nope", 1.0).is_none());
    }

    #[test]
    fn a_shorter_window_leaves_older_runs_out_and_each_window_is_kept_apart() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
        let hour = 3_600_000_000_000i64;
        let recent = ExecutionRecord::new("recent", now - 1_000_000_000, 5_000_000, OutcomeKind::Complete);
        let old = ExecutionRecord::new("old", now - 2 * hour, 5_000_000, OutcomeKind::Complete);
        store.insert_batch(&[recent, old]).unwrap();
        let panels = Panels::new(
            Some(Source::Store(store, "h".into())),
            None,
            Duration::from_secs(24 * 3600),
            Duration::from_secs(600),
        );
        let names = |c: &Computed| c.panels.tasks.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        let day = panels.current();
        assert_eq!(
            (names(&day), day.panels.window_seconds),
            (vec!["old".to_string(), "recent".to_string()], 86_400)
        );
        let last_hour = panels.current_for(Duration::from_secs(3600));
        assert_eq!(
            (names(&last_hour), last_hour.panels.window_seconds),
            (vec!["recent".to_string()], 3600)
        );
        // within the refresh interval each window answers from its own last computation
        assert!(Arc::ptr_eq(&panels.current(), &day));
        assert!(Arc::ptr_eq(&panels.current_for(Duration::from_secs(3600)), &last_hour));
    }

    #[test]
    fn an_open_store_is_read_like_a_file() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
        let r = ExecutionRecord::new("fleet_task", now - 1_000_000_000, 5_000_000, OutcomeKind::Complete);
        store.insert_batch(&[r]).unwrap();
        let source = Source::Store(store, "postgres://db-host/servicetask".into());
        let c = Panels::new(Some(source), None, Duration::from_secs(60), Duration::ZERO).current();
        assert_eq!(c.panels.message, None);
        assert_eq!(
            (c.panels.tasks[0].name.as_str(), c.panels.tasks[0].runs),
            ("fleet_task", 1)
        );
    }

    #[test]
    fn without_a_history_the_message_says_how_to_get_one() {
        let c = Panels::new(None, None, Duration::from_secs(1), Duration::ZERO).current();
        assert!(c.panels.message.as_deref().unwrap().contains("--history"));
        let dir = tempfile::tempdir().unwrap();
        let c = Panels::new(
            Some(Source::File(dir.path().join("none.db"))),
            None,
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .current();
        assert!(c
            .panels
            .message
            .as_deref()
            .unwrap()
            .contains("no execution history yet"));
    }
}
