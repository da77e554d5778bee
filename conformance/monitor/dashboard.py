"""``tokencert monitor serve``: the live dashboard (Starlette + uvicorn).

A leaderboard (sortable; filters by workload, scenario, prober and window), a chart of the
medians with their intervals, and a per-target drill-down with every probe. Chart.js is
vendored in ``static/`` (from the npm registry); nothing is fetched from elsewhere.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from conformance.monitor import tables as t
from conformance.monitor.figures import METRICS, compute, last_hours
from conformance.monitor.publish import ranking_rows
from conformance.monitor.store import Store

_HERE = Path(__file__).resolve().parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'")


def _hours(req: Request) -> float:
    try:
        h = float(req.query_params.get("hours", "72"))
    except ValueError:
        h = 72.0
    return min(max(h, 0.01), 24 * 366)


def _distinct(store: Store, column: str) -> list[str]:
    import sqlalchemy as sa

    c = t.rounds.c[column]
    with store.engine.connect() as conn:
        return [str(x) for x in conn.execute(sa.select(c).distinct().order_by(c)).scalars()]


def make_app(store: Store, refresh_s: float = 10.0) -> Starlette:
    def index(_req: Request) -> Response:
        html = (_HERE / "templates" / "dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{REFRESH_MS}}", str(int(refresh_s * 1000))),
                            headers={"content-security-policy": CSP})

    def static(req: Request) -> Response:
        name = req.path_params["name"]
        if name not in ("chart.umd.min.js", "dashboard.js"):
            return Response(status_code=404)
        return FileResponse(_HERE / "static" / name, media_type="text/javascript")

    def meta(_req: Request) -> Response:
        return JSONResponse({k: _distinct(store, k) for k in
                             ("campaign", "prober", "target", "workload", "scenario")}
                            | {"metrics": list(METRICS)})

    def leaderboard(req: Request) -> Response:
        q = req.query_params
        metric = q.get("metric", "output_tps")
        if metric not in METRICS:
            return JSONResponse({"error": f"unknown metric {metric!r}"}, status_code=400)
        w = last_hours(_hours(req), campaign=q.get("campaign") or None,
                       prober=q.get("prober") or None, workload=q.get("workload") or None,
                       scenario=q.get("scenario") or None, metric=metric)
        compute(store, w)
        return JSONResponse({"window": {"start": w.start.isoformat() + "Z",
                                        "end": w.end.isoformat() + "Z"},
                             "metric": metric, "rows": list(ranking_rows(w))})

    def series(req: Request) -> Response:
        q = req.query_params
        w = last_hours(_hours(req))
        rows = store.requests(w.start, w.end, q.get("campaign") or None,
                              ("sent_at", "ttft_ms", "output_tps", "ok", "workload",
                               "scenario"), target=q.get("target") or None,
                              prober=q.get("prober") or None,
                              workload=q.get("workload") or None,
                              scenario=q.get("scenario") or None)
        rows.sort(key=lambda r: r["sent_at"])
        return JSONResponse({"target": q.get("target"), "points": [
            {"t": r["sent_at"].isoformat() + "Z", "ttft_ms": r["ttft_ms"],
             "output_tps": r["output_tps"], "ok": r["ok"]} for r in rows]})

    return Starlette(routes=[
        Route("/", index), Route("/static/{name}", static), Route("/api/meta", meta),
        Route("/api/leaderboard", leaderboard), Route("/api/series", series)])


def serve_in_thread(store: Store, host: str = "127.0.0.1", port: int = 0,
                    refresh_s: float = 10.0) -> tuple[Any, str]:
    """Start the dashboard in a daemon thread; (uvicorn server, its URL)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(make_app(store, refresh_s), host=host, port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name="monitor-dashboard")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.02)
    sock = server.servers[0].sockets[0].getsockname()
    return server, f"http://{host}:{sock[1]}/"
