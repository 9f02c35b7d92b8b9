//! The fuzz targets: one body per target, shared by every engine that drives them (AFL++
//! through `afl/`, the stable smoke runner, the regression tests, the cargo-fuzz targets).
//!
//! A body takes any bytes and returns normally for every input; a panic, an abort (the
//! allocation cap) or a run past the time limit is a finding. Bodies also check the
//! invariants a user relies on: every diagnostic and every engine error says something.

use serde_json::{json, Map, Value};
use servicetask_bpmn::{Definitions, Diagnostic};
use servicetask_engine::{Engine, EngineConfig, RunOutcome, StubHandler};
use std::sync::Arc;
use std::time::Duration;

/// The targets, in the order the runners visit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `servicetask_bpmn::parse` (decode, XML, model, validate) on any bytes.
    Parse,
    /// `servicetask_bpmn::validate` on any model (JSON of [`Definitions`]), including models the
    /// parser never builds, as an embedder constructing definitions in code can.
    Validate,
    /// The expression language: any text as an expression, a FEEL-style expression, a script,
    /// and a timer string.
    Expr,
    /// A parsed model run by the engine, every service task answered by the [`StubHandler`],
    /// user tasks completed, timers advanced on tokio's paused clock, all bounded.
    Run,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [Target::Parse, Target::Validate, Target::Expr, Target::Run];

    /// Its name (directory names in the corpus and the regressions).
    pub fn name(self) -> &'static str {
        match self {
            Target::Parse => "parse",
            Target::Validate => "validate",
            Target::Expr => "expr",
            Target::Run => "run",
        }
    }

    /// The target with this name.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs the target's body on `data`.
    pub fn exec(self, data: &[u8]) {
        match self {
            Target::Parse => parse(data),
            Target::Validate => validate(data),
            Target::Expr => expr(data),
            Target::Run => run(data),
        }
    }
}

/// Parses and validates any bytes; every diagnostic has a message and a position.
pub fn parse(data: &[u8]) {
    let (_, diags) = servicetask_bpmn::parse("fuzz.bpmn", data);
    check_diagnostics(&diags);
}

/// Validates any model given as JSON (inputs that are not a model are skipped).
pub fn validate(data: &[u8]) {
    let Ok(defs) = serde_json::from_slice::<Definitions>(data) else {
        return;
    };
    check_diagnostics(&servicetask_bpmn::validate(&defs));
}

fn check_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        assert!(!d.message.trim().is_empty(), "a diagnostic without a message: {d:?}");
    }
}

/// The variables an expression or a run sees: one of each JSON kind, and the integers at the
/// edges of i64 where arithmetic overflows.
pub fn variables() -> Map<String, Value> {
    let Value::Object(vars) = json!({
        "x": [1, {"a": 2}, "s"],
        "i": 3,
        "zero": 0,
        "minus_one": -1,
        "big": i64::MAX,
        "small": i64::MIN,
        "f": 2.5,
        "s": "text",
        "b": true,
        "z": null,
        "d": {"a": {"b": [1, 2, 3]}, "k": "v"},
        "items": [1, 2, 3],
    }) else {
        unreachable!("a JSON object literal")
    };
    vars
}

/// Evaluates any text as an expression (as written and in the FEEL-style `=` form), runs it as a
/// script, and reads it as each kind of timer.
pub fn expr(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let vars = variables();
    for result in [
        servicetask_bpmn::expr::evaluate(src, &vars).map(drop),
        servicetask_bpmn::expr::evaluate(&format!("={src}"), &vars).map(drop),
        servicetask_bpmn::expr::run_script(src, &mut vars.clone()),
    ] {
        if let Err(e) = result {
            assert!(
                !e.to_string().trim().is_empty(),
                "an expression error without a message"
            );
        }
    }
    let _ = servicetask_bpmn::timer::parse_duration(src);
    let _ = servicetask_bpmn::timer::parse_cycle(src);
    let _ = servicetask_bpmn::timer::parse_date(src);
}

/// Engine limits for a fuzzed run: small enough that every run ends well within the time limit.
pub fn run_config() -> EngineConfig {
    EngineConfig {
        max_steps: 2_000,
        max_tokens: 100,
        ..EngineConfig::default()
    }
}

/// Rounds of "complete the waiting tasks / let the next timer fire" before the driver stops.
const DRIVER_ROUNDS: usize = 20;
/// Waiting tasks completed per round (a task that loops back to itself twice doubles them).
const TASKS_PER_ROUND: usize = 8;

/// Parses any bytes and, when the model has no errors, runs its default process with stub
/// service tasks; waiting tasks are completed and timers advanced for a bounded number of rounds.
pub fn run(data: &[u8]) {
    let (defs, diags) = servicetask_bpmn::parse("fuzz.bpmn", data);
    if diags.iter().any(Diagnostic::is_error) {
        return;
    }
    let Some(process) = defs.default_process() else {
        return;
    };
    let engine = Engine::builder(Arc::new(StubHandler)).config(run_config()).build();
    let Ok(mut instance) = engine.start(&defs, &process.id, variables()) else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let mut outcome = instance.run().await;
        for _ in 0..DRIVER_ROUNDS {
            match &outcome {
                RunOutcome::Waiting { tasks, .. } if !tasks.is_empty() => {
                    for t in instance.waiting_tasks().into_iter().take(TASKS_PER_ROUND) {
                        let _ = instance.complete_task(&t.token_id.to_string(), Map::new());
                    }
                    outcome = instance.run().await;
                }
                RunOutcome::Waiting {
                    next_timer: Some(d), ..
                } => outcome = instance.advance(*d + Duration::from_millis(1)).await,
                _ => break,
            }
        }
        if let RunOutcome::Failed(e) = outcome {
            assert!(!e.to_string().trim().is_empty(), "an engine error without a message");
        }
    });
}
