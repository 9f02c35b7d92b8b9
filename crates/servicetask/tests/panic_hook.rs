//! The redacting panic hook in a real process: a child process (this test binary, run again)
//! installs it and runs a task that panics with its input; the parent reads the child's stderr.
//! The default hook would print the input there.

use servicetask::{service_task, Runner, TaskContext, TaskError, TaskOutcome};

const CANARY: &str = "CaNaRyPan1c";
const CHILD: &str = "SERVICETASK_PANIC_HOOK_CHILD";

#[service_task(name = "leaky")]
async fn leaky(_cx: &TaskContext, secret: String) -> Result<u32, TaskError> {
    let parsed: Result<u32, String> = std::hint::black_box(Err(format!("cannot parse {secret}")));
    Ok(parsed.unwrap())
}

#[test]
fn a_task_panic_reaches_stderr_as_its_kind_without_its_message() {
    if std::env::var_os(CHILD).is_some() {
        servicetask::panic::install_redacting_hook();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let out = rt.block_on(async {
            let runner = Runner::builder().build();
            runner.register(LeakyTask).unwrap().run(CANARY.to_string()).await
        });
        let TaskOutcome::Failure { error, .. } = out else {
            panic!("expected a failure")
        };
        eprintln!("recorded: {}", error.message());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_task_panic_reaches_stderr_as_its_kind_without_its_message",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("unwrap of an Err (message withheld"), "{stderr}");
    assert!(stderr.contains("recorded: task panicked: unwrap of an Err"), "{stderr}");
    assert!(
        !stderr.contains(CANARY) && !stdout.contains(CANARY),
        "{stdout}\n{stderr}"
    );
}
