//! Property test: random process graphs (gateways, loops, joins, subprocesses, boundary events,
//! multi-instance) never make the engine panic or hang; each run ends completed, failed with an
//! error, or waiting.

use proptest::prelude::*;
use servicetask_engine::{Engine, EngineConfig, RunOutcome, StubHandler};
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

const KINDS: &[&str] = &[
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "exclusiveGateway",
    "inclusiveGateway",
    "parallelGateway",
    "endEvent",
    "subProcess",
    "intermediateCatchEvent",
    "callActivity",
];

const CONDITIONS: &[&str] = &["x > 1", "x < 1", "True", "False", "=x = 2", "missing > 1", "x % 2 == 0"];

#[derive(Debug, Clone)]
struct Model {
    kinds: Vec<usize>,
    flows: Vec<(usize, usize, Option<usize>)>,
    defaults: Vec<Option<usize>>,
    mi: Vec<bool>,
    boundary: Vec<bool>,
    x: i64,
}

fn model() -> impl Strategy<Value = Model> {
    (2usize..9).prop_flat_map(|n| {
        (
            proptest::collection::vec(0..KINDS.len(), n),
            proptest::collection::vec(
                (0..n + 1, 0..n, proptest::option::of(0..CONDITIONS.len())),
                1..(2 * n + 2),
            ),
            proptest::collection::vec(proptest::option::of(0usize..4), n),
            proptest::collection::vec(proptest::bool::weighted(0.2), n),
            proptest::collection::vec(proptest::bool::weighted(0.2), n),
            -2i64..4,
        )
            .prop_map(|(kinds, flows, defaults, mi, boundary, x)| Model {
                kinds,
                flows,
                defaults,
                mi,
                boundary,
                x,
            })
    })
}

fn xml(m: &Model) -> String {
    let n = m.kinds.len();
    let mut s = String::from(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="r"><process id="p"><startEvent id="start"/>"#,
    );
    // node index n is the start event as a source
    let name = |i: usize| if i == n { "start".to_string() } else { format!("e{i}") };
    let mut outgoing: Vec<Vec<String>> = vec![Vec::new(); n + 1];
    let mut flows = String::new();
    for (k, (src, dst, cond)) in m.flows.iter().enumerate() {
        if KINDS[m.kinds.get(*src).copied().unwrap_or(0)] == "endEvent" && *src != n {
            continue;
        }
        let id = format!("f{k}");
        outgoing[*src].push(id.clone());
        let _ = write!(
            flows,
            r#"<sequenceFlow id="{id}" sourceRef="{}" targetRef="{}">"#,
            name(*src),
            name(*dst)
        );
        if let Some(c) = cond {
            let _ = write!(
                flows,
                "<conditionExpression>{}</conditionExpression>",
                CONDITIONS[*c].replace('<', "&lt;").replace('>', "&gt;")
            );
        }
        flows.push_str("</sequenceFlow>");
    }
    for i in 0..n {
        let kind = KINDS[m.kinds[i]];
        let default = m.defaults[i]
            .and_then(|d| outgoing[i].get(d))
            .map(|f| format!(r#" default="{f}""#))
            .unwrap_or_default();
        let tag = if kind == "callActivity" {
            "callActivity calledElement=\"child\""
        } else {
            kind
        };
        let _ = write!(s, r#"<{tag} id="e{i}"{default}>"#);
        match kind {
            "scriptTask" => s.push_str("<script>x += 1</script>"),
            "intermediateCatchEvent" => s.push_str("<timerEventDefinition><timeDuration>PT1S</timeDuration></timerEventDefinition>"),
            "subProcess" => s.push_str(&format!(
                r#"<startEvent id="s{i}"/><sequenceFlow id="sf{i}" sourceRef="s{i}" targetRef="t{i}"/><userTask id="t{i}"/>"#
            )),
            _ => {}
        }
        if m.mi[i] && matches!(kind, "task" | "userTask" | "serviceTask" | "scriptTask" | "subProcess") {
            s.push_str("<multiInstanceLoopCharacteristics><loopCardinality>2</loopCardinality></multiInstanceLoopCharacteristics>");
        }
        let _ = write!(s, "</{}>", kind);
        if m.boundary[i] && matches!(kind, "userTask" | "serviceTask" | "subProcess" | "callActivity") {
            let _ = write!(
                s,
                r#"<boundaryEvent id="b{i}" attachedToRef="e{i}"><timerEventDefinition><timeDuration>PT5S</timeDuration></timerEventDefinition></boundaryEvent>"#
            );
        }
    }
    s.push_str(&flows);
    s.push_str(r#"</process><process id="child"><startEvent id="cs"/><sequenceFlow id="cf" sourceRef="cs" targetRef="ct"/><scriptTask id="ct"><script>y = 1</script></scriptTask></process></definitions>"#);
    s
}

fn run(m: &Model) -> Result<(), String> {
    let doc = xml(m);
    let (defs, diags) = servicetask_bpmn::parse("random.bpmn", doc.as_bytes());
    let engine = Engine::builder(Arc::new(StubHandler))
        .config(EngineConfig {
            max_steps: 5_000,
            // Random graphs fan out without bound; the inclusive join's check is quadratic in
            // the live tokens, so keep the runaway guard tight here.
            max_tokens: 200,
            ..EngineConfig::default()
        })
        .build();
    let mut vars = serde_json::Map::new();
    vars.insert("x".into(), serde_json::json!(m.x));
    let Ok(mut inst) = engine.start(&defs, "p", vars) else {
        // invalid models are refused with diagnostics, which is fine
        return if diags.iter().any(|d| d.is_error()) || defs.processes.is_empty() {
            Ok(())
        } else {
            Err("refused a valid model".into())
        };
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut outcome = inst.run().await;
        for _ in 0..50 {
            match &outcome {
                RunOutcome::Waiting { tasks, .. } if !tasks.is_empty() => {
                    // Complete a bounded number per round: a user task that loops back to
                    // itself twice doubles its tokens each round, and completing all of them
                    // would make this driver (not the engine) exponential.
                    for t in inst.waiting_tasks().into_iter().take(8) {
                        let _ = inst.complete_task(&t.token_id.to_string(), serde_json::Map::new());
                    }
                    outcome = inst.run().await;
                }
                RunOutcome::Waiting {
                    next_timer: Some(_), ..
                } => outcome = inst.advance(Duration::from_secs(10)).await,
                _ => break,
            }
        }
        match outcome {
            RunOutcome::Failed(e) => {
                let msg = e.to_string();
                if msg.is_empty() {
                    return Err("empty error".to_string());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn random_models_never_panic_or_hang(m in model()) {
        let (tx, rx) = std::sync::mpsc::channel();
        let m2 = m.clone();
        std::thread::spawn(move || { let _ = tx.send(std::panic::catch_unwind(|| run(&m2))); });
        let r = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| TestCaseError::fail(format!("hung on {}", xml(&m))))?;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(TestCaseError::fail(format!("{e} on {}", xml(&m)))),
            Err(_) => return Err(TestCaseError::fail(format!("panicked on {}", xml(&m)))),
        }
    }
}
