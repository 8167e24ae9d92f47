"""Operator routes: liveness (``GET /health``) and the fault admin (``/_admin/faults``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from langchain_zilliz_bailian.server.context import context_of


async def health(request: Request) -> Response:
    """Liveness: the process answers HTTP."""
    return JSONResponse({"status": "ok"})


async def admin_faults(request: Request) -> Response:
    """``GET`` the fault state, ``POST`` a partial update, ``DELETE`` to clear every fault."""
    ctx = context_of(request)
    if not ctx.authorized(request):
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    if request.method == "DELETE":
        ctx.faults.reset()
    elif request.method == "POST":
        try:
            patch = await request.json()
            if not isinstance(patch, dict):
                raise ValueError("body must be a JSON object")
            ctx.faults.update(patch)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(ctx.faults.snapshot())
