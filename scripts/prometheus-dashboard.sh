#!/usr/bin/env bash
# The Grafana dashboard's queries answered by a real Prometheus (issue 14): starts
# `servicetask serve` and Debian's `prometheus` scraping it every second, runs a workload
# (ledger_append instances, some failing with an I/O error), then sends every PromQL expression
# of dashboards/servicetask.json to Prometheus's HTTP API. Fails when a query is refused or when
# a panel this workload feeds answers no series. Needs `prometheus` on PATH and a built binary:
#   cargo build -p servicetask-cli && bash scripts/prometheus-dashboard.sh
# With SCREENSHOTS=DIR (or SCREENSHOTS=1 for target/screenshots) it also saves, after the checks,
# a PNG of Prometheus's own graph page for the dashboard's key queries (throughput, error rate by
# class, p95 duration, breaker state, queue depth), taken with headless Chromium (CHROMIUM, default
# /usr/bin/chromium).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SERVICETASK_BIN:-$root/target/debug/servicetask}
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
for _ in range(10):  # 10 s of work, scraped every second
    for _ in range(10):
        call(serve + "/v1/instances", {"processId": "ledger", "variables": {"ledger": work + "/ledger.txt"}})
    for _ in range(2):  # the ledger is a directory: an I/O error
        call(serve + "/v1/instances", {"processId": "ledger", "variables": {"ledger": work}})
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
