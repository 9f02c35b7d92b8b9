#!/usr/bin/env python3
"""Turns every file of SpiffWorkflow's test corpus into conformance cases with SpiffWorkflow's
own behaviour as the expectation.

usage: spiff_corpus.py CORPUS INPUTS EXPECTED [--check]

CORPUS is ../shared/conformance/spiff-corpus; INPUTS (ours, hand-written) lists the runs a
file needs: {"file", "process"?, "args": ["--data", JSON, "--human", JSON, "--hold", S,
"--parser", P], "source": the SpiffWorkflow test module the inputs come from, "why"}. A file
INPUTS does not name gets one run with no inputs. Each folder's files are parsed the way that
folder's tests parse them (bpmn/: BpmnParser, camunda/: CamundaParser, spiff/: SpiffBpmnParser). Each run goes through spiff_oracle.py, and
EXPECTED gets one case per run in the format of conformance/bpmn/expected.json. With --check,
EXPECTED is not written: the fresh result is compared with it and any difference fails.
"""
import difflib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spiff_oracle  # noqa: E402


def corpus_files(corpus):
    found = []
    for folder, _dirs, files in os.walk(corpus):
        for name in files:
            if name.endswith('.bpmn') or name.endswith('.bpmn20.xml'):
                found.append(os.path.relpath(os.path.join(folder, name), corpus))
    return sorted(found)


PARSERS = {'bpmn': 'bpmn', 'camunda': 'camunda', 'spiff': 'spiff'}  # as each folder's tests load it


def request(corpus, run):
    folder = run['file'].split('/')[0]
    req = {'file': os.path.join(corpus, run['file']), 'process': run.get('process'),
           'parser': PARSERS.get(folder, 'auto')}
    args = run.get('args', [])
    for flag, value in zip(args[::2], args[1::2]):
        key = flag.lstrip('-')
        req[key] = float(value) if key == 'hold' else value if key == 'parser' else json.loads(value)
    return req


def first_process(path):
    """The id of the file's first process, executable or not ('' when it has none)."""
    try:
        found = spiff_oracle.etree.parse(path).getroot().find('.//' + spiff_oracle.BPMN + 'process')
    except Exception:
        return ''
    return found.get('id', '') if found is not None else ''


def case(corpus, run):
    out = spiff_oracle.run(request(corpus, run))
    process = out['process']
    if process is None:  # rejected before a process was chosen: name the file's first one
        process = first_process(os.path.join(corpus, run['file']))
    return {
        'file': run['file'],
        'process': process,
        'args': run.get('args', []),
        'source': run.get('source', ''),
        'why': run.get('why', ''),
        'completed': out['completed'],
        'error': out['error'],
        'notes': out['notes'],
        'limit': out['limit'],
        'expected_completed_order': out['completed_bpmn_ids'],
        'service_calls': out['service_calls'],
        'final_data': out['final_data'],
    }


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    corpus, inputs_path, expected_path = sys.argv[1:4]
    check = '--check' in sys.argv[4:]
    inputs = json.load(open(inputs_path))
    by_file = {}
    for run in inputs:
        by_file.setdefault(run['file'], []).append(run)
    files = corpus_files(corpus)
    unknown = sorted(set(by_file) - set(files))
    if unknown:
        sys.exit('inputs name files the corpus does not have: %s' % unknown)
    real_stdout, sys.stdout = sys.stdout, sys.stderr  # the models' scripts print
    cases = [case(corpus, run) for f in files for run in by_file.get(f, [{'file': f}])]
    sys.stdout = real_stdout
    text = json.dumps(cases, indent=1, sort_keys=True) + '\n'
    if not check:
        open(expected_path, 'w').write(text)
        print('%d cases from %d files written to %s' % (len(cases), len(files), expected_path))
        return
    old = open(expected_path).read()
    if old != text:
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                   expected_path, 'SpiffWorkflow now'))
        sys.exit('%s differs from what SpiffWorkflow does now' % expected_path)
    print('%d cases from %d files: %s matches SpiffWorkflow' % (len(cases), len(files), expected_path))


if __name__ == '__main__':
    main()
