//! A program run to its end the way a user runs it: with none of the developer's own
//! telemetry or servicetask settings leaking in from the test's environment, and what it
//! wrote as text for assertions and their messages.

use std::process::{Command, Output};

/// The variables a developer's shell may hold that change what servicetask does, besides every
/// `OTEL_*` variable: where the execution history and the configuration are.
const SETTINGS: &[&str] = &["SERVICETASK_HISTORY", "SERVICETASK_CONFIG"];

/// `program` with every `OTEL_*` variable and the servicetask settings (`SERVICETASK_HISTORY`,
/// `SERVICETASK_CONFIG`) of the test's environment removed: set what the test needs on it.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("OTEL_")) {
            command.env_remove(name);
        }
    }
    for name in SETTINGS {
        command.env_remove(name);
    }
    command
}

/// Runs `command` to its end and returns what it wrote; panics, naming it, when it cannot start.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

/// What it wrote on stdout (invalid UTF-8 replaced).
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What it wrote on stderr (invalid UTF-8 replaced).
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both, stdout first, then stderr under a `--- stderr ---` line: what a failed assertion
/// shows.
pub fn text(o: &Output) -> String {
    format!("{}\n--- stderr ---\n{}", stdout(o), stderr(o))
}
