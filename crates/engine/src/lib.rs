//! servicetask-engine: a BPMN 2.0 executor scoped to service-task workflows.
//!
//! - [`Engine`]: built with a [`TaskHandler`] (a [`HandlerRegistry`] of task types, or the
//!   [`StubHandler`]); starts [`Instance`]s of parsed [`servicetask_bpmn::Definitions`].
//! - [`Instance`]: a token-based process instance; [`Instance::run`] drives it until it
//!   completes, fails, or waits for the API (user tasks, incidents, timers while tasks wait).
//! - [`SqliteInstanceStore`]: saves [`InstanceSnapshot`]s so an instance resumes later, in the
//!   same trace.
//!
//! ```
//! use std::sync::Arc;
//! use servicetask_engine::{Engine, RunOutcome, StubHandler};
//! let xml = br#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
//!   <process id="p"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
//!   <serviceTask id="t" implementation="greet"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
//!   <endEvent id="e"/></process></definitions>"#;
//! let (defs, _) = servicetask_bpmn::parse("hello.bpmn", xml);
//! let engine = Engine::new(Arc::new(StubHandler));
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let outcome = rt.block_on(async {
//!     let mut instance = engine.start(&defs, "p", Default::default()).unwrap();
//!     instance.run().await
//! });
//! assert_eq!(outcome, RunOutcome::Completed);
//! ```
//!
//! **Architecture Invariant:** the engine does not depend on the runner crates; the runner is
//! adapted to it through [`TaskHandler`]. Telemetry: one span `<process id>` per instance (with
//! `bpmn.process.id`, `bpmn.process.instance.id`), passed to every [`ServiceCall`] so the task
//! span is its child; a `traceparent` variable makes the instance continue that trace.

pub mod budget;
mod clock;
pub mod conformance;
mod elements;
mod engine;
mod error;
mod handler;
mod idmap;
mod instance;
mod observer;
mod persist;
mod state;
pub mod telemetry;
mod validate;

pub use clock::{Clock, TokioClock, VirtualClock, Wait};
pub use engine::{default_process, is_bpmn_file, load_dir, Deployment, Engine, EngineBuilder, EngineConfig};
pub use error::{EngineError, Location};
pub use handler::{HandlerRegistry, ServiceCall, ServiceFuture, ServiceResult, StubHandler, TaskHandler};
pub use instance::{Instance, InstanceState, RunOutcome};
pub use observer::{ElementEvent, EngineObserver};
pub use persist::{SavedInstance, SqliteInstanceStore};
pub use state::{
    CompletedActivity, Id, Incident, InstanceSnapshot, InstanceStatus, MiState, Scope, ScopeKind, TimerAction,
    TimerEntry, Token, TokenState, WaitingTask,
};
pub use validate::validate_file;
