"""Import and export throughput and memory.

    python benchmarks/import_export.py --items 1000000 --json out.json

1. Writes an N-line JSONL file of text items to a temp dir.
2. Imports it the way ``hitloop import`` does (``formats.count_records``,
   ``formats.open_reader`` then ``services.items.import_records``) in a child
   process, so its memory is its own: reports items/s, the child's peak RSS
   (VmHWM) and RSS sampled as rows arrive (flat means streaming works).
3. Annotates every item by bulk-inserting into ``annotations`` with SQLAlchemy
   Core (the fastest way to get rows to export; not a target).
4. Exports the way ``hitloop export`` does (``services.exports.iter_export``
   for JSONL and CSV, ``services.exports.export_parquet``), and, for
   comparison, through ``services.annotations.iter_export_rows`` into
   ``formats.write_jsonl`` / ``write_csv`` / ``write_parquet``; each format in
   its own child process: rows/s and RSS.

``--import-only`` stops after step 2. ``--probe-writes`` times a small write
transaction every 20 ms from the parent while the child imports: what an
annotator's submit waits for meanwhile.

Targets: import >= 50,000 items/s with flat memory; export >= 100,000 rows/s.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import database_url as fresh_database
from _common import (
    item_text,
    machine_cpu,
    machine_info,
    mib,
    proc_status,
    redact,
    write_json,
)

LABELS = ["pos", "neg", "neutral"]
FORMATS = ("jsonl", "csv", "parquet")
TARGETS = {"import_items_per_s": 50_000, "export_rows_per_s": 100_000}


# --------------------------------------------------------------------------- parent


def write_source(path: Path, n: int) -> float:
    t0 = time.perf_counter()
    dumps = json.dumps
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(dumps({"id": f"x{i}", "text": item_text(i), "bucket": i % 10, "lang": "en"}))
            out.write("\n")
    return time.perf_counter() - t0


def prepare(url: str, data_dir: Path) -> tuple[int, int]:
    from hitloop.api.context import AppContext
    from hitloop.schemas import ProjectCreate
    from hitloop.services import auth, projects
    from hitloop.settings import Settings

    ctx = AppContext.from_settings(Settings(data_dir=data_dir, database_url=url))
    ctx.db.upgrade()
    admin = auth.create_user(ctx.db, "bench-admin", "benchmark-password", is_admin=True)
    project = projects.create_project(ctx.db, admin.id, ProjectCreate(name="bench", labels=LABELS))
    ctx.db.dispose()
    return project.id, admin.id


def annotate_all(url: str, project_id: int, user_id: int, batch: int = 20_000) -> dict[str, Any]:
    """One current, non-skipped annotation per item, straight into the table."""
    from sqlalchemy import insert, select, update

    from hitloop.db.engine import Database
    from hitloop.db.tables import Annotation, Item

    a, i = Annotation.__table__, Item.__table__
    db = Database(url)
    t0 = time.perf_counter()
    now = time.time()
    total = 0
    try:
        with db.engine.connect() as read:
            ids = [r[0] for r in read.execute(select(i.c.id).where(i.c.project_id == project_id))]
        for start in range(0, len(ids), batch):
            rows = []
            for item_id in ids[start : start + batch]:
                label = LABELS[item_id % len(LABELS)]
                rows.append(
                    {
                        "item_id": item_id,
                        "project_id": project_id,
                        "user_id": user_id,
                        "value": {"label": label},
                        "label": label,
                        "skipped": False,
                        "client_key": f"bulk{item_id}",
                        "seconds": 1.5,
                        "created_at": now,
                    }
                )
            with db.engine.begin() as conn:
                conn.execute(insert(a), rows)
            total += len(rows)
        with db.engine.begin() as conn:
            conn.execute(update(i).where(i.c.project_id == project_id).values(state="done", n_answers=1))
    finally:
        db.dispose()
    seconds = time.perf_counter() - t0
    return {"rows": total, "seconds": round(seconds, 2), "rows_per_s": round(total / seconds)}


class RssSampler:
    """Sample a child's VmRSS from outside every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status(self.pid).get("VmRSS", 0)
            if rss:
                self.peak = max(self.peak, rss)
                self.samples.append((round(time.perf_counter() - self._t0, 2), rss))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class WriteProbe:
    """A small write transaction every ``interval`` seconds from this process, timed.

    What an annotator's submit waits for while the import runs: on SQLite,
    whatever write lock the import holds (staging batches, heartbeats, the copy).
    """

    def __init__(self, url: str, project_id: int, interval: float = 0.02) -> None:
        from hitloop.db.engine import Database

        self.db = Database(url)
        self.project_id = project_id
        self.interval = interval
        self.ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from hitloop.db.sql import Statement

        touch = Statement("UPDATE projects SET name = name WHERE id = :p")
        while not self._stop.is_set():
            t0 = time.perf_counter()
            with self.db.driver_write() as conn:
                touch.run(conn, {"p": self.project_id})
            self.ms.append((time.perf_counter() - t0) * 1000)
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        self.db.dispose()
        ms = sorted(self.ms)
        if not ms:
            return {"writes": 0}

        def pct(q: float) -> float:
            return round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)

        return {
            "writes": len(ms),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(ms[-1], 1),
            "over_100ms": sum(1 for m in ms if m > 100),
            "total_wait_over_100ms_s": round(sum(m for m in ms if m > 100) / 1000, 2),
        }


def run_child(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    busy0, t0 = machine_cpu(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"child {args[:2]} timed out after {timeout} s:\n{err[-2000:]}") from None
    finally:
        sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed with code {proc.returncode}:\n{err[-4000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["rss_peak_sampled_bytes"] = sampler.peak
    # About one sample a second: (seconds since start, RSS bytes).
    every = max(1, round(1 / sampler.interval))
    result["rss_timeline"] = sampler.samples[::every]
    wall = time.perf_counter() - t0
    # CPU used by everything but the child (other processes; for PostgreSQL this
    # includes the database server's work for the child).
    result["other_cpu_cores"] = round((machine_cpu() - busy0 - result["cpu_s_total"]) / wall, 2)
    return result


# --------------------------------------------------------------------------- children


def child_import(ns: argparse.Namespace) -> dict[str, Any]:
    from hitloop.api.context import AppContext
    from hitloop.formats import count_records, detect_format, open_reader
    from hitloop.services import items
    from hitloop.settings import Settings

    settings = Settings(data_dir=Path(ns.data_dir), database_url=ns.url)
    ctx = AppContext.from_settings(settings)
    path = Path(ns.file)
    baseline = proc_status(os.getpid())
    samples: list[tuple[int, int]] = []
    done = 0
    step = max(1, ns.items // 20)
    next_mark = step

    last_batch_at = 0.0

    def progress(n: int) -> None:
        nonlocal done, next_mark, last_batch_at
        done += n
        last_batch_at = time.perf_counter()
        if done >= next_mark:
            samples.append((done, proc_status(os.getpid()).get("VmRSS", 0)))
            next_mark += step

    t0, c0 = time.perf_counter(), time.process_time()
    kind = detect_format(path, None)
    total = count_records(path, kind)  # the CLI counts first, for its progress bar
    t_count = time.perf_counter()
    result = items.import_records(
        ctx.db,
        ctx.media,
        ns.project,
        None,
        open_reader(
            path, format=kind, text_field="text", id_field="id", max_text_chars=settings.max_text_chars
        ),
        source=str(path),
        limits=ctx.limits,
        batch_size=settings.import_batch_size,
        progress=progress,
    )
    t_end, c_end = time.perf_counter(), time.process_time()
    ctx.db.dispose()
    end = proc_status(os.getpid())
    seconds = t_end - t0
    return {
        "created": result.created,
        "cpu_s": round(c_end - c0, 2),
        "cpu_s_total": round(time.process_time(), 2),
        "items_per_cpu_s": round(result.created / max(1e-9, c_end - c0)),
        "counted": total,
        "seconds": round(seconds, 2),
        "count_seconds": round(t_count - t0, 2),
        # After the last batch: publishing the staged rows (one INSERT ... SELECT) and the audit event.
        "publish_seconds": round(t_end - last_batch_at, 2) if last_batch_at else None,
        "items_per_s": round(result.created / seconds),
        "batch_size": settings.import_batch_size,
        "rss_before_bytes": baseline.get("VmRSS", 0),
        "rss_after_bytes": end.get("VmRSS", 0),
        "vm_hwm_bytes": end.get("VmHWM", 0),
        "hwm_growth_bytes": end.get("VmHWM", 0) - baseline.get("VmRSS", 0),
        "rss_by_rows": samples,
    }


def child_export(ns: argparse.Namespace) -> dict[str, Any]:
    """Export one format: ``cli`` = what ``hitloop export`` runs now (``services.exports``),
    ``rows`` = ``services.annotations.iter_export_rows`` into ``formats.write_*``."""
    from hitloop.db.engine import Database
    from hitloop.services import annotations

    db = Database(ns.url)
    out_path = Path(ns.file)
    baseline = proc_status(os.getpid())
    columns = annotations.EXPORT_COLUMNS
    t0, c0 = time.perf_counter(), time.process_time()
    with out_path.open("wb") as out:
        if ns.path == "cli":
            from hitloop.services import exports

            if ns.format == "parquet":
                count = exports.export_parquet(db, ns.project, out)
            else:
                count = 0

                def progress(n: int) -> None:
                    nonlocal count
                    count += n

                for chunk in exports.iter_export(db, ns.project, ns.format, progress=progress):
                    out.write(chunk)
        else:
            from hitloop.formats import write_csv, write_jsonl, write_parquet

            rows = annotations.iter_export_rows(db, ns.project)
            if ns.format == "jsonl":
                count = write_jsonl(rows, out)
            elif ns.format == "csv":
                count = write_csv(rows, out, columns)
            else:
                count = write_parquet(rows, out, columns=columns)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    db.dispose()
    end = proc_status(os.getpid())
    return {
        "format": ns.format,
        "path": ns.path,
        "rows": count,
        "cpu_s": round(cpu, 2),
        "cpu_s_total": round(time.process_time(), 2),
        "rows_per_cpu_s": round(count / max(1e-9, cpu)),
        "seconds": round(seconds, 2),
        "rows_per_s": round(count / seconds) if seconds > 0 else None,
        "file_bytes": out_path.stat().st_size,
        "rss_before_bytes": baseline.get("VmRSS", 0),
        "vm_hwm_bytes": end.get("VmHWM", 0),
        "hwm_growth_bytes": end.get("VmHWM", 0) - baseline.get("VmRSS", 0),
    }


def child_read_only(ns: argparse.Namespace) -> dict[str, Any]:
    """Time the reader alone (no database), to split import time into parse vs store."""
    from hitloop.formats import open_reader

    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in open_reader(Path(ns.file), text_field="text", id_field="id"))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "records": n,
        "seconds": round(seconds, 2),
        "records_per_s": round(n / seconds),
        "cpu_s": round(cpu, 2),
        "cpu_s_total": round(time.process_time(), 2),
        "records_per_cpu_s": round(n / max(1e-9, cpu)),
    }


# --------------------------------------------------------------------------- main


def summary(report: dict[str, Any]) -> str:
    m, r = report["machine"], report["results"]
    imp = r["import"]
    lines = [
        f"import/export: {report['params']['items']:,} items, {m['database']} {m['database_version']}, "
        f"{m['nproc']} cores, python {m['python']}",
        f"  source JSONL     {mib(r['source_bytes'])}, written in {r['source_write_s']} s",
        f"  read only        {r['read_only']['records_per_s']:,} records/s "
        f"({r['read_only']['records_per_cpu_s']:,}/CPU-s; open_reader, no database)",
        f"  import           {imp['items_per_s']:,} items/s ({imp['items_per_cpu_s']:,}/CPU-s; "
        f"{imp['created']:,} in {imp['seconds']} s, count {imp['count_seconds']} s, "
        f"publish {imp['publish_seconds']} s, "
        f"other processes {imp['other_cpu_cores']} cores)",
        f"                   peak RSS {mib(imp['vm_hwm_bytes'])}, growth {mib(imp['hwm_growth_bytes'])}",
        *(
            [
                f"  writes meanwhile {w['writes']:,} (every 20 ms, another process): p50 {w['p50_ms']} ms, "
                f"p99 {w['p99_ms']} ms, max {w['max_ms']} ms, {w['over_100ms']} over 100 ms "
                f"({w['total_wait_over_100ms_s']} s)"
            ]
            if (w := imp.get("write_probe")) and w.get("writes")
            else []
        ),
        "  import RSS       "
        + " ".join(f"{rows // 1000}k:{rss / 2**20:.0f}" for rows, rss in imp["rss_by_rows"][:: max(1, 4)])
        + " (rows:MiB)",
    ]
    if r["annotate"]:
        lines.append(
            f"  bulk annotate    {r['annotate']['rows_per_s']:,} rows/s ({r['annotate']['rows']:,} rows)"
        )
    for fmt, e in r["export"].items():
        lines.append(
            f"  export {fmt:<9} {e['rows_per_s']:,} rows/s ({e['rows_per_cpu_s']:,}/CPU-s; "
            f"{e['rows']:,} rows in {e['seconds']} s, {mib(e['file_bytes'])}, "
            f"other {e['other_cpu_cores']} cores); peak RSS {mib(e['vm_hwm_bytes'])}, "
            f"growth {mib(e['hwm_growth_bytes'])}"
        )
    for fmt, e in r.get("export_via_rows", {}).items():
        lines.append(
            f"  rows→{fmt:<11} {e['rows_per_s']:,} rows/s ({e['rows_per_cpu_s']:,}/CPU-s; "
            f"iter_export_rows + formats.write_{fmt}); peak RSS {mib(e['vm_hwm_bytes'])}"
        )
    ok = " ".join(f"{k}={'ok' if v else 'FAIL'}" for k, v in r["targets"].items())
    lines.append(f"  targets          {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--database", help="PostgreSQL URL; a fresh schema is created and dropped")
    ap.add_argument("--json", help="write the full report here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (source and exports)")
    ap.add_argument(
        "--skip-rows-path",
        action="store_true",
        help="export only the way the CLI does (services.exports), not also via iter_export_rows",
    )
    ap.add_argument(
        "--import-only", action="store_true", help="stop after the import (no annotating, no exports)"
    )
    ap.add_argument(
        "--probe-writes",
        action="store_true",
        help="time a small write transaction every 20 ms from another process during the import",
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per child step")
    # Internal: the child processes.
    ap.add_argument("--child", choices=["import", "export", "read"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--project", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--format", choices=FORMATS, help=argparse.SUPPRESS)
    ap.add_argument("--path", choices=["cli", "rows"], default="cli", help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)

    if ns.child:
        run = {"import": child_import, "export": child_export, "read": child_read_only}[ns.child]
        print(json.dumps(run(ns)))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="hitloop-bench-io-"))
    try:
        with fresh_database(tmp, ns.database) as (url, kind):
            machine = machine_info(kind, url)
            source = tmp / "items.jsonl"
            print(f"writing {ns.items:,} items to {source} …", flush=True)
            write_s = write_source(source, ns.items)
            project_id, admin_id = prepare(url, tmp)
            common = ["--url", url, "--data-dir", str(tmp), "--project", str(project_id)]
            read_only = run_child(["--child", "read", "--file", str(source), *common], ns.timeout)
            print(f"importing ({kind}) …", flush=True)
            probe = WriteProbe(url, project_id) if ns.probe_writes else None
            try:
                imported = run_child(
                    ["--child", "import", "--file", str(source), "--items", str(ns.items), *common],
                    ns.timeout,
                )
            finally:
                if probe is not None:
                    imported_probe = probe.stop()
            if probe is not None:
                imported["write_probe"] = imported_probe
            exports: dict[str, Any] = {}
            rows_path: dict[str, Any] = {}
            annotated: dict[str, Any] = {}
            if not ns.import_only:
                print("annotating …", flush=True)
                annotated = annotate_all(url, project_id, admin_id)
            for fmt in () if ns.import_only else FORMATS:
                for path, into in (("cli", exports), ("rows", rows_path)):
                    if path == "rows" and ns.skip_rows_path:
                        continue
                    print(f"exporting {fmt} ({path}) …", flush=True)
                    target = tmp / f"export-{path}.{fmt}"
                    args = ["--child", "export", "--format", fmt, "--path", path, "--file", str(target)]
                    into[fmt] = run_child([*args, *common], ns.timeout)
            results = {
                "source_bytes": source.stat().st_size,
                "source_write_s": round(write_s, 2),
                "read_only": read_only,
                "import": imported,
                "annotate": annotated,
                "export": exports,
                "export_via_rows": rows_path,
            }
    finally:
        if ns.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["targets"] = {
        "import_items_per_s": imported["items_per_s"] >= TARGETS["import_items_per_s"],
        **{
            f"export_{fmt}_rows_per_s": (exports[fmt]["rows_per_s"] or 0) >= TARGETS["export_rows_per_s"]
            for fmt in exports
        },
    }
    if exports:
        results["targets"]["rows_exported"] = all(e["rows"] == ns.items for e in exports.values())
    params = {
        "items": ns.items,
        "database": redact(ns.database) if ns.database else "sqlite (temp file)",
        "import_only": ns.import_only,
        "probe_writes": ns.probe_writes,
    }
    report = {"benchmark": "import_export", "params": params, "machine": machine, "results": results}
    write_json(ns.json, report)
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
