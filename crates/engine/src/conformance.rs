//! The conformance runner: runs every case of an expectations file (SpiffWorkflow's recorded
//! behaviour) and compares completed activities, happens-before order, final variables,
//! service calls, and failure.
//!
//! A case whose reference failed (to load the file, `error` starting with `LOAD `, or while
//! running it) agrees when the engine rejects the file before running it, with an error that
//! names its `file:line:column` ([`CaseReport::rejected`]). A reference run that got stuck
//! (not completed, no error) agrees with a run that waits with nothing left to answer or fails
//! as stuck. When both fail, what ran before the failure depends on the order concurrent
//! branches ran in, which the model does not give: in a model that can run branches at once
//! only the failure is compared, otherwise one record must contain the other. A reference run
//! that hit its driver's bounds (`limit`: endless rounds, fan-out, recursion, Python's stack)
//! says nothing about the model, so any run agrees with it.
//!
//! Each case gives a file, a process id and `args`: `--data JSON` seeds variables, `--human
//! JSON` gives the values set when a waiting task is completed (`*` = every task; a string
//! holding `$name` is an expression over the task's variables; a list gives one answer per
//! completion of the task, in turn; `null` leaves the task unanswered), `--hold S` answers waiting
//! tasks only after S seconds so that short timers fire first, `--messages JSON` lists the
//! messages (`{"name", "payload"}`) sent in turn whenever no person's task is left to answer,
//! `--functions JSON` names the functions the case's SpiffWorkflow test module adds to its
//! script engine, registered with the engine as [`EngineConfig::functions`] ([`test_functions`]).
//! Cases run on a [`crate::VirtualClock`] (timers fire at once, in due order), with plain
//! tasks as wait states (SpiffWorkflow's behaviour) and the [`StubHandler`].

use crate::{
    Engine, EngineConfig, EngineError, Instance, RunOutcome, ServiceCall, ServiceFuture, ServiceResult, StubHandler,
    TaskHandler,
};
use serde_json::{Map, Value};
use servicetask_bpmn::{Definitions, ElementKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// `file [process] why`.
    pub name: String,
    /// The case's file, as the expectations name it.
    pub file: String,
    /// The case's process (or collaboration) id.
    pub process: String,
    /// The engine's error when both it and the reference reject the file before running it.
    pub rejected: Option<String>,
    /// True when every check held.
    pub passed: bool,
    /// What differed.
    pub problems: Vec<String>,
}

/// The result of a suite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Cases run.
    pub total: usize,
    /// Cases passed.
    pub passed: usize,
    /// Every case, in file order.
    pub cases: Vec<CaseReport>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.cases {
            writeln!(f, "{} {}", if c.passed { "PASS" } else { "FAIL" }, c.name)?;
            for p in &c.problems {
                writeln!(f, "    {p}")?;
            }
        }
        write!(f, "conformance: {} of {} cases pass", self.passed, self.total)
    }
}

/// The suite could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// `expected.json` could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `expected.json` is not a list of cases.
    #[error("{path} is not a conformance file: {message}")]
    Format {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

struct Case {
    file: String,
    process: String,
    why: String,
    data: Map<String, Value>,
    human: Map<String, Value>,
    hold: Option<Duration>,
    completed: bool,
    error: Option<String>,
    stuck: bool,
    limit: bool,
    messages: Vec<(String, Map<String, Value>)>,
    /// The SpiffWorkflow test module's script functions the case registers.
    functions: Vec<String>,
    order: Vec<String>,
    calls: Vec<(String, String, Value)>,
    final_data: Option<Value>,
}

fn parse_case(v: &Value) -> Result<Case, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut case = Case {
        file: s("file").ok_or("a case has no 'file'")?,
        process: s("process").ok_or("a case has no 'process'")?,
        why: s("why").unwrap_or_default(),
        data: Map::new(),
        human: Map::new(),
        hold: None,
        completed: v.get("completed").and_then(Value::as_bool).unwrap_or(true),
        error: s("error"),
        stuck: v
            .get("notes")
            .and_then(Value::as_array)
            .is_some_and(|n| n.iter().any(|x| x.as_str().is_some_and(|x| x.starts_with("STUCK")))),
        limit: v.get("limit").and_then(Value::as_bool).unwrap_or(false),
        messages: Vec::new(),
        functions: Vec::new(),
        order: v
            .get("expected_completed_order")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        calls: Vec::new(),
        final_data: v.get("final_data").cloned().filter(|d| !d.is_null()),
    };
    if let Some(calls) = v.get("service_calls").and_then(Value::as_array) {
        for c in calls {
            if let Some([el, op, params]) = c.as_array().map(Vec::as_slice) {
                case.calls.push((
                    el.as_str().unwrap_or("").to_string(),
                    op.as_str().unwrap_or("").to_string(),
                    params.clone(),
                ));
            }
        }
    }
    let args: Vec<String> = v
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut i = 0;
    while i < args.len() {
        let next = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--data" => {
                case.data = serde_json::from_str::<Map<String, Value>>(&next).map_err(|e| format!("--data: {e}"))?;
                i += 2;
            }
            "--human" => {
                case.human = serde_json::from_str::<Map<String, Value>>(&next).map_err(|e| format!("--human: {e}"))?;
                i += 2;
            }
            "--hold" => {
                let secs: f64 = next.parse().map_err(|_| format!("--hold: not a number: {next}"))?;
                case.hold = Some(Duration::from_secs_f64(secs.max(0.0)));
                i += 2;
            }
            "--messages" => {
                let list: Vec<Value> = serde_json::from_str(&next).map_err(|e| format!("--messages: {e}"))?;
                for m in list {
                    let name = m
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or("--messages: a message has no 'name'")?;
                    let payload = m.get("payload").and_then(Value::as_object).cloned().unwrap_or_default();
                    case.messages.push((name.to_string(), payload));
                }
                i += 2;
            }
            "--functions" => {
                let names: Vec<String> = serde_json::from_str(&next).map_err(|e| format!("--functions: {e}"))?;
                test_functions(&names)?;
                case.functions = names;
                i += 2;
            }
            "--parser" => i += 2,
            _ => i += 1,
        }
    }
    Ok(case)
}

/// The functions SpiffWorkflow's test modules add to their script engine's environment, by
/// name, written again here as the modules define them (one fresh state per run), so a case
/// runs with the functions its test gave SpiffWorkflow. `custom_function` is TimerCycleTest's
/// and TimerCycleStartTest's: a counter of its calls, returning the new count.
pub fn test_functions(names: &[String]) -> Result<servicetask_bpmn::expr::Functions, String> {
    let mut out = servicetask_bpmn::expr::Functions::new();
    for name in names {
        match name.as_str() {
            "custom_function" => {
                let counter = std::sync::atomic::AtomicI64::new(0);
                out.register("custom_function", move |args| {
                    if !args.is_empty() {
                        return Err(format!("takes 0 positional arguments but {} were given", args.len()));
                    }
                    Ok(Value::from(counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1))
                });
            }
            other => {
                return Err(format!(
                    "--functions: '{other}' is no function of a SpiffWorkflow test module known here (known: custom_function)"
                ))
            }
        }
    }
    Ok(out)
}

/// Records the operator calls made (element, operation, variables) and answers like the stub.
/// Like SpiffWorkflow's record, only explicitly bound tasks count: a plain service task (bound
/// by its element id) completes with no output and no recorded call.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, String, Value)>>,
}

impl TaskHandler for Recorder {
    fn call(&self, call: ServiceCall) -> ServiceFuture {
        let explicit = !matches!(call.binding.kind, servicetask_bpmn::BindingKind::ElementId);
        if let (true, Ok(mut c)) = (explicit, self.calls.lock()) {
            c.push((
                call.element_id.to_string(),
                call.binding.task_type.clone(),
                Value::Object(call.variables.clone()),
            ));
        }
        let out = StubHandler::result_for(&call.binding);
        Box::pin(async move { ServiceResult::Complete(out) })
    }
}

/// Runs every case of `dir/expected.json` against the BPMN files of `dir`.
pub fn run_suite(dir: &Path) -> Result<Report, ConformanceError> {
    run_expected(dir, &dir.join("expected.json"))
}

/// Runs every case of the expectations file `expected` (a JSON list of cases); case files are
/// paths relative to `root`, and call activities find their processes in the other BPMN files
/// of the case file's directory.
pub fn run_expected(root: &Path, expected: &Path) -> Result<Report, ConformanceError> {
    let text = std::fs::read_to_string(expected).map_err(|source| ConformanceError::Io {
        path: expected.to_path_buf(),
        source,
    })?;
    let cases: Vec<Value> = serde_json::from_str(&text).map_err(|e| ConformanceError::Format {
        path: expected.to_path_buf(),
        message: e.to_string(),
    })?;
    run_cases(root, &cases).map_err(|message| ConformanceError::Format {
        path: expected.to_path_buf(),
        message,
    })
}

/// Runs `cases` (each as an expectations file holds it; files relative to `root`). Fails with
/// what is wrong when a case is malformed.
pub fn run_cases(root: &Path, cases: &[Value]) -> Result<Report, String> {
    let mut libraries: HashMap<PathBuf, Vec<Definitions>> = HashMap::new();
    let mut report = Report::default();
    for raw in cases {
        let case = parse_case(raw)?;
        let file = root.join(&case.file);
        let dir = file.parent().unwrap_or(root).to_path_buf();
        if !libraries.contains_key(&dir) {
            let (library, _diags) = crate::load_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            libraries.insert(dir.clone(), library);
        }
        let library = libraries.get(&dir).map(Vec::as_slice).unwrap_or_default();
        let name = format!("{} [{}] {}", case.file, case.process, case.why);
        let (problems, rejected) = match run_case(&file, &case, library) {
            Ran::Compared(problems) => (problems, None),
            Ran::Rejected(message) => (Vec::new(), Some(message)),
        };
        report.total += 1;
        if problems.is_empty() {
            report.passed += 1;
        }
        report.cases.push(CaseReport {
            name,
            file: case.file.clone(),
            process: case.process.clone(),
            rejected,
            passed: problems.is_empty(),
            problems,
        });
    }
    Ok(report)
}

/// How a case went.
enum Ran {
    /// The run was compared with the reference: what differed.
    Compared(Vec<String>),
    /// Both engines rejected the file before running it: our error.
    Rejected(String),
}

/// What happens when the engine refuses the file with `message` before running it.
fn refused(case: &Case, message: String) -> Ran {
    // the reference refused the file, or failed running it (e.g. a script calling a function
    // it does not have) where the engine refuses it before running
    let reference_refused = !case.completed && !case.limit && case.error.is_some();
    if !reference_refused {
        return Ran::Compared(vec![format!("cannot run: {message}")]);
    }
    if has_location(&message) {
        Ran::Rejected(message)
    } else {
        Ran::Compared(vec![format!(
            "rejected like the reference, but without a file:line:column: {message}"
        )])
    }
}

/// True when `message` names a position as `FILE:LINE:COLUMN`.
fn has_location(message: &str) -> bool {
    message.split_whitespace().any(|word| {
        let mut parts = word.trim_end_matches([':', ',', ')']).rsplitn(3, ':');
        let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        !file.is_empty()
            && [col, line]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn run_case(file: &Path, case: &Case, library: &[Definitions]) -> Ran {
    let functions = match test_functions(&case.functions) {
        Ok(f) => f,
        Err(e) => return Ran::Compared(vec![e]),
    };
    let defs = match servicetask_bpmn::load_file_in(file, &servicetask_bpmn::Limits::default(), &functions) {
        Ok(d) => d,
        Err(e) => return refused(case, e.to_string()),
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(rt) => rt,
        Err(e) => return Ran::Compared(vec![format!("cannot build a runtime: {e}")]),
    };
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::builder(recorder.clone())
        .config(EngineConfig {
            plain_tasks_wait: true,
            max_steps: 100_000,
            functions,
            ..EngineConfig::default()
        })
        .library(library.iter().filter(|d| d.file != defs.file).cloned())
        // timers fire at once, in due order, whatever their duration
        .clock(Arc::new(crate::VirtualClock::new()))
        .build();
    let mut inst = match engine.start(&defs, &case.process, case.data.clone()) {
        Ok(i) => i,
        Err(e) => return refused(case, e.to_string()),
    };
    if let Some(e) = case.error.as_deref().filter(|e| e.starts_with("LOAD ")) {
        return Ran::Compared(vec![format!(
            "the reference rejects the file ({e}); the engine runs it"
        )]);
    }
    let outcome = rt.block_on(drive(&mut inst, case));
    let (outcome, completed, variables) = match outcome {
        Ok(x) => x,
        Err(e) => return Ran::Compared(vec![e]),
    };
    let mut problems = Vec::new();
    // outcome
    match (&outcome, case.completed) {
        (RunOutcome::Completed, true) => {}
        (RunOutcome::Waiting { .. } | RunOutcome::Failed(EngineError::Stuck { .. }), false) if case.stuck => {}
        _ if case.limit => return Ran::Compared(problems),
        (RunOutcome::Failed(e), false) => {
            if let Some(expected) = &case.error {
                let named: Vec<&str> = expected
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .filter(|w| w.contains('_') && defs.processes.iter().any(|p| p.element(w).is_some()))
                    .collect();
                let msg = e.to_string();
                for n in named {
                    if !msg.contains(n) {
                        problems.push(format!(
                            "error should name '{n}' like the reference ({expected}); got: {msg}"
                        ));
                    }
                }
            }
        }
        (other, want) => problems.push(format!(
            "expected {}, got {}",
            if want { "completion" } else { "failure" },
            describe(other)
        )),
    }
    // completed activities (multiset)
    let mut mine: Vec<String> = completed
        .iter()
        .map(|(id, child)| if *child { format!("{id} [child]") } else { id.clone() })
        .collect();
    let mut theirs = case.order.clone();
    let order_mine = mine.clone();
    mine.sort();
    theirs.sort();
    // when both fail, what ran before the failure depends on the order concurrent branches
    // ran in, which the model does not give: only a sequential run is compared then
    let both_failed = !case.completed && matches!(outcome, RunOutcome::Failed(_));
    if both_failed && has_concurrency(&defs, library) {
        // nothing more to compare
    } else if both_failed && (sub_multiset(&mine, &theirs) || sub_multiset(&theirs, &mine)) {
        // one ran further than the other before the same failure
    } else if mine != theirs {
        problems.push(format!(
            "completed activities differ:\n      expected {:?}\n      got      {:?}",
            case.order, order_mine
        ));
    } else if let Some(p) = happens_before(&defs, library, &case.order, &order_mine) {
        problems.push(p);
    }
    // final data
    if case.completed {
        if let Some(expected) = &case.final_data {
            let got = Value::Object(variables);
            if !json_eq(expected, &got) {
                problems.push(format!(
                    "final data differs:\n      expected {expected}\n      got      {got}"
                ));
            }
        }
    }
    // service calls (multiset)
    let mut calls = recorder.calls.lock().map(|c| c.clone()).unwrap_or_default();
    let mut want = case.calls.clone();
    let key = |c: &(String, String, Value)| format!("{}|{}|{}", c.0, c.1, c.2);
    calls.sort_by_key(key);
    want.sort_by_key(key);
    let same = calls.len() == want.len()
        && calls
            .iter()
            .zip(&want)
            .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && json_eq(&a.2, &b.2));
    if !same {
        problems.push(format!(
            "service calls differ:\n      expected {want:?}\n      got      {calls:?}"
        ));
    }
    Ran::Compared(problems)
}

type Driven = (RunOutcome, Vec<(String, bool)>, Map<String, Value>);

async fn drive(inst: &mut Instance, case: &Case) -> Result<Driven, String> {
    let mut outcome = inst.run().await;
    let mut rounds = 0;
    let mut messages = case.messages.iter();
    let mut turns: HashMap<String, usize> = HashMap::new();
    while let RunOutcome::Waiting { tasks, next_timer, .. } = &outcome {
        let next_timer = *next_timer;
        rounds += 1;
        if rounds > 1_000 || (tasks.is_empty() && next_timer.is_none()) {
            break;
        }
        if let Some(hold) = case.hold {
            outcome = inst.advance(hold).await;
            let RunOutcome::Waiting { .. } = &outcome else { break };
        }
        let mut answered = false;
        for t in inst.waiting_tasks() {
            // like SpiffWorkflow's runner, people answer user, manual and plain tasks only
            if !matches!(
                t.kind,
                ElementKind::UserTask | ElementKind::ManualTask | ElementKind::Task
            ) {
                continue;
            }
            let Some(values) = answer(&case.human, &t.element_id, &mut turns) else {
                continue; // nobody answers this task
            };
            let mut set = Map::new();
            for (k, v) in values {
                let v = match v {
                    Value::String(s) if s.contains('$') => {
                        servicetask_bpmn::expr::evaluate(&s.replace('$', ""), &t.variables)
                            .map_err(|e| format!("--human value '{s}': {e}"))?
                    }
                    other => other,
                };
                set.insert(k, v);
            }
            // a task may have been withdrawn by an earlier completion (e.g. a terminate)
            answered |= inst.complete_task(&t.token_id.to_string(), set).is_ok();
        }
        if !answered {
            if let Some((name, payload)) = messages.next() {
                inst.send_message(name, payload.clone())
                    .map_err(|e| format!("--messages '{name}': {e}"))?;
                outcome = inst.run().await;
                continue;
            }
            // only messages, signals or incidents are waiting: nobody here answers them, so
            // time passes (SpiffWorkflow's runner waits in real time) and a timer may win
            match next_timer {
                Some(d) => {
                    outcome = inst.advance(d).await;
                    continue;
                }
                None => break,
            }
        }
        outcome = inst.run().await;
    }
    // a collaboration's pool instances complete as participants (SpiffWorkflow records each
    // under its process id)
    let completed = inst
        .completed()
        .iter()
        .filter(|c| !is_internal(c.kind))
        .map(|c| (c.element_id.to_string(), c.mi_child))
        .chain(inst.completed_pools().iter().map(|p| (p.clone(), false)))
        .collect();
    Ok((outcome, completed, inst.variables()))
}

/// The values a person sets when completing task `element` (as SpiffWorkflow's runner does):
/// the case's answer for the element, else its `*` answer. An answer that is a list gives one
/// item per completion of that element, in turn (the last item answers any further one); an
/// answer that is `null` means nobody answers the task (`None`).
fn answer(human: &Map<String, Value>, element: &str, turns: &mut HashMap<String, usize>) -> Option<Map<String, Value>> {
    let given = match human.get(element) {
        Some(Value::Null) => return None,
        Some(v) => v,
        None => human.get("*").unwrap_or(&Value::Null),
    };
    let chosen = match given {
        Value::Array(items) => {
            let n = turns.entry(element.to_string()).or_default();
            let item = items.get((*n).min(items.len().saturating_sub(1)));
            *n += 1;
            item.unwrap_or(&Value::Null)
        }
        other => other,
    };
    Some(chosen.as_object().cloned().unwrap_or_default())
}

fn is_internal(_kind: ElementKind) -> bool {
    false
}

fn describe(o: &RunOutcome) -> String {
    match o {
        RunOutcome::Completed => "completion".to_string(),
        RunOutcome::Failed(e) => format!("failure: {e}"),
        RunOutcome::Waiting { tasks, incidents, .. } => format!(
            "waiting (tasks: {:?}, incidents: {:?})",
            tasks.iter().map(|t| &t.element_id).collect::<Vec<_>>(),
            incidents
                .iter()
                .map(|i| format!("{}: {}", i.element_id, i.message))
                .collect::<Vec<_>>()
        ),
    }
}

/// True when a process of `defs` or `library` can run two branches at once (a split gateway,
/// an element with several outgoing flows, a loop or multi-instance, or a boundary event).
fn has_concurrency(defs: &Definitions, library: &[Definitions]) -> bool {
    std::iter::once(defs)
        .chain(library)
        .flat_map(|d| &d.processes)
        .any(|p| {
            let mut out: HashMap<&str, usize> = HashMap::new();
            for f in &p.flows {
                *out.entry(f.source.as_str()).or_default() += 1;
            }
            out.values().any(|n| *n > 1)
                || p.elements
                    .iter()
                    .any(|e| e.attached_to.is_some() || e.loop_characteristics.is_some())
        })
}

/// True when every item of sorted `small` is in sorted `big`, as often.
fn sub_multiset(small: &[String], big: &[String]) -> bool {
    let mut rest = big.iter();
    small.iter().all(|x| rest.any(|y| y == x))
}

/// JSON equality with 2 == 2.0.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Checks that every ordering the model implies (sequence flows, subprocess nesting) and the
/// reference shows also holds in `mine`.
fn happens_before(defs: &Definitions, library: &[Definitions], theirs: &[String], mine: &[String]) -> Option<String> {
    let first = |list: &[String], id: &str| list.iter().position(|x| x == id || x == &format!("{id} [child]"));
    let last = |list: &[String], id: &str| list.iter().rposition(|x| x == id || x == &format!("{id} [child]"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    let all: Vec<&Definitions> = std::iter::once(defs).chain(library.iter()).collect();
    let mut called_by: HashMap<String, Vec<String>> = HashMap::new();
    for d in &all {
        for p in &d.processes {
            for f in &p.flows {
                pairs.push((f.source.clone(), f.target.clone()));
            }
            for e in &p.elements {
                if let Some(c) = &e.parent {
                    pairs.push((e.id.clone(), c.clone()));
                }
                if e.kind == ElementKind::CallActivity {
                    if let Some(c) = &e.called_element {
                        called_by.entry(c.clone()).or_default().push(e.id.clone());
                    }
                }
            }
        }
    }
    for d in &all {
        for p in &d.processes {
            if let Some(callers) = called_by.get(&p.id) {
                for e in &p.elements {
                    for c in callers {
                        pairs.push((e.id.clone(), c.clone()));
                    }
                }
            }
        }
    }
    for (a, b) in pairs {
        let (Some(ta), Some(tb)) = (first(theirs, &a), last(theirs, &b)) else {
            continue;
        };
        if ta >= tb {
            continue; // the reference does not show this order (loops, merges)
        }
        let (Some(ma), Some(mb)) = (first(mine, &a), last(mine, &b)) else {
            continue;
        };
        if ma >= mb {
            return Some(format!("'{a}' must complete before '{b}', got order {mine:?}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_parsed() {
        let v = serde_json::json!({"file": "f.bpmn", "process": "p", "args": ["--data", "{\"x\": 2}", "--human", "{\"*\": {\"a\": 1}}", "--hold", "0.1", "--parser", "bpmn"], "completed": true});
        let c = parse_case(&v).unwrap();
        assert_eq!(c.data.get("x"), Some(&serde_json::json!(2)));
        assert!(c.human.contains_key("*"));
        assert_eq!(c.hold, Some(Duration::from_millis(100)));
    }

    #[test]
    fn test_module_functions_are_registered_by_name() {
        let v = serde_json::json!({"file": "f.bpmn", "process": "p", "args": ["--functions", "[\"custom_function\"]"]});
        let c = parse_case(&v).unwrap();
        let f = test_functions(&c.functions).unwrap();
        let mut vars = Map::new();
        let s = servicetask_bpmn::expr::Script::parse("a = custom_function()\nb = custom_function()").unwrap();
        s.run_in(&mut vars, &[], &servicetask_bpmn::expr::EvalLimits::default(), &f)
            .unwrap();
        assert_eq!(
            (vars["a"].clone(), vars["b"].clone()),
            (serde_json::json!(1), serde_json::json!(2))
        );
        let v = serde_json::json!({"file": "f.bpmn", "process": "p", "args": ["--functions", "[\"nope\"]"]});
        assert!(parse_case(&v).err().unwrap().contains("'nope'"));
    }

    #[test]
    fn locations_are_recognised() {
        assert!(has_location("dir/a.bpmn:12:5: unknown element"));
        assert!(has_location(
            "the process definitions have errors:\nerror: x.bpmn20.xml:3:1: bad"
        ));
        assert!(!has_location("process 'p' has nothing to start: add a start event"));
        assert!(!has_location("at 12:30"));
    }

    #[test]
    fn sub_multisets_count_repeats() {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(sub_multiset(&v(&["a", "b"]), &v(&["a", "a", "b", "c"])));
        assert!(!sub_multiset(&v(&["a", "a"]), &v(&["a", "b"])));
        assert!(sub_multiset(&v(&[]), &v(&["a"])));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(
            &serde_json::json!({"a": [2]}),
            &serde_json::json!({"a": [2.0]})
        ));
        assert!(!json_eq(
            &serde_json::json!({"a": 1}),
            &serde_json::json!({"a": 1, "b": 2})
        ));
    }
}
