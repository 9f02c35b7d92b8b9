#!/usr/bin/env python3
"""SpiffWorkflow 3.2.0 as the oracle of the differential tests, on a virtual clock.

Runs BPMN files the way ../shared/tools/spiff-oracle/spiff_run.py does (stub service
handlers, human tasks answered with given values, the same output fields), except that time
is virtual: when nothing can move, the clock jumps to the next timer that is due (or the next
human task's hold), so timer paths are deterministic and take no wall time.

One request per run, as JSON:
    {"file": PATH, "process": ID|null, "data": {...}, "human": {"*"|ID: {...}}, "hold": S,
     "parser": "auto"|"bpmn"|"spiff"|"camunda", "wall": SECONDS,
     "messages": [{"name": N, "payload": {...}}],   # sent in turn when no person's task is left
     "functions": [NAME, ...]}   # functions of SpiffWorkflow's test modules (TEST_FUNCTIONS) in its scripts' environment
A "human" value that is null leaves that task unanswered. A "human" value that is a list gives one answer per completion of that task, in turn (the
tasks of a multi-instance activity get different answers, the way SpiffWorkflow's tests
enumerate them); its last item answers any further completion. A message's correlation key
values are derived from its payload by the retrieval expressions the model gives that message
(BPMN 2.0 §8.3.2), as SpiffWorkflow derives them for a message it throws itself.
usage:
    spiff_oracle.py FILE [--process ID] [--data JSON] [--human JSON] [--hold S] [--parser P]
                    [--messages JSON] [--functions JSON]
    spiff_oracle.py --serve        # one request per stdin line, one JSON result per stdout line
Every result is one JSON object: file, process, completed, error, completed_bpmn_ids
(completion order; loop and multi-instance children as '<id> [child]'), service_calls
([element, operator, params]), final_data, notes, and limit: true when the run did not
finish within the driver's bounds (rounds, tasks, nesting depth, "wall" seconds), so its
partial record says nothing about SpiffWorkflow's semantics, and crash: true when
SpiffWorkflow failed inside its own code (see `internal_crash`): it gave no answer either.
"""
import argparse
import glob
import json
import os
import re
import signal
import sys
import traceback
from datetime import datetime, timedelta, timezone

from lxml import etree
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module
import SpiffWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException

BPMN = '{http://www.omg.org/spec/BPMN/20100524/MODEL}'
MAX_ROUNDS = 2000
MAX_COMPLETIONS = 900  # SpiffWorkflow ends an endless engine-only loop after 1000 steps as if complete
MAX_DEPTH = 20  # subprocesses and call activities nested deeper fail: ends unbounded recursion
MAX_TASKS = 5000  # a run whose task tree grows past this (unbounded fan-out) is cut short
WALL_SECONDS = 20  # the default cap on one run's wall time ("wall" in a request)
HORIZON = timedelta(days=400)


class Clock:
    """The virtual now every SpiffWorkflow timer reads."""
    now = datetime.now(timezone.utc)


class VirtualDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return Clock.now if tz is not None else Clock.now.replace(tzinfo=None)


timer_module.datetime = VirtualDatetime
# SpiffWorkflow walks its task tree recursively: a model with loops nests it deeply. Python 3.11
# calls between Python functions use no C stack, so a higher limit is safe.
sys.setrecursionlimit(20000)


class Log:
    """What the run being driven did."""
    completed = []
    calls = []
    limit = False


_set_state = Task._set_state


def _recording_set_state(self, value):
    was = self._state
    _set_state(self, value)
    if value == TaskState.COMPLETED and was != TaskState.COMPLETED:
        Log.completed.append(self)
        if len(Log.completed) > MAX_COMPLETIONS:
            limit('more than %d completions' % MAX_COMPLETIONS)
        if getattr(self.workflow, 'depth', 0) > MAX_DEPTH:
            limit('subprocesses nested more than %d deep' % MAX_DEPTH)


Task._set_state = _recording_set_state

RESULTS = {
    'orders/Load': lambda p: {'id': p.get('order_id'), 'amount': 250},
    'risk/Score': lambda p: {'score': 0.1},
}


class StubScriptEngine(PythonScriptEngine):
    """spiffworkflow:serviceTaskOperator calls: recorded, answered like the engine's stub."""

    def call_service(self, task, operation_name, operation_params):
        params = {k: v['value'] for k, v in operation_params.items()}
        Log.calls.append([task.task_spec.bpmn_id, operation_name, params])
        answer = RESULTS.get(operation_name, lambda p: {'ok': True, 'operation': operation_name})
        return json.dumps(answer(params))


def _counter():
    """TimerCycleTest's and TimerCycleStartTest's custom_function: counts its calls."""
    calls = [0]

    def custom_function():
        calls[0] += 1
        return calls[0]
    return custom_function


# the functions SpiffWorkflow's test modules add to their script engine's environment, by name
# (a fresh one per run); a case names the ones its test module adds (--functions)
TEST_FUNCTIONS = {'custom_function': _counter}


def script_engine(functions):
    unknown = sorted(set(functions) - set(TEST_FUNCTIONS))
    if unknown:
        raise ValueError('no SpiffWorkflow test-module function %s' % unknown)
    return StubScriptEngine(environment=TaskDataEnvironment({f: TEST_FUNCTIONS[f]() for f in functions}))


def parser_for(path, choice='auto'):
    if choice != 'auto':
        return {'bpmn': BpmnParser, 'spiff': SpiffBpmnParser, 'camunda': CamundaParser}[choice]()
    text = open(path, 'rb').read()
    if b'spiffworkflow.org/bpmn/schema' in text:
        return SpiffBpmnParser()
    if b'camunda.org/schema/1.0/bpmn' in text and (b'camunda:formData' in text or b'businessRuleTask' in text):
        return CamundaParser()
    return BpmnParser()


def ids_in(path):
    try:
        root = etree.parse(path).getroot()
    except Exception:
        return [], [], []
    procs = [p.get('id') for p in root.iter(BPMN + 'process') if p.get('isExecutable', 'true') != 'false']
    called = [c.get('calledElement') for c in root.iter(BPMN + 'callActivity')]
    collabs = [c.get('id') for c in root.iter(BPMN + 'collaboration')]
    return procs, called, collabs


def load(path, process_id, choice):
    """The specs to run and the process (or collaboration) id chosen."""
    parser = parser_for(path, choice)
    parser.add_bpmn_file(path)
    procs, called, collabs = ids_in(path)
    missing, seen = set(called) - set(procs), {os.path.abspath(path)}
    folder = os.path.dirname(path) or '.'
    while missing:
        added = False
        for other in sorted(glob.glob(os.path.join(folder, '*.bpmn*'))):
            if os.path.abspath(other) in seen:
                continue
            p2, c2, _ = ids_in(other)
            if missing & set(p2):
                parser.add_bpmn_file(other)
                seen.add(os.path.abspath(other))
                missing = (missing | (set(c2) - set(p2))) - set(p2)
                added = True
        if not added:
            break
    if process_id is None:
        top = [p for p in procs if p not in called]
        if len(top) > 1 and collabs:
            process_id = collabs[0]
        else:
            process_id = (top or procs)[0]
    if process_id in collabs:
        return parser.get_collaboration(process_id), process_id
    return (parser.get_spec(process_id), parser.get_subprocess_specs(process_id)), process_id


def label(task):
    spec = task.task_spec
    bid = getattr(spec, 'bpmn_id', None)
    if bid is None:
        return None  # SpiffWorkflow's own specs (Start, End, joins)
    return spec.name if spec.name != bid else bid


def unanswered(task, human):
    """True when the inputs give this task null: nobody answers it (it waits for ever)."""
    bid = getattr(task.task_spec, 'bpmn_id', None)
    return bid in human and human[bid] is None


def human_values(task, human, answered):
    values = {}
    for key in ('*', getattr(task.task_spec, 'bpmn_id', None)):
        given = human.get(key, {})
        if isinstance(given, list):  # one answer per completion of this task, in turn
            n = answered.get(key, 0)
            answered[key] = n + 1
            given = given[min(n, len(given) - 1)] if given else {}
        values.update(given)
    return {k: eval(v[1:], {}, dict(task.data)) if isinstance(v, str) and v.startswith('$') else v
            for k, v in values.items()}


def next_timer(wf):
    """The earliest due time of a pending timer after now, if any."""
    due = []
    for ev in wf.waiting_events():
        if not ev.event_type.endswith('TimerEventDefinition') or not isinstance(ev.value, str):
            continue
        try:
            at = timer_module.TimerEventDefinition.get_datetime(ev.value)
        except ValueError:
            continue
        due.append(at)
    return min(due) if due else None


def incoming_message(wf, name, payload):
    """The event for message `name` sent from outside with `payload` (a JSON object).

    It takes the class of the model's own catch or start events for that message (SpiffWorkflow
    matches a message by class and name). Its correlation key values are the retrieval
    expressions of those events' correlation properties evaluated over the payload, as
    SpiffWorkflow derives them for a message it throws itself. A Camunda catch event stores a
    message's value in one variable (the thrower's resultVariable): a payload with one
    variable is sent as that value and variable.
    """
    definitions = [t.task_spec.event_definition for t in wf.event_manager.tasks.values()]
    for sp_spec in list(wf.subprocess_specs.values()) + [wf.spec]:
        definitions += [ts.event_definition for ts in getattr(sp_spec, 'bpmn_start_events', [])]
    catcher = next((d for d in definitions if isinstance(d, MessageEventDefinition) and d.name == name), None)
    if catcher is None:
        return BpmnEvent(MessageEventDefinition(name), payload)
    correlations = {}
    if catcher.correlation_properties:
        correlations = catcher.calculate_correlations(wf.script_engine, catcher.correlation_properties, payload)
    if isinstance(catcher, CamundaMessageEventDefinition) and len(payload) == 1:
        (var, value), = payload.items()
        payload = {'payload': value, 'result_var': var}
    return BpmnEvent(type(catcher)(name), payload, correlations)


def drive(specs, data, human, hold, messages, functions=()):
    spec, subs = specs
    wf = BpmnWorkflow(spec, subs, script_engine=script_engine(functions))
    if data:
        wf.task_tree.data.update(data)
    notes, ready_since, answered = [], {}, {}
    wf.do_engine_steps()
    for _ in range(MAX_ROUNDS):
        if wf.is_completed():
            break
        if len(wf.get_tasks()) > MAX_TASKS:
            limit('more than %d tasks' % MAX_TASKS)
        progressed = False
        for t in wf.get_tasks(state=TaskState.READY, manual=True):
            if unanswered(t, human):
                continue
            since = ready_since.setdefault(t.id, Clock.now)
            if Clock.now - since >= timedelta(seconds=hold):
                t.data.update(human_values(t, human, answered))
                t.run()
                progressed = True
        for t in wf.get_tasks(state=TaskState.STARTED):
            if isinstance(t.task_spec, ServiceTaskMixin):
                t.complete()
                progressed = True
        if not progressed and messages:
            name, payload = messages.pop(0)
            wf.catch(incoming_message(wf, name, payload))
            wf.refresh_waiting_tasks()
            progressed = True
        if progressed:
            wf.do_engine_steps()
            continue
        waits = [since + timedelta(seconds=hold) for tid, since in ready_since.items()
                 if any(t.id == tid for t in wf.get_tasks(state=TaskState.READY, manual=True))]
        timer = next_timer(wf)
        candidates = [w for w in waits + ([timer] if timer else []) if w >= Clock.now]
        start = Clock.start
        if not candidates or min(candidates) - start > HORIZON:
            notes.append('STUCK waiting on %s' % sorted(
                label(t) or t.task_spec.name for t in wf.get_tasks(state=TaskState.WAITING)))
            break
        Clock.now = min(candidates) + timedelta(milliseconds=1)
        wf.refresh_waiting_tasks()
        wf.do_engine_steps()
    else:
        limit('still running after %d rounds' % MAX_ROUNDS)
    return wf, notes


class LimitReached(Exception):
    """The run does not finish within the driver's bounds (rounds, tasks, depth, wall time)."""


def limit(why):
    """Ends the run as unfinished (SpiffWorkflow may wrap the exception: the flag stays)."""
    Log.limit = True
    raise LimitReached(why)


def _alarm(_signum, _frame):
    limit('no result within the wall-time cap')


def first_line(e):
    """The error's first line, without object addresses (they change from run to run)."""
    line = ('%s: %s' % (type(e).__name__, e)).splitlines()[0]
    return re.sub(r' at 0x[0-9a-f]+', '', line)[:300]


SPIFF_DIR = os.path.dirname(os.path.abspath(SpiffWorkflow.__file__)) + os.sep


def internal_crash(e):
    """Where SpiffWorkflow failed in its own code, "SpiffWorkflow/FILE:LINE", else None.

    SpiffWorkflow reports what it finds wrong with a model as a SpiffWorkflowException
    (WorkflowTaskException wraps a script's or a condition's error, with the task). It also
    lets some errors about a model's data escape raw (a multi-instance input collection that
    is None: "TypeError: 'NoneType' object is not iterable", two corpus files): those are still
    answers about the model and compare. A crash is narrower: an AttributeError raised by
    SpiffWorkflow's own code (the innermost frame in its package) on None or on one of its own
    objects (a task without a parent, say): its task tree is broken, no answer about the model.
    """
    if not isinstance(e, AttributeError) or isinstance(e, SpiffWorkflowException):
        return None
    owner = type(getattr(e, 'obj', None))
    if getattr(e, 'obj', None) is not None and not owner.__module__.startswith('SpiffWorkflow'):
        return None
    frames = traceback.extract_tb(e.__traceback__)
    if not frames or not os.path.abspath(frames[-1].filename).startswith(SPIFF_DIR):
        return None
    last = frames[-1]
    return '%s:%d' % (os.path.relpath(last.filename, os.path.dirname(SPIFF_DIR.rstrip(os.sep))), last.lineno)


def run(request):
    Log.completed, Log.calls, Log.limit = [], [], False
    Clock.now = Clock.start = datetime.now(timezone.utc)
    path = request['file']
    data, human, hold = request.get('data') or {}, request.get('human') or {}, float(request.get('hold') or 0)
    out = {'file': path, 'process': request.get('process'), 'completed': False, 'error': None,
           'limit': False, 'crash': False, 'completed_bpmn_ids': [], 'service_calls': [], 'final_data': None, 'notes': []}
    try:
        specs, out['process'] = load(path, request.get('process'), request.get('parser') or 'auto')
    except Exception as e:
        out['error'] = 'LOAD ' + first_line(e)
        return out
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(request.get('wall') or WALL_SECONDS))
    try:
        messages = [(m['name'], m.get('payload') or {}) for m in request.get('messages') or []]
        wf, out['notes'] = drive(specs, data, human, hold, messages, request.get('functions') or [])
        out['completed'] = wf.is_completed()
        if out['completed']:
            # data objects are the process's variables (BPMN 2.0 §10.4.1); SpiffWorkflow files
            # them under 'data_objects': they are listed with the other variables here
            final = dict(wf.data)
            final.update(final.pop('data_objects', None) or {})
            out['final_data'] = json.loads(json.dumps(final, default=str))
    except Exception as e:
        out['error'] = first_line(e)
        # SpiffWorkflow's own failures (not the model's): its stack, its task tree
        out['limit'] = Log.limit or isinstance(e, RecursionError) or type(e).__name__ == 'TaskNotFoundException'
        where = None if out['limit'] else internal_crash(e)
        if where:
            out['crash'] = True
            out['error'] += ' (in %s)' % where
    finally:
        signal.alarm(0)
    out['completed_bpmn_ids'] = [x for x in map(label, Log.completed) if x is not None]
    out['service_calls'] = Log.calls
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('file', nargs='?')
    ap.add_argument('--serve', action='store_true')
    ap.add_argument('--process')
    ap.add_argument('--data', default='{}')
    ap.add_argument('--human', default='{}')
    ap.add_argument('--hold', type=float, default=0.0)
    ap.add_argument('--messages', default='[]')
    ap.add_argument('--parser', default='auto')
    ap.add_argument('--functions', default='[]')
    a = ap.parse_args()
    out, sys.stdout = sys.stdout, sys.stderr  # what a model's scripts print must not mix in
    if a.serve:
        for line in sys.stdin:
            if line.strip():
                try:
                    result = run(json.loads(line))
                except Exception as e:  # a bad request must not end the server
                    result = {'error': 'REQUEST ' + first_line(e)}
                print(json.dumps(result), file=out, flush=True)
        return
    if not a.file:
        ap.error('a FILE or --serve')
    print(json.dumps(run({'file': a.file, 'process': a.process, 'data': json.loads(a.data),
                          'human': json.loads(a.human), 'hold': a.hold, 'parser': a.parser,
                          'messages': json.loads(a.messages), 'functions': json.loads(a.functions)})), file=out)


if __name__ == '__main__':
    main()
