//! A simple left-to-right layout for a process whose file has no diagram interchange: each
//! element of the process level goes in the column of its longest path from a start (back
//! edges of loops ignored), in the row of its first predecessor when free; boundary events sit
//! on their activity's lower edge. Subprocesses are drawn collapsed. The result is a
//! [`Diagram`] like one read from a file, so one drawing code serves both.

use std::collections::{HashMap, HashSet};

use servicetask_bpmn::di::{Bounds, Diagram, Edge, Shape};
use servicetask_bpmn::{ElementKind, Process};

const COLUMN: f64 = 150.0;
const ROW: f64 = 120.0;
const MARGIN: f64 = 40.0;

/// The size an element is drawn at.
pub fn size_of(kind: &ElementKind) -> (f64, f64) {
    use ElementKind::*;
    match kind {
        StartEvent | EndEvent | IntermediateCatchEvent | IntermediateThrowEvent | BoundaryEvent => (36.0, 36.0),
        ExclusiveGateway | InclusiveGateway | ParallelGateway | EventBasedGateway | ComplexGateway => (50.0, 50.0),
        _ => (100.0, 80.0),
    }
}

/// Lays out the process level of `process`.
pub fn auto_layout(process: &Process) -> Diagram {
    let nodes: Vec<_> = process
        .children(None)
        .filter(|e| e.kind != ElementKind::BoundaryEvent)
        .collect();
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
    // boundary events stand for their activity in the graph
    let host: HashMap<&str, &str> = process
        .children(None)
        .filter_map(|e| Some((e.id.as_str(), e.attached_to.as_deref()?)))
        .collect();
    let node_of = |id: &str| index.get(host.get(id).copied().unwrap_or(id)).copied();
    let flows: Vec<(usize, usize, &str)> = process
        .flows
        .iter()
        .filter(|f| f.parent.is_none())
        .filter_map(|f| Some((node_of(&f.source)?, node_of(&f.target)?, f.id.as_str())))
        .collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (s, t, _) in &flows {
        out[*s].push(*t);
    }
    let back = back_edges(&out, &nodes.iter().map(|e| e.incoming.is_empty()).collect::<Vec<_>>());
    // longest path columns over the acyclic rest, in a topological order (Kahn)
    let mut indegree = vec![0usize; nodes.len()];
    for (s, t, _) in &flows {
        if !back.contains(&(*s, *t)) {
            indegree[*t] += 1;
        }
    }
    let mut column = vec![0usize; nodes.len()];
    let mut ready: Vec<usize> = (0..nodes.len()).filter(|i| indegree[*i] == 0).rev().collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(n) = ready.pop() {
        order.push(n);
        for &t in out[n].iter().rev() {
            if back.contains(&(n, t)) {
                continue;
            }
            column[t] = column[t].max(column[n] + 1);
            indegree[t] -= 1;
            if indegree[t] == 0 {
                ready.push(t);
            }
        }
    }
    // rows: the first predecessor's row when free, else the next free one in the column
    let mut row = vec![usize::MAX; nodes.len()];
    let mut taken: HashSet<(usize, usize)> = HashSet::new();
    let mut next_root_row = 0;
    for &n in &order {
        let wanted = flows
            .iter()
            .find(|(s, t, _)| *t == n && row[*s] != usize::MAX && !back.contains(&(*s, *t)))
            .map(|(s, _, _)| row[*s])
            .unwrap_or(next_root_row);
        let mut r = wanted;
        while taken.contains(&(column[n], r)) {
            r += 1;
        }
        taken.insert((column[n], r));
        row[n] = r;
        if indegree_zero(&flows, n) {
            next_root_row = next_root_row.max(r + 1);
        }
    }
    let mut d = Diagram {
        plane_element: Some(process.id.clone()),
        ..Diagram::default()
    };
    let centre = |n: usize| {
        let r = if row[n] == usize::MAX { 0 } else { row[n] };
        (
            MARGIN + column[n] as f64 * COLUMN + 50.0,
            MARGIN + r as f64 * ROW + 40.0,
        )
    };
    let mut boxes: HashMap<&str, Bounds> = HashMap::new();
    for (i, e) in nodes.iter().enumerate() {
        let (w, h) = size_of(&e.kind);
        let (cx, cy) = centre(i);
        let b = Bounds {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            width: w,
            height: h,
        };
        boxes.insert(e.id.as_str(), b);
        d.shapes.push(Shape {
            element: e.id.clone(),
            bounds: b,
            label: None,
            expanded: Some(false),
        });
    }
    let mut on_host: HashMap<&str, usize> = HashMap::new();
    for (b, h) in &host {
        let Some(hb) = boxes.get(h).copied() else { continue };
        let k = on_host.entry(h).or_default();
        let bb = Bounds {
            x: hb.x + hb.width - 26.0 - 30.0 * *k as f64,
            y: hb.y + hb.height - 18.0,
            width: 36.0,
            height: 36.0,
        };
        *k += 1;
        boxes.insert(b, bb);
        d.shapes.push(Shape {
            element: b.to_string(),
            bounds: bb,
            label: None,
            expanded: None,
        });
    }
    for f in process.flows.iter().filter(|f| f.parent.is_none()) {
        let (Some(s), Some(t)) = (boxes.get(f.source.as_str()), boxes.get(f.target.as_str())) else {
            continue;
        };
        d.edges.push(Edge {
            element: f.id.clone(),
            waypoints: route(s, t, host.contains_key(f.source.as_str())),
            label: None,
        });
    }
    d
}

fn indegree_zero(flows: &[(usize, usize, &str)], n: usize) -> bool {
    !flows.iter().any(|(_, t, _)| *t == n)
}

/// Edges closing a cycle, found by depth-first search from the starts (then from any node
/// not reached).
fn back_edges(out: &[Vec<usize>], is_start: &[bool]) -> HashSet<(usize, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; out.len()];
    let mut back = HashSet::new();
    let roots = (0..out.len()).filter(|i| is_start[*i]).chain(0..out.len());
    for root in roots {
        if mark[root] != Mark::New {
            continue;
        }
        // an explicit stack: (node, next child index)
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Open;
        while let Some((n, i)) = stack.pop() {
            if let Some(&t) = out[n].get(i) {
                stack.push((n, i + 1));
                match mark[t] {
                    Mark::New => {
                        mark[t] = Mark::Open;
                        stack.push((t, 0));
                    }
                    Mark::Open => {
                        back.insert((n, t));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[n] = Mark::Done;
            }
        }
    }
    back
}

/// Right side to left side with one vertical segment between; from a boundary event,
/// down then across; backwards (a loop), under both.
fn route(s: &Bounds, t: &Bounds, from_boundary: bool) -> Vec<(f64, f64)> {
    let (scx, scy) = (s.x + s.width / 2.0, s.y + s.height / 2.0);
    let (tcx, tcy) = (t.x + t.width / 2.0, t.y + t.height / 2.0);
    if from_boundary {
        return vec![(scx, s.y + s.height), (scx, tcy), (t.x, tcy)];
    }
    if t.x >= s.x + s.width {
        let (sx, tx) = (s.x + s.width, t.x);
        if (scy - tcy).abs() < 0.5 {
            return vec![(sx, scy), (tx, tcy)];
        }
        let mx = (sx + tx) / 2.0;
        return vec![(sx, scy), (mx, scy), (mx, tcy), (tx, tcy)];
    }
    let below = (s.y + s.height).max(t.y + t.height) + 25.0;
    vec![(scx, s.y + s.height), (scx, below), (tcx, below), (tcx, t.y + t.height)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(xml: &str) -> Process {
        let doc = format!(
            r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">{xml}</process></definitions>"#
        );
        let (defs, _) = servicetask_bpmn::parse("t.bpmn", doc.as_bytes());
        defs.processes.into_iter().next().unwrap()
    }

    #[test]
    fn columns_follow_the_longest_path_and_a_loop_does_not_break_it() {
        let p = process(
            r#"<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
            <task id="a"/><sequenceFlow id="f2" sourceRef="a" targetRef="g"/>
            <exclusiveGateway id="g"/><sequenceFlow id="f3" sourceRef="g" targetRef="a"/>
            <sequenceFlow id="f4" sourceRef="g" targetRef="e"/><sequenceFlow id="f5" sourceRef="s" targetRef="e"/>
            <endEvent id="e"/>
            <boundaryEvent id="b" attachedToRef="a"><timerEventDefinition/></boundaryEvent>
            <sequenceFlow id="f6" sourceRef="b" targetRef="e2"/><endEvent id="e2"/>"#,
        );
        let d = auto_layout(&p);
        let x = |id: &str| d.shape(id).unwrap().bounds.x + d.shape(id).unwrap().bounds.width / 2.0;
        assert!(x("s") < x("a") && x("a") < x("g") && x("g") < x("e"));
        assert!(x("a") < x("e2"));
        // the boundary event sits on the lower edge of its task
        let (a, b) = (d.shape("a").unwrap().bounds, d.shape("b").unwrap().bounds);
        assert!(b.y < a.y + a.height && b.y + b.height > a.y + a.height);
        assert_eq!(d.edges.len(), 6);
        assert!(d.edges.iter().all(|e| e.waypoints.len() >= 2));
        // no two shapes overlap
        for (i, s) in d.shapes.iter().enumerate().filter(|(_, s)| s.element != "b") {
            for t in d.shapes[i + 1..].iter().filter(|t| t.element != "b") {
                let (p, q) = (s.bounds, t.bounds);
                let apart =
                    p.x + p.width <= q.x || q.x + q.width <= p.x || p.y + p.height <= q.y || q.y + q.height <= p.y;
                assert!(apart, "{} and {} overlap", s.element, t.element);
            }
        }
    }
}
