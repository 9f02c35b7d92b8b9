//! [`Listening`]: a real child process whose first line on stdout is `listening on ADDR`
//! (what `servicetask serve` prints once it accepts connections), stopped with a signal or
//! killed when dropped, so a failing test leaves no process behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};

/// A running process that said where it listens.
pub struct Listening {
    /// The process.
    pub child: Child,
    /// What followed `listening on ` (for `serve`: `http://127.0.0.1:PORT`).
    pub base: String,
}

impl Listening {
    /// Starts `command` with stdout piped (stderr goes to the test's) and waits until its first
    /// line says where it listens; panics with that line when it says anything else.
    pub fn spawn(mut command: Command) -> Listening {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Listening { child, base }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`, ...) with kill(1); panics when it fails.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{signal} {}", self.pid());
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal("TERM");
        self.child.wait().expect("wait")
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.kill9();
    }
}
