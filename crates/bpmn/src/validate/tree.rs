//! A process's elements indexed by id and container, built once per process, and the small
//! position helpers the checks share.

use crate::model::*;
use std::collections::{HashMap, HashSet};

/// A process's elements by id and by container, built once per process so that checks made
/// per element look up instead of scanning (a model of 16,000 subprocesses stays linear).
pub(super) struct Tree<'p> {
    by_id: HashMap<&'p str, &'p FlowElement>,
    by_container: HashMap<Option<&'p str>, Vec<&'p FlowElement>>,
    /// (container, link name) of every link catch event.
    pub(super) link_catches: HashSet<(Option<&'p str>, Option<&'p str>)>,
}

impl<'p> Tree<'p> {
    pub(super) fn new(p: &'p Process) -> Self {
        let mut by_container: HashMap<Option<&str>, Vec<&FlowElement>> = HashMap::new();
        for e in &p.elements {
            by_container.entry(e.parent.as_deref()).or_default().push(e);
        }
        let link_catches = p
            .elements
            .iter()
            .filter(|c| c.kind == ElementKind::IntermediateCatchEvent)
            .filter_map(|c| match &c.event {
                Some(EventDefinition::Link { name }) => Some((c.parent.as_deref(), name.as_deref())),
                _ => None,
            })
            .collect();
        Tree {
            by_id: p.elements.iter().rev().map(|e| (e.id.as_str(), e)).collect(),
            by_container,
            link_catches,
        }
    }

    /// The element with this id (the first, as [`Process::element`]).
    pub(super) fn element(&self, id: &str) -> Option<&'p FlowElement> {
        self.by_id.get(id).copied()
    }

    /// The elements directly inside `container` (`None`: the process level).
    pub(super) fn children(&self, container: Option<&'p str>) -> impl Iterator<Item = &'p FlowElement> + '_ {
        self.by_container.get(&container).into_iter().flatten().copied()
    }
}

/// True when the engine can start a (sub)process at `e`: a start event of any kind (not an
/// event subprocess's), else an element with no incoming flow (not a boundary event, an event
/// subprocess or a link catch), as the engine chooses its start elements.
pub(super) fn can_start(e: &FlowElement) -> bool {
    if e.triggered_by_event {
        return false;
    }
    e.kind == ElementKind::StartEvent
        || (e.incoming.is_empty()
            && e.kind != ElementKind::BoundaryEvent
            && !matches!(e.event, Some(EventDefinition::Link { .. })))
}

pub(super) fn script_line_position(s: &ScriptDef, message: &str) -> Position {
    // messages start with "script line N:"; the script text starts right after the <script> tag
    let line = message
        .strip_prefix("script line ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    Position {
        line: s.position.line + line.saturating_sub(1),
        column: if line == 1 { s.position.column } else { 1 },
    }
}
