//! Process tests: given start variables and mocked task types, run a process and compare what
//! happened (status, path of completed elements, variables, incidents, waiting tasks) with what
//! was expected. `servicetask test FILE.toml` runs scenario files; [`Scenario`] is the same as a
//! Rust API for `cargo test`.
//!
//! A scenario file (paths are relative to it):
//!
//! ```toml
//! process = "order.bpmn"          # the BPMN file
//! # process_id = "order"          # default: its first executable process
//!
//! [[scenario]]
//! name = "out of stock goes to the apology"
//! variables = { sku = "A-1", quantity = 2 }
//! mocks = { reserve_stock = "bpmn-error:OUT_OF_STOCK" }   # same syntax as --mock
//! [scenario.expect]
//! status = "completed"            # completed | waiting | incident | failed
//! path = ["start", "reserve", "apologise", "end_sorry"]   # every completed element, in order
//! passes = ["apologise"]          # or: these elements completed (any order, among others)
//! avoids = ["ship"]               # these never completed
//! variables = { apologised = true }                       # these variables, others ignored
//! incidents = []                  # elements with incidents
//! waiting = []                    # waiting user/manual tasks
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use serde::Deserialize;
use serde_json::{Map, Value};
use servicetask::engine::{RunnerHandler, UnknownTasks};
use servicetask::{Runner, Telemetry};
use servicetask_bpmn::Definitions;
use servicetask_engine::{Engine, Instance, RunOutcome};

use crate::mock::{Mock, MockHandler};
use crate::Tasks;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The process reached its end.
    Completed,
    /// It waits for user or manual tasks (and has no incident).
    Waiting,
    /// A task failed with no retries left.
    Incident,
    /// The process failed (an uncaught error, a bad expression...).
    Failed,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Completed => "completed",
            Status::Waiting => "waiting",
            Status::Incident => "incident",
            Status::Failed => "failed",
        })
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// How it ended.
    pub status: Status,
    /// The failure message when it failed.
    pub failure: Option<String>,
    /// Completed elements, in order (one entry per multi-instance activity, not per child).
    pub path: Vec<String>,
    /// The process variables at the end.
    pub variables: Map<String, Value>,
    /// Elements with incidents, with the error class.
    pub incidents: Vec<(String, String)>,
    /// Waiting user/manual tasks (element ids).
    pub waiting: Vec<String>,
}

impl Observed {
    /// Reads what an instance did after `outcome`.
    pub fn of(instance: &Instance, outcome: &RunOutcome) -> Observed {
        let (status, failure, incidents, waiting) = match outcome {
            RunOutcome::Completed => (Status::Completed, None, Vec::new(), Vec::new()),
            RunOutcome::Failed(e) => (Status::Failed, Some(e.to_string()), Vec::new(), Vec::new()),
            RunOutcome::Waiting { tasks, incidents, .. } => (
                if incidents.is_empty() {
                    Status::Waiting
                } else {
                    Status::Incident
                },
                None,
                incidents
                    .iter()
                    .map(|i| (i.element_id.clone(), i.error_class.clone()))
                    .collect(),
                tasks.iter().map(|t| t.element_id.to_string()).collect(),
            ),
        };
        Observed {
            status,
            failure,
            path: path(instance),
            variables: instance.variables(),
            incidents,
            waiting,
        }
    }
}

/// The completed elements of an instance, in order, without multi-instance children.
pub fn path(instance: &Instance) -> Vec<String> {
    instance
        .completed()
        .iter()
        .filter(|c| !c.mi_child)
        .map(|c| c.element_id.to_string())
        .collect()
}

/// What a scenario expects; unset parts are not checked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How the run ends.
    pub status: Option<Status>,
    /// Every completed element, in order.
    pub path: Option<Vec<String>>,
    /// Elements that completed (any order, others allowed).
    #[serde(default)]
    pub passes: Vec<String>,
    /// Elements that never completed.
    #[serde(default)]
    pub avoids: Vec<String>,
    /// Variables at the end (only these are compared).
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Elements with incidents (all of them, any order).
    pub incidents: Option<Vec<String>>,
    /// Waiting tasks (all of them, any order).
    pub waiting: Option<Vec<String>>,
}

impl Expect {
    /// Every difference between this expectation and `observed`, one readable line each.
    pub fn differences(&self, observed: &Observed) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(status) = self.status {
            if status != observed.status {
                let why = observed
                    .failure
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default();
                out.push(format!("status: expected {status}, got {}{why}", observed.status));
            }
        }
        if let Some(path) = &self.path {
            if *path != observed.path {
                let at = path.iter().zip(&observed.path).take_while(|(a, b)| a == b).count();
                out.push(format!(
                    "path differs at step {}:\n    expected: {}\n    actual:   {}",
                    at + 1,
                    path.join(" -> "),
                    observed.path.join(" -> ")
                ));
            }
        }
        for id in &self.passes {
            if !observed.path.contains(id) {
                out.push(format!(
                    "passes: '{id}' never completed (path: {})",
                    observed.path.join(" -> ")
                ));
            }
        }
        for id in &self.avoids {
            if observed.path.contains(id) {
                out.push(format!(
                    "avoids: '{id}' completed (path: {})",
                    observed.path.join(" -> ")
                ));
            }
        }
        for (name, want) in &self.variables {
            match observed.variables.get(name) {
                None => out.push(format!("variables.{name}: expected {want}, but it is not set")),
                Some(got) if got != want => out.push(format!("variables.{name}: expected {want}, got {got}")),
                Some(_) => {}
            }
        }
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        if let Some(want) = &self.incidents {
            let got: Vec<String> = observed.incidents.iter().map(|(e, _)| e.clone()).collect();
            if sorted(want) != sorted(&got) {
                let detail: Vec<String> = observed.incidents.iter().map(|(e, c)| format!("{e} [{c}]")).collect();
                out.push(format!(
                    "incidents: expected [{}], got [{}]",
                    want.join(", "),
                    detail.join(", ")
                ));
            }
        }
        if let Some(want) = &self.waiting {
            if sorted(want) != sorted(&observed.waiting) {
                out.push(format!(
                    "waiting: expected [{}], got [{}]",
                    want.join(", "),
                    observed.waiting.join(", ")
                ));
            }
        }
        out
    }
}

/// One process test: start variables, mocked task types, and what to expect.
///
/// ```no_run
/// # async fn t() -> anyhow::Result<()> {
/// use servicetask_cli::{mock::Mock, scenario::Scenario, Tasks};
/// let tasks = Tasks::new(); // .with(my_tasks::register)
/// Scenario::new("out of stock")
///     .var("sku", "A-1")
///     .mock("reserve_stock", Mock::bpmn_error("OUT_OF_STOCK"))
///     .expect_path(["start", "reserve", "apologise", "end_sorry"])
///     .check("tests/order.bpmn", &tasks)
///     .await?; // an error lists every difference
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// Its name in reports.
    pub name: String,
    /// The process to start (default: the file's first executable process).
    pub process_id: Option<String>,
    /// Start variables.
    pub variables: Map<String, Value>,
    /// Mocked task types.
    pub mocks: BTreeMap<String, Mock>,
    /// What to expect.
    pub expect: Expect,
}

impl Scenario {
    /// An empty scenario.
    pub fn new(name: impl Into<String>) -> Self {
        Scenario {
            name: name.into(),
            ..Scenario::default()
        }
    }

    /// Sets a start variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.variables.insert(name.into(), value.into());
        self
    }

    /// Mocks a task type.
    pub fn mock(mut self, task_type: impl Into<String>, mock: Mock) -> Self {
        self.mocks.insert(task_type.into(), mock);
        self
    }

    /// Expects how the run ends.
    pub fn expect_status(mut self, status: Status) -> Self {
        self.expect.status = Some(status);
        self
    }

    /// Expects exactly this path of completed elements.
    pub fn expect_path<S: Into<String>>(mut self, path: impl IntoIterator<Item = S>) -> Self {
        self.expect.path = Some(path.into_iter().map(Into::into).collect());
        self
    }

    /// Expects a variable's final value.
    pub fn expect_variable(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.expect.variables.insert(name.into(), value.into());
        self
    }

    /// Expects incidents on exactly these elements.
    pub fn expect_incidents<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.expect.incidents = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Expects exactly these waiting tasks.
    pub fn expect_waiting<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.expect.waiting = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Runs the scenario on `defs` with `runner`'s tasks (mocks win over registered tasks).
    pub async fn run(&self, defs: &Definitions, library: Vec<Definitions>, runner: Runner) -> anyhow::Result<Observed> {
        let handler = RunnerHandler::new(runner).unknown_tasks(UnknownTasks::Fail);
        let engine = Engine::builder(Arc::new(MockHandler::new(self.mocks.clone(), Arc::new(handler))))
            .library(library)
            .build();
        let process_id = match &self.process_id {
            Some(p) => p.clone(),
            None => match servicetask_engine::default_process(defs) {
                Some(p) => p.id.clone(),
                None => bail!("no executable process; name one with process_id"),
            },
        };
        let mut instance = engine
            .start(defs, &process_id, self.variables.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let outcome = instance.run().await;
        Ok(Observed::of(&instance, &outcome))
    }

    /// Runs the scenario on the BPMN file at `bpmn` with `tasks` (no telemetry export, code
    /// configuration only) and fails with every difference from the expectation.
    pub async fn check(&self, bpmn: impl AsRef<Path>, tasks: &Tasks) -> anyhow::Result<Observed> {
        let defs = load(bpmn.as_ref())?;
        let runner = Runner::builder()
            .telemetry(Telemetry::disabled())
            .code_config_only()
            .build();
        tasks.register_into(&runner)?;
        let observed = self.run(&defs, Vec::new(), runner).await?;
        let diffs = self.expect.differences(&observed);
        if diffs.is_empty() {
            Ok(observed)
        } else {
            bail!("scenario '{}' failed:\n  {}", self.name, diffs.join("\n  "))
        }
    }
}

/// Reads a BPMN file; every error diagnostic in one message.
pub fn load(path: &Path) -> anyhow::Result<Definitions> {
    let (defs, diags) = servicetask_bpmn::parse_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(defs)
}

/// A scenario file: one process and its scenarios.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// The BPMN file (resolved against the scenario file's folder).
    pub process: PathBuf,
    /// The scenarios, in file order.
    pub scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    process: PathBuf,
    #[serde(default)]
    scenario: Vec<ScenarioText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioText {
    name: String,
    process_id: Option<String>,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    mocks: BTreeMap<String, Value>,
    #[serde(default)]
    expect: Expect,
}

/// A mock in a file: the `--mock` spec as a string, or `{ output = {...} }`.
fn mock_from(value: &Value) -> Result<Mock, String> {
    match value {
        Value::String(spec) => Mock::parse(spec),
        Value::Object(m) if m.len() == 1 && m.contains_key("output") => Ok(Mock::output(m["output"].clone())),
        _ => Err(format!(
            "{value}: write a spec string (\"bpmn-error:CODE\", \"failure:CLASS\", '{{\"ok\":true}}') or {{ output = {{...}} }}"
        )),
    }
}

impl ScenarioFile {
    /// Reads a TOML scenario file; errors name the file, line and column.
    pub fn load(path: &Path) -> anyhow::Result<ScenarioFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: FileText = toml::from_str(&text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| servicetask::config::line_col(&text, s.start))
                .unwrap_or((1, 1));
            anyhow::anyhow!("{}:{line}:{col}: {}", path.display(), e.message())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut problems = Vec::new();
        let mut scenarios = Vec::new();
        for s in file.scenario {
            let mut mocks = BTreeMap::new();
            for (task_type, v) in &s.mocks {
                match mock_from(v) {
                    Ok(m) => {
                        mocks.insert(task_type.clone(), m);
                    }
                    Err(e) => problems.push(format!(
                        "{}: scenario '{}': mocks.{task_type}: {e}",
                        path.display(),
                        s.name
                    )),
                }
            }
            scenarios.push(Scenario {
                name: s.name,
                process_id: s.process_id,
                variables: s.variables,
                mocks,
                expect: s.expect,
            });
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("\n"));
        }
        if scenarios.is_empty() {
            bail!("{}: no [[scenario]] tables", path.display());
        }
        Ok(ScenarioFile {
            process: base.join(file.process),
            scenarios,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed() -> Observed {
        Observed {
            status: Status::Completed,
            failure: None,
            path: vec!["s".into(), "a".into(), "e".into()],
            variables: Map::from_iter([("x".to_string(), Value::from(1))]),
            incidents: Vec::new(),
            waiting: Vec::new(),
        }
    }

    #[test]
    fn differences_name_every_mismatch() {
        let expect = Expect {
            status: Some(Status::Waiting),
            path: Some(vec!["s".into(), "b".into(), "e".into()]),
            passes: vec!["b".into()],
            avoids: vec!["a".into()],
            variables: Map::from_iter([("x".to_string(), Value::from(2)), ("y".to_string(), Value::from(0))]),
            incidents: Some(vec!["a".into()]),
            waiting: None,
        };
        let d = expect.differences(&observed());
        assert_eq!(d.len(), 7, "{d:#?}");
        assert!(d[0].contains("expected waiting, got completed"));
        assert!(d[1].contains("step 2") && d[1].contains("s -> b -> e") && d[1].contains("s -> a -> e"));
        assert!(d.iter().any(|l| l == "variables.x: expected 2, got 1"));
        assert!(d.iter().any(|l| l.contains("variables.y") && l.contains("not set")));
        assert!(Expect::default().differences(&observed()).is_empty());
    }

    #[test]
    fn files_report_bad_mocks_and_keys_with_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(
            &f,
            "process = \"p.bpmn\"\n[[scenario]]\nname = \"a\"\nexpect = { pth = [] }\n",
        )
        .unwrap();
        let e = ScenarioFile::load(&f).unwrap_err().to_string();
        assert!(e.contains("t.toml:4:") && e.contains("pth"), "{e}");
        std::fs::write(
            &f,
            "process = \"p.bpmn\"\n[[scenario]]\nname = \"a\"\nmocks = { x = \"failure:nope\", y = \"bpmn-error:\" }\n",
        )
        .unwrap();
        let e = ScenarioFile::load(&f).unwrap_err().to_string();
        assert!(
            e.contains("mocks.x") && e.contains("mocks.y"),
            "both problems at once: {e}"
        );
        std::fs::write(
            &f,
            "process = \"p.bpmn\"\n[[scenario]]\nname = \"a\"\nmocks = { x = { output = { n = 1 } } }\n",
        )
        .unwrap();
        let s = ScenarioFile::load(&f).unwrap();
        assert_eq!(s.process, dir.path().join("p.bpmn"));
        assert_eq!(s.scenarios[0].mocks["x"], Mock::output(serde_json::json!({"n": 1})));
    }
}
