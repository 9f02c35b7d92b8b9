#!/usr/bin/env bash
# Screenshots of the web console (issue 14): runs the console's browser test, which starts a
# real `servicetask serve` with the demo's process, drives headless Chromium through the
# instances list, an incident retried to completion, a user task's form and the task panels,
# and saves a full-page PNG of each on the way. The PNGs stay out of git:
#   bash scripts/console-screenshots.sh [DIR]     (default target/console-screenshots)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/console-screenshots}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
# the test is #[ignore]d (it needs Chromium): --ignored runs it
SERVICETASK_CONSOLE_SCREENSHOTS="$out" \
  cargo test -p servicetask-cli --test console_browser -- --ignored --nocapture
ls -l "$out"/*.png
