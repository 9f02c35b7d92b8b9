//! Boundary events: timers armed when their activity starts (interrupting or not, cycles), and
//! error events catching BPMN errors thrown inside their activity (most specific code first,
//! then catch-all; the nearest enclosing activity wins).

use super::event_subprocess::Trigger;
use crate::error::{EngineError, Location};
use crate::instance::{Instance, ProcIndex};
use crate::state::{Id, TimerAction, TokenState};
use serde_json::{Map, Value};
use servicetask_bpmn::timer;
use servicetask_bpmn::{EventDefinition, FlowElement, TimerKind};
use std::time::Duration;

/// A BPMN error on its way to a catcher.
#[derive(Debug, Clone)]
pub(crate) struct Thrown {
    /// The error code.
    pub code: String,
    /// The `<error>` id the thrower referenced.
    pub error_ref: Option<String>,
    /// A message.
    pub message: String,
    /// SpiffWorkflow payload.
    pub payload: Option<Value>,
    /// Variables set where the error is caught.
    pub variables: Map<String, Value>,
}

impl Instance {
    /// Evaluates a timer definition to (first delay, repetitions after the first, interval).
    pub(crate) fn timer_delay(
        &self,
        p: &ProcIndex,
        el: &FlowElement,
        kind: TimerKind,
        text: &str,
        scope: Id,
    ) -> Result<(Duration, Option<u32>, Duration), EngineError> {
        let t = text.trim();
        let direct = !(t.starts_with('=') || t.starts_with("${"));
        let text_value = if direct && parse_kind(kind, t).is_ok() {
            t.to_string()
        } else {
            match self.eval(p, &el.id, "timer", t, scope)? {
                Value::String(s) => s,
                Value::Number(n) if kind == TimerKind::Duration => format!("PT{}S", n),
                other => other.to_string(),
            }
        };
        let bad = |e: timer::TimerError| {
            EngineError::Expression {
            at: p.location(&el.id),
            what: "timer".to_string(),
            message: e.to_string(),
            help: "write an ISO-8601 duration such as PT5S, a cycle such as R3/PT10S, or a date such as 2026-01-01T00:00:00Z".to_string(),
        }
        };
        match kind {
            TimerKind::Duration => {
                let d = timer::parse_duration(&text_value).map_err(bad)?;
                Ok((d, Some(0), d))
            }
            TimerKind::Cycle => {
                let c = timer::parse_cycle(&text_value).map_err(bad)?;
                Ok((c.interval, c.repetitions.map(|r| r.saturating_sub(1)), c.interval))
            }
            TimerKind::Date => {
                let at = timer::parse_date(&text_value).map_err(bad)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let d = Duration::from_secs(at.saturating_sub(now).max(0) as u64);
                Ok((d, Some(0), d))
            }
        }
    }

    /// Arms the timer boundary events of the activity token `tid` is entering.
    pub(crate) fn arm_boundary_timers(&mut self, tid: Id, p: &ProcIndex, el: &FlowElement) -> Result<(), EngineError> {
        if !p.has_timer_boundary(&el.id) {
            return Ok(());
        }
        let scope = self.tokens[&tid].scope;
        let boundaries: Vec<FlowElement> = p.process().boundary_events(&el.id).cloned().collect();
        for b in boundaries {
            if let Some(EventDefinition::Timer { kind, expression }) = &b.event {
                let (first, repeats, interval) = self.timer_delay(p, &b, *kind, expression, scope)?;
                self.add_timer(
                    tid,
                    first,
                    TimerAction::Boundary {
                        boundary: b.id.clone(),
                        interrupting: b.cancel_activity,
                        repeats_left: repeats,
                        interval_ms: interval.as_millis() as u64,
                    },
                );
            }
        }
        Ok(())
    }

    /// A boundary timer of activity token `activity` fired.
    pub(crate) fn fire_boundary(
        &mut self,
        activity: Id,
        boundary: &str,
        interrupting: bool,
    ) -> Result<(), EngineError> {
        let Some(scope) = self.tokens.get(&activity).map(|t| t.scope) else {
            return Ok(());
        };
        self.new_token(scope, boundary, None, TokenState::Ready);
        if interrupting {
            self.cancel_token(activity);
        }
        Ok(())
    }

    /// Throws `err` to the activity token `from` (then its enclosing activities) until an error
    /// boundary event catches it. Uncaught at the process level fails the instance.
    ///
    /// When `from_end_event` is set, `from` is the subprocess whose error end event threw: it
    /// reached an end, so it is recorded as completed before its boundary event fires (as
    /// SpiffWorkflow does); an activity interrupted by a task's error or a timer is not.
    pub(crate) fn throw_error(
        &mut self,
        mut from: Option<Id>,
        err: Thrown,
        at: Box<Location>,
        from_end_event: bool,
        origin_scope: Option<Id>,
    ) -> Result<(), EngineError> {
        // an error event subprocess of the scope the error happened in is nearest
        if let Some(s) = origin_scope {
            if self.trigger_event_subprocess(s, &Trigger::Error(&err))? {
                return Ok(());
            }
        }
        let mut first = from_end_event;
        while let Some(act) = from {
            let record = std::mem::take(&mut first);
            let Some(tok) = self.tokens.get(&act).cloned() else {
                break;
            };
            let owner_of_scope = self.scopes.get(&tok.scope).and_then(|s| s.owner);
            if tok.mi_inner {
                // boundary events belong to the multi-instance body
                from = owner_of_scope;
                self.cancel_token(act);
                continue;
            }
            let p = self.proc_of_scope(tok.scope)?;
            if let Some(b) = find_catcher(&p, &tok.element, &err) {
                let catcher_var = match &b.event {
                    Some(EventDefinition::Error { error_ref: Some(r) }) => {
                        p.defs.error(r).and_then(|d| d.variable_name.clone())
                    }
                    _ => None,
                };
                if let Some(vars) = self.vars_mut(tok.scope) {
                    vars.extend(err.variables.clone());
                    if let (Some(name), Some(payload)) = (catcher_var, err.payload.clone()) {
                        vars.insert(name, payload);
                    }
                }
                if record {
                    self.record_completed(act)?;
                }
                self.new_token(tok.scope, b.id.as_str(), None, TokenState::Ready);
                self.cancel_token(act);
                return Ok(());
            }
            if self.trigger_event_subprocess(tok.scope, &Trigger::Error(&err))? {
                return Ok(());
            }
            from = owner_of_scope;
        }
        Err(EngineError::UncaughtError {
            at,
            code: err.code,
            message: err.message,
        })
    }
}

fn parse_kind(kind: TimerKind, t: &str) -> Result<(), timer::TimerError> {
    match kind {
        TimerKind::Duration => timer::parse_duration(t).map(|_| ()),
        TimerKind::Cycle => timer::parse_cycle(t).map(|_| ()),
        TimerKind::Date => timer::parse_date(t).map(|_| ()),
    }
}

/// The error boundary of `activity` that catches `err`: a specific match first, then a
/// catch-all (no errorRef, or an `<error>` without a code).
fn find_catcher(p: &ProcIndex, activity: &str, err: &Thrown) -> Option<FlowElement> {
    let mut catch_all = None;
    for b in p.process().boundary_events(activity) {
        let Some(EventDefinition::Error { error_ref }) = &b.event else {
            continue;
        };
        match error_ref {
            None => {
                catch_all.get_or_insert_with(|| b.clone());
            }
            Some(r) => {
                if err.error_ref.as_deref() == Some(r.as_str()) {
                    return Some(b.clone());
                }
                match p.defs.error(r) {
                    Some(def) => {
                        let matches = def.code.as_deref() == Some(err.code.as_str())
                            || def.id == err.code
                            || (def.code.is_none() && def.name.as_deref() == Some(err.code.as_str()));
                        if matches {
                            return Some(b.clone());
                        }
                        if def.code.is_none() && def.name.is_none() {
                            catch_all.get_or_insert_with(|| b.clone());
                        }
                    }
                    None => {
                        if r == &err.code {
                            return Some(b.clone());
                        }
                    }
                }
            }
        }
    }
    catch_all
}

#[cfg(test)]
mod tests {
    use super::super::test_support::run;
    use crate::RunOutcome;
    use serde_json::json;

    #[test]
    fn an_interrupting_timer_cancels_its_activity() {
        let (o, done, _) = run(
            r#"<startEvent id="s"/><sequenceFlow id="a" sourceRef="s" targetRef="u"/><userTask id="u"/>
            <boundaryEvent id="b" attachedToRef="u"><timerEventDefinition><timeDuration>PT1S</timeDuration></timerEventDefinition></boundaryEvent>
            <sequenceFlow id="c" sourceRef="b" targetRef="end"/><endEvent id="end"/>"#,
            json!({}),
            0,
        );
        // waits at the user task while the timer is pending
        assert!(
            matches!(
                o,
                RunOutcome::Waiting {
                    next_timer: Some(_),
                    ..
                }
            ),
            "{o:?}"
        );
        assert_eq!(done, ["s"]);
    }
}
