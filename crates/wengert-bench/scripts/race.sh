#!/usr/bin/env bash
# Races the benchmark of two commits side by side: builds wengert-bench at BASE and at NEW
# (each in its own git worktree and target directory), then runs the two binaries
# alternately, ROUNDS times each, with the flags given after `--`, and prints each
# workload's median over the rounds for both: tape, hand and tape / hand, or, for `--only train`,
# 1 worker, 2 workers and the speed-up.
#
#   crates/wengert-bench/scripts/race.sh BASE NEW ROUNDS -- --only chain,rosen,mlp --size S,M --steps 150
#
# Needs git and python3. Work directories go under ${RACE_DIR:-target/race}.
set -euo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  echo "usage: $0 BASE NEW ROUNDS -- BENCH-FLAGS..." >&2
  exit 2
fi
base=$1 new=$2 rounds=$3
shift 4
top=$(git rev-parse --show-toplevel)
dir=${RACE_DIR:-$top/target/race}
mkdir -p "$dir"
build() {
  local rev=$1 name=$2
  local tree="$dir/tree-$name"
  rm -rf "$tree"
  git -C "$top" worktree prune
  git -C "$top" worktree add -q --detach "$tree" "$rev"
  CARGO_TARGET_DIR="$dir/target-$name" cargo build --release -q -p wengert-bench --manifest-path "$tree/Cargo.toml"
  cp "$dir/target-$name/release/wengert-bench" "$dir/bench-$name"
  git -C "$top" worktree remove --force "$tree"
}
build "$base" base
build "$new" new
results="$dir/results.txt"
: > "$results"
for round in $(seq "$rounds"); do
  for name in base new; do
    "$dir/bench-$name" --result-lines "$@" | grep '^RESULT' | sed "s/^/bin=$name round=$round /" >> "$results"
  done
done
python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    workload = tuple(fields[key] for key in ("kind", "size", "n", "batch", "optimizer") if key in fields)
    runs[(fields["bin"], workload, fields["impl"])].append(float(fields["median_ms"]))
# Each workload's ratio: the tape against the hand-written step, or 1 worker against 2.
pairs = (("wengert", "hand", "tape", "hand", "tape/hand"), ("workers1", "workers2", "1w", "2w", "speed-up 1w/2w"))
for workload in sorted({key[1] for key in runs}):
    cells = []
    for name in ("base", "new"):
        for first, second, a, b, ratio in pairs:
            x, y = runs.get((name, workload, first)), runs.get((name, workload, second))
            if x and y:
                t, h = statistics.median(x), statistics.median(y)
                cells.append(f"{name}: {a} {t:.4f} ms, {b} {h:.4f} ms, {ratio} {t / h:.3f}")
    print(" ".join(workload), "|", " | ".join(cells))
PY
