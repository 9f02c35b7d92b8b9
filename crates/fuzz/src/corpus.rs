//! The seed corpus, generated from the shared BPMN files (never copied into the repository):
//! one directory per target under the output directory, plus an AFL++ dictionary per target.
//!
//! - `parse` and `run`: every `.bpmn`, `.bpmn20.xml` and `.dmn` file, its diagram
//!   (`bpmndi:BPMNDiagram`, which the engine ignores) cut out so the seeds stay small.
//! - `validate`: each file's parsed model as JSON.
//! - `expr`: every expression text the parsed models hold (conditions, scripts, multi-instance
//!   fields, mappings, timers, error payloads), each once.

use servicetask_bpmn::{Definitions, EventDefinition, LoopCharacteristics};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::targets::Target;

/// The shared directories the seeds come from, relative to the shared root.
pub const SOURCES: [&str; 3] = ["conformance/bpmn", "conformance/spiff-corpus", "conformance/weavergen"];

/// How many seeds were written per target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CorpusCounts {
    /// `(target name, seeds)` in [`Target::ALL`] order.
    pub seeds: Vec<(&'static str, usize)>,
}

/// Finds the model files under `shared` (see [`SOURCES`]), sorted.
pub fn model_files(shared: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for dir in SOURCES {
        let dir = shared.join(dir);
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not a directory: the seed corpus needs ../shared", dir.display()),
            ));
        }
        collect(&dir, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if is_model(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_model(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.ends_with(".bpmn") || name.ends_with(".bpmn20.xml") || name.ends_with(".dmn")
}

/// Cuts the diagram interchange section out of a model file (it carries no semantics).
pub fn strip_diagram(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let (Some(start), Some(end)) = (text.find("<bpmndi:BPMNDiagram"), text.rfind("</bpmndi:BPMNDiagram>")) else {
        return bytes.to_vec();
    };
    if end < start {
        return bytes.to_vec();
    }
    let mut out = text[..start].to_string();
    out.push_str(&text[end + "</bpmndi:BPMNDiagram>".len()..]);
    out.into_bytes()
}

/// Every expression text a model holds.
pub fn expressions(defs: &Definitions) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: &Option<String>| {
        if let Some(s) = s.as_deref().filter(|s| !s.trim().is_empty()) {
            out.insert(s.to_string());
        }
    };
    for e in &defs.errors {
        add(&e.payload_expression);
    }
    for p in &defs.processes {
        for f in &p.flows {
            add(&f.condition);
        }
        for e in &p.elements {
            add(&e.script.as_ref().map(|s| s.text.clone()));
            add(&e.pre_script);
            add(&e.post_script);
            for m in e.input_mappings.iter().chain(&e.output_mappings) {
                add(&Some(m.source.clone()));
            }
            if let Some(b) = &e.binding {
                for m in b.input_mappings.iter().chain(&b.output_mappings) {
                    add(&Some(m.source.clone()));
                }
                for v in b.params.values() {
                    add(&Some(v.clone()));
                }
            }
            match &e.loop_characteristics {
                Some(LoopCharacteristics::MultiInstance(mi)) => {
                    add(&mi.cardinality);
                    add(&mi.input_collection);
                    add(&mi.completion_condition);
                }
                Some(LoopCharacteristics::Standard { condition, .. }) => add(condition),
                _ => {}
            }
            match &e.event {
                Some(EventDefinition::Timer { expression, .. }) => add(&Some(expression.clone())),
                Some(EventDefinition::Conditional { condition }) => add(condition),
                _ => {}
            }
        }
    }
    out
}

/// Writes the seed corpus for every target from the files under `shared` into `out`
/// (`out/<target>/`, `out/<target>.dict`), replacing what was there.
pub fn build(shared: &Path, out: &Path) -> io::Result<CorpusCounts> {
    let files = model_files(shared)?;
    let dirs: Vec<PathBuf> = Target::ALL.iter().map(|t| out.join(t.name())).collect();
    for dir in &dirs {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
    }
    let mut exprs = BTreeSet::new();
    let mut models = 0;
    for (i, path) in files.iter().enumerate() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("model");
        let seed = strip_diagram(&std::fs::read(path)?);
        let file = format!("{i:04}-{name}");
        std::fs::write(out.join("parse").join(&file), &seed)?;
        std::fs::write(out.join("run").join(&file), &seed)?;
        let (defs, _) = servicetask_bpmn::parse(name, &seed);
        if !defs.processes.is_empty() {
            let json = serde_json::to_vec(&defs).map_err(io::Error::other)?;
            std::fs::write(out.join("validate").join(format!("{i:04}.json")), json)?;
            models += 1;
        }
        exprs.extend(expressions(&defs));
    }
    for (i, e) in exprs.iter().enumerate() {
        std::fs::write(out.join("expr").join(format!("{i:04}")), e)?;
    }
    for t in Target::ALL {
        std::fs::write(out.join(format!("{}.dict", t.name())), dictionary(t))?;
    }
    Ok(CorpusCounts {
        seeds: vec![
            ("parse", files.len()),
            ("validate", models),
            ("expr", exprs.len()),
            ("run", files.len()),
        ],
    })
}

const XML_TOKENS: &[&str] = &[
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<!DOCTYPE",
    "<![CDATA[",
    "]]>",
    "&lt;",
    "&gt;",
    "&amp;",
    "&#x41;",
    "xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"",
    "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"",
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\"",
    "xmlns:camunda=\"http://camunda.org/schema/1.0/bpmn\"",
    "xmlns:spiffworkflow=\"http://spiffworkflow.org/bpmn/schema/1.0/core\"",
    "definitions",
    "process",
    "sequenceFlow",
    "conditionExpression",
    "sourceRef=\"",
    "targetRef=\"",
    "attachedToRef=\"",
    "calledElement=\"",
    "default=\"",
    "id=\"",
    "isExecutable=\"true\"",
    "triggeredByEvent=\"true\"",
    "cancelActivity=\"false\"",
    "isSequential=\"true\"",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "loopCardinality",
    "completionCondition",
    "loopDataInputRef",
    "inputDataItem",
    "timerEventDefinition",
    "timeDuration",
    "timeCycle",
    "timeDate",
    "errorEventDefinition",
    "messageEventDefinition",
    "signalEventDefinition",
    "escalationEventDefinition",
    "terminateEventDefinition",
    "errorRef=\"",
    "extensionElements",
    "zeebe:taskDefinition type=\"",
    "zeebe:ioMapping",
    "zeebe:input source=\"",
    "zeebe:output target=\"",
    "camunda:type=\"",
    "camunda:expression=\"",
    "spiffworkflow:serviceTaskOperator",
    "spiffworkflow:preScript",
    "spiffworkflow:postScript",
    "script",
    "PT1S",
    "R3/PT1S",
];

const EXPR_TOKENS: &[&str] = &[
    "==",
    "!=",
    "<=",
    ">=",
    "**",
    "//",
    "%",
    " and ",
    " or ",
    "not ",
    " in ",
    " not in ",
    " if ",
    " else ",
    "for ",
    "while ",
    "def ",
    "return ",
    "lambda ",
    "True",
    "False",
    "None",
    "null",
    "len(",
    "str(",
    "int(",
    "float(",
    "sum(",
    "range(",
    "sorted(",
    "list(",
    "dict(",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ":",
    ",",
    ".",
    "=",
    "+=",
    "\n",
    "    ",
    "'",
    "\"",
    "x",
    "i",
    "big",
    "small",
    "minus_one",
    "zero",
    "s",
    "d",
    "items",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "PT1S",
    "R/PT1S",
    "P1Y2M3DT4H5M6S",
    "2024-01-01T00:00:00Z",
];

fn dictionary(target: Target) -> String {
    let tokens: &[&str] = match target {
        Target::Parse | Target::Run => XML_TOKENS,
        Target::Expr => EXPR_TOKENS,
        Target::Validate => &[
            "\"kind\"",
            "\"parent\"",
            "\"attached_to\"",
            "\"elements\"",
            "\"flows\"",
            "null",
        ],
    };
    tokens.iter().map(|t| format!("\"{}\"\n", afl_escape(t))).collect()
}

/// A dictionary value as AFL++ reads it: printable ASCII as is, `"` and backslash escaped, other
/// bytes as `\xNN`.
fn afl_escape(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_read_back_as_written() {
        let path = std::env::temp_dir().join(format!("servicetask-fuzz-dict-{}", std::process::id()));
        std::fs::write(&path, dictionary(Target::Parse)).unwrap();
        let read = crate::smoke::read_dictionary(&path);
        let _ = std::fs::remove_file(&path);
        let written: Vec<Vec<u8>> = XML_TOKENS.iter().map(|t| t.as_bytes().to_vec()).collect();
        assert_eq!(read, written);
    }

    #[test]
    fn the_diagram_is_cut_and_the_rest_kept() {
        let doc =
            b"<definitions><process id=\"p\"/><bpmndi:BPMNDiagram id=\"d\"><x/></bpmndi:BPMNDiagram></definitions>";
        assert_eq!(strip_diagram(doc), b"<definitions><process id=\"p\"/></definitions>");
        assert_eq!(strip_diagram(b"<definitions/>"), b"<definitions/>");
    }
}
