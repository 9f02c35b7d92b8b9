//! `servicetask validate`: every problem of every file, as file:line:column with a fix.

use super::exit;
use crate::flags::ValidateArgs;

/// Runs the command.
pub fn run(args: &ValidateArgs) -> anyhow::Result<i32> {
    let mut errors = 0;
    let mut warnings = 0;
    for file in &args.files {
        match servicetask_engine::validate_file(file, &[]) {
            Ok((defs, mut diags)) => {
                // the file's own checks and its called processes (this file or its directory)
                diags.sort_by_key(|d| (d.position.line, d.position.column));
                for d in &diags {
                    println!("{d}");
                    if d.is_error() {
                        errors += 1;
                    } else {
                        warnings += 1;
                    }
                }
                if diags.iter().all(|d| !d.is_error()) {
                    let n = defs.processes.len();
                    println!("{}: ok ({n} process{})", file.display(), if n == 1 { "" } else { "es" });
                }
            }
            Err(e) => {
                println!("{}: error: {e}", file.display());
                errors += 1;
            }
        }
    }
    println!("{errors} error(s), {warnings} warning(s)");
    Ok(if errors > 0 { exit::INVALID } else { exit::OK })
}
