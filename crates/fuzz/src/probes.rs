//! Large structured inputs that byte-level fuzzing does not reach: many elements, deep nesting,
//! long expressions. Each probe builds one input of a given scale for one target; the
//! `servicetask-fuzz probe` command times them at growing scales, where a time that grows
//! faster than the input shows a quadratic path (positions rescanned per element were one).

use crate::targets::Target;
use std::fmt::Write;

/// One probe: a name, the target it feeds and how to build its input at scale `n`.
pub struct Probe {
    /// What it builds.
    pub name: &'static str,
    /// The target it is run through.
    pub target: Target,
    /// The input at scale `n`.
    pub build: fn(usize) -> Vec<u8>,
}

const HEAD: &str = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">"#;
const TAIL: &str = "</process></definitions>";

fn process(body: impl FnOnce(&mut String)) -> Vec<u8> {
    let mut s = String::from(HEAD);
    body(&mut s);
    s.push_str(TAIL);
    s.into_bytes()
}

fn tasks_in_a_chain(n: usize) -> Vec<u8> {
    process(|s| {
        s.push_str(r#"<startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="t0"/>"#);
        for i in 0..n {
            let _ = write!(
                s,
                r#"<serviceTask id="t{i}" implementation="x"/><sequenceFlow id="f{i}" sourceRef="t{i}" targetRef="t{}"/>"#,
                i + 1
            );
        }
        let _ = write!(s, r#"<endEvent id="t{n}"/>"#);
    })
}

fn empty_subprocesses(n: usize) -> Vec<u8> {
    process(|s| {
        for i in 0..n {
            let _ = write!(s, r#"<subProcess id="sp{i}"/>"#);
        }
    })
}

fn event_subprocesses(n: usize) -> Vec<u8> {
    process(|s| {
        s.push_str(r#"<startEvent id="s"/>"#);
        for i in 0..n {
            let _ = write!(
                s,
                r#"<subProcess id="es{i}" triggeredByEvent="true"><startEvent id="ess{i}"><signalEventDefinition/></startEvent></subProcess>"#
            );
        }
    })
}

fn link_throws(n: usize) -> Vec<u8> {
    process(|s| {
        s.push_str(r#"<startEvent id="s"/>"#);
        for i in 0..n {
            let _ = write!(
                s,
                r#"<intermediateThrowEvent id="lt{i}"><linkEventDefinition name="l{i}"/></intermediateThrowEvent><intermediateCatchEvent id="lc{i}"><linkEventDefinition name="l{i}"/></intermediateCatchEvent>"#
            );
        }
    })
}

fn messages_and_receivers(n: usize) -> Vec<u8> {
    let mut s = String::from(r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">"#);
    for i in 0..n {
        let _ = write!(s, r#"<message id="m{i}"/><error id="e{i}" errorCode="c{i}"/>"#);
    }
    s.push_str(r#"<process id="p"><startEvent id="s"/>"#);
    for i in 0..n {
        let _ = write!(
            s,
            r#"<receiveTask id="r{i}" messageRef="m{i}"/><callActivity id="c{i}" calledElement="p"/>"#
        );
    }
    s.push_str(TAIL);
    s.into_bytes()
}

fn gateway_fan_out(n: usize) -> Vec<u8> {
    process(|s| {
        s.push_str(r#"<startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="g"/><parallelGateway id="g"/><parallelGateway id="j"/><sequenceFlow id="fe" sourceRef="j" targetRef="e"/><endEvent id="e"/>"#);
        for i in 0..n {
            let _ = write!(
                s,
                r#"<sequenceFlow id="a{i}" sourceRef="g" targetRef="t{i}"/><task id="t{i}"/><sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="j"/>"#
            );
        }
    })
}

fn long_condition(n: usize) -> Vec<u8> {
    let cond = vec!["i"; n].join(" + ");
    process(|s| {
        let _ = write!(
            s,
            r#"<startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"><conditionExpression>{cond} &gt; 0</conditionExpression></sequenceFlow><endEvent id="e"/>"#
        );
    })
}

fn long_script(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(s, "v{i} = [j * {i} for j in items if j > 1]");
    }
    s.into_bytes()
}

/// Every probe.
pub const PROBES: &[Probe] = &[
    Probe {
        name: "service tasks in a chain",
        target: Target::Run,
        build: tasks_in_a_chain,
    },
    Probe {
        name: "service tasks in a chain (parse)",
        target: Target::Parse,
        build: tasks_in_a_chain,
    },
    Probe {
        name: "empty subprocesses",
        target: Target::Parse,
        build: empty_subprocesses,
    },
    Probe {
        name: "event subprocesses",
        target: Target::Parse,
        build: event_subprocesses,
    },
    Probe {
        name: "link throw/catch pairs",
        target: Target::Parse,
        build: link_throws,
    },
    Probe {
        name: "messages, errors, receive tasks, call activities",
        target: Target::Parse,
        build: messages_and_receivers,
    },
    Probe {
        name: "parallel fan-out and join",
        target: Target::Run,
        build: gateway_fan_out,
    },
    Probe {
        name: "condition of n terms",
        target: Target::Run,
        build: long_condition,
    },
    Probe {
        name: "script of n comprehension lines",
        target: Target::Expr,
        build: long_script,
    },
];
