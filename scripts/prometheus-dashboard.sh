#!/usr/bin/env bash
# The Grafana dashboard's queries answered by a real Prometheus (issue 14): starts
# `servicetask serve` and Debian's `prometheus` scraping it every second, runs a workload
# (ledger_append instances, some failing with an I/O error), then sends every PromQL expression
# of dashboards/servicetask.json to Prometheus's HTTP API. Fails when a query is refused or when
# a panel this workload feeds answers no series. Prometheus runs with exemplar storage
# (--enable-feature=exemplar-storage), so it scrapes OpenMetrics (the format it asks for first)
# and keeps the duration histogram's exemplars: the script also fails unless the scrape target is
# healthy and /api/v1/query_exemplars answers, for the duration buckets of both a completed and a
# failed execution, exemplars whose trace ids are those of the instances it started (their
# `traceparent`) and whose values lie in their bucket. Needs `prometheus` on PATH and a built binary:
#   cargo build -p servicetask-cli && bash scripts/prometheus-dashboard.sh
# With SCREENSHOTS=DIR (or SCREENSHOTS=1 for target/screenshots) it also saves, after the checks,
# a PNG of Prometheus's own graph page for the dashboard's key queries (throughput, error rate by
# class, p95 duration, breaker state, queue depth), taken with headless Chromium (CHROMIUM, default
# /usr/bin/chromium).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SERVICETASK_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/servicetask}
[ -x "$bin" ] || { echo "no servicetask binary at $bin: cargo build -p servicetask-cli first (or set SERVICETASK_BIN)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve_port=$(free_port)
prom_port=$(free_port)

"$bin" serve --bind "127.0.0.1:$serve_port" --database "$work/serve.db" --poll-ms 20 >"$work/serve.log" 2>&1 &
pids+=($!)
cat >"$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: servicetask
    static_configs: [{targets: ["127.0.0.1:$serve_port"]}]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --enable-feature=exemplar-storage \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)

shots=${SCREENSHOTS:-}
[ "$shots" = 1 ] && shots=$root/target/screenshots
[ -n "$shots" ] && mkdir -p "$shots" && shots=$(cd "$shots" && pwd)
SERVE="http://127.0.0.1:$serve_port" PROM="http://127.0.0.1:$prom_port" WORK="$work" SHOTS="$shots" \
DASHBOARD="$root/dashboards/servicetask.json" python3 - <<'PY'
import json, os, subprocess, sys, tempfile, time, urllib.parse, urllib.request

serve, prom, work = os.environ["SERVE"], os.environ["PROM"], os.environ["WORK"]

def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=10))

def wait_for(url):
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"{url} never answered")

wait_for(serve + "/health")
wait_for(prom + "/-/ready")
xml = """<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="ledger" isExecutable="true">
  <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
  <serviceTask id="a" implementation="ledger_append"/><sequenceFlow id="f2" sourceRef="a" targetRef="end"/>
  <endEvent id="end"/></process></definitions>"""
call(serve + "/v1/deployments", {"name": "ledger.bpmn", "xml": xml})
started_at = time.time() - 1
traces = set()  # the trace id of every instance started (its W3C traceparent's second field)
def start(ledger):
    instance = call(serve + "/v1/instances", {"processId": "ledger", "variables": {"ledger": ledger}})
    if instance.get("traceparent"):
        traces.add(instance["traceparent"].split("-")[1])
for _ in range(10):  # 10 s of work, scraped every second
    for _ in range(10):
        start(work + "/ledger.txt")
    for _ in range(2):  # the ledger is a directory: an I/O error
        start(work)
    time.sleep(1)
time.sleep(2)

# panels that need an event this workload does not cause (retry, breaker, rejection, memory
# tracking, take-over, anomaly): their queries must be accepted, and may answer nothing
needs_an_event = {"Retries", "Breaker state", "Bulkhead and breaker rejections",
                  "Peak memory per execution (mean)", "Lease take-overs and expiries", "Anomalies"}
def promql(expr, rate_interval):
    """A dashboard expression with Grafana's variables given values: every task."""
    return (expr.replace("$task", ".*").replace("$__rate_interval", rate_interval)
            .replace("$__range", "5m"))

failed = False
dashboard = json.load(open(os.environ["DASHBOARD"]))
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        expr = promql(target["expr"], "1m")
        answer = call(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        series = answer["data"]["result"] if answer["status"] == "success" else []
        optional = any(panel["title"].startswith(t) for t in needs_an_event)
        ok = answer["status"] == "success" and (series or optional)
        failed |= not ok
        value = series[0]["value"][1] if series else "-"
        print(f"{'ok ' if ok else 'BAD'} {len(series):2} series  {panel['title']} [{target['refId']}]  {value}")

# the scrape: OpenMetrics (Prometheus asks for it first), parsed by Prometheus without error
targets = call(prom + "/api/v1/targets")["data"]["activeTargets"]
for t in targets:
    print(f"{'ok ' if t['health'] == 'up' else 'BAD'} scrape target {t['scrapeUrl']}: {t['health']} {t['lastError']}")
    failed |= t["health"] != "up"

# the duration histogram's exemplars as Prometheus stored them
answer = call(prom + "/api/v1/query_exemplars?" + urllib.parse.urlencode({
    "query": 'servicetask_duration_seconds_bucket{servicetask_name="ledger_append"}',
    "start": f"{started_at:.3f}", "end": f"{time.time() + 1:.3f}"}))
by_outcome = {}
problems = []
if answer["status"] != "success":
    problems.append(f"query_exemplars refused: {answer}")
for series in answer.get("data") or []:
    labels = series["seriesLabels"]
    le = float(labels["le"])
    bounds = sorted({float(s["seriesLabels"]["le"]) for s in answer["data"]
                     if s["seriesLabels"].get("servicetask_outcome") == labels.get("servicetask_outcome")})
    lower = max([b for b in bounds if b < le], default=float("-inf"))
    for e in series["exemplars"]:
        trace, value = e["labels"].get("trace_id", ""), float(e["value"])
        if set(e["labels"]) != {"trace_id", "span_id"}:
            problems.append(f"exemplar labels {e['labels']}: want trace_id and span_id only")
        if trace not in traces:
            problems.append(f"exemplar trace {trace!r} is no instance's trace")
        if not lower < value <= le:
            problems.append(f"exemplar value {value} outside its bucket ({lower}, {le}]")
        by_outcome.setdefault(labels.get("servicetask_outcome"), []).append(trace)
for outcome in ("complete", "failure"):
    if not by_outcome.get(outcome):
        problems.append(f"no exemplar on the duration buckets of a {outcome} execution")
for p in problems[:20]:
    print("BAD", p)
failed |= bool(problems)
count = sum(len(v) for v in by_outcome.values())
print(f"{'BAD' if problems else 'ok '} {count} exemplars on servicetask_duration_seconds_bucket "
      f"({', '.join(f'{k}: {len(v)}' for k, v in sorted(by_outcome.items()))}), "
      f"every one an instance's trace")

if failed or not os.environ["SHOTS"]:
    sys.exit(1 if failed else 0)

# Prometheus's classic graph page (the UI Debian's package serves) over the last 30 s. The rate
# window is 10 s, near what Grafana's $__rate_interval gives for a 1 s scrape, so the curve shows
# the workload's shape rather than a one-minute average.
shots = {  # file name: (panel title, refId)
    "throughput": ("Throughput per task", "A"),
    "error-rate-by-class": ("Error rate by class", "A"),
    "duration-p95": ("Duration p50 / p95 / p99", "B"),
    "breaker-state": ("Breaker state", "A"),
    "queue-depth": ("Job queue depth and oldest job age", "A"),
}
exprs = {(p["title"], t["refId"]): t["expr"] for p in dashboard["panels"] for t in p["targets"]}
chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for name, (title, ref) in shots.items():
    expr = next(e for (t, r), e in exprs.items() if t.startswith(title) and r == ref)
    url = prom + "/graph?" + urllib.parse.urlencode({
        "g0.expr": promql(expr, "10s"), "g0.tab": "0", "g0.range_input": "30s"})
    png = os.path.join(os.environ["SHOTS"], f"prometheus-{name}.png")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--window-size=1400,900", "--virtual-time-budget=5000",
                        f"--screenshot={png}", url],
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.getsize(png):
        sys.exit(f"{png}: chromium wrote an empty file")
    print(f"saved {png}")
PY
