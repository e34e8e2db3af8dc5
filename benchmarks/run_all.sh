#!/usr/bin/env bash
# Run the benchmark set behind benchmarks/RESULTS-draft.md.
#
#   bash benchmarks/run_all.sh [OUT_DIR]          (default: benchmarks/results)
#
# PostgreSQL runs need HITLOOP_BENCH_PG (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test);
# without it they are skipped. Profiles need py-spy (pip install py-spy).
# Takes about 25 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/results}
mkdir -p "$OUT"
PG=${HITLOOP_BENCH_PG:-}
QUIET=(--quiet-wait 30)

run() { # name, args...
  local name=$1
  shift
  echo "== $name"
  python benchmarks/loop.py "${QUIET[@]}" "$@" --json "$OUT/$name.json" | tee "$OUT/$name.txt"
}

run loop-sqlite-c32 --items 20000 --clients 32 --seconds 20
run loop-sqlite-c1 --items 10000 --clients 1 --seconds 20
run loop-sqlite-c32-think50 --items 20000 --clients 32 --seconds 20 --think-ms 50
run loop-sqlite-c32-httpx --items 20000 --clients 32 --seconds 20 --http httpx
run loop-sqlite-c32-count4 --items 20000 --clients 32 --seconds 20 --count 4
run loop-sqlite-c32-workers2 --items 20000 --clients 32 --seconds 20 --workers 2
run loop-sqlite-1m-c32 --items 1000000 --clients 32 --seconds 20
run loop-sqlite-c32-bgimport --items 20000 --clients 32 --seconds 30 --background-import 1000000
if [[ -n $PG ]]; then
  run loop-pg-c32 --items 20000 --clients 32 --seconds 20 --database "$PG"
  run loop-pg-c32-think50 --items 20000 --clients 32 --seconds 20 --think-ms 50 --database "$PG"
  run loop-pg-c1 --items 10000 --clients 1 --seconds 20 --database "$PG"
  run loop-pg-c32-workers2 --items 20000 --clients 32 --seconds 20 --workers 2 --database "$PG"
fi

if command -v py-spy >/dev/null; then
  run profile-sqlite-c32 --items 20000 --clients 32 --seconds 20 --profile "$OUT/profile-sqlite-c32.pyspy"
  python benchmarks/pyspy_summary.py "$OUT/profile-sqlite-c32.pyspy" --top 30 >"$OUT/profile-sqlite-c32.summary.txt"
  run profile-sqlite-c32-gil --items 20000 --clients 32 --seconds 20 --profile-gil \
    --profile "$OUT/profile-sqlite-c32-gil.pyspy"
  python benchmarks/pyspy_summary.py "$OUT/profile-sqlite-c32-gil.pyspy" --top 30 \
    >"$OUT/profile-sqlite-c32-gil.summary.txt"
  if [[ -n $PG ]]; then
    run profile-pg-c32 --items 20000 --clients 32 --seconds 20 --database "$PG" --profile "$OUT/profile-pg-c32.pyspy"
    python benchmarks/pyspy_summary.py "$OUT/profile-pg-c32.pyspy" --top 30 >"$OUT/profile-pg-c32.summary.txt"
  fi
fi

echo "== import-export"
python benchmarks/import_export.py --items 100000 --json "$OUT/io-sqlite-100k.json" | tee "$OUT/io-sqlite-100k.txt"
python benchmarks/import_export.py --items 1000000 --json "$OUT/io-sqlite-1m.json" | tee "$OUT/io-sqlite-1m.txt"
if [[ -n $PG ]]; then
  python benchmarks/import_export.py --items 100000 --database "$PG" --json "$OUT/io-pg-100k.json" |
    tee "$OUT/io-pg-100k.txt"
  python benchmarks/import_export.py --items 1000000 --database "$PG" --json "$OUT/io-pg-1m.json" |
    tee "$OUT/io-pg-1m.txt"
fi
