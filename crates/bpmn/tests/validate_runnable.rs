//! What a run would fail on for static reasons is a `validate` error with the position and a
//! fix: an empty timer, an empty (collapsed) subprocess or one with nothing to start, a link
//! throw without its catch, a function the expression language does not have, a called process
//! that exists nowhere, cancel and compensation events (not run yet; a cancel event outside a
//! transaction is wrong anyway).

use servicetask_bpmn::{missing_called_processes, parse, Diagnostic};

fn errors(process_xml: &str) -> Vec<Diagnostic> {
    let xml = format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><process id="p">{process_xml}</process></definitions>"#
    );
    let (_, diags) = parse("v.bpmn", xml.as_bytes());
    diags.into_iter().filter(Diagnostic::is_error).collect()
}

fn one_error(process_xml: &str, needle: &str) {
    let errs = errors(process_xml);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let text = errs[0].to_string();
    assert!(text.contains(needle), "{text}");
    let position: Vec<&str> = text.splitn(4, ':').collect();
    assert!(
        position[0] == "v.bpmn" && position[1..3].iter().all(|n| n.parse::<u32>().is_ok()),
        "names file:line:column: {text}"
    );
    assert!(text.contains("help: "), "has a fix: {text}");
}

const START: &str = r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="x"/>"#;

#[test]
fn an_empty_timer_is_an_error() {
    one_error(
        &format!(
            r#"{START}<intermediateCatchEvent id="x"><timerEventDefinition><timeDate/></timerEventDefinition></intermediateCatchEvent>"#
        ),
        "timer of 'x' is empty",
    );
}

#[test]
fn an_empty_subprocess_is_an_error() {
    one_error(&format!(r#"{START}<subProcess id="x"/>"#), "subProcess 'x' is empty");
}

#[test]
fn a_subprocess_with_nothing_to_start_is_an_error() {
    one_error(
        &format!(
            r#"{START}<subProcess id="x"><task id="t1"/><task id="t2"/>
            <sequenceFlow id="f1" sourceRef="t1" targetRef="t2"/><sequenceFlow id="f2" sourceRef="t2" targetRef="t1"/></subProcess>"#
        ),
        "has nothing to start",
    );
}

#[test]
fn a_link_throw_without_its_catch_is_an_error() {
    one_error(
        &format!(r#"{START}<intermediateThrowEvent id="x"><linkEventDefinition name="L"/></intermediateThrowEvent>"#),
        "no link catch event named 'L'",
    );
}

#[test]
fn an_unknown_function_is_an_error_and_builtins_are_not() {
    one_error(
        &format!(r#"{START}<scriptTask id="x"><script>y = custom_function(1) + len([1])</script></scriptTask>"#),
        "calls 'custom_function'",
    );
    one_error(
        &format!(
            r#"{START}<exclusiveGateway id="x" default="d"/><sequenceFlow id="c" sourceRef="x" targetRef="e"><conditionExpression>is_ok(v)</conditionExpression></sequenceFlow>
            <sequenceFlow id="d" sourceRef="x" targetRef="e"/><endEvent id="e"/>"#
        ),
        "calls 'is_ok'",
    );
    assert!(errors(&format!(
        r#"{START}<scriptTask id="x"><script>y = str(len(xs)) + 'f(x)'
xs.append(max(1, 2))</script></scriptTask>"#
    ))
    .is_empty());
}

#[test]
fn a_called_process_that_exists_nowhere_is_an_error() {
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><process id="p"><startEvent id="s"/>
      <sequenceFlow id="a" sourceRef="s" targetRef="c"/><callActivity id="c" calledElement="elsewhere"/></process></definitions>"#;
    let (defs, diags) = parse("v.bpmn", xml.as_bytes());
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "the file alone cannot tell: {diags:?}"
    );
    let missing = missing_called_processes(&defs, |_| false);
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].to_string().contains("calls process 'elsewhere'"),
        "{}",
        missing[0]
    );
    assert!(missing_called_processes(&defs, |c| c == "elsewhere").is_empty());
}

#[test]
fn cancel_and_compensation_events_are_errors() {
    one_error(
        &format!(r#"{START}<endEvent id="x"><cancelEventDefinition/></endEvent>"#),
        "cancel event 'x' is not in (or on) a transaction",
    );
    one_error(
        &format!(
            r#"{START}<transaction id="x"><startEvent id="ts"/><sequenceFlow id="f" sourceRef="ts" targetRef="c"/>
            <endEvent id="c"><cancelEventDefinition/></endEvent></transaction>"#
        ),
        "does not run transaction cancellation yet",
    );
    one_error(
        &format!(r#"{START}<intermediateThrowEvent id="x"><compensateEventDefinition/></intermediateThrowEvent>"#),
        "does not run compensation yet",
    );
}

#[test]
fn an_exclusive_flow_without_condition_that_is_not_the_default_is_an_error() {
    let flows = r#"<exclusiveGateway id="x"/><endEvent id="e1"/><endEvent id="e2"/>
        <sequenceFlow id="f1" sourceRef="x" targetRef="e1"><conditionExpression>n &gt; 1</conditionExpression></sequenceFlow>
        <sequenceFlow id="f2" sourceRef="x" targetRef="e2"/>"#;
    one_error(
        &format!("{START}{flows}"),
        "without a condition that are not its default: f2",
    );
    let with_default = flows.replace(
        r#"<exclusiveGateway id="x"/>"#,
        r#"<exclusiveGateway id="x" default="f2"/>"#,
    );
    assert!(errors(&format!("{START}{with_default}")).is_empty());
}

#[test]
fn an_end_event_without_a_start_event_is_an_error() {
    one_error(
        r#"<task id="t"/><sequenceFlow id="a" sourceRef="t" targetRef="e"/><endEvent id="e"/>"#,
        "has an end event ('e') but no start event",
    );
    // without an end event, the elements with no incoming flow start (BPMN 2.0 §10.5.2)
    assert!(errors(r#"<task id="t"/>"#).is_empty());
}

#[test]
fn a_multi_instance_with_both_cardinality_and_collection_is_an_error() {
    one_error(
        &format!(
            r#"{START}<task id="x"><multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality><loopDataInputRef>items</loopDataInputRef></multiInstanceLoopCharacteristics></task>"#
        ),
        "both loopCardinality and an input collection",
    );
}

#[test]
fn a_business_rule_task_calling_a_decision_is_an_error() {
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"><process id="p">
      <startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="r1"/>
      <businessRuleTask id="r1" camunda:decisionRef="d1"/><sequenceFlow id="b" sourceRef="r1" targetRef="r2"/>
      <businessRuleTask id="r2"><extensionElements><spiffworkflow:calledDecisionId>d2</spiffworkflow:calledDecisionId></extensionElements></businessRuleTask>
      </process></definitions>"#;
    let (_, diags) = parse("v.bpmn", xml.as_bytes());
    let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(
        errs[0].starts_with("v.bpmn:3:") && errs[0].contains("DMN decision 'd1'"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("v.bpmn:4:") && errs[1].contains("DMN decision 'd2'"),
        "{errs:?}"
    );
}

#[test]
fn data_stores_and_non_executable_files_are_errors() {
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
      <dataStore id="ds" name="Orders"/>
      <process id="p"><startEvent id="s"/><dataStoreReference id="r" dataStoreRef="ds"/></process></definitions>"#;
    let (_, diags) = parse("v.bpmn", xml.as_bytes());
    let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(
        errs.iter().all(|e| e.contains("no data store implementation")),
        "{errs:?}"
    );
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
      <process id="p" isExecutable="false"><startEvent id="s"/></process></definitions>"#;
    let (_, diags) = parse("v.bpmn", xml.as_bytes());
    let errs: Vec<String> = diags.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with("v.bpmn:2:") && errs[0].contains("no process of the file is executable"),
        "{errs:?}"
    );
}
