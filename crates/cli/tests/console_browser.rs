//! The web console of a real `servicetask serve`, in headless Chromium driven over the DevTools
//! protocol (chromiumoxide): the instances of the demo's process are listed, the one with an
//! incident is opened (its diagram drawn with the incident marked, its error report shown), the
//! cause is fixed through the Retry form (the variable the failing task needs) and the page
//! shows the instance completing along its path; a user task's generated form completes it; the
//! task panels draw a chart per task, and their time window and refresh interval, chosen in the
//! page, change what the server computes and how often the page asks, and are kept in the URL
//! (the link reproduces the view); no page logs a console error or throws. Against a server
//! with an API token, the page asks for it and shows the instances once it is typed.
//!
//! Needs Chromium (`/usr/bin/chromium`): the tests are `#[ignore]`d, so a plain `cargo test`
//! lists them as ignored; `.ci/run` installs Chromium and runs them with `-- --ignored`, where a
//! missing Chromium is a failure.
//! `SERVICETASK_CONSOLE_SCREENSHOTS=DIR` saves a PNG of each page on the way
//! (`scripts/console-screenshots.sh`).

mod serve_support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded};
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use futures::StreamExt;
use serde_json::{json, Value};
use serve_support::{Client, Server};
use servicetask_history::HistoryStore as _;

const PIPELINE: &str = include_str!("../processes/file_pipeline.bpmn");

/// A user task with its diagram interchange: drawn where the modeler put it.
const REVIEW: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="review_defs">
  <process id="review" name="Review an order" isExecutable="true">
    <startEvent id="received" name="Order received"/>
    <sequenceFlow id="r1" sourceRef="received" targetRef="approve"/>
    <userTask id="approve" name="Approve the order"/>
    <sequenceFlow id="r2" sourceRef="approve" targetRef="done"/>
    <endEvent id="done" name="Reviewed"/>
  </process>
  <bpmndi:BPMNDiagram id="review_diagram"><bpmndi:BPMNPlane bpmnElement="review">
    <bpmndi:BPMNShape bpmnElement="received"><dc:Bounds x="152" y="102" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape bpmnElement="approve"><dc:Bounds x="250" y="80" width="120" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape bpmnElement="done"><dc:Bounds x="432" y="102" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge bpmnElement="r1"><di:waypoint x="188" y="120"/><di:waypoint x="250" y="120"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge bpmnElement="r2"><di:waypoint x="370" y="120"/><di:waypoint x="432" y="120"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</definitions>"#;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The Chromium binary; a test asked to run without one fails saying so.
fn require_chromium() -> &'static str {
    chromium().expect("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
}

/// A task that ran two hours ago, written into the history the server reads: in the panels
/// over the last 24 hours, not in those over the last hour.
const ARCHIVED: &str = "archived_task";

fn start_pipeline(api: &Client, key: &str, output_dir: &Path, processed: &Path, rows: u32) -> String {
    let (status, _, body) = api
        .post(
            "/v1/instances",
            &json!({"processId": "file_pipeline", "businessKey": key, "variables": {
                "output_dir": output_dir, "processed_dir": processed, "files": 2, "rows": rows, "seed": 7}}),
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn state_is(s: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["state"] == s
}

#[test]
#[ignore = "needs Chromium (/usr/bin/chromium); .ci/run runs it with --ignored"]
fn the_console_retries_an_incident_to_completion_in_chromium() {
    let chromium = require_chromium();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let history = dir.path().join("history.db");
    let server = Server::start(&db, &["--history", history.to_str().unwrap()]);
    let api = server.client(None);
    api.deploy("file_pipeline.bpmn", PIPELINE);
    api.deploy("review.bpmn", REVIEW);
    let long = Duration::from_secs(60);
    // three runs that complete (history for the task panels), of different sizes
    for (i, rows) in [30, 60, 90].into_iter().enumerate() {
        let out = dir.path().join(format!("good-{i}"));
        let id = start_pipeline(&api, &format!("good-{i}"), &out, &out.join("processed"), rows);
        api.wait_until(&format!("/v1/instances/{id}"), long, state_is("completed"));
    }
    // one whose output folder cannot be made: a file stands where its parent should be
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let fixed = dir.path().join("fixed");
    let broken = start_pipeline(&api, "broken", &blocker.join("out"), &fixed.join("processed"), 40);
    let v = api.wait_until(&format!("/v1/instances/{broken}"), long, state_is("incident"));
    assert_eq!(v["incidents"][0]["elementId"], "generate", "{v}");
    let (status, _, review) = api
        .post(
            "/v1/instances",
            &json!({"processId": "review", "businessKey": "review-1", "variables": {"amount": 120, "approved": false, "note": "first order"}}),
        )
        .unwrap();
    assert_eq!(status, 201, "{review}");
    let review_id = review["id"].as_str().unwrap().to_string();
    api.wait_until(&format!("/v1/instances/{review_id}"), long, state_is("waiting"));
    // an execution two hours old, beside the server's own records
    let two_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
        - 2 * 3_600_000_000_000;
    let old = servicetask::record::ExecutionRecord::new(
        ARCHIVED,
        two_hours_ago,
        5_000_000,
        servicetask::record::OutcomeKind::Complete,
    );
    servicetask_history::SqliteStore::open(&history)
        .unwrap()
        .insert_batch(&[old])
        .unwrap();

    let shots = std::env::var_os("SERVICETASK_CONSOLE_SCREENSHOTS").map(PathBuf::from);
    let profile = dir.path().join("chromium-profile");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let errors = runtime.block_on(drive(
        chromium,
        &profile,
        &server.base,
        &fixed,
        &broken,
        &review_id,
        shots.as_deref(),
    ));
    assert!(errors.is_empty(), "the console logged errors: {errors:#?}");

    // what the page showed is what the server holds
    let v = api.wait_until(&format!("/v1/instances/{broken}"), long, state_is("completed"));
    assert_eq!(v["variables"]["output_dir"], json!(fixed), "{v}");
    assert!(fixed.join("processed").is_dir(), "the retried run wrote nothing");
    let v = api.wait_until(&format!("/v1/instances/{review_id}"), long, state_is("completed"));
    assert_eq!(v["variables"]["approved"], true, "{v}");
    assert_eq!(v["variables"]["amount"], 120, "an unchanged field was sent back: {v}");
    assert_eq!(v["variables"]["reviewer"], "ops", "{v}");
    drop(server);
}

/// A server with an API token: the page loads, says the token is needed, and shows the
/// instances once it is typed; no script error on the way (the refused loads are expected).
#[test]
#[ignore = "needs Chromium (/usr/bin/chromium); .ci/run runs it with --ignored"]
fn the_console_asks_for_the_api_token_and_uses_it() {
    let chromium = require_chromium();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("serve.db"), &["--api-token", "s3cret-token"]);
    let api = server.client(Some("s3cret-token"));
    api.deploy("review.bpmn", REVIEW);
    let (status, _, v) = api
        .post(
            "/v1/instances",
            &json!({"processId": "review", "businessKey": "guarded"}),
        )
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let errors = runtime.block_on(async {
        let session = Session::launch(chromium, &dir.path().join("chromium-profile")).await;
        let page = session.page.clone();
        page.goto(format!("{}/console/", server.base)).await.unwrap();
        wait_for(
            &page,
            "document.querySelector('#banner').innerText.includes('API token')",
        )
        .await;
        let token = page.find_element("#token").await.unwrap();
        token.click().await.unwrap();
        token.type_str("s3cret-token").await.unwrap();
        token.press_key("Enter").await.unwrap();
        wait_for(
            &page,
            "document.querySelectorAll('#instances tr[data-instance]').length === 1",
        )
        .await;
        wait_for(&page, "document.querySelector('#banner').hidden").await;
        session.finish().await
    });
    // the loads refused before the token was typed are the only errors
    let unexpected: Vec<_> = errors.iter().filter(|e| !e.contains("401")).collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

/// The browser part; returns the console errors and exceptions seen.
async fn drive(
    chromium: &str,
    profile: &Path,
    base: &str,
    fixed: &Path,
    broken: &str,
    review: &str,
    shots: Option<&Path>,
) -> Vec<String> {
    let session = Session::launch(chromium, profile).await;
    let page = session.page.clone();
    if let Some(dir) = shots {
        std::fs::create_dir_all(dir).unwrap();
    }
    let shot = |name: &'static str| {
        let page = page.clone();
        async move {
            if let Some(dir) = shots {
                let params = ScreenshotParams::builder().full_page(true).build();
                page.save_screenshot(params, dir.join(name)).await.unwrap();
            }
        }
    };

    // the list, then only the incidents
    page.goto(format!("{base}/console/")).await.unwrap();
    wait_for(
        &page,
        "document.querySelectorAll('#instances tr[data-instance]').length === 5",
    )
    .await;
    shot("instances.png").await;
    click(&page, "a[data-nav=incidents]").await;
    let only_broken = format!(
        "(() => {{ const r = document.querySelectorAll('#instances tr[data-instance]'); return r.length === 1 && r[0].dataset.instance === '{broken}'; }})()"
    );
    wait_for(&page, &only_broken).await;
    click(&page, format!("tr[data-instance='{broken}'] a")).await;

    // the instance: its diagram (laid out: the demo's file has no DI) with the incident marked,
    // and the error report
    shown(&page, "#state[data-state=incident]").await;
    shown(&page, "svg.bpmn g.el.incident[data-element=generate]").await;
    let layout = eval_str(&page, "document.querySelector('#diagram').dataset.layout").await;
    assert_eq!(layout, "auto");
    let note = eval_str(&page, "document.querySelector('#diagram-note').innerText").await;
    assert!(note.contains("no diagram interchange"), "{note}");
    let report = eval_str(
        &page,
        "document.querySelector('[data-incident=generate] pre.report').innerText",
    )
    .await;
    assert!(
        report.contains("blocker"),
        "the error report does not name the path: {report}"
    );
    shot("incident.png").await;

    // fix the cause: the folder the task writes to, set before the retry
    let vars = page.find_element("[data-incident=generate] textarea").await.unwrap();
    page.evaluate("document.querySelector('[data-incident=generate] textarea').value = ''")
        .await
        .unwrap();
    vars.click().await.unwrap();
    vars.type_str(json!({"output_dir": fixed}).to_string()).await.unwrap();
    click(&page, "button[data-retry=generate]").await;
    shown(&page, "#state[data-state=completed]").await;
    shown(&page, "svg.bpmn g.el.done[data-element=publish]").await;
    let marked = eval_str(
        &page,
        "JSON.stringify([document.querySelectorAll('svg.bpmn g.flow.done').length, document.querySelectorAll('svg.bpmn .incident').length])",
    )
    .await;
    let marked: (usize, usize) = serde_json::from_str(&marked).unwrap();
    assert!(marked.0 >= 8 && marked.1 == 0, "completed path not marked: {marked:?}");
    shot("completed.png").await;

    // a user task: the form generated from the variables completes it
    // (a new hash is no navigation: the page's router takes it)
    page.evaluate(format!("location.hash = '#/instance/{review}'"))
        .await
        .unwrap();
    shown(&page, "form[data-task=approve] input[name=approved]").await;
    assert_eq!(
        eval_str(&page, "document.querySelector('#diagram').dataset.layout").await,
        "di"
    );
    shown(&page, "svg.bpmn g.el.waiting[data-element=approve]").await;
    click(&page, "form[data-task=approve] input[name=approved]").await;
    let name = page
        .find_element("form[data-task=approve] input[aria-label='new variable name']")
        .await
        .unwrap();
    name.click().await.unwrap();
    name.type_str("reviewer").await.unwrap();
    let value = page
        .find_element("form[data-task=approve] input[aria-label='new variable value']")
        .await
        .unwrap();
    value.click().await.unwrap();
    value.type_str("\"ops\"").await.unwrap();
    shot("user-task.png").await;
    click(&page, "button[data-complete=approve]").await;
    shown(&page, "#state[data-state=completed]").await;

    // the task panels: one chart per task of the history
    click(&page, "a[data-nav=tasks]").await;
    wait_for(
        &page,
        "document.querySelectorAll('.card.task svg.chart polyline.p99').length >= 5",
    )
    .await;
    let tasks = eval_str(
        &page,
        "JSON.stringify([...document.querySelectorAll('.card.task')].map(c => c.dataset.task))",
    )
    .await;
    for t in [
        "generate_samples",
        "file_processing",
        "data_analysis",
        "publish_report",
        ARCHIVED,
    ] {
        assert!(tasks.contains(t), "no panel of {t}: {tasks}");
    }
    shot("tasks.png").await;
    panel_window_and_refresh(&page, base).await;

    session.finish().await
}

/// The task panels' controls: a shorter window leaves the two-hour-old run out (the server
/// computed over it), the refresh interval sets how often the page asks (counted with the
/// browser's own resource timing), both are in the URL, and the URL alone gives the view back.
async fn panel_window_and_refresh(page: &Page, base: &str) {
    let archived_shown = format!("document.querySelector(\"[data-task='{ARCHIVED}']\") !== null");
    let one_hour = format!(
        "location.hash === '#/tasks?window=3600' && document.querySelector('#task-panels').dataset.window === '3600' && !({archived_shown}) && document.querySelector(\"[data-task='generate_samples']\") !== null"
    );
    choose(page, "#panel-window", "3600").await;
    wait_for(page, &one_hour).await;
    assert!(eval_str(page, "document.querySelector('#panel-span').innerText")
        .await
        .contains("over the last 1 hour"));

    // refresh off: no request for the panels in 3 s; every second: several
    choose(page, "#panel-refresh", "0").await;
    wait_for(
        page,
        "location.hash === '#/tasks?window=3600&refresh=0' && document.querySelector('#panel-span').innerText.includes('only when asked')",
    )
    .await;
    let asked = "performance.getEntriesByType('resource').filter(e => e.name.includes('/console/api/tasks')).length";
    page.evaluate("performance.clearResourceTimings()").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(eval_str(page, asked).await, "0", "the page asked with refresh off");
    choose(page, "#panel-refresh", "1").await;
    wait_for(page, "location.hash === '#/tasks?window=3600'").await;
    page.evaluate("performance.clearResourceTimings()").await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let n: u32 = eval_str(page, asked).await.parse().unwrap();
    assert!(n >= 2, "{n} requests in 3.5 s at a refresh of 1 s");

    // the link reproduces the view: a fresh load of the URL with both settings
    page.goto("about:blank").await.unwrap();
    page.goto(format!("{base}/console/#/tasks?window=3600&refresh=0"))
        .await
        .unwrap();
    wait_for(
        page,
        &format!("document.querySelector('#task-panels') !== null && document.querySelector('#task-panels').dataset.window === '3600' && document.querySelector('#panel-window').value === '3600' && document.querySelector('#panel-refresh').value === '0' && document.querySelector(\"[data-task='generate_samples']\") !== null && !({archived_shown})"),
    )
    .await;
    // back to the server's window (24 hours): the old run is in it again
    choose(page, "#panel-window", "").await;
    wait_for(page, &archived_shown).await;
}

/// Picks `value` in the `<select>` at `selector` as a user does (the page sees a change event).
async fn choose(page: &Page, selector: &str, value: &str) {
    shown(page, selector).await;
    let js = format!(
        "(() => {{ const s = document.querySelector('{selector}'); s.value = '{value}'; if (s.value !== '{value}') return false; s.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()"
    );
    let picked: bool = page.evaluate(js).await.unwrap().into_value().unwrap();
    assert!(picked, "{selector} offers no '{value}'");
}

/// A headless Chromium with one page whose errors are collected.
struct Session {
    browser: Browser,
    page: Page,
    errors: Arc<Mutex<Vec<String>>>,
    events: tokio::task::JoinHandle<()>,
}

impl Session {
    /// Starts Chromium with a fresh profile in `profile`.
    async fn launch(chromium: &str, profile: &Path) -> Session {
        let config = BrowserConfig::builder()
            .chrome_executable(chromium)
            .disable_default_args()
            .no_sandbox()
            .user_data_dir(profile)
            .window_size(1400, 1000)
            .viewport(Viewport {
                width: 1400,
                height: 1000,
                ..Viewport::default()
            })
            // a loaded CI machine starts Chromium and answers commands slowly
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(60))
            .args([
                "disable-gpu",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "no-first-run",
            ])
            .build()
            .unwrap();
        let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
        let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
        let page = browser.new_page("about:blank").await.unwrap();
        let errors = Arc::new(Mutex::new(Vec::new()));
        listen(&page, errors.clone()).await;
        Session {
            browser,
            page,
            errors,
            events,
        }
    }

    /// Closes the browser; the console errors, exceptions and failed loads seen.
    async fn finish(mut self) -> Vec<String> {
        // late errors (a poll that failed after the last check) are caught too
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.browser.close().await.unwrap();
        let _ = self.browser.wait().await;
        self.events.abort();
        let seen = self.errors.lock().unwrap().clone();
        seen
    }
}

/// Collects console errors, uncaught exceptions and failed loads into `errors`.
async fn listen(page: &Page, errors: Arc<Mutex<Vec<String>>>) {
    page.execute(LogEnable::default()).await.unwrap();
    let mut console = page.event_listener::<EventConsoleApiCalled>().await.unwrap();
    let mut thrown = page.event_listener::<EventExceptionThrown>().await.unwrap();
    let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
    let e = errors.clone();
    tokio::spawn(async move {
        while let Some(ev) = console.next().await {
            let kind = format!("{:?}", ev.r#type).to_lowercase();
            if kind.contains("error") || kind.contains("assert") {
                let args: Vec<_> = ev.args.iter().map(|a| format!("{:?}", a.value)).collect();
                e.lock().unwrap().push(format!("console.{kind}: {}", args.join(" ")));
            }
        }
    });
    let e = errors.clone();
    tokio::spawn(async move {
        while let Some(ev) = thrown.next().await {
            e.lock().unwrap().push(format!("exception: {:?}", ev.exception_details));
        }
    });
    tokio::spawn(async move {
        while let Some(ev) = log.next().await {
            if format!("{:?}", ev.entry.level).to_lowercase().contains("error") {
                errors
                    .lock()
                    .unwrap()
                    .push(format!("log: {} {:?}", ev.entry.text, ev.entry.url));
            }
        }
    });
}

async fn click(page: &Page, selector: impl Into<String>) {
    page.find_element(selector).await.unwrap().click().await.unwrap();
}

/// Waits for an element matching `selector`.
async fn shown(page: &Page, selector: &str) {
    wait_for(page, &format!("document.querySelector(\"{selector}\") !== null")).await;
}

async fn eval_str(page: &Page, expr: &str) -> String {
    let v: Value = page.evaluate(expr).await.unwrap().into_value().unwrap_or(Value::Null);
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Waits up to 60 s for `condition` (a JavaScript expression) to hold on the page.
async fn wait_for(page: &Page, condition: &str) {
    let start = Instant::now();
    loop {
        let ok = page
            .evaluate(condition)
            .await
            .ok()
            .and_then(|r| r.into_value::<bool>().ok())
            .unwrap_or(false);
        if ok {
            return;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let text = eval_str(page, "document.body.innerText").await;
            panic!("the page never showed `{condition}`; it shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// start -> batch_import -> end (`cx.batch` of `servicetask-examples`).
const IMPORT: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="import" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="rows"/>
  <serviceTask id="rows" implementation="batch_import"/><sequenceFlow id="f2" sourceRef="rows" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"#;

/// The Tasks page's Batches panel (issue 17) follows a running `cx.batch` of 20,000 rows: its
/// row appears with a progress bar that fills as the counts grow and a time left, and ends
/// "finished" with the bar full; what it shows is what `/console/api/batches` answers.
#[test]
#[ignore = "needs Chromium (/usr/bin/chromium); .ci/run runs it with --ignored"]
fn the_tasks_page_follows_a_running_batch() {
    const ROWS: u64 = 20_000;
    let chromium = require_chromium();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("serve.db"), &[]);
    let api = server.client(None);
    api.deploy("import.bpmn", IMPORT);
    let vars = json!({"items": ROWS, "checkpoint": dir.path().join("checkpoint.db"), "item_micros": 1000});
    let start = json!({"processId": "import", "businessKey": "import-1", "variables": vars});
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (errors, seen, id) = runtime.block_on(async {
        let session = Session::launch(chromium, &dir.path().join("chromium-profile")).await;
        let page = session.page.clone();
        page.goto(format!("{}/console/#/tasks?refresh=1", server.base))
            .await
            .unwrap();
        shown(&page, "#batches").await;
        // started once the page is up (Chromium may start slowly), so the page sees it run
        let (status, _, v) = tokio::task::block_in_place(|| api.post("/v1/instances", &start)).unwrap();
        assert_eq!(status, 201, "{v}");
        let row = "#batches tr[data-batch='batch_import/rows']";
        let bar = format!("document.querySelector(\"{row} progress\")");
        shown(&page, &format!("{row} progress")).await;
        assert_eq!(eval_str(&page, &format!("String({bar}.max)")).await, ROWS.to_string());
        // the bar fills while the rows run, with counts and a time left beside it
        let mut seen: Vec<u64> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            assert!(Instant::now() < deadline, "the batch did not finish in 180 s: {seen:?}");
            let value: u64 = eval_str(&page, &format!("String({bar}.value)")).await.parse().unwrap();
            let text = eval_str(&page, &format!("document.querySelector(\"{row}\").innerText")).await;
            if seen.last() != Some(&value) {
                seen.push(value);
            }
            if text.contains("finished") {
                assert_eq!(value, ROWS, "{text}");
                assert!(
                    text.contains(&format!("{ROWS} done · 0 failed · {ROWS} total")),
                    "{text}"
                );
                break;
            }
            if value > 0 && value < ROWS {
                assert!(text.contains(" done · 0 failed · 20000 total"), "{text}");
                assert!(!text.contains("unknown"), "a time left while running: {text}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (session.finish().await, seen, v["id"].as_str().unwrap().to_string())
    });
    assert!(errors.is_empty(), "the console logged errors: {errors:#?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "the bar went back: {seen:?}");
    assert!(
        seen.iter().filter(|&&v| v > 0 && v < ROWS).count() >= 2,
        "seen filling: {seen:?}"
    );
    let (_, _, batches) = api.get("/console/api/batches").unwrap();
    let b = &batches["batches"][0];
    assert_eq!((&b["done"], &b["finished"]), (&json!(ROWS), &json!(true)), "{batches}");
    api.wait_until(
        &format!("/v1/instances/{id}"),
        Duration::from_secs(60),
        state_is("completed"),
    );
}
