"""Operator routes: liveness (``GET /health``), readiness (``GET /ready``) and the fault admin
(``/_admin/faults``).

The admin routes exist only when the server was started with an admin key (``--enable-admin``):
otherwise they answer exactly like an unknown route. They never accept the data API key.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from langchain_zilliz_bailian.server.context import context_of
from langchain_zilliz_bailian.server.errors import envelope_for
from langchain_zilliz_bailian.server.fallbacks import NOT_FOUND
from langchain_zilliz_bailian.server.strict_json import loads as strict_loads


async def health(request: Request) -> Response:
    """Liveness: the process answers HTTP."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Readiness: 200 once a search can be served, else 503 with the reason."""
    state = await context_of(request).readiness.check()
    if state.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reason": state.reason}, status_code=503)


def _error(request: Request, status: int, message: str) -> Response:
    body, headers = envelope_for(request.url.path, status, message)
    return JSONResponse(body, status_code=status, headers=headers)


async def admin_faults(request: Request) -> Response:
    """``GET`` the fault state, ``POST`` a partial update, ``DELETE`` to clear every fault."""
    ctx = context_of(request)
    if ctx.settings.admin_key is None:
        return _error(request, 404, NOT_FOUND)
    if not ctx.authorized_admin(request):
        return _error(request, 401, "The admin key is missing or wrong.")
    if request.method == "DELETE":
        ctx.faults.reset()
    elif request.method == "POST":
        try:
            patch = strict_loads(await request.body())
            if not isinstance(patch, dict):
                raise ValueError("body must be a JSON object")
            ctx.faults.update(patch)
        except (ValueError, TypeError) as exc:
            return _error(request, 400, f"Invalid fault settings: {exc}")
    return JSONResponse(ctx.faults.snapshot())
