//! The BPMN model: definitions, processes, flow elements and sequence flows, with positions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A 1-based line and column in the source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

/// A whole BPMN file: its processes, collaborations and root elements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Definitions {
    /// Name of the file it was read from (as given to the parser).
    pub file: String,
    /// The `id` of `<definitions>`.
    pub id: Option<String>,
    /// Processes, in document order.
    pub processes: Vec<Process>,
    /// Collaborations (pools and message flows).
    pub collaborations: Vec<Collaboration>,
    /// `<error>` root elements.
    pub errors: Vec<ErrorDef>,
    /// `<message>` root elements.
    pub messages: Vec<MessageDef>,
    /// `<signal>` root elements.
    pub signals: Vec<MessageDef>,
    /// The `expressionLanguage` of `<definitions>`: the language of every expression that
    /// declares none.
    #[serde(default)]
    pub expression_language: Option<String>,
    /// Expressions that declare a language servicetask does not evaluate (XPath, Groovy, ...);
    /// `validate` reports each, naming its language.
    #[serde(default)]
    pub foreign_expressions: Vec<ForeignExpression>,
    /// `<correlationProperty>` root elements (BPMN 2.0 §8.3.2): how each message yields a
    /// property's value.
    #[serde(default)]
    pub correlation_properties: Vec<CorrelationProperty>,
    /// The `<correlationKey>`s of the file's collaborations: the properties that together
    /// identify one conversation.
    #[serde(default)]
    pub correlation_keys: Vec<CorrelationKey>,
}

/// A `<correlationProperty>`: one part of a correlation key, and the expression that
/// retrieves it from each message that carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationProperty {
    /// Its id (what `correlationPropertyRef` names).
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// `(messageRef, expression)`: the expression evaluated over that message's content.
    pub retrievals: Vec<(String, String)>,
    /// Where it is.
    pub position: Position,
}

/// A `<correlationKey>`: named, made of correlation properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationKey {
    /// Its name (its id when it has none).
    pub name: String,
    /// The ids of its correlation properties.
    pub property_refs: Vec<String>,
}

/// An expression written in a language servicetask does not evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignExpression {
    /// What it is, e.g. "condition of sequence flow 'f1'".
    pub what: String,
    /// Its text.
    pub text: String,
    /// The declared language (`expressionLanguage` or `scriptFormat`).
    pub language: String,
    /// Where it is.
    pub position: Position,
}

impl Definitions {
    /// The process with this id.
    pub fn process(&self, id: &str) -> Option<&Process> {
        self.processes.iter().find(|p| p.id == id)
    }

    /// The error definition with this id.
    pub fn error(&self, id: &str) -> Option<&ErrorDef> {
        self.errors.iter().find(|e| e.id == id)
    }

    /// The process to run when none is named: the first executable one, else the first.
    pub fn default_process(&self) -> Option<&Process> {
        self.processes
            .iter()
            .find(|p| p.executable)
            .or_else(|| self.processes.first())
    }
}

/// A `<collaboration>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collaboration {
    /// Its id.
    pub id: String,
    /// Its pools.
    pub participants: Vec<Participant>,
    /// Number of message flows between pools.
    pub message_flows: usize,
    /// Where it is.
    pub position: Position,
}

/// A pool of a collaboration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// The process it shows.
    pub process_ref: Option<String>,
    /// Where it is.
    pub position: Position,
}

/// An `<error>` root element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDef {
    /// Its id (what `errorRef` points at).
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its `errorCode`, matched against the codes tasks throw.
    pub code: Option<String>,
    /// SpiffWorkflow: expression evaluated by the thrower, its value carried by the error.
    pub payload_expression: Option<String>,
    /// SpiffWorkflow: variable where the catcher stores the payload.
    pub variable_name: Option<String>,
    /// Where it is.
    pub position: Position,
}

/// A `<message>` or `<signal>` root element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDef {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// SpiffWorkflow, on a `<signal>`: expression the thrower evaluates, its value carried by
    /// the signal.
    #[serde(default)]
    pub payload_expression: Option<String>,
    /// SpiffWorkflow, on a `<signal>`: variable where a catcher stores the payload.
    #[serde(default)]
    pub variable_name: Option<String>,
    /// Where it is.
    pub position: Position,
}

/// A `<process>`: its flow elements (nested ones included, flat) and sequence flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// `isExecutable`.
    pub executable: bool,
    /// Where it is.
    pub position: Position,
    /// Every flow element, including those inside subprocesses (see [`FlowElement::parent`]).
    pub elements: Vec<FlowElement>,
    /// Every sequence flow, including those inside subprocesses.
    pub flows: Vec<SequenceFlow>,
    /// The ids of its `<dataObject>`s (at any depth): variables of the process instance
    /// (BPMN 2.0 §10.4.1) that hold no value until something writes them.
    #[serde(default)]
    pub data_objects: Vec<String>,
    /// Its `<ioSpecification>`, if any: what a call activity passes in and takes back.
    #[serde(default)]
    pub io_specification: Option<IoSpecification>,
}

/// An `<ioSpecification>` (BPMN 2.0 §10.4.3): the data an activity or a process takes in and
/// gives back, by the ids of its `dataInput`s and `dataOutput`s (the variables they name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IoSpecification {
    /// The ids of its data inputs.
    pub inputs: Vec<String>,
    /// The ids of its data outputs.
    pub outputs: Vec<String>,
}

impl Process {
    /// The element with this id.
    pub fn element(&self, id: &str) -> Option<&FlowElement> {
        self.elements.iter().find(|e| e.id == id)
    }

    /// The sequence flow with this id.
    pub fn flow(&self, id: &str) -> Option<&SequenceFlow> {
        self.flows.iter().find(|f| f.id == id)
    }

    /// The elements directly inside `container` (`None`: the process level).
    pub fn children<'a>(&'a self, container: Option<&'a str>) -> impl Iterator<Item = &'a FlowElement> + 'a {
        self.elements.iter().filter(move |e| e.parent.as_deref() == container)
    }

    /// Boundary events attached to `activity`.
    pub fn boundary_events<'a>(&'a self, activity: &'a str) -> impl Iterator<Item = &'a FlowElement> + 'a {
        self.elements
            .iter()
            .filter(move |e| e.attached_to.as_deref() == Some(activity))
    }
}

/// The kind of a flow element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ElementKind {
    /// `startEvent`
    StartEvent,
    /// `endEvent`
    EndEvent,
    /// `intermediateCatchEvent`
    IntermediateCatchEvent,
    /// `intermediateThrowEvent`
    IntermediateThrowEvent,
    /// `boundaryEvent`
    BoundaryEvent,
    /// `task` (no type)
    Task,
    /// `serviceTask`
    ServiceTask,
    /// `scriptTask`
    ScriptTask,
    /// `sendTask`
    SendTask,
    /// `receiveTask`
    ReceiveTask,
    /// `businessRuleTask`
    BusinessRuleTask,
    /// `userTask`
    UserTask,
    /// `manualTask`
    ManualTask,
    /// `exclusiveGateway`
    ExclusiveGateway,
    /// `inclusiveGateway`
    InclusiveGateway,
    /// `parallelGateway`
    ParallelGateway,
    /// `eventBasedGateway`
    EventBasedGateway,
    /// `complexGateway`
    ComplexGateway,
    /// `subProcess` (embedded; `triggeredByEvent` ones are event subprocesses)
    SubProcess,
    /// `transaction`
    Transaction,
    /// `adHocSubProcess`
    AdHocSubProcess,
    /// `callActivity`
    CallActivity,
}

impl ElementKind {
    /// Maps a BPMN local element name to its kind.
    pub fn from_tag(tag: &str) -> Option<Self> {
        use ElementKind::*;
        Some(match tag {
            "startEvent" => StartEvent,
            "endEvent" => EndEvent,
            "intermediateCatchEvent" => IntermediateCatchEvent,
            "intermediateThrowEvent" => IntermediateThrowEvent,
            "boundaryEvent" => BoundaryEvent,
            "task" => Task,
            "serviceTask" => ServiceTask,
            "scriptTask" => ScriptTask,
            "sendTask" => SendTask,
            "receiveTask" => ReceiveTask,
            "businessRuleTask" => BusinessRuleTask,
            "userTask" => UserTask,
            "manualTask" => ManualTask,
            "exclusiveGateway" => ExclusiveGateway,
            "inclusiveGateway" => InclusiveGateway,
            "parallelGateway" => ParallelGateway,
            "eventBasedGateway" => EventBasedGateway,
            "complexGateway" => ComplexGateway,
            "subProcess" => SubProcess,
            "transaction" => Transaction,
            "adHocSubProcess" => AdHocSubProcess,
            "callActivity" => CallActivity,
            _ => return None,
        })
    }

    /// The BPMN local element name.
    pub fn tag(self) -> &'static str {
        use ElementKind::*;
        match self {
            StartEvent => "startEvent",
            EndEvent => "endEvent",
            IntermediateCatchEvent => "intermediateCatchEvent",
            IntermediateThrowEvent => "intermediateThrowEvent",
            BoundaryEvent => "boundaryEvent",
            Task => "task",
            ServiceTask => "serviceTask",
            ScriptTask => "scriptTask",
            SendTask => "sendTask",
            ReceiveTask => "receiveTask",
            BusinessRuleTask => "businessRuleTask",
            UserTask => "userTask",
            ManualTask => "manualTask",
            ExclusiveGateway => "exclusiveGateway",
            InclusiveGateway => "inclusiveGateway",
            ParallelGateway => "parallelGateway",
            EventBasedGateway => "eventBasedGateway",
            ComplexGateway => "complexGateway",
            SubProcess => "subProcess",
            Transaction => "transaction",
            AdHocSubProcess => "adHocSubProcess",
            CallActivity => "callActivity",
        }
    }

    /// True for tasks, subprocesses and call activities.
    pub fn is_activity(self) -> bool {
        use ElementKind::*;
        matches!(
            self,
            Task | ServiceTask
                | ScriptTask
                | SendTask
                | ReceiveTask
                | BusinessRuleTask
                | UserTask
                | ManualTask
                | SubProcess
                | Transaction
                | AdHocSubProcess
                | CallActivity
        )
    }

    /// True for gateways.
    pub fn is_gateway(self) -> bool {
        use ElementKind::*;
        matches!(
            self,
            ExclusiveGateway | InclusiveGateway | ParallelGateway | EventBasedGateway | ComplexGateway
        )
    }

    /// True for kinds whose elements contain other elements.
    pub fn is_container(self) -> bool {
        use ElementKind::*;
        matches!(self, SubProcess | Transaction | AdHocSubProcess)
    }

    /// True for tasks that are bound to a registered service task (service, send, business rule).
    pub fn is_service_like(self) -> bool {
        use ElementKind::*;
        matches!(self, ServiceTask | SendTask | BusinessRuleTask)
    }
}

/// What kind of timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// `timeDuration`: after a duration.
    Duration,
    /// `timeDate`: at a point in time.
    Date,
    /// `timeCycle`: repeating (`R3/PT10S`).
    Cycle,
}

/// The event definition of an event element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventDefinition {
    /// `errorEventDefinition`, with its `errorRef`.
    Error {
        /// Referenced `<error>` id; `None` catches every error.
        error_ref: Option<String>,
    },
    /// `terminateEventDefinition`.
    Terminate,
    /// `timerEventDefinition`.
    Timer {
        /// Duration, date or cycle.
        kind: TimerKind,
        /// The expression text (`PT5S`, `"PT0.03S"`, `=duration`).
        expression: String,
    },
    /// `messageEventDefinition`.
    Message {
        /// Referenced `<message>` id.
        message_ref: Option<String>,
    },
    /// `signalEventDefinition`.
    Signal {
        /// Referenced `<signal>` id.
        signal_ref: Option<String>,
    },
    /// `escalationEventDefinition`.
    Escalation {
        /// Referenced `<escalation>` id; `None` on a catch catches every escalation.
        escalation_ref: Option<String>,
    },
    /// `conditionalEventDefinition`.
    Conditional {
        /// The condition.
        condition: Option<String>,
    },
    /// `linkEventDefinition`.
    Link {
        /// The link name.
        name: Option<String>,
    },
    /// `compensateEventDefinition`.
    Compensate,
    /// `cancelEventDefinition`.
    Cancel,
}

/// A source/target variable mapping (Zeebe `ioMapping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Expression evaluated over the source variables.
    pub source: String,
    /// Variable (path) written.
    pub target: String,
}

/// How a service-like task was bound to a task type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BindingKind {
    /// `zeebe:taskDefinition type="..."` (Camunda 8).
    Zeebe,
    /// `camunda:type="external" camunda:topic="..."` (Camunda 7).
    CamundaExternal,
    /// `flowable:topic` / `flowable:type="external-worker"`.
    Flowable,
    /// `spiffworkflow:serviceTaskOperator id="..."` (SpiffWorkflow).
    SpiffOperator,
    /// The standard `implementation` attribute.
    Implementation,
    /// Nothing else: the element id.
    ElementId,
}

/// The binding of a service-like task to a registered task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskBinding {
    /// Where the task type came from.
    pub kind: BindingKind,
    /// The task type: the key of the handler registry.
    pub task_type: String,
    /// Static headers (`zeebe:taskHeaders`).
    pub headers: BTreeMap<String, String>,
    /// Input mappings (`zeebe:input`).
    pub input_mappings: Vec<Mapping>,
    /// Output mappings (`zeebe:output`).
    pub output_mappings: Vec<Mapping>,
    /// SpiffWorkflow operator parameters: name -> expression.
    pub params: BTreeMap<String, String>,
    /// SpiffWorkflow `resultVariable`.
    pub result_variable: Option<String>,
    /// Retries declared in the file (`zeebe:taskDefinition retries`, `spiffworkflow:retry`).
    pub retries: Option<u32>,
}

impl TaskBinding {
    /// A binding with only a kind and a type.
    pub fn new(kind: BindingKind, task_type: impl Into<String>) -> Self {
        TaskBinding {
            kind,
            task_type: task_type.into(),
            headers: BTreeMap::new(),
            input_mappings: Vec::new(),
            output_mappings: Vec::new(),
            params: BTreeMap::new(),
            result_variable: None,
            retries: None,
        }
    }
}

/// Multi-instance or standard loop of an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LoopCharacteristics {
    /// `multiInstanceLoopCharacteristics`.
    MultiInstance(MultiInstance),
    /// `standardLoopCharacteristics`.
    Standard {
        /// `loopCondition`: loop again while true.
        condition: Option<String>,
        /// `loopMaximum`.
        maximum: Option<u64>,
        /// `testBefore`.
        test_before: bool,
    },
}

/// A multi-instance activity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MultiInstance {
    /// `isSequential`.
    pub sequential: bool,
    /// `loopCardinality` expression.
    pub cardinality: Option<String>,
    /// Input collection: variable name or expression.
    pub input_collection: Option<String>,
    /// Variable each instance sees its item in.
    pub input_element: Option<String>,
    /// Variable collecting the outputs.
    pub output_collection: Option<String>,
    /// Variable (or expression) each instance's output is read from.
    pub output_element: Option<String>,
    /// `completionCondition`.
    pub completion_condition: Option<String>,
}

/// A script body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptDef {
    /// `scriptFormat`.
    pub format: Option<String>,
    /// The text.
    pub text: String,
    /// Where the `<script>` element is.
    pub position: Position,
}

/// One flow element: event, task, gateway, subprocess or call activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowElement {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its kind.
    pub kind: ElementKind,
    /// Where its start tag is.
    pub position: Position,
    /// Incoming sequence flow ids (from `<incoming>` and from flows targeting it).
    pub incoming: Vec<String>,
    /// Outgoing sequence flow ids (from `<outgoing>` and from flows leaving it).
    pub outgoing: Vec<String>,
    /// The subprocess this element is in; `None` at the process level.
    pub parent: Option<String>,
    /// `default` flow id (gateways, activities).
    pub default_flow: Option<String>,
    /// First event definition (events).
    pub event: Option<EventDefinition>,
    /// `attachedToRef` (boundary events).
    pub attached_to: Option<String>,
    /// `cancelActivity` (boundary events; default true).
    pub cancel_activity: bool,
    /// `calledElement` (call activities; also `zeebe:calledElement processId`).
    pub called_element: Option<String>,
    /// The service-task binding (service, send, business-rule tasks).
    pub binding: Option<TaskBinding>,
    /// Script (script tasks).
    pub script: Option<ScriptDef>,
    /// SpiffWorkflow `preScript`.
    pub pre_script: Option<String>,
    /// SpiffWorkflow `postScript`.
    pub post_script: Option<String>,
    /// Multi-instance or loop.
    pub loop_characteristics: Option<LoopCharacteristics>,
    /// `triggeredByEvent` (event subprocesses).
    pub triggered_by_event: bool,
    /// `messageRef` of a send or receive task.
    pub message_ref: Option<String>,
    /// What a sent message carries, as an expression over the sender's variables
    /// (`spiffworkflow:messagePayload`, `camunda:expression` of a message event definition);
    /// `None`: the sender's variables.
    #[serde(default)]
    pub message_payload: Option<String>,
    /// Where a caught message's content goes: the variable (`spiffworkflow:messageVariable`)
    /// on a catch; on a throw, the variable the catcher stores it in (`camunda:resultVariable`).
    /// `None` on a catch: its variables are set in the catcher's scope.
    #[serde(default)]
    pub message_variable: Option<String>,
    /// Context-based correlation of a catch (`spiffworkflow:processVariableCorrelation`):
    /// `(correlation property id, expression over the catcher's variables)`, the value a
    /// message's property must have to be caught here.
    #[serde(default)]
    pub message_correlations: Vec<(String, String)>,
    /// Its `<ioSpecification>`, if any: the data outputs it must produce.
    #[serde(default)]
    pub io_specification: Option<IoSpecification>,
    /// The data objects its `dataOutputAssociation`s write when it completes (BPMN 2.0
    /// §10.4.5), by id (a `dataObjectReference` resolved to its object).
    #[serde(default)]
    pub data_object_outputs: Vec<String>,
    /// Input mappings on non-service elements (call activities, subprocesses, user tasks).
    pub input_mappings: Vec<Mapping>,
    /// Output mappings on non-service elements.
    pub output_mappings: Vec<Mapping>,
}

impl FlowElement {
    /// A new element with nothing but id, kind and position.
    pub fn new(id: impl Into<String>, kind: ElementKind, position: Position) -> Self {
        FlowElement {
            id: id.into(),
            name: None,
            kind,
            position,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            parent: None,
            default_flow: None,
            event: None,
            attached_to: None,
            cancel_activity: true,
            called_element: None,
            binding: None,
            script: None,
            pre_script: None,
            post_script: None,
            loop_characteristics: None,
            triggered_by_event: false,
            message_ref: None,
            message_payload: None,
            message_variable: None,
            message_correlations: Vec::new(),
            io_specification: None,
            data_object_outputs: Vec::new(),
            input_mappings: Vec::new(),
            output_mappings: Vec::new(),
        }
    }
}

/// A sequence flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceFlow {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// `sourceRef`.
    pub source: String,
    /// `targetRef`.
    pub target: String,
    /// `conditionExpression` text.
    pub condition: Option<String>,
    /// The subprocess it is in.
    pub parent: Option<String>,
    /// Where it is.
    pub position: Position,
}
