//! Draws a BPMN diagram as SVG: events as circles, gateways as diamonds with their marker,
//! activities as rounded boxes with their type, sequence flows as arrows along their
//! waypoints, pools and lanes as framed bands. Every flow element is a `<g>` carrying
//! `data-element` (and flows `data-source` / `data-target`), so the page marks the completed
//! path and the active elements by class without redrawing. Every name is XML-escaped.

use std::collections::HashMap;
use std::fmt::Write as _;

use servicetask_bpmn::di::{Bounds, Diagram};
use servicetask_bpmn::{Definitions, ElementKind, FlowElement, SequenceFlow};

/// Room around the drawing: above and below, and to the sides, where the names written under
/// events and gateways (up to 120 units wide) may reach past their shapes.
const PAD: f64 = 20.0;
const SIDE_PAD: f64 = 50.0;

/// The SVG of `diagram`, with kinds and names from `defs`.
pub fn draw(defs: &Definitions, diagram: &Diagram) -> String {
    let elements: HashMap<&str, &FlowElement> = defs
        .processes
        .iter()
        .flat_map(|p| &p.elements)
        .map(|e| (e.id.as_str(), e))
        .collect();
    let flows: HashMap<&str, &SequenceFlow> = defs
        .processes
        .iter()
        .flat_map(|p| &p.flows)
        .map(|f| (f.id.as_str(), f))
        .collect();
    let pools: HashMap<&str, Option<&str>> = defs
        .collaborations
        .iter()
        .flat_map(|c| &c.participants)
        .map(|p| (p.id.as_str(), p.name.as_deref()))
        .collect();
    let ext = diagram.extent().unwrap_or(Bounds {
        x: 0.0,
        y: 0.0,
        width: 100.0,
        height: 40.0,
    });
    let (x0, y0) = (ext.x - SIDE_PAD, ext.y - PAD);
    let (w, h) = (ext.width + 2.0 * SIDE_PAD, ext.height + 2.0 * PAD);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="bpmn" viewBox="{x0:.1} {y0:.1} {w:.1} {h:.1}" width="{w:.0}" height="{h:.0}" role="img" aria-label="process diagram">"#
    );
    s.push_str(r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="arrowhead"/></marker></defs>"#);
    // pools, lanes and expanded subprocesses first, so what is inside them is drawn over them
    let (containers, rest): (Vec<_>, Vec<_>) =
        diagram
            .shapes
            .iter()
            .partition(|sh| match elements.get(sh.element.as_str()) {
                Some(e) => is_container(&e.kind) && sh.expanded == Some(true),
                None => true,
            });
    for sh in containers {
        let b = sh.bounds;
        match elements.get(sh.element.as_str()) {
            Some(e) => {
                let _ = write!(
                    s,
                    r#"<g class="el {}" data-element="{}">"#,
                    class_of(&e.kind),
                    esc(&e.id)
                );
                let _ = write!(
                    s,
                    r#"<rect class="shape" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="10"/>"#,
                    b.x, b.y, b.width, b.height
                );
                text_lines(&mut s, label(e), b.x + b.width / 2.0, b.y + 16.0, b.width - 10.0);
                s.push_str("</g>");
            }
            None => {
                let name = pools.get(sh.element.as_str()).copied().flatten().unwrap_or("");
                let _ = write!(
                    s,
                    r#"<g class="pool" data-shape="{}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/>"#,
                    esc(&sh.element),
                    b.x,
                    b.y,
                    b.width,
                    b.height
                );
                if !name.is_empty() {
                    let (cx, cy) = (b.x + 15.0, b.y + b.height / 2.0);
                    let _ = write!(
                        s,
                        r#"<text x="{cx:.1}" y="{cy:.1}" transform="rotate(-90 {cx:.1} {cy:.1})" text-anchor="middle">{}</text>"#,
                        esc(name)
                    );
                }
                s.push_str("</g>");
            }
        }
    }
    for e in &diagram.edges {
        let pts: Vec<String> = e.waypoints.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let f = flows.get(e.element.as_str());
        let (src, tgt) = f.map_or(("", ""), |f| (f.source.as_str(), f.target.as_str()));
        let _ = write!(
            s,
            r#"<g class="flow" data-element="{}" data-source="{}" data-target="{}"><polyline points="{}" marker-end="url(#arrow)"/>"#,
            esc(&e.element),
            esc(src),
            esc(tgt),
            pts.join(" ")
        );
        if let Some(name) = f.and_then(|f| f.name.as_deref()).filter(|n| !n.is_empty()) {
            let (x, y) = match e.label {
                Some(l) => (l.x + l.width / 2.0, l.y + l.height / 2.0 + 4.0),
                None => mid_point(&e.waypoints),
            };
            let _ = write!(
                s,
                r#"<text class="flow-label" x="{x:.1}" y="{y:.1}" text-anchor="middle">{}</text>"#,
                esc(name)
            );
        }
        s.push_str("</g>");
    }
    for sh in rest {
        let Some(e) = elements.get(sh.element.as_str()) else {
            continue;
        };
        let b = sh.bounds;
        let _ = write!(
            s,
            r#"<g class="el {}" data-element="{}"><title>{}</title>"#,
            class_of(&e.kind),
            esc(&e.id),
            esc(label(e))
        );
        shape(&mut s, e, &b);
        // events and gateways are named below, activities inside
        let (x, y) = match sh.label {
            Some(l) => (l.x + l.width / 2.0, l.y + 10.0),
            None => (b.x + b.width / 2.0, b.y + b.height + 14.0),
        };
        if is_activity(&e.kind) {
            text_lines(
                &mut s,
                label(e),
                b.x + b.width / 2.0,
                b.y + b.height / 2.0,
                b.width - 8.0,
            );
        } else if let Some(name) = e.name.as_deref().filter(|n| !n.is_empty()) {
            text_lines(&mut s, name, x, y, 120.0);
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

fn label(e: &FlowElement) -> &str {
    e.name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&e.id)
}

fn is_container(kind: &ElementKind) -> bool {
    matches!(
        kind,
        ElementKind::SubProcess | ElementKind::Transaction | ElementKind::AdHocSubProcess
    )
}

fn is_event(kind: &ElementKind) -> bool {
    use ElementKind::*;
    matches!(
        kind,
        StartEvent | EndEvent | IntermediateCatchEvent | IntermediateThrowEvent | BoundaryEvent
    )
}

fn is_gateway(kind: &ElementKind) -> bool {
    use ElementKind::*;
    matches!(
        kind,
        ExclusiveGateway | InclusiveGateway | ParallelGateway | EventBasedGateway | ComplexGateway
    )
}

fn is_activity(kind: &ElementKind) -> bool {
    !is_event(kind) && !is_gateway(kind)
}

fn class_of(kind: &ElementKind) -> &'static str {
    if is_event(kind) {
        "event"
    } else if is_gateway(kind) {
        "gateway"
    } else {
        "activity"
    }
}

/// The caption of an activity's type.
fn type_caption(kind: &ElementKind) -> &'static str {
    use ElementKind::*;
    match kind {
        ServiceTask => "service",
        ScriptTask => "script",
        SendTask => "send",
        ReceiveTask => "receive",
        BusinessRuleTask => "rule",
        UserTask => "user",
        ManualTask => "manual",
        SubProcess | Transaction | AdHocSubProcess => "subprocess",
        CallActivity => "call",
        _ => "",
    }
}

fn shape(s: &mut String, e: &FlowElement, b: &Bounds) {
    let (cx, cy) = (b.x + b.width / 2.0, b.y + b.height / 2.0);
    if is_event(&e.kind) {
        let r = b.width.min(b.height) / 2.0;
        let kind = match e.kind {
            ElementKind::EndEvent => "end",
            ElementKind::StartEvent => "start",
            _ => "intermediate",
        };
        let _ = write!(
            s,
            r#"<circle class="shape {kind}" cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}"/>"#
        );
        if kind == "intermediate" {
            let _ = write!(
                s,
                r#"<circle class="inner" cx="{cx:.1}" cy="{cy:.1}" r="{:.1}"/>"#,
                (r - 3.0).max(1.0)
            );
        }
        if let Some(ev) = &e.event {
            use servicetask_bpmn::EventDefinition as D;
            // a letter for the trigger: Timer, Message, Error, Signal, ...
            let glyph = match ev {
                D::Error { .. } => "E",
                D::Terminate => "\u{25cf}",
                D::Timer { .. } => "T",
                D::Message { .. } => "M",
                D::Signal { .. } => "S",
                D::Escalation { .. } => "Es",
                D::Conditional { .. } => "C",
                D::Link { .. } => "L",
                D::Compensate => "Co",
                D::Cancel => "X",
                _ => "",
            };
            let _ = write!(
                s,
                r#"<text class="glyph" x="{cx:.1}" y="{:.1}" text-anchor="middle">{glyph}</text>"#,
                cy + 4.0
            );
        }
    } else if is_gateway(&e.kind) {
        let _ = write!(
            s,
            r#"<polygon class="shape" points="{cx:.1},{:.1} {:.1},{cy:.1} {cx:.1},{:.1} {:.1},{cy:.1}"/>"#,
            b.y,
            b.x + b.width,
            b.y + b.height,
            b.x
        );
        let m = b.width.min(b.height) * 0.22;
        match e.kind {
            ElementKind::ExclusiveGateway => {
                let _ = write!(
                    s,
                    r#"<path class="marker" d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}"/>"#,
                    cx - m,
                    cy - m,
                    cx + m,
                    cy + m,
                    cx + m,
                    cy - m,
                    cx - m,
                    cy + m
                );
            }
            ElementKind::ParallelGateway => {
                let _ = write!(
                    s,
                    r#"<path class="marker" d="M{cx:.1},{:.1}L{cx:.1},{:.1}M{:.1},{cy:.1}L{:.1},{cy:.1}"/>"#,
                    cy - m * 1.3,
                    cy + m * 1.3,
                    cx - m * 1.3,
                    cx + m * 1.3
                );
            }
            ElementKind::InclusiveGateway | ElementKind::EventBasedGateway => {
                let _ = write!(s, r#"<circle class="marker" cx="{cx:.1}" cy="{cy:.1}" r="{m:.1}"/>"#);
            }
            _ => {}
        }
    } else {
        let _ = write!(
            s,
            r#"<rect class="shape" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="8"/>"#,
            b.x, b.y, b.width, b.height
        );
        let caption = type_caption(&e.kind);
        if !caption.is_empty() {
            let _ = write!(
                s,
                r#"<text class="caption" x="{:.1}" y="{:.1}">{caption}</text>"#,
                b.x + 5.0,
                b.y + 11.0
            );
        }
        if e.loop_characteristics.is_some() {
            let _ = write!(
                s,
                r#"<text class="caption" x="{cx:.1}" y="{:.1}" text-anchor="middle">|||</text>"#,
                b.y + b.height - 4.0
            );
        }
    }
}

/// Writes `text` centred at (`x`, `y`), wrapped to about `width` (at 6.5 units a character).
fn text_lines(s: &mut String, text: &str, x: f64, y: f64, width: f64) {
    let per_line = ((width / 6.5) as usize).max(4);
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= per_line => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.truncate(4);
    let top = y - (lines.len().saturating_sub(1) as f64) * 6.5 + 4.0;
    let _ = write!(s, r#"<text class="name" x="{x:.1}" y="{top:.1}" text-anchor="middle">"#);
    for (i, l) in lines.iter().enumerate() {
        let dy = if i == 0 { 0.0 } else { 13.0 };
        let _ = write!(s, r#"<tspan x="{x:.1}" dy="{dy}">{}</tspan>"#, esc(l));
    }
    s.push_str("</text>");
}

/// The middle of the longest segment, raised a little.
fn mid_point(points: &[(f64, f64)]) -> (f64, f64) {
    let best = points
        .windows(2)
        .max_by(|a, b| seg_len(a).total_cmp(&seg_len(b)))
        .unwrap_or(points);
    match best {
        [a, b, ..] => ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0 - 5.0),
        [a] => *a,
        [] => (0.0, 0.0),
    }
}

fn seg_len(w: &[(f64, f64)]) -> f64 {
    (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1)
}

/// XML-escapes text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_every_element_is_addressable() {
        let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">
          <startEvent id="s"/><sequenceFlow id="f" name="a&lt;b" sourceRef="s" targetRef="t"/>
          <serviceTask id="t" name="&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"/><sequenceFlow id="g" sourceRef="t" targetRef="x"/>
          <exclusiveGateway id="x"/></process></definitions>"#;
        let (defs, _) = servicetask_bpmn::parse("t.bpmn", xml.as_bytes());
        let d = super::super::layout::auto_layout(&defs.processes[0]);
        let svg = draw(&defs, &d);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("a&lt;b"));
        for id in ["s", "t", "x"] {
            assert!(svg.contains(&format!(r#"data-element="{id}""#)), "{id}: {svg}");
        }
        assert!(svg.contains(r#"data-element="f" data-source="s" data-target="t""#));
        // the SVG is well-formed XML
        roxmltree_check(&svg);
    }

    fn roxmltree_check(svg: &str) {
        // the bpmn crate's DI reader parses XML with roxmltree: a non-XML SVG is an error there
        let (_, diags) = servicetask_bpmn::di::diagrams("svg", svg.as_bytes());
        assert!(diags.is_empty(), "{diags:?}");
    }
}
