//! The `servicetask` binary as a user runs it: real processes, real files, exit codes.

use std::path::Path;
use std::process::{Command, Output};

use servicetask_test_support::output::{clean_command, run, stderr, stdout};

/// `servicetask ARGS` in `cwd`, without the developer's telemetry or servicetask settings.
fn servicetask(args: &[&str], cwd: &Path) -> Output {
    run(clean_command(env!("CARGO_BIN_EXE_servicetask"))
        .args(args)
        .current_dir(cwd))
}

#[test]
fn demo_runs_the_bundled_pipeline_and_explains_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = servicetask(&["demo", "--dir", "d", "--files", "4", "--rows", "120"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    // The span tree: the process span with the task spans under it.
    assert!(text.contains("file_pipeline"), "{text}");
    assert!(text.contains("├─ generate_samples"), "{text}");
    assert!(
        text.contains("bpmn error QUALITY_LOW"),
        "the error boundary path ran: {text}"
    );
    assert!(
        text.contains("publish_report") && text.contains("2 attempts"),
        "the retry shows: {text}"
    );
    assert!(text.contains("Files touched:"), "{text}");
    assert!(text.contains("Retries: 1"), "{text}");
    assert!(text.contains("completed"), "{text}");
    // Real files were produced.
    let d = dir.path().join("d");
    for f in [
        "dataset.csv",
        "quarantine.csv",
        "outbox/report.json",
        "processed/processed_sample_03.csv",
        "history.db",
    ] {
        assert!(d.join(f).exists(), "{f} missing");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("outbox/report.json")).unwrap()).unwrap();
    assert_eq!(report["review_required"], true);
    assert_eq!(report["lines_per_file"].as_array().map(Vec::len), Some(4));
}

#[test]
fn validate_names_file_line_column_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bpmn");
    std::fs::write(
        &bad,
        r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="nowhere"/>
  </process>
</definitions>
"#,
    )
    .unwrap();
    let out = servicetask(&["validate", "bad.bpmn"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("bad.bpmn:5:"), "file:line:column: {text}");
    assert!(text.contains("nowhere"), "{text}");
    assert!(text.contains("help"), "{text}");

    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("processes/file_pipeline.bpmn");
    let out = servicetask(&["validate", pipeline.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn run_with_stub_and_unknown_task_incident() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.bpmn"),
        r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <serviceTask id="t"><extensionElements><zeebe:taskDefinition type="send_invoice"/></extensionElements></serviceTask>
    <sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>
"#,
    )
    .unwrap();
    let out = servicetask(&["run", "p.bpmn", "--stub", "--var", "n=3"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("\"operation\":\"send_invoice\""), "{text}");
    assert!(text.contains("\"n\":3"), "{text}");

    let out = servicetask(&["run", "p.bpmn"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "an unknown task is an incident: {text}");
    assert!(text.contains("incident on t"), "{text}");
    assert!(text.contains("send_invoice"), "{text}");
    // a retry in the same binary cannot help: the hint says how to get the task in
    assert!(
        text.contains("build your own CLI") && !text.contains("--retry"),
        "{text}"
    );
}

#[test]
fn user_task_waits_then_completes_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("approve.bpmn"),
        r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="approval" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>
    <userTask id="approve" name="Approve"/>
    <sequenceFlow id="f2" sourceRef="approve" targetRef="gw"/>
    <exclusiveGateway id="gw" default="no"/>
    <sequenceFlow id="yes" sourceRef="gw" targetRef="ok"><conditionExpression>approved == True</conditionExpression></sequenceFlow>
    <sequenceFlow id="no" sourceRef="gw" targetRef="rejected"/>
    <endEvent id="ok"/>
    <endEvent id="rejected"/>
  </process>
</definitions>
"#,
    )
    .unwrap();
    let out = servicetask(&["run", "approve.bpmn"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "waiting: {text}{}", stderr(&out));
    let line = text
        .lines()
        .find(|l| l.contains("servicetask complete"))
        .expect("a hint how to continue");
    let instance = line
        .split("servicetask complete ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();

    let out = servicetask(&["instances"], dir.path());
    assert!(stdout(&out).contains(instance));

    let out = servicetask(&["complete", instance, "approve", "--var", "approved=true"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("\"approved\":true"), "{text}");
}

#[test]
fn schema_and_help_teach() {
    let dir = tempfile::tempdir().unwrap();
    let out = servicetask(&["schema", "file_processing"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "file_processing");
    assert!(v["input"]["properties"]["input_files"].is_object());
    let out = servicetask(&["--help"], dir.path());
    let text = stdout(&out);
    assert!(
        text.contains("demo") && text.contains("validate") && text.contains("Start here"),
        "{text}"
    );
    let out = servicetask(&["schema", "nope"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("registered:"));
}

#[test]
fn report_reads_the_history_and_writes_html() {
    let dir = tempfile::tempdir().unwrap();
    let out = servicetask(&["demo", "--dir", "d", "--files", "3", "--rows", "50"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = servicetask(&["report", "--db", "d/history.db", "--html", "r.html"], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("file_processing") && text.contains("p95"), "{text}");
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("<svg"), "the page has charts");
    assert!(!html.contains("<script src"), "the page is self-contained");
    let out = servicetask(
        &["report", "--db", "d/history.db", "--task", "quality_check"],
        dir.path(),
    );
    assert!(stdout(&out).contains("quality_check"));
    assert!(!stdout(&out).contains("== file_processing"));
    let out = servicetask(&["report", "--db", "missing.db"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("servicetask demo"));
}

#[test]
#[ignore = "needs ../shared (run by .ci/run)"]
fn conformance_command_runs_the_shared_suite() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bpmn");
    assert!(
        suite.is_dir(),
        "../shared/conformance/bpmn must sit beside the repository"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = servicetask(&["conformance", suite.to_str().unwrap()], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("conformance: 17 of 17 cases pass"), "{text}");
}

/// `run --clock virtual`: a timer path runs without waiting (an event-based gateway whose
/// message never comes takes its PT30S timer at once); the default wall clock saves the
/// instance as waiting instead.
#[test]
fn run_on_a_virtual_clock_lets_the_timer_win_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/data/event_gateway.bpmn");
    let file = file.to_str().unwrap();
    let o = servicetask(&["run", file, "--stub", "--clock", "virtual"], dir.path());
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("start -> gw -> too_late -> end_late"),
        "{}",
        stdout(&o)
    );
    let o = servicetask(&["run", file, "--stub"], dir.path());
    assert!(stdout(&o).contains("is waiting"), "{}", stdout(&o));
}

/// `servicetask schema | head`: the reader goes away; the command ends quietly (killed by
/// SIGPIPE, or done) instead of panicking in `println!`.
#[test]
fn output_into_a_closed_pipe_does_not_panic() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    for args in [&["schema"][..], &["--help"][..], &["tasks"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_servicetask"))
            .args(args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first write
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(status.code(), Some(101), "{args:?}: {err}");
    }
}

/// The demo writes into the temporary folder by default (nothing in the folder it runs from)
/// and says where its history is and how to report on it; `report` finds it there.
#[test]
fn the_demo_leaves_the_current_folder_alone_and_report_finds_its_history() {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let with_tmpdir = |args: &[&str]| {
        run(clean_command(env!("CARGO_BIN_EXE_servicetask"))
            .args(args)
            .current_dir(cwd.path())
            .env("TMPDIR", tmp.path()))
    };
    let out = with_tmpdir(&["demo", "--files", "2", "--rows", "40"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let history = tmp.path().canonicalize().unwrap().join("servicetask-demo/history.db");
    assert!(history.exists(), "{text}");
    assert!(
        text.contains(&format!("servicetask report --db {}", history.display())),
        "{text}"
    );
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(left.is_empty(), "the demo wrote into the current folder: {left:?}");
    let out = with_tmpdir(&["report"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("generate_samples"), "{}", stdout(&out));
}

#[test]
fn serve_refuses_a_zero_lease_or_poll_interval() {
    // a zero lease would make the heartbeat interval zero (a tokio panic in every job) and every
    // job re-acquirable at once; a zero poll interval would spin
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--lease-ms", "--poll-ms"] {
        let out = servicetask(&["serve", flag, "0"], dir.path());
        assert_eq!(out.status.code(), Some(2), "{flag} 0: {}", stderr(&out));
        assert!(stderr(&out).contains(flag), "{flag} 0: {}", stderr(&out));
    }
}
