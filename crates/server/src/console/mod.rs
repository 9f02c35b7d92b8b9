//! The live web console at `/console/`: a page, its script and its style embedded in the
//! binary (plain HTML, CSS and JavaScript of this project, no build step), and the read
//! endpoints it needs beside the API's: a deployment's process diagram as SVG, the per-task
//! panels, a duration prediction for an input size, and the batches running in this process.
//!
//! The page polls the API (`/v1/instances`, `/v1/instances/{id}`, `/v1/metrics`) and these
//! endpoints, and acts through the API (retry an incident, complete a user task), sending the
//! API token the user typed when the server requires one. Responses of the console carry a
//! Content-Security-Policy that allows only this server's own script and style.

mod batches;
#[cfg(test)]
mod batches_http;
mod layout;
mod svg;
mod tasks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use servicetask_worker::Host;

use crate::problem::Problem;
use crate::MetricsText;
pub use batches::{BatchLimits, BatchView, Batches, BatchesView};
pub use tasks::{BreakerState, PanelAnomaly, PanelBucket, TaskPanel, TaskPanels};

const PAGE: &str = include_str!("../../assets/console.html");
const SCRIPT: &str = include_str!("../../assets/console.js");
const STYLE: &str = include_str!("../../assets/console.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How the console behaves.
#[derive(Clone)]
pub struct ConsoleConfig {
    /// The execution history the per-task panels are computed from (the file the runner
    /// writes with `servicetask serve --history`); none: the page says how to get panels.
    pub history: Option<PathBuf>,
    /// An open history store to read instead of `history` (the fleet's history in
    /// PostgreSQL), with its name for messages (no credentials in it).
    pub history_store: Option<(Arc<dyn servicetask_history::HistoryStore>, String)>,
    /// How far back the panels look (default 24 hours).
    pub window: Duration,
    /// How often the panels are recomputed at most, whatever the number of pages polling
    /// (default 2 seconds; longer when one computation takes more than a fifth of it).
    pub refresh: Duration,
    /// The latest progress of each `cx.batch` of this process, shown in the "Batches" panel
    /// (default: an empty set observing nothing; `servicetask serve` passes
    /// [`Batches::observed`]).
    pub batches: Arc<Batches>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            history: None,
            history_store: None,
            window: Duration::from_secs(24 * 3600),
            refresh: Duration::from_secs(2),
            batches: Arc::new(Batches::default()),
        }
    }
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("history", &self.history)
            .field("history_store", &self.history_store.as_ref().map(|s| &s.1))
            .field("window", &self.window)
            .field("refresh", &self.refresh)
            .field("batches", &self.batches)
            .finish()
    }
}

struct Console {
    host: Arc<Host>,
    panels: tasks::Panels,
    batches: Arc<Batches>,
}

type Shared = State<Arc<Console>>;

/// The console's routes: `/` leads to `/console/`.
pub fn router(host: Arc<Host>, config: ConsoleConfig, metrics: Option<MetricsText>) -> Router {
    let console = Arc::new(Console {
        host,
        panels: tasks::Panels::new(
            match config.history_store {
                Some((store, name)) => Some(tasks::Source::Store(store, name)),
                None => config.history.map(tasks::Source::File),
            },
            metrics,
            config.window,
            config.refresh,
        ),
        batches: config.batches,
    });
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/console/") }))
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(|| async { asset("text/html; charset=utf-8", PAGE) }))
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/console/api/diagram/{deployment}/{process}", get(diagram))
        .route("/console/api/tasks", get(task_panels))
        .route("/console/api/tasks/{task}/predict", get(predict))
        .route("/console/api/batches", get(batch_views))
        .with_state(console)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// A process diagram and how it was laid out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagramView {
    /// `di` (the file's diagram interchange) or `auto` (laid out here: the file has none).
    pub layout: &'static str,
    /// What the user should know (no DI, elements without a shape, DI errors).
    pub note: Option<String>,
    /// The SVG.
    pub svg: String,
}

async fn diagram(
    State(c): Shared,
    Path((deployment, process_id)): Path<(String, String)>,
) -> Result<Json<DiagramView>, Problem> {
    let d = c
        .host
        .store()
        .deployment(&deployment)
        .await
        .map_err(servicetask_worker::HostError::from)?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("no deployment '{deployment}'"),
            )
            .field("deployment")
        })?;
    Ok(Json(diagram_view(&d.file, &d.content, &process_id)?))
}

/// The diagram of `process_id` in a BPMN file: from its DI when it has a diagram of that
/// process, else laid out automatically.
pub fn diagram_view(file: &str, content: &[u8], process_id: &str) -> Result<DiagramView, Problem> {
    let (defs, _) = servicetask_bpmn::parse(file, content);
    let process = defs.processes.iter().find(|p| p.id == process_id).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{file} has no process '{process_id}'"),
        )
        .field("process")
    })?;
    let (diagrams, diags) = servicetask_bpmn::di::diagrams(file, content);
    let shows = |g: &&servicetask_bpmn::di::Diagram| g.shapes.iter().any(|s| process.element(&s.element).is_some());
    let pick = diagrams
        .iter()
        .filter(shows)
        .find(|g| g.plane_element.as_deref() == Some(process_id))
        .or_else(|| diagrams.iter().find(shows));
    let Some(g) = pick else {
        let mut note = format!("{file} has no diagram interchange (BPMNDiagram) for process '{process_id}': laid out automatically, subprocesses collapsed");
        if let Some(first) = diags.first() {
            note.push_str(&format!("; its diagram has errors, the first: {first}"));
        }
        return Ok(DiagramView {
            layout: "auto",
            note: Some(note),
            svg: svg::draw(&defs, &layout::auto_layout(process)),
        });
    };
    let missing: Vec<&str> = process
        .elements
        .iter()
        .filter(|e| g.shape(&e.id).is_none())
        .map(|e| e.id.as_str())
        .collect();
    let mut notes = Vec::new();
    if !missing.is_empty() {
        let shown: Vec<_> = missing.iter().take(5).copied().collect();
        notes.push(format!(
            "{} element(s) have no shape in the file's diagram and are not drawn: {}{}",
            missing.len(),
            shown.join(", "),
            if missing.len() > 5 { ", ..." } else { "" }
        ));
    }
    if let Some(first) = diags.first() {
        notes.push(format!("{} diagram error(s), the first: {first}", diags.len()));
    }
    Ok(DiagramView {
        layout: "di",
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        svg: svg::draw(&defs, g),
    })
}

/// The panels over `window` (the configured one when `None`), computed on a blocking thread
/// (SQLite reads).
async fn current(c: Arc<Console>, window: Option<Duration>) -> Result<Arc<tasks::Computed>, Problem> {
    tokio::task::spawn_blocking(move || match window {
        Some(w) => c.panels.current_for(w),
        None => c.panels.current(),
    })
    .await
    .map_err(|_| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "computing the panels failed",
        )
    })
}

async fn task_panels(State(c): Shared, Query(q): Query<HashMap<String, String>>) -> Result<Json<TaskPanels>, Problem> {
    let window = q.get("window").map(|raw| window(raw)).transpose()?;
    let computed = current(c, window).await?;
    Ok(Json(computed.panels.clone()))
}

/// The `window` query parameter: whole seconds in [`tasks::WINDOW_RANGE`].
fn window(raw: &str) -> Result<Duration, Problem> {
    let (low, high) = tasks::WINDOW_RANGE;
    raw.parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .filter(|w| (low..=high).contains(w))
        .ok_or_else(|| {
            Problem::bad_field(
                "window",
                format!(
                    "window: '{raw}' is not a number of seconds from {} to {}",
                    low.as_secs(),
                    high.as_secs()
                ),
            )
        })
}

async fn batch_views(State(c): Shared) -> Json<BatchesView> {
    Json(c.batches.view())
}

async fn predict(
    State(c): Shared,
    Path(task): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let raw = q
        .get("size")
        .ok_or_else(|| Problem::bad_field("size", "size: give the input size to predict for, e.g. ?size=1000"))?;
    let size = raw
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| Problem::bad_field("size", format!("size: '{raw}' is not a number of 0 or more")))?;
    let window = q.get("window").map(|raw| window(raw)).transpose()?;
    let computed = current(c, window).await?;
    match computed.predict(&task, size) {
        Some(p) => Ok(Json(p).into_response()),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no-model",
            format!("no size model for '{task}': it needs 5 successful runs with an input size, of 2 sizes or more"),
        )
        .field("task")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DI: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI">
      <process id="p"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="t"/><userTask id="t" name="Review"/></process>
      <bpmndi:BPMNDiagram><bpmndi:BPMNPlane bpmnElement="p">
        <bpmndi:BPMNShape bpmnElement="s"><dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
        <bpmndi:BPMNEdge bpmnElement="f"><di:waypoint x="136" y="118"/><di:waypoint x="200" y="118"/></bpmndi:BPMNEdge>
      </bpmndi:BPMNPlane></bpmndi:BPMNDiagram></definitions>"#;

    #[test]
    fn a_file_with_di_is_drawn_where_its_modeler_put_it_and_says_what_is_missing() {
        let v = diagram_view("d.bpmn", DI.as_bytes(), "p").unwrap();
        assert_eq!(v.layout, "di");
        assert!(v.svg.contains(r#"cx="118.0" cy="118.0""#), "{}", v.svg);
        assert!(v.svg.contains(r#"points="136.0,118.0 200.0,118.0""#));
        assert!(v
            .note
            .unwrap()
            .contains("1 element(s) have no shape in the file's diagram and are not drawn: t"));
    }

    #[test]
    fn a_file_without_di_is_laid_out_and_says_so() {
        let xml = DI.split("<bpmndi:BPMNDiagram>").next().unwrap().to_string() + "</definitions>";
        let v = diagram_view("n.bpmn", xml.as_bytes(), "p").unwrap();
        assert_eq!(v.layout, "auto");
        assert!(v.note.unwrap().contains("no diagram interchange"));
        assert!(v.svg.contains(r#"data-element="t""#) && v.svg.contains("Review"));
        let e = diagram_view("n.bpmn", xml.as_bytes(), "other").unwrap_err();
        assert_eq!(e.status, 404);
    }
}
