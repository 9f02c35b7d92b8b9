#!/usr/bin/env bash
# Coverage-guided fuzzing of every target with AFL++ (afl.rs, stable Rust) for MINUTES in all.
#
#   bash crates/fuzz/run.sh MINUTES [TARGET...]     targets: parse validate expr run (default: all)
#
# Builds the seed corpus from ../shared (into target/fuzz/corpus), installs cargo-afl when it is
# missing (it builds AFL++ from source with the machine's C compiler), builds the harness into
# target/afl (instrumented flags differ from the normal build, so it has its own directory),
# then runs afl-fuzz on each target for its share of the time: 1 s per input at most
# (-t 1000), 256 MiB of live heap at most (the harness's allocator aborts past it).
# FUZZ_JOBS=2 runs two targets at a time. Findings stay in target/fuzz/afl/<target>/default/
# {crashes,hangs}; the queue is kept, so a later run resumes from it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
minutes=${1:?usage: run.sh MINUTES [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse validate expr run)
jobs=${FUZZ_JOBS:-1}
out="$root/target/fuzz/afl"
corpus="$root/target/fuzz/corpus"

cd "$root"
cargo run -q -p servicetask-fuzz -- corpus
if ! cargo afl --version >/dev/null 2>&1; then
  echo "== installing cargo-afl (crates.io)"
  cargo install --locked cargo-afl
fi
echo "== building the AFL++ harness"
(cd crates/fuzz/afl && CARGO_TARGET_DIR="$root/target/afl" cargo afl build --release -q)
bin="$root/target/afl/release/servicetask-fuzz-afl"

seconds=$(( minutes * 60 * jobs / ${#targets[@]} ))
[ "$seconds" -ge 10 ] || seconds=10
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_AUTORESUME=1 AFL_IGNORE_SEED_PROBLEMS=1 AFL_NO_AFFINITY=1 AFL_QUIET=1
fuzz_one() {
  local t=$1
  mkdir -p "$out/$t"
  cargo afl fuzz -i "$corpus/$t" -o "$out/$t" -x "$corpus/$t.dict" -t 1000 -V "$seconds" \
    -- "$bin" "$t" > "$out/$t/afl.log" 2>&1 || echo "afl-fuzz on $t exited with $? (see $out/$t/afl.log)"
}
echo "== fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

stat() { sed -n "s/^$2 *: *//p" "$out/$1/default/fuzzer_stats" 2>/dev/null | head -n 1; }
printf '\n%-9s %12s %9s %8s %8s %7s %6s\n' target execs execs/s corpus edges% crashes hangs
findings=0 total=0
for t in "${targets[@]}"; do
  execs=$(stat "$t" execs_done)
  printf '%-9s %12s %9s %8s %8s %7s %6s\n' "$t" "${execs:-0}" "$(stat "$t" execs_per_sec)" \
    "$(stat "$t" corpus_count)" "$(stat "$t" bitmap_cvg)" "$(stat "$t" saved_crashes)" "$(stat "$t" saved_hangs)"
  total=$(( total + ${execs:-0} ))
  for f in "$out/$t"/default/crashes/id:* "$out/$t"/default/hangs/id:*; do
    [ -e "$f" ] || continue
    findings=$((findings + 1))
    echo "  finding: $f"
  done
done
echo "total execs (all runs kept in $out): $total; findings: $findings"
[ "$findings" -eq 0 ]
