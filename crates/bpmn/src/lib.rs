//! servicetask-bpmn: reads BPMN 2.0 files into a checked model, and evaluates their expressions.
//!
//! Parsing goes `bytes -> decode (declared encoding) -> XML (namespace-aware, with positions) ->
//! model -> validate`. Like rust-analyzer's parser, it never fails: [`parse`] returns the model
//! *and* every [`Diagnostic`] found, each with file, line, column, message and a `help:` fix.
//!
//! - [`Definitions`] / [`Process`] / [`FlowElement`]: the model, one flat element list per
//!   process (nested elements name their subprocess in [`FlowElement::parent`]).
//! - [`TaskBinding`]: how a service-like task is bound to a registered task (Zeebe, Camunda 7,
//!   Flowable, SpiffWorkflow, `implementation`, else the element id).
//! - [`expr`]: the expression language of conditions, mappings and scripts.
//!
//! ```
//! let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
//!   <process id="p"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/>
//!   <endEvent id="e"/></process></definitions>"#;
//! let (defs, diags) = servicetask_bpmn::parse("demo.bpmn", xml);
//! assert!(diags.iter().all(|d| !d.is_error()));
//! assert_eq!(defs.processes[0].elements.len(), 2);
//! ```
//!
//! **Architecture Invariant:** this crate knows nothing of OpenTelemetry, tokio or the CLI.

mod associations;
mod binding;
pub mod di;
mod diagnostic;
mod encoding;
pub mod expr;
mod functions;
mod limits;
mod line_index;
mod model;
mod parse;
pub mod timer;
mod validate;

pub use diagnostic::{Diagnostic, Severity};
pub use encoding::{declared_encoding, decode, DecodeError};
pub use limits::Limits;
pub use model::*;
pub use parse::BPMN_NS;
pub use validate::{missing_called_processes, validate, validate_in, validate_with, MAX_NESTING};

use std::path::Path;

/// Parses and validates one BPMN file's bytes. `file` names it in diagnostics.
pub fn parse(file: &str, bytes: &[u8]) -> (Definitions, Vec<Diagnostic>) {
    parse_with(file, bytes, &Limits::default())
}

/// Parses and validates one BPMN file's bytes within `limits` (file size, nesting, and what
/// `validate_with` checks).
pub fn parse_with(file: &str, bytes: &[u8], limits: &Limits) -> (Definitions, Vec<Diagnostic>) {
    parse_in(file, bytes, limits, &expr::Functions::new())
}

/// Parses and validates as [`parse_with`] does, where the host's registered `functions` are
/// functions of the expression language ([`validate_in`]).
pub fn parse_in(
    file: &str,
    bytes: &[u8],
    limits: &Limits,
    functions: &expr::Functions,
) -> (Definitions, Vec<Diagnostic>) {
    let (defs, mut diags) = parse::parse_only(file, bytes, limits);
    if !diags
        .iter()
        .any(|d| d.is_error() && d.message.starts_with("invalid XML") || d.message.starts_with("cannot decode"))
    {
        diags.extend(validate_in(&defs, limits, functions));
    }
    diags.sort_by_key(|d| (d.position.line, d.position.column));
    (defs, diags)
}

/// A file that could not be read or has errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has error diagnostics (warnings are included too).
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// Reads, parses and validates a file; warnings are returned beside the model.
pub fn parse_file(path: &Path) -> Result<(Definitions, Vec<Diagnostic>), LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse(&path.display().to_string(), &bytes))
}

/// Reads a file and fails if it has any error diagnostic.
pub fn load_file(path: &Path) -> Result<Definitions, LoadError> {
    load_file_in(path, &Limits::default(), &expr::Functions::new())
}

/// Reads a file as [`load_file`] does, within `limits`, where the host's registered
/// `functions` are functions of the expression language ([`validate_in`]).
pub fn load_file_in(path: &Path, limits: &Limits, functions: &expr::Functions) -> Result<Definitions, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let (defs, diags) = parse_in(&path.display().to_string(), &bytes, limits, functions);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(LoadError::Invalid(diags));
    }
    Ok(defs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utf16_files_parse_end_to_end() {
        let text = r#"<?xml version="1.0" encoding="UTF-16"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><startEvent id="s" name="Début"/></process></definitions>"#;
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let (defs, diags) = super::parse("u16.bpmn", &bytes);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        assert_eq!(defs.processes[0].elements[0].name.as_deref(), Some("Début"));
    }
}
