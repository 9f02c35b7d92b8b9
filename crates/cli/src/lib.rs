//! The `servicetask` command as a library: your own binary is the whole CLI (`run`, `validate`,
//! `test`, `report`, `schema`, `tasks`, ...) with your tasks registered.
//!
//! ```no_run
//! fn register(runner: &servicetask::Runner) -> Result<(), servicetask::ConfigError> {
//!     // runner.register(EnrichCsvTask)?;
//!     Ok(())
//! }
//!
//! fn main() {
//!     servicetask_cli::Cli::new().tasks(register).run()
//! }
//! ```
//!
//! Parts: [`flags`] (argv, typed), [`commands`] (one module per subcommand, each returning an
//! exit code), [`session`] (telemetry, history and a runner with the tasks), [`mock`] and
//! [`scenario`] (process tests, also usable from `cargo test`). A new subcommand is a variant in
//! [`flags::Command`], a module in [`commands`], and one arm in [`Cli::run_with`].

mod capture;
pub mod commands;
pub mod flags;
pub mod mock;
mod output;
mod progress;
pub mod scenario;
pub mod session;
mod summary;
mod vars;

use std::ffi::OsString;
use std::sync::Arc;

use clap::Parser;
use servicetask::{ConfigError, Runner};

use flags::{Command, Flags};

/// A function that registers tasks on a runner.
type Register = Arc<dyn Fn(&Runner) -> Result<(), ConfigError> + Send + Sync>;

/// The tasks a CLI (or a process test) registers on every runner it builds.
#[derive(Clone, Default)]
pub struct Tasks {
    registers: Vec<Register>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("registers", &self.registers.len())
            .finish()
    }
}

impl Tasks {
    /// No tasks.
    pub fn new() -> Self {
        Tasks::default()
    }

    /// Adds a registration function (`|runner| { runner.register(MyTask)?; Ok(()) }`).
    pub fn with(mut self, register: impl Fn(&Runner) -> Result<(), ConfigError> + Send + Sync + 'static) -> Self {
        self.registers.push(Arc::new(register));
        self
    }

    /// Registers every task on `runner`, then checks the configuration against them (an
    /// unknown task in `servicetask.toml` or a variable is an error here).
    pub fn register_into(&self, runner: &Runner) -> anyhow::Result<()> {
        for register in &self.registers {
            register(runner).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        runner.check_config().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// The `servicetask` command line with your tasks.
#[derive(Debug, Clone, Default)]
pub struct Cli {
    tasks: Tasks,
}

impl Cli {
    /// A CLI with no tasks of its own.
    pub fn new() -> Self {
        Cli::default()
    }

    /// Registers tasks with `register` on every runner the CLI builds.
    pub fn tasks(mut self, register: impl Fn(&Runner) -> Result<(), ConfigError> + Send + Sync + 'static) -> Self {
        self.tasks = self.tasks.with(register);
        self
    }

    /// Parses the process's arguments, runs the command and exits with its code.
    pub fn run(self) -> ! {
        output::die_quietly_on_broken_pipe();
        // a task's panic message may hold its input: stderr gets the location and kind only
        servicetask::panic::install_redacting_hook();
        let code = self.run_with(std::env::args_os());
        std::process::exit(code)
    }

    /// Runs the command `args` (the first is the program name) and returns the exit code: 0 ok,
    /// 1 process failed or incident, 2 invalid input, 3 waiting.
    pub fn run_with<I, T>(self, args: I) -> i32
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let flags = match Flags::try_parse_from(args) {
            Ok(f) => f,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    commands::exit::INVALID
                } else {
                    commands::exit::OK
                };
            }
        };
        let tasks = &self.tasks;
        let result = match &flags.command {
            // The conformance runner drives its own paused-clock runtime per case.
            Command::Conformance(a) => commands::conformance::run(a),
            command => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
                Ok(rt) => rt.block_on(async {
                    match command {
                        Command::Demo(a) => commands::demo::run(a, tasks).await,
                        Command::Run(a) => commands::run::run(a, tasks).await,
                        Command::Test(a) => commands::test::run(a, tasks).await,
                        Command::Validate(a) => commands::validate::run(a),
                        Command::Complete(a) => commands::instances::complete(a, tasks).await,
                        Command::Instances(a) => commands::instances::list(a),
                        Command::Schema(a) => commands::schema::schema(a, tasks),
                        Command::Report(a) => commands::report::run(a),
                        Command::Tasks => commands::schema::tasks(tasks),
                        Command::Serve(a) => commands::serve::run(a, tasks).await,
                        Command::Conformance(_) => unreachable!("handled above"),
                    }
                }),
            },
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                commands::exit::INVALID
            }
        }
    }
}
