"""The web adapters' cost on a request: a minimal FastAPI endpoint with and without personakit.

* ``adapter_overhead_ratio``: the median latency of ``GET /offers`` on an app with
  :class:`~personakit_fastapi.PersonakitMiddleware` (subject cookie checked, ``Sec-GPC`` read)
  whose endpoint makes one personakit call per request, over the median latency of the same
  endpoint on the same FastAPI app without personakit, in the same run (target <= 1.5).
  The call is ``bound.decide("home", {"channel": "web"})`` (``kit.personalization.decide``
  for the request's subject, run in the thread pool as the adapter runs every kit call) over
  a small home-page rule set (aggregates, affinity, context, a built-in segment), for a
  visitor with real aggregates (a few events ingested with personalization on).
* ``adapter_request_us`` / ``adapter_baseline_us`` (informational): the two medians.

Requests go straight into the ASGI app in one event loop (no HTTP client or socket), so the
figure is what the adapter adds, not what a client library costs. The kit is on disk
(DiskStore), with a returning visitor: a genuine subject cookie and consent given.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from _common import BenchContext
from _shop import open_kit
from personakit.web import WebFront
from personakit_fastapi import PersonakitMiddleware, current_subject

TARGETS = {"adapter_overhead_ratio": ("<=", 1.5)}

_CONTEXT = {"channel": "web"}
#: A home page: regulars, bread lovers, a basket reminder on the web, lapsed customers.
RULES: dict[str, Any] = {
    "placements": {"home": {"default": {"content": "favourites"}}},
    "rules": [
        {
            "id": "regulars",
            "placement": "home",
            "priority": 40,
            "when": {"field": "aggregates.order_count", "gte": 3},
            "then": {"content": "loyalty-card"},
        },
        {
            "id": "bread-lovers",
            "placement": "home",
            "priority": 30,
            "when": {"affinity_top": {"dimension": "category", "value": "bread", "k": 1}},
            "then": {"content": "bread-banner"},
        },
        {
            "id": "basket",
            "placement": "home",
            "priority": 20,
            "when": {
                "all": [
                    {"field": "aggregates.cart_items", "gt": 0},
                    {"field": "context.channel", "eq": "web"},
                ]
            },
            "then": {"content": "basket-reminder"},
        },
        {
            "id": "lapsed",
            "placement": "home",
            "priority": 10,
            "when": {"segment": "lifecycle.lapsed"},
            "then": {"content": "we-miss-you"},
        },
    ],
}


def _baseline_app() -> FastAPI:
    """The same two endpoints with no personakit at all."""
    app = FastAPI()

    @app.get("/offers")
    def offers() -> dict[str, str]:
        return {"content": "favourites"}

    @app.get("/offers-async")
    async def offers_async() -> dict[str, str]:
        return {"content": "favourites"}

    return app


def _personakit_app(front: WebFront) -> FastAPI:
    """The middleware, and one decision per request in each endpoint."""
    app = FastAPI()
    app.add_middleware(PersonakitMiddleware, front=front)

    @app.get("/offers")
    def offers(request: Request) -> dict[str, str]:
        # A sync endpoint: FastAPI already runs it in its thread pool, kit call included.
        return {"content": current_subject(request).decide("home", _CONTEXT).content}

    @app.get("/offers-async")
    async def offers_async(request: Request) -> dict[str, str]:
        bound = current_subject(request)
        decision = await run_in_threadpool(bound.decide, "home", _CONTEXT)
        return {"content": decision.content}

    return app


def _scope(path: str, cookie: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"shop.test"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("shop.test", 443),
        "state": {},
    }


async def _one(app: Any, path: str, cookie: str) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path, cookie), receive, send)
    return status


async def _medians(cases: dict[str, tuple[Any, str]], cookie: str, rounds: int) -> dict[str, float]:
    """The median latency (µs) of each (app, path), over single requests taken in turn.

    Each round sends one request to every case, so all cases see the same machine at the
    same moment; the median of single latencies shrugs off the other processes' bursts that
    a mean over a batch would absorb. The first tenth of the rounds warms up and is dropped.
    """
    samples: dict[str, list[float]] = {name: [] for name in cases}
    warmup = rounds // 10
    for round_no in range(rounds + warmup):
        for name, (app, path) in cases.items():
            started = time.perf_counter_ns()
            if await _one(app, path, cookie) != 200:
                raise RuntimeError(f"{name}: request failed")
            if round_no >= warmup:
                samples[name].append((time.perf_counter_ns() - started) / 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def figures(ctx: BenchContext) -> dict[str, float]:
    """Measure both apps in one run; return the ratio and the two medians."""
    kit = open_kit(ctx, ctx.workdir / "store")
    try:
        front = WebFront(kit)
        visit = front.visit()
        assert visit.set_cookie is not None
        kit.consent.grant(
            visit.subject,
            "personalization",
            source="web",
            notice="privacy_notice",
            notice_version="2026-01",
        )
        cookie = f"{visit.set_cookie.name}={visit.set_cookie.value}"
        for item, category in (("rye", "bread"), ("eclair", "cake")):
            kit.track(
                visit.identifier,
                "product_view",
                channel="web",
                properties={"item": item, "category": category},
            )
        kit.personalization.load_rules(RULES, actor="bench")
        baseline, personakit = _baseline_app(), _personakit_app(front)
        cases = {
            "baseline": (baseline, "/offers"),
            "personakit": (personakit, "/offers"),
            "baseline_async": (baseline, "/offers-async"),
            "personakit_async": (personakit, "/offers-async"),
        }
        medians = asyncio.run(_medians(cases, cookie, 1_500 if ctx.quick else 6_000))
    finally:
        kit.close()
    return {
        "adapter_overhead_ratio": medians["personakit"] / medians["baseline"],
        "adapter_request_us": medians["personakit"],
        "adapter_baseline_us": medians["baseline"],
        "adapter_overhead_async_ratio": medians["personakit_async"] / medians["baseline_async"],
        "adapter_async_request_us": medians["personakit_async"],
        "adapter_async_baseline_us": medians["baseline_async"],
    }
