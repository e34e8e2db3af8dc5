"""Render benchmark JSON reports as Markdown tables.

python benchmarks/report.py benchmarks/results/*.json
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import json
from pathlib import Path
from typing import Any


def _ms(d: dict[str, Any]) -> str:
    if not d.get("count"):
        return "–"
    return f"{d['p50']:.1f} / {d['p90']:.1f} / {d['p99']:.1f} / {d['max']:.0f}"


def loop_rows(reports: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = [
        "| run | db | C | count | workers | annotations/s | next ms p50/p90/p99/max | "
        "submit ms p50/p90/p99/max | errors | dup | lost | server cores | server CPU ms/annotation | "
        "server peak RSS | client cores | other cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rep in reports:
        p, r, m = rep["params"], rep["results"], rep["machine"]
        extra = []
        if p.get("http") != "raw":
            extra.append(p["http"])
        if p.get("think_ms"):
            extra.append(f"think {p['think_ms']:.0f} ms")
        if p.get("tweak"):
            extra.append(",".join(p["tweak"]))
        if p.get("background_import"):
            extra.append(f"+bg import {p['background_import']:,}")
        label = name + (f" ({'; '.join(extra)})" if extra else "")
        dry = " (ran dry)" if r["queue_exhausted"] else ""
        db = r.get("database_cpu_cores")
        other = f"{r['other_cpu_cores']}" + (f" (+pg {db})" if db is not None else "")
        out.append(
            f"| {label} | {m['database']} | {p['clients']} | {p['count']} | {p['workers']} | "
            f"{r['annotations_per_s']:,.0f}{dry} | {_ms(r['next_ms'])} | {_ms(r['submit_ms'])} | "
            f"{r['error_total']} | {r['duplicates']} | {r['lost']} | {r['server']['cpu_cores']} | "
            f"{r['server']['cpu_ms_per_annotation']} | {r['server']['peak_rss_bytes'] / 2**20:.0f} MiB | "
            f"{r['client']['cpu_cores']} | {other} |"
        )
    return out


def _export(d: dict[str, Any]) -> str:
    return f"{d['rows_per_s']:,} ({d['rows_per_cpu_s']:,})"


def io_rows(reports: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = [
        "| run | db | items | read only rec/s | import items/s (per CPU-s) | publish s | import peak RSS "
        "(growth) | export jsonl rows/s (per CPU-s) | csv | parquet | other cores (import) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rep in reports:
        r, m = rep["results"], rep["machine"]
        imp, ex = r["import"], r["export"]

        out.append(
            f"| {name} | {m['database']} | {rep['params']['items']:,} | "
            f"{r['read_only']['records_per_s']:,} | {imp['items_per_s']:,} ({imp['items_per_cpu_s']:,}) | "
            f"{imp.get('publish_seconds')} | {imp['vm_hwm_bytes'] / 2**20:.0f} MiB "
            f"({imp['hwm_growth_bytes'] / 2**20:.0f} MiB) | {_export(ex['jsonl'])} | "
            f"{_export(ex['csv'])} | {_export(ex['parquet'])} | "
            f"{imp['other_cpu_cores']} |"
        )
    return out


def main(argv: list[str]) -> int:
    loops, ios = [], []
    for arg in argv:
        rep = json.loads(Path(arg).read_text())
        name = Path(arg).stem
        kind = rep.get("benchmark") if isinstance(rep, dict) else None
        if kind == "loop":
            loops.append((name, rep))
        elif kind == "import_export":
            ios.append((name, rep))
    if loops:
        print("\n".join(loop_rows(loops)))
        print()
    if ios:
        print("\n".join(io_rows(ios)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
