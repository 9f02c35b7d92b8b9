//! Element behaviour, one BPMN element kind per file, each an `impl Instance` block.

mod boundary_event;
mod call_activity;
mod end_event;
mod event_gateway;
mod event_subprocess;
mod exclusive_gateway;
mod inclusive_gateway;
mod intermediate_event;
mod multi_instance;
mod parallel_gateway;
mod script_task;
mod service_task;
mod signal_event;
mod standard_loop;
mod subprocess;
mod wait_task;
pub(crate) use boundary_event::Thrown;
