"""End-to-end labeling-loop benchmark: C annotators against a real uvicorn server.

    python benchmarks/loop.py --items 10000 --clients 32 --seconds 20 --json out.json

Sets up a fresh database (SQLite in a temp data dir, or a fresh schema in the
PostgreSQL given by ``--database``), C annotator users with API tokens, one
classify project and N text items, all in-process through hitloop's services.
Then starts uvicorn in a subprocess and runs C simulated annotators over HTTP
keep-alive connections for ``--warmup`` + ``--seconds`` seconds; each loops
"next" then "submit". Afterwards it checks the database for double answers and
lost acknowledged annotations, and reports throughput, latencies, errors,
server CPU and peak memory. Only 127.0.0.1 is ever contacted, and every loop
is bounded by time.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import database_url as fresh_database
from _common import (
    machine_cpu,
    machine_info,
    mib,
    postgres_cpu,
    proc_cpu,
    proc_status,
    proc_tree,
    records,
    redact,
    write_json,
)
from _http import Connection, HTTPError

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
# The server's HTTP protocol: hitloop's one-write protocol (what `hitloop serve` runs), or uvicorn's.
SERVER_PROTOCOLS = {"hitloop": "hitloop.api.protocol:HttpProtocol", "httptools": "httptools"}
LABELS = ["pos", "neg", "neutral"]
PASSWORD = "benchmark-password"
REQUEST_TIMEOUT_S = 30.0
TARGETS = {"annotations_per_s": 500.0, "next_p99_ms": 25.0, "submit_p99_ms": 25.0}


# --------------------------------------------------------------------------- setup


def setup(data_dir: Path, url: str, n_items: int, n_clients: int, model_loop: bool = False) -> dict[str, Any]:
    """Create users, tokens, a project and the items, in-process through the services.

    Without ``model_loop`` the project does not retrain by itself, so no
    featurize or train job competes with the annotators (retrain.py measures that).
    """
    from hitloop.api.context import AppContext
    from hitloop.schemas import LoopSettingsUpdate, ProjectCreate
    from hitloop.services import auth, items, loop_settings, members, projects
    from hitloop.settings import Settings
    from hitloop.types import Role

    settings = Settings(data_dir=data_dir, database_url=url)
    ctx = AppContext.from_settings(settings)
    t0 = time.perf_counter()
    ctx.db.upgrade()
    t_migrate = time.perf_counter()
    admin = auth.create_user(ctx.db, "bench-admin", PASSWORD, is_admin=True)
    project = projects.create_project(ctx.db, admin.id, ProjectCreate(name="bench", labels=LABELS))
    if not model_loop:
        loop_settings.update_loop_settings(ctx.db, project.id, None, LoopSettingsUpdate(auto_retrain=False))

    def make_user(i: int) -> tuple[int, str]:
        user = auth.create_user(ctx.db, f"annotator{i:04d}", PASSWORD)
        members.add_member(ctx.db, None, project.id, user.username, Role.ANNOTATOR)
        _row, secret = auth.create_token(ctx.db, user.id, "bench")
        return user.id, secret

    # scrypt releases the GIL, so users are hashed on all cores.
    with ThreadPoolExecutor(max_workers=max(1, len(os.sched_getaffinity(0)))) as pool:
        users = list(pool.map(make_user, range(n_clients)))
    t_users = time.perf_counter()
    result = items.import_records(
        ctx.db,
        ctx.media,
        project.id,
        admin.id,
        records(n_items),
        source="benchmark",
        limits=ctx.limits,
        batch_size=settings.import_batch_size,
    )
    t_items = time.perf_counter()
    ctx.db.dispose()
    assert result.created == n_items
    items_s = t_items - t_users
    return {
        "project_id": project.id,
        "users": users,
        "migrate_s": round(t_migrate - t0, 3),
        "users_s": round(t_users - t_migrate, 3),
        "items_s": round(items_s, 3),
        "items_per_s": round(n_items / items_s) if items_s > 0 else None,
        "total_s": round(t_items - t0, 3),
    }


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(
    data_dir: Path,
    url: str,
    port: int,
    workers: int,
    log: Path,
    tweaks: list[str],
    protocol: str = "hitloop",
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(HITLOOP_DATA_DIR=str(data_dir), HITLOOP_DATABASE_URL=url)
    env["HITLOOP_BENCH_TWEAKS"] = ",".join(tweaks)
    env["HITLOOP_BENCH_STATS"] = str(data_dir / "server-stats")
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--app-dir",
        str(BENCH_DIR),
        "_server:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--http",
        SERVER_PROTOCOLS[protocol],
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=data_dir)


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        conn = Connection(HOST, port)
        try:
            status, _ = await conn.request("GET", "/api/health")
            if status == 200:
                return
        except (HTTPError, OSError):
            pass
        finally:
            await conn.close()
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become healthy in time")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --------------------------------------------------------------------------- clients

Request = Callable[[str, str, bytes | None], Awaitable[tuple[int, bytes]]]


class RawClient:
    def __init__(self, port: int, token: str) -> None:
        self.conn = Connection(HOST, port, {"Authorization": f"Bearer {token}"})
        self.request: Request = self.conn.request

    async def close(self) -> None:
        await self.conn.close()


class HttpxClient:
    def __init__(self, port: int, token: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=REQUEST_TIMEOUT_S,
        )

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        import httpx

        try:
            r = await self.client.request(method, path, content=body)
        except httpx.HTTPError as exc:
            raise HTTPError(str(exc)) from None
        return r.status_code, r.content

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Run:
    project_id: int
    count: int
    think_s: float
    warm_end: float
    end: float
    hard_end: float
    next_lat: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    submit_lat: list[tuple[float, float]] = field(default_factory=list)
    acked_ids: list[int] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)
    replayed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    empty_next: int = 0
    exhausted_at: float | None = None
    served_to: dict[int, int] = field(default_factory=dict)
    double_served: int = 0
    requests: int = 0

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{kind}: {detail[:300]}")


async def annotator(index: int, client: RawClient | HttpxClient, run: Run) -> None:
    # Not loop.time(): uvloop's clock has millisecond resolution.
    clock = time.perf_counter
    next_path = f"/api/projects/{run.project_id}/next"
    next_body = json.dumps({"count": run.count}).encode()
    dumps, loads, new_key = json.dumps, json.loads, uuid.uuid4

    async def call(kind: str, path: str, body: bytes) -> tuple[int, bytes, float, float] | None:
        t0 = clock()
        run.requests += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status, data = await client.request("POST", path, body)
        except (HTTPError, OSError, TimeoutError) as exc:
            run.error(f"{kind}:conn", f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.05)
            return None
        return status, data, t0, clock()

    try:
        while clock() < run.end and run.exhausted_at is None:
            got = await call("next", next_path, next_body)
            if got is None:
                continue
            status, data, t0, t1 = got
            if run.warm_end <= t0 < run.end:
                run.next_lat.append((t0, t1 - t0))
            if status != 200:
                run.error(f"next:{status}", data.decode("utf-8", "replace"))
                await asyncio.sleep(0.01)
                continue
            served = loads(data)["items"]
            if not served:
                run.empty_next += 1
                if run.exhausted_at is None:
                    run.exhausted_at = t1
                break
            for item in served:
                item_id = item["id"]
                holder = run.served_to.setdefault(item_id, index)
                if holder != index:
                    run.double_served += 1
            for item in served:
                if clock() >= run.hard_end:
                    break
                item_id = item["id"]
                body = dumps(
                    {"value": {"label": LABELS[item_id % len(LABELS)]}, "client_key": new_key().hex}
                ).encode()
                got = await call("submit", f"/api/items/{item_id}/annotations", body)
                if got is None:
                    continue
                status, data, t0, t1 = got
                if run.warm_end <= t0 < run.end:
                    run.submit_lat.append((t0, t1 - t0))
                if status in (200, 201):
                    ack = loads(data)
                    run.acked_ids.append(ack["id"])
                    if ack.get("replayed"):
                        run.replayed += 1
                    run.acked_at.append(t1)
                else:
                    run.error(f"submit:{status}", data.decode("utf-8", "replace"))
                if run.think_s:
                    await asyncio.sleep(run.think_s)
    finally:
        await client.close()


@dataclass
class Sample:
    t: float
    server_cpu: float
    client_cpu: float
    server_rss: int
    machine_cpu: float
    db_cpu: float


def sample(server_pid: int, clock: float, with_db: bool = False) -> Sample:
    pids = proc_tree(server_pid)
    return Sample(
        t=clock,
        server_cpu=sum(proc_cpu(p) for p in pids),
        client_cpu=time.process_time(),
        server_rss=sum(proc_status(p).get("VmRSS", 0) for p in pids),
        machine_cpu=machine_cpu(),
        db_cpu=postgres_cpu() if with_db else 0.0,
    )


async def drive(
    port: int,
    server_pid: int,
    project_id: int,
    tokens: list[str],
    *,
    seconds: float,
    warmup: float,
    count: int,
    http: str,
    think_ms: float = 0.0,
    background: list[str] | None = None,
    with_db: bool = False,
) -> tuple[Run, list[Sample], dict[str, Any] | None]:
    clock = time.perf_counter
    start = clock()
    run = Run(
        project_id=project_id,
        count=count,
        think_s=think_ms / 1000,
        warm_end=start + warmup,
        end=start + warmup + seconds,
        hard_end=start + warmup + seconds + 10.0,
    )
    samples: list[Sample] = [sample(server_pid, start, with_db)]
    make = RawClient if http == "raw" else HttpxClient
    tasks = [asyncio.create_task(annotator(i, make(port, tok), run)) for i, tok in enumerate(tokens)]
    all_done = asyncio.gather(*tasks, return_exceptions=True)
    bg: subprocess.Popen[str] | None = None
    bg_info: dict[str, Any] | None = None
    while not all_done.done():
        await asyncio.wait([all_done], timeout=0.25)
        now = clock()
        samples.append(sample(server_pid, now, with_db))
        if background and bg is None and now >= run.warm_end:
            bg = subprocess.Popen(background, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            bg_info = {"started": now}
        if bg is not None and bg_info is not None and "ended" not in bg_info and bg.poll() is not None:
            bg_info["ended"] = clock()
        if clock() > run.hard_end + REQUEST_TIMEOUT_S:
            for t in tasks:
                t.cancel()
    for outcome in await all_done:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            run.error("client:exception", repr(outcome))
    if bg is not None and bg_info is not None:
        out, err = bg.communicate(timeout=600)
        bg_info.setdefault("ended", clock())
        bg_info["returncode"] = bg.returncode
        bg_info["report"] = json.loads(out.strip().splitlines()[-1]) if bg.returncode == 0 else err[-2000:]
    return run, samples, bg_info


# --------------------------------------------------------------------------- analysis


def percentiles(
    samples: list[tuple[float, float]], start: float = float("-inf"), end: float = float("inf")
) -> dict[str, float | int | None]:
    """Percentiles in ms of the requests that started in [start, end)."""
    values = [dt for t0, dt in samples if start <= t0 < end]
    if not values:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> float:
        return round(ordered[min(n - 1, max(0, int(-(-p * n // 1)) - 1))] * 1000, 2)

    return {
        "count": n,
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(sum(ordered) / n * 1000, 2),
    }


def nearest(samples: list[Sample], t: float) -> Sample:
    return min(samples, key=lambda s: abs(s.t - t))


def check_database(url: str, project_id: int, acked: list[int]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from hitloop.db.engine import Database
    from hitloop.db.tables import Annotation, Item, Project

    a = Annotation.__table__
    i = Item.__table__
    db = Database(url)
    try:
        with db.engine.connect() as c:
            overlap = c.execute(
                select(Project.__table__.c.overlap).where(Project.__table__.c.id == project_id)
            )
            overlap_n = int(overlap.scalar_one())
            active = (a.c.project_id == project_id) & a.c.superseded_by.is_(None) & a.c.skipped.is_(False)
            per_item = select(a.c.item_id).where(active).group_by(a.c.item_id)
            over = per_item.having(func.count() > overlap_n).subquery()
            over_overlap = c.execute(select(func.count()).select_from(over)).scalar_one()
            pairs = select(a.c.item_id, a.c.user_id).where(active).group_by(a.c.item_id, a.c.user_id)
            twice = pairs.having(func.count() > 1).subquery()
            same_user_twice = c.execute(select(func.count()).select_from(twice)).scalar_one()
            keys = select(a.c.user_id, a.c.client_key).group_by(a.c.user_id, a.c.client_key)
            repeated = keys.having(func.count() > 1).subquery()
            key_repeats = c.execute(select(func.count()).select_from(repeated)).scalar_one()
            ids = [r[0] for r in c.execute(select(a.c.id).where(a.c.project_id == project_id))]
            states = dict(
                c.execute(
                    select(i.c.state, func.count()).where(i.c.project_id == project_id).group_by(i.c.state)
                ).all()
            )
    finally:
        db.dispose()
    in_db = Counter(ids)
    acked_set = set(acked)
    return {
        "overlap": overlap_n,
        "items_over_overlap": int(over_overlap),
        "item_user_answered_twice": int(same_user_twice),
        "client_key_repeats": int(key_repeats),
        "acked_ids_repeated": len(acked) - len(acked_set),
        "lost": sum(1 for x in acked_set if in_db[x] != 1),
        "annotations_in_db": len(ids),
        "unacknowledged_in_db": len(set(in_db) - acked_set),
        "item_states": {str(k): int(v) for k, v in states.items()},
    }


# --------------------------------------------------------------------------- main


def run_benchmark(args: argparse.Namespace, data_dir: Path, url: str, kind: str) -> dict[str, Any]:
    print(f"setup: {args.items:,} items, {args.clients} annotators, {kind} …", flush=True)
    prepared = setup(data_dir, url, args.items, args.clients, args.model_loop)
    print(
        f"setup: {prepared['total_s']:.1f} s (items {prepared['items_s']:.1f} s, "
        f"{prepared['items_per_s']:,} items/s; users {prepared['users_s']:.1f} s)",
        flush=True,
    )
    port = free_port()
    log = data_dir / "server.log"
    if args.quiet_wait > 0:
        wait_for_quiet(args.quiet_wait)
    proc = start_server(data_dir, url, port, args.workers, log, args.tweak, args.server_http)
    profiler: subprocess.Popen[bytes] | None = None
    try:
        runner = asyncio.Runner(loop_factory=_loop_factory(args.client_loop))
        with runner:
            t_boot = time.perf_counter()
            runner.run(wait_healthy(port, proc))
            boot_s = time.perf_counter() - t_boot
            if args.profile:
                profiler = start_profiler(proc.pid, args)
            tokens = [tok for _uid, tok in prepared["users"]]
            background = None
            if args.background_import:
                background = [
                    sys.executable,
                    str(BENCH_DIR / "_bg_import.py"),
                    url,
                    str(data_dir),
                    str(prepared["project_id"]),
                    str(args.background_import),
                ]
            run, samples, bg_info = runner.run(
                drive(
                    port,
                    proc.pid,
                    prepared["project_id"],
                    tokens,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    count=args.count,
                    http=args.http,
                    think_ms=args.think_ms,
                    background=background,
                    with_db=kind == "postgresql",
                )
            )
        server_pids = proc_tree(proc.pid)
        hwm = [proc_status(p).get("VmHWM", 0) for p in server_pids]
        if proc.poll() is not None:
            run.error("server:exited", f"code {proc.returncode}")
    finally:
        if profiler is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=args.seconds + args.warmup + 30)
        stop_server(proc)
    server_log = log.read_text(errors="replace")[-4000:]
    connections = sum(
        json.loads(p.read_text()).get("db_connections_opened", 0) for p in data_dir.glob("server-stats.*")
    )

    measure_end = min(run.end, run.exhausted_at) if run.exhausted_at else run.end
    measured_s = max(1e-9, measure_end - run.warm_end)
    # Acknowledged submits that completed inside the measured window (which
    # ends early if the queue ran dry).
    acked_in_window = sum(1 for t in run.acked_at if run.warm_end <= t < measure_end)
    a, b = nearest(samples, run.warm_end), nearest(samples, measure_end)
    span = max(1e-9, b.t - a.t)
    checks = check_database(url, prepared["project_id"], run.acked_ids)
    duplicates = (
        checks["items_over_overlap"]
        + checks["item_user_answered_twice"]
        + checks["client_key_repeats"]
        + checks["acked_ids_repeated"]
        + run.double_served
    )
    results = {
        "annotations_per_s": round(acked_in_window / measured_s, 1),
        "measured_s": round(measured_s, 2),
        "annotations_acked_in_window": acked_in_window,
        "annotations_acked_total": len(run.acked_ids),
        "requests": run.requests,
        "next_ms": percentiles(run.next_lat, run.warm_end, measure_end),
        "submit_ms": percentiles(run.submit_lat, run.warm_end, measure_end),
        "errors": dict(run.errors),
        "error_total": sum(run.errors.values()),
        "error_samples": run.error_samples,
        "empty_next": run.empty_next,
        "queue_exhausted": run.exhausted_at is not None,
        "replayed": run.replayed,
        "double_served": run.double_served,
        "duplicates": duplicates,
        "lost": checks["lost"],
        "db_checks": checks,
        "server": {
            "pids": len(server_pids),
            "peak_rss_bytes": max((s.server_rss for s in samples), default=0),
            "vm_hwm_bytes": sum(hwm),
            "cpu_s": round(b.server_cpu - a.server_cpu, 2),
            "cpu_cores": round((b.server_cpu - a.server_cpu) / span, 2),
            # Noise-robust cost: server CPU per acknowledged annotation (next + submit),
            # and the rate one fully available core would sustain at that cost.
            "cpu_ms_per_annotation": round(1000 * (b.server_cpu - a.server_cpu) / max(1, acked_in_window), 2),
            "annotations_per_core_s": round(acked_in_window / max(1e-9, b.server_cpu - a.server_cpu), 1),
            "boot_s": round(boot_s, 2),
            # Includes the start-up migration check; many more than the pool size means churn.
            "db_connections_opened": connections,
        },
        "client": {
            "http": args.http,
            "loop": args.client_loop,
            "cpu_s": round(b.client_cpu - a.client_cpu, 2),
            "cpu_cores": round((b.client_cpu - a.client_cpu) / span, 2),
        },
        # PostgreSQL's own processes (all of them, so other users' queries count too).
        "database_cpu_cores": round((b.db_cpu - a.db_cpu) / span, 2) if kind == "postgresql" else None,
        # CPU used by everything else on the machine during the window: a noisy
        # neighbour (tests, other benchmarks) makes the numbers worse.
        "other_cpu_cores": round(
            (
                (b.machine_cpu - a.machine_cpu)
                - (b.server_cpu - a.server_cpu)
                - (b.client_cpu - a.client_cpu)
                - (b.db_cpu - a.db_cpu)
            )
            / span,
            2,
        ),
    }
    results["targets"] = {
        "annotations_per_s": results["annotations_per_s"] >= TARGETS["annotations_per_s"],
        "next_p99": (results["next_ms"]["p99"] or 1e9) < TARGETS["next_p99_ms"],
        "submit_p99": (results["submit_ms"]["p99"] or 1e9) < TARGETS["submit_p99_ms"],
        "no_errors": results["error_total"] == 0,
        "no_duplicates": duplicates == 0,
        "no_lost": checks["lost"] == 0,
    }
    if bg_info is not None:
        w0, w1 = bg_info["started"], bg_info["ended"]
        results["background_import"] = {
            "items": args.background_import,
            "seconds": round(w1 - w0, 2),
            "report": bg_info.get("report"),
            "returncode": bg_info.get("returncode"),
            "next_ms_during": percentiles(run.next_lat, w0, w1),
            "submit_ms_during": percentiles(run.submit_lat, w0, w1),
            "next_ms_after": percentiles(run.next_lat, w1, measure_end),
            "submit_ms_after": percentiles(run.submit_lat, w1, measure_end),
        }
    if results["error_total"]:
        results["server_log_tail"] = server_log
    return {"setup": {k: v for k, v in prepared.items() if k != "users"}, "results": results}


def wait_for_quiet(limit_s: float, threshold_cores: float = 0.25, window_s: float = 2.0) -> None:
    """Wait (at most ``limit_s``) until the rest of the machine uses under ``threshold_cores``."""
    deadline = time.monotonic() + limit_s
    while True:
        before, mine = machine_cpu(), time.process_time()
        time.sleep(window_s)
        busy = (machine_cpu() - before - (time.process_time() - mine)) / window_s
        if busy < threshold_cores:
            return
        if time.monotonic() >= deadline:
            print(f"warning: other processes still use {busy:.2f} cores; measuring anyway", flush=True)
            return
        print(f"waiting for quiet: other processes use {busy:.2f} cores", flush=True)


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def start_profiler(pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """Sample the server with py-spy for the measured window (after the warm-up)."""
    path = Path(args.profile)
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(path.suffix, "raw")
    cmd = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(args.seconds)),
        "--rate",
        str(args.profile_rate),
        "--format",
        fmt,
        "--output",
        str(path),
        "--nonblocking",
    ]
    if args.workers > 1:
        cmd.append("--subprocesses")
    if args.profile_idle:
        cmd.append("--idle")
    if args.profile_gil:
        cmd.append("--gil")
    # Start after the warm-up so the profile covers the measured window only.
    return subprocess.Popen(
        ["sh", "-c", f"sleep {args.warmup} && exec {' '.join(cmd)}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _lat(d: dict[str, Any]) -> str:
    return f"p50 {d['p50']}  p90 {d['p90']}  p99 {d['p99']}  max {d['max']}  (n={d['count']:,})"


def summary(report: dict[str, Any]) -> str:
    r = report["results"]
    m = report["machine"]
    p = report["params"]
    ok = " ".join(f"{k}={'ok' if v else 'FAIL'}" for k, v in r["targets"].items())
    n, s = r["next_ms"], r["submit_ms"]
    lines = [
        f"loop: {p['items']:,} items, {p['clients']} clients, count={p['count']}, workers={p['workers']}, "
        f"{'think=' + str(p.get('think_ms')) + ' ms, ' if p.get('think_ms') else ''}"
        f"{'tweaks=' + ','.join(p['tweak']) + ', ' if p['tweak'] else ''}"
        f"{m['database']} {m['database_version']}, {m['nproc']} cores, python {m['python']}",
        f"  annotations/s   {r['annotations_per_s']:,.1f}   ({r['annotations_acked_in_window']:,} acked in "
        f"{r['measured_s']} s{', queue ran dry' if r['queue_exhausted'] else ''})",
        f"  next ms         {_lat(n)}",
        f"  submit ms       {_lat(s)}",
        f"  errors          {r['error_total']} {r['errors'] or ''}   empty_next {r['empty_next']}",
        f"  duplicates      {r['duplicates']}   lost {r['lost']}   "
        f"(db: {r['db_checks']['annotations_in_db']:,} annotations, "
        f"{r['db_checks']['unacknowledged_in_db']} unacknowledged)",
        f"  server          {r['server']['cpu_cores']} cores, "
        f"{r['server']['cpu_ms_per_annotation']} ms CPU per annotation "
        f"(~{r['server']['annotations_per_core_s']:,.0f}/s per free core), "
        f"peak RSS {mib(r['server']['peak_rss_bytes'])} (VmHWM {mib(r['server']['vm_hwm_bytes'])}), "
        f"{r['server']['db_connections_opened']} db connections opened",
        f"  client          {r['client']['cpu_cores']} cores ({r['client']['http']}, {r['client']['loop']})"
        + (f"   postgres {r['database_cpu_cores']} cores" if r["database_cpu_cores"] is not None else "")
        + f"   other processes {r['other_cpu_cores']} cores",
        f"  targets         {ok}",
    ]
    bg = r.get("background_import")
    if bg:
        lines += [
            f"  background      import of {bg['items']:,} items from another process took {bg['seconds']} s "
            f"(rc {bg['returncode']})",
            f"    next ms during   {_lat(bg['next_ms_during'])}",
            f"    submit ms during {_lat(bg['submit_ms_during'])}",
            f"    next ms after    {_lat(bg['next_ms_after'])}",
        ]
    for sample in r["error_samples"][:3]:
        lines.append(f"  error sample    {sample}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000, help="text items to import")
    ap.add_argument("--clients", type=int, default=32, help="concurrent simulated annotators")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds (after the warm-up)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    ap.add_argument("--database", help="PostgreSQL URL; a fresh schema is created and dropped")
    ap.add_argument("--json", help="write the full report here")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument(
        "--server-http",
        choices=sorted(SERVER_PROTOCOLS),
        default="hitloop",
        help="server HTTP protocol: hitloop's one-write protocol (as `hitloop serve`) or uvicorn's httptools",
    )
    ap.add_argument(
        "--model-loop",
        action="store_true",
        help="let the project retrain by itself (featurize and train jobs run in the server meanwhile)",
    )
    ap.add_argument("--count", type=int, default=1, help="items per 'next' call (then submitted one by one)")
    ap.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause after each submit, like a person reading the next item (default 0: saturate)",
    )
    ap.add_argument("--http", choices=["raw", "httpx"], default="raw", help="client HTTP implementation")
    ap.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop")
    ap.add_argument("--profile", help="py-spy output for the server (.svg flamegraph, .json, else raw)")
    ap.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--profile-idle", action="store_true", help="include idle/waiting threads")
    ap.add_argument("--profile-gil", action="store_true", help="only sample the thread holding the GIL")
    ap.add_argument(
        "--tweak",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="what-if server setting, see benchmarks/_server.py (threads=N, switchinterval=S); repeatable",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before the load, wait up to this long for other processes to go quiet",
    )
    ap.add_argument(
        "--background-import",
        type=int,
        default=0,
        metavar="N",
        help="after the warm-up, import N more items from another process while annotators work",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir")
    args = ap.parse_args(argv)
    if not 1 <= args.count <= 8:
        ap.error("--count must be 1..8 (the server's default max leases per user)")
    if args.clients < 1 or args.items < 1 or args.seconds <= 0:
        ap.error("--items, --clients and --seconds must be positive")

    data_dir = Path(tempfile.mkdtemp(prefix="hitloop-bench-"))
    try:
        with fresh_database(data_dir, args.database) as (url, kind):
            machine = machine_info(kind, url)
            outcome = run_benchmark(args, data_dir, url, kind)
    finally:
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    params = {
        k: getattr(args, k)
        for k in (
            "items",
            "clients",
            "seconds",
            "warmup",
            "workers",
            "count",
            "http",
            "server_http",
            "tweak",
            "background_import",
            "model_loop",
        )
    }
    params["database"] = redact(args.database) if args.database else "sqlite (temp file)"
    report = {"benchmark": "loop", "params": params, "machine": machine, **outcome}
    write_json(args.json, report)
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
