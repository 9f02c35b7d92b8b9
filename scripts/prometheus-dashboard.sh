#!/usr/bin/env bash
# The Grafana dashboard's queries answered by a real Prometheus (issue 14): starts
# `servicetask serve` and Debian's `prometheus` scraping it every second, runs a workload
# (ledger_append instances, some failing with an I/O error), then sends every PromQL expression
# of dashboards/servicetask.json to Prometheus's HTTP API. Fails when a query is refused or when
# a panel this workload feeds answers no series. Needs `prometheus` on PATH and a built binary:
#   cargo build -p servicetask-cli && bash scripts/prometheus-dashboard.sh
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

SERVE="http://127.0.0.1:$serve_port" PROM="http://127.0.0.1:$prom_port" WORK="$work" \
DASHBOARD="$root/dashboards/servicetask.json" python3 - <<'PY'
import json, os, sys, time, urllib.parse, urllib.request

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
failed = False
dashboard = json.load(open(os.environ["DASHBOARD"]))
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        expr = (target["expr"].replace("$task", ".*").replace("$__rate_interval", "1m")
                .replace("$__range", "5m"))
        answer = call(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        series = answer["data"]["result"] if answer["status"] == "success" else []
        optional = any(panel["title"].startswith(t) for t in needs_an_event)
        ok = answer["status"] == "success" and (series or optional)
        failed |= not ok
        value = series[0]["value"][1] if series else "-"
        print(f"{'ok ' if ok else 'BAD'} {len(series):2} series  {panel['title']} [{target['refId']}]  {value}")
sys.exit(1 if failed else 0)
PY
