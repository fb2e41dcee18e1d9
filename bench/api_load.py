"""Benchmark: does API load hurt the alerting path? 200 concurrent API clients against a real `serve`
while 1,000 checks run and alerts fire.

    .venv/bin/python bench/api_load.py [--clients 200] [--seconds 30] [--checks 1000] [--db sqlite|URL]

This process runs opsbook (uvicorn + the whole pipeline) on 127.0.0.1. Child processes run: the checks'
target (aiohttp), a webhook receiver that records when each alert message arrives, and the API load
(`--clients` concurrent clients of `GET /api/v1/checks` with a viewer token, flat out). Two phases of
`--seconds` each, without and with the load; in both, heartbeat probes are failed through `/ping/<token>/fail`
at random instants and their `failures >= 1` P0 rule fires. Printed per phase: API answers/s (200 and
503), API latency p50/p99, results stored per second, and alert latency (ping → message received)
p50/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
import statistics
import time
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from typing import Any

import aiohttp
import uvicorn
from aiohttp import web

from opsbook.auth.roles import Role
from opsbook.auth.tokens import create_token
from opsbook.config.loader import parse_config
from opsbook.db.engine import make_engine, make_sessionmaker
from opsbook.db.migrate import upgrade
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from opsbook.web.app import create_app
from support import free_port, fresh_database  # bench/support.py, beside this script

PROBES = 60


def target(port: int) -> None:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text='{"status":"ok"}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


def receiver(port: int, arrivals: Queue[Any]) -> None:
    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        arrivals.put((time.time(), f"{body.get('title', '')}\n{body.get('message', '')}"))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def load(url: str, token: str, clients: int, seconds: float, out: Queue[Any]) -> None:
    async def client(session: aiohttp.ClientSession, stop: float, got: list[tuple[int, float]]) -> None:
        while time.time() < stop:
            began = time.perf_counter()
            try:
                async with session.get(f"{url}/api/v1/checks") as reply:
                    await reply.read()
                    got.append((reply.status, time.perf_counter() - began))
            except aiohttp.ClientError:
                got.append((0, time.perf_counter() - began))

    async def main() -> None:
        got: list[tuple[int, float]] = []
        headers = {"Authorization": f"Bearer {token}"}
        connector = aiohttp.TCPConnector(limit=clients)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as session:
            stop = time.time() + seconds
            await asyncio.gather(*(client(session, stop, got) for _ in range(clients)))
        out.put(got)

    asyncio.run(main())


def config_text(checks: int, target_port: int, hook_port: int) -> str:
    lines = [
        "alerting: {default_failures: 1, default_severity: P0}",
        "channels:",
        f"  - {{name: hook, url: 'json://127.0.0.1:{hook_port}/hook'}}",
        "routing: {P0: {action: page, channels: [hook]}}",
        "grouping: {window: 0s}",
        "services:",
        "  - name: load",
        "    checks:",
    ]
    lines += [
        f"      - {{name: c{i}, kind: http, url: 'http://127.0.0.1:{target_port}/c{i}', interval: 10s,"
        " keepalive: true}"
        for i in range(checks)
    ]
    lines += ["  - name: probe", "    checks:"]
    lines += [
        f"      - {{name: p{i}, kind: heartbeat, period: 1d, token: probe-token-{i:04d}}}"
        for i in range(PROBES)
    ]
    return "\n".join(lines) + "\n"


def quantiles(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=100) if len(values) > 1 else (values or [float("nan")]) * 99


async def phase(
    name: str, args: argparse.Namespace, base: str, token: str, pipeline: Pipeline, arrivals: Queue[Any],
    probes: list[int],
) -> None:
    results: Queue[Any] = multiprocessing.Queue()
    loader = None
    if args.clients:
        loader = multiprocessing.Process(target=load, args=(base, token, args.clients, args.seconds, results))
        loader.start()
    written0 = pipeline.writer.written
    start = time.time()
    sent: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:
        for n, i in enumerate(probes):
            await asyncio.sleep(max(0.0, start + args.seconds * n / len(probes) - time.time()))
            sent[f"probe/p{i}"] = time.time()
            async with http.post(f"{base}/ping/probe-token-{i:04d}/fail") as reply:
                assert reply.status == 200, await reply.text()
    await asyncio.sleep(max(0.0, start + args.seconds - time.time()))
    stored = (pipeline.writer.written - written0) / args.seconds
    got: dict[str, float] = {}
    deadline = time.time() + 30
    while len(got) < len(sent) and time.time() < deadline:
        while not arrivals.empty():
            when, text = arrivals.get()
            for check_id in re.findall(r"probe/p\d+", text):
                got.setdefault(check_id, when)
        await asyncio.sleep(0.05)
    latencies = sorted(got[k] - sent[k] for k in got if k in sent)
    lat = quantiles(latencies)
    print(f"\n== {name}")
    if loader is not None:
        answers: list[tuple[int, float]] = await asyncio.to_thread(results.get)
        loader.join()
        ok = [t for status, t in answers if status == 200]
        busy = sum(1 for status, _ in answers if status == 503)
        failed = len(answers) - len(ok) - busy
        q = quantiles(ok)
        print(f"api answers       {len(ok) / args.seconds:,.0f}/s ok, {busy / args.seconds:,.0f}/s 503 busy, "
              f"{failed} failed ({args.clients} clients)")
        print(f"api latency       p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms")
    print(f"results stored    {stored:,.0f}/s")
    print(f"alerts            {len(latencies)} of {len(sent)} delivered")
    print(f"alert latency     p50 {lat[49] * 1000:.0f} ms, p99 {lat[98] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000 if latencies else float('nan'):.0f} ms")


async def run(args: argparse.Namespace, url: str) -> None:
    target_port, hook_port, port = free_port(), free_port(), free_port()
    arrivals: Queue[Any] = multiprocessing.Queue()
    children = [
        multiprocessing.Process(target=target, args=(target_port,), daemon=True),
        multiprocessing.Process(target=receiver, args=(hook_port, arrivals), daemon=True),
    ]
    for child in children:
        child.start()
    engine = make_engine(url)
    upgrade(engine)
    loaded = parse_config(config_text(args.checks, target_port, hook_port), "bench.yaml", {})
    runtime = Runtime(loaded=loaded, engine=engine, sessions=make_sessionmaker(engine))
    with runtime.sessions.begin() as session:
        token = create_token(session, "load", Role.VIEWER, datetime.now(UTC))
    app = create_app(runtime)
    pipeline: Pipeline = app.state.pipeline
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    await asyncio.sleep(12)  # every check has run once
    order = list(range(PROBES))
    random.shuffle(order)
    half = PROBES // 2
    db = "sqlite" if args.db == "sqlite" else engine.dialect.name
    print(f"database {db}; {args.checks} checks every 10 s; {args.seconds:g} s per phase")
    quiet = argparse.Namespace(**{**vars(args), "clients": 0})
    await phase("without API load", quiet, base, token, pipeline, arrivals, order[:half])
    await phase(f"with {args.clients} API clients", args, base, token, pipeline, arrivals, order[half:])
    server.should_exit = True
    await serving
    for child in children:
        child.terminate()


async def bench(args: argparse.Namespace) -> None:
    with fresh_database(args.db) as url:
        await run(args, url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--db", default="sqlite", help="sqlite, or a PostgreSQL URL")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
