//! Property tests: the parser, the validator and the expression language never panic, whatever
//! the input (a short, bounded run; the cargo-fuzz target in fuzz/ goes further).

use proptest::prelude::*;

const SEED_DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
<bpmn:process id="p"><bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>
<bpmn:serviceTask id="t" default="f"><bpmn:extensionElements><zeebe:taskDefinition type="x"/></bpmn:extensionElements>
<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>
<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
</bpmn:process></bpmn:definitions>"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = servicetask_bpmn::parse("fuzz.bpmn", &bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_bpmn(cut in 0usize..SEED_DOC.len(), insert in "[<>/=\"a-z &;:#{}]{0,12}") {
        let mut doc = SEED_DOC.as_bytes()[..cut].to_vec();
        doc.extend_from_slice(insert.as_bytes());
        doc.extend_from_slice(&SEED_DOC.as_bytes()[cut..]);
        let _ = servicetask_bpmn::parse("fuzz.bpmn", &doc);
    }

    #[test]
    fn expressions_never_panic(src in "[a-z0-9 ()\\[\\]+*/%<>=!.,'\"-]{0,40}") {
        let mut vars = serde_json::Map::new();
        vars.insert("a".into(), serde_json::json!([1, 2, 3]));
        vars.insert("b".into(), serde_json::json!({"c": "d"}));
        let _ = servicetask_bpmn::expr::evaluate(&src, &vars);
        let _ = servicetask_bpmn::expr::evaluate(&format!("={src}"), &vars);
        let _ = servicetask_bpmn::expr::run_script(&src, &mut vars.clone());
    }

    #[test]
    fn timers_never_panic(src in "[PTRDHMSWY0-9./Z:+-]{0,20}") {
        let _ = servicetask_bpmn::timer::parse_duration(&src);
        let _ = servicetask_bpmn::timer::parse_cycle(&src);
        let _ = servicetask_bpmn::timer::parse_date(&src);
    }
}
