//! Validation against what a run will have: the file's own checks
//! ([`servicetask_bpmn::validate`]) plus those that need the files around it (a called process
//! must be in the file, the library, or another BPMN file of its directory, which is where
//! `servicetask run` looks). A file this accepts does not fail a run for a static reason.

use servicetask_bpmn::{Definitions, Diagnostic, LoadError};
use std::collections::HashSet;
use std::path::Path;

/// Reads, parses and validates the BPMN file at `path` as a run would see it: `library`
/// (definitions given to the engine) and the BPMN files of the same directory
/// ([`crate::load_dir`]) provide the processes its call activities may call.
pub fn validate_file(path: &Path, library: &[Definitions]) -> Result<(Definitions, Vec<Diagnostic>), LoadError> {
    let (defs, mut diags) = servicetask_bpmn::parse_file(path)?;
    let mut known: HashSet<String> = library
        .iter()
        .flat_map(|d| d.processes.iter().map(|p| p.id.clone()))
        .collect();
    let calls_elsewhere = defs.processes.iter().any(|p| {
        p.elements
            .iter()
            .filter_map(|e| e.called_element.as_deref())
            .any(|c| defs.process(c).is_none() && !known.contains(c))
    });
    if calls_elsewhere {
        if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
            // files with errors of their own provide nothing (as for a run)
            if let Ok((siblings, _)) = crate::load_dir(dir) {
                known.extend(siblings.iter().flat_map(|d| d.processes.iter().map(|p| p.id.clone())));
            }
        }
    }
    diags.extend(servicetask_bpmn::missing_called_processes(&defs, |c| known.contains(c)));
    Ok((defs, diags))
}
