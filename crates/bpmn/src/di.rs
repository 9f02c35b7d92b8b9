//! BPMN diagram interchange (DI, BPMN 2.0 chapter 12): where a modeler drew each element.
//!
//! [`diagrams`] reads every `bpmndi:BPMNDiagram` of a file: its plane (the process or
//! collaboration it shows), each `BPMNShape` with its `dc:Bounds` (and label bounds) and each
//! `BPMNEdge` with its `di:waypoint`s. Like [`crate::parse`] it never fails: a malformed bound
//! (missing, not a number, not finite, a negative size) is an error [`Diagnostic`] at its line
//! and column, and the shape or edge is left out. Drawing is not done here: this is the
//! geometry a presentation layer (the console) draws from.
//!
//! ```
//! let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
//!   xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
//!   xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI">
//!   <process id="p"><startEvent id="s"/></process>
//!   <bpmndi:BPMNDiagram><bpmndi:BPMNPlane bpmnElement="p">
//!     <bpmndi:BPMNShape bpmnElement="s"><dc:Bounds x="10" y="20" width="36" height="36"/></bpmndi:BPMNShape>
//!   </bpmndi:BPMNPlane></bpmndi:BPMNDiagram></definitions>"#;
//! let (diagrams, diags) = servicetask_bpmn::di::diagrams("p.bpmn", xml);
//! assert!(diags.is_empty());
//! assert_eq!(diagrams[0].shapes[0].bounds.width, 36.0);
//! ```

use roxmltree::{Document, Node};
use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::encoding;
use crate::limits::Limits;
use crate::line_index::LineIndex;
use crate::model::Position;

/// The BPMN DI namespace (`BPMNDiagram`, `BPMNPlane`, `BPMNShape`, `BPMNEdge`, `BPMNLabel`).
pub const BPMNDI_NS: &str = "http://www.omg.org/spec/BPMN/20100524/DI";
/// The Diagram Commons namespace (`Bounds`).
pub const DC_NS: &str = "http://www.omg.org/spec/DD/20100524/DC";
/// The Diagram Interchange namespace (`waypoint`).
pub const DI_NS: &str = "http://www.omg.org/spec/DD/20100524/DI";

/// A rectangle, in the diagram's units (pixels, by every modeler's convention).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width (not negative).
    pub width: f64,
    /// Height (not negative).
    pub height: f64,
}

/// Where an element (task, event, gateway, subprocess, pool, lane) is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// The `bpmnElement` it shows.
    pub element: String,
    /// Its rectangle.
    pub bounds: Bounds,
    /// Where its label goes, when the modeler placed it.
    pub label: Option<Bounds>,
    /// `isExpanded` (subprocesses: drawn open with their content).
    pub expanded: Option<bool>,
}

/// How a sequence flow (or association, message flow) is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// The `bpmnElement` it shows.
    pub element: String,
    /// Its points, in order (at least two).
    pub waypoints: Vec<(f64, f64)>,
    /// Where its label goes, when the modeler placed it.
    pub label: Option<Bounds>,
}

/// One `BPMNDiagram`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Diagram {
    /// Its id.
    pub id: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// The process or collaboration its plane shows.
    pub plane_element: Option<String>,
    /// Its shapes, in file order.
    pub shapes: Vec<Shape>,
    /// Its edges, in file order.
    pub edges: Vec<Edge>,
}

impl Diagram {
    /// The shape of `element`.
    pub fn shape(&self, element: &str) -> Option<&Shape> {
        self.shapes.iter().find(|s| s.element == element)
    }

    /// The smallest rectangle holding every shape, edge point and label; `None` when empty.
    pub fn extent(&self) -> Option<Bounds> {
        let mut points = Vec::new();
        for s in &self.shapes {
            for b in std::iter::once(&s.bounds).chain(&s.label) {
                points.push((b.x, b.y));
                points.push((b.x + b.width, b.y + b.height));
            }
        }
        for e in &self.edges {
            points.extend(e.waypoints.iter().copied());
            if let Some(b) = &e.label {
                points.push((b.x, b.y));
                points.push((b.x + b.width, b.y + b.height));
            }
        }
        let (x0, y0, x1, y1) = points.iter().fold(
            (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY),
            |(a, b, c, d), &(x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
        );
        (!points.is_empty()).then_some(Bounds {
            x: x0,
            y: y0,
            width: x1 - x0,
            height: y1 - y0,
        })
    }
}

/// Every diagram of a BPMN file (none when the file has no DI), with diagnostics for the
/// geometry left out.
pub fn diagrams(file: &str, bytes: &[u8]) -> (Vec<Diagram>, Vec<Diagnostic>) {
    diagrams_with(file, bytes, &Limits::default())
}

/// [`diagrams`] within `limits` (the XML node count).
pub fn diagrams_with(file: &str, bytes: &[u8], limits: &Limits) -> (Vec<Diagram>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let start = Position { line: 1, column: 1 };
    let text = match encoding::decode(bytes) {
        Ok(t) => t,
        Err(e) => {
            let help = "save the file as UTF-8, or declare its real encoding in the XML prolog";
            diags.push(Diagnostic::error(
                file,
                start,
                format!("cannot decode the file: {e}"),
                help,
            ));
            return (Vec::new(), diags);
        }
    };
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_xml_nodes,
        ..Default::default()
    };
    let doc = match Document::parse_with_options(&text, opts) {
        Ok(d) => d,
        Err(e) => {
            let p = e.pos();
            let at = Position {
                line: p.row,
                column: p.col,
            };
            diags.push(Diagnostic::error(
                file,
                at,
                format!("invalid XML: {e}"),
                "fix the XML syntax",
            ));
            return (Vec::new(), diags);
        }
    };
    let lines = LineIndex::new(&text);
    let mut reader = Reader {
        file,
        lines: &lines,
        diags: &mut diags,
    };
    let found = doc
        .root_element()
        .children()
        .filter(|n| is(*n, BPMNDI_NS, "BPMNDiagram"))
        .map(|d| reader.diagram(d))
        .collect();
    (found, diags)
}

fn is(node: Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &'static str, name: &'static str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(*c, ns, name))
}

struct Reader<'r> {
    file: &'r str,
    lines: &'r LineIndex<'r>,
    diags: &'r mut Vec<Diagnostic>,
}

impl Reader<'_> {
    fn diagram(&mut self, node: Node) -> Diagram {
        let mut d = Diagram {
            id: node.attribute("id").map(str::to_string),
            name: node.attribute("name").map(str::to_string),
            ..Diagram::default()
        };
        let Some(plane) = child(node, BPMNDI_NS, "BPMNPlane") else {
            return d;
        };
        d.plane_element = plane.attribute("bpmnElement").map(str::to_string);
        for n in plane.children().filter(Node::is_element) {
            if is(n, BPMNDI_NS, "BPMNShape") {
                d.shapes.extend(self.shape(n));
            } else if is(n, BPMNDI_NS, "BPMNEdge") {
                d.edges.extend(self.edge(n));
            }
        }
        d
    }

    fn error(&mut self, node: Node, message: String, help: &str) {
        let at = self.lines.position(node.range().start);
        self.diags.push(Diagnostic::error(self.file, at, message, help));
    }

    fn element(&mut self, node: Node, what: &str) -> Option<String> {
        match node.attribute("bpmnElement") {
            Some(e) if !e.is_empty() => Some(e.to_string()),
            _ => {
                let help = "name the element it draws: bpmnElement=\"ELEMENT_ID\"";
                self.error(
                    node,
                    format!("{what} without bpmnElement: left out of the diagram"),
                    help,
                );
                None
            }
        }
    }

    fn number(&mut self, node: Node, attr: &str) -> Option<f64> {
        let raw = node.attribute(attr);
        match raw.map(str::trim).map(str::parse::<f64>) {
            Some(Ok(v)) if v.is_finite() => Some(v),
            _ => {
                let tag = node.tag_name().name();
                let got = raw.map_or("nothing".to_string(), |r| format!("'{r}'"));
                let help = format!("give {attr} as a finite decimal number, e.g. {attr}=\"100\"");
                self.error(node, format!("{tag} {attr}: expected a number, got {got}"), &help);
                None
            }
        }
    }

    fn bounds(&mut self, owner: Node) -> Option<Bounds> {
        let Some(node) = child(owner, DC_NS, "Bounds") else {
            let help = "add <dc:Bounds x=\"..\" y=\"..\" width=\"..\" height=\"..\"/>";
            self.error(owner, format!("{} without dc:Bounds", owner.tag_name().name()), help);
            return None;
        };
        let b = Bounds {
            x: self.number(node, "x")?,
            y: self.number(node, "y")?,
            width: self.number(node, "width")?,
            height: self.number(node, "height")?,
        };
        if b.width < 0.0 || b.height < 0.0 {
            let help = "width and height are sizes: 0 or more";
            self.error(
                node,
                format!("Bounds of {} x {}: a negative size", b.width, b.height),
                help,
            );
            return None;
        }
        Some(b)
    }

    fn label(&mut self, owner: Node) -> Option<Bounds> {
        let label = child(owner, BPMNDI_NS, "BPMNLabel")?;
        child(label, DC_NS, "Bounds")?;
        self.bounds(label)
    }

    fn shape(&mut self, node: Node) -> Option<Shape> {
        let element = self.element(node, "BPMNShape")?;
        let bounds = self.bounds(node)?;
        Some(Shape {
            element,
            bounds,
            label: self.label(node),
            expanded: node.attribute("isExpanded").map(|v| v.trim() == "true"),
        })
    }

    fn edge(&mut self, node: Node) -> Option<Edge> {
        let element = self.element(node, "BPMNEdge")?;
        let mut waypoints = Vec::new();
        for w in node.children().filter(|c| is(*c, DI_NS, "waypoint")) {
            waypoints.push((self.number(w, "x")?, self.number(w, "y")?));
        }
        if waypoints.len() < 2 {
            let help = "an edge needs at least two <di:waypoint x=\"..\" y=\"..\"/>";
            let message = format!("BPMNEdge of {element} has {} waypoint(s)", waypoints.len());
            self.error(node, message, help);
            return None;
        }
        Some(Edge {
            element,
            waypoints,
            label: self.label(node),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:b="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI"><process id="p"/>"#;

    fn read(body: &str) -> (Vec<Diagram>, Vec<Diagnostic>) {
        diagrams("t.bpmn", format!("{HEAD}{body}</definitions>").as_bytes())
    }

    #[test]
    fn shapes_edges_and_labels_are_read_with_any_prefix() {
        let (d, diags) = read(
            r#"<b:BPMNDiagram id="D" name="Main"><b:BPMNPlane bpmnElement="p">
              <b:BPMNShape bpmnElement="sub" isExpanded="true"><dc:Bounds x="1.5" y="2" width="300" height="200"/>
                <b:BPMNLabel><dc:Bounds x="5" y="6" width="7" height="8"/></b:BPMNLabel></b:BPMNShape>
              <b:BPMNEdge bpmnElement="f"><di:waypoint x="0" y="0"/><di:waypoint x="10" y="0"/><di:waypoint x="10" y="-20"/></b:BPMNEdge>
            </b:BPMNPlane></b:BPMNDiagram>"#,
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].id.as_deref(), Some("D"));
        assert_eq!(d[0].plane_element.as_deref(), Some("p"));
        let s = d[0].shape("sub").unwrap();
        assert_eq!(s.bounds.x, 1.5);
        assert_eq!(s.expanded, Some(true));
        assert_eq!(s.label.unwrap().height, 8.0);
        assert_eq!(d[0].edges[0].waypoints, vec![(0.0, 0.0), (10.0, 0.0), (10.0, -20.0)]);
        let e = d[0].extent().unwrap();
        assert_eq!((e.x, e.y, e.width, e.height), (0.0, -20.0, 301.5, 222.0));
    }

    #[test]
    fn a_file_without_di_has_no_diagram() {
        let (d, diags) = read("");
        assert!(d.is_empty() && diags.is_empty());
    }

    #[test]
    fn bad_geometry_is_named_at_its_line_and_column_and_left_out() {
        let (d, diags) = read(
            "<b:BPMNDiagram><b:BPMNPlane>\n<b:BPMNShape bpmnElement=\"a\"><dc:Bounds x=\"NaN\" y=\"0\" width=\"1\" height=\"1\"/></b:BPMNShape>\n<b:BPMNShape bpmnElement=\"b\"><dc:Bounds x=\"0\" y=\"0\" width=\"-1\" height=\"1\"/></b:BPMNShape>\n<b:BPMNShape><dc:Bounds x=\"0\" y=\"0\" width=\"1\" height=\"1\"/></b:BPMNShape>\n<b:BPMNEdge bpmnElement=\"f\"><di:waypoint x=\"1\" y=\"1\"/></b:BPMNEdge>\n<b:BPMNShape bpmnElement=\"ok\"><dc:Bounds x=\"0\" y=\"0\" width=\"1\" height=\"1\"/></b:BPMNShape></b:BPMNPlane></b:BPMNDiagram>",
        );
        let lines: Vec<_> = diags.iter().map(|d| (d.position.line, d.message.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (2, "Bounds x: expected a number, got 'NaN'"),
                (3, "Bounds of -1 x 1: a negative size"),
                (4, "BPMNShape without bpmnElement: left out of the diagram"),
                (5, "BPMNEdge of f has 1 waypoint(s)"),
            ]
        );
        assert!(diags
            .iter()
            .all(|d| d.is_error() && d.file == "t.bpmn" && !d.help.is_empty()));
        let ids: Vec<_> = d[0].shapes.iter().map(|s| s.element.as_str()).collect();
        assert_eq!(ids, ["ok"]);
        assert!(d[0].edges.is_empty());
    }

    #[test]
    fn invalid_xml_and_the_node_limit_are_diagnostics() {
        let (d, diags) = diagrams("x.bpmn", b"<definitions");
        assert!(d.is_empty());
        assert!(diags[0].message.starts_with("invalid XML"), "{diags:?}");
        let limits = Limits {
            max_xml_nodes: 2,
            ..Limits::default()
        };
        let (_, diags) = diagrams_with("x.bpmn", format!("{HEAD}</definitions>").as_bytes(), &limits);
        assert!(diags[0].message.contains("nodes limit"), "{diags:?}");
    }
}
