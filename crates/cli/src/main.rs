//! The `servicetask` command. Parses flags (`flags`), runs one command (`commands`), and maps
//! errors to exit codes: 0 ok, 1 process failed or incident, 2 invalid input, 3 waiting.

mod capture;
mod commands;
mod flags;
mod progress;
mod session;
mod summary;
mod vars;

use clap::Parser;
use flags::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(commands::exit::PROCESS_FAILED);
        }
    };
    let result = match &cli.command {
        // The conformance runner drives its own paused-clock runtime per case.
        Command::Conformance(a) => commands::conformance::run(a),
        _ => rt.block_on(async {
            match &cli.command {
                Command::Demo(a) => commands::demo::run(a).await,
                Command::Run(a) => commands::run::run(a).await,
                Command::Validate(a) => commands::validate::run(a),
                Command::Complete(a) => commands::instances::complete(a).await,
                Command::Instances(a) => commands::instances::list(a),
                Command::Conformance(_) => unreachable!("handled above"),
                Command::Schema(a) => commands::schema::schema(a),
                Command::Report(a) => commands::report::run(a),
                Command::Tasks => commands::schema::tasks(),
            }
        }),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(commands::exit::INVALID);
        }
    }
}
