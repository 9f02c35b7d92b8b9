//! `servicetask test FILE.toml...`: runs process-test scenario files (see [`crate::scenario`])
//! and prints each scenario's verdict with every difference; exits 1 when any fails.

use servicetask::{Runner, Telemetry};

use super::exit;
use crate::flags::TestArgs;
use crate::scenario::{self, ScenarioFile};
use crate::Tasks;

/// Runs the command.
pub async fn run(args: &TestArgs, tasks: &Tasks) -> anyhow::Result<i32> {
    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &args.files {
        let file = ScenarioFile::load(path)?;
        let defs = scenario::load(&file.process)?;
        for s in &file.scenarios {
            if args.only.as_deref().is_some_and(|o| !s.name.contains(o)) {
                continue;
            }
            // a runner per scenario: breakers and budgets start fresh, as in a new process
            let runner = Runner::builder().telemetry(Telemetry::disabled()).build();
            tasks.register_into(&runner)?;
            let observed = s.run(&defs, Vec::new(), runner).await?;
            let diffs = s.expect.differences(&observed);
            if diffs.is_empty() {
                passed += 1;
                println!("ok     {}: {}", path.display(), s.name);
            } else {
                failed += 1;
                println!("FAILED {}: {}", path.display(), s.name);
                for d in diffs {
                    println!("  {d}");
                }
                println!("  (path: {})", observed.path.join(" -> "));
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 { exit::OK } else { exit::PROCESS_FAILED })
}
