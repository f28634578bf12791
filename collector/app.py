"""The collector's HTTP API: probe registration, batch ingest, control, health and metrics.

``create_app(settings, store)`` builds a FastAPI app (OpenAPI document at /openapi.json). The
store is synchronous; every store call runs in Starlette's thread pool. A client's address is
used in memory only (as a rate-limit key for anonymous calls) and is never stored or logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from collector import control
from collector.auth import ProbeAuth, bearer, hash_token, register_probe, same_secret
from collector.bodies import limited_route
from collector.headers import SecurityHeaders
from collector.metrics import Metrics
from collector.queries import router as query_router
from collector.ratelimit import RateLimiter, retry_after
from collector.schema import BatchIn, TagText, batch_problems, explain_errors
from collector.schema_fast import decode_batch
from collector.settings import CollectorSettings
from collector.store import Store, StoreConflictError, StoreError, StoreRefusedError
from collector.web import router as web_router
from probe.model import utcnow
from probe.targets import Target, load_targets

log = logging.getLogger("tyndau.collector")
STORE_RETRY_AFTER_S = 10
SMALL_BODY_BYTES = 65_536  # registration and control bodies are a few bytes
BATCH_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
}


@dataclass
class Context:
    """Everything a request handler needs, made once per app."""

    settings: CollectorSettings
    store: Store
    targets: list[Target]
    clock: Callable[[], datetime] = utcnow
    metrics: Metrics = field(default_factory=Metrics)
    auth: ProbeAuth = field(init=False)
    ingest_limit: RateLimiter = field(init=False)
    register_limit: RateLimiter = field(init=False)
    control_limit: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        limits = self.settings.limits
        self.auth = ProbeAuth(self.store)
        per_minute = limits.probe_batches_per_minute
        self.ingest_limit = RateLimiter(rate_per_s=per_minute / 60, burst=max(1.0, per_minute))
        per_hour = limits.registrations_per_hour
        self.register_limit = RateLimiter(rate_per_s=per_hour / 3600, burst=max(1.0, per_hour))
        control_rate = limits.control_per_minute
        self.control_limit = RateLimiter(rate_per_s=control_rate / 60, burst=max(1.0, control_rate))


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: TagText = "probe"


class RegisterOut(BaseModel):
    probe_id: str
    token: str


class IngestOut(BaseModel):
    accepted: int
    duplicates: int


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Annotated[str, Field(min_length=1, max_length=253, description="name or domain")]


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(context)]
AuthHeader = Annotated[str | None, Header(alias="Authorization")]


def _unauthorized(what: str) -> HTTPException:
    return HTTPException(401, what, headers={"WWW-Authenticate": "Bearer"})


def _too_many(seconds: float, ctx: Context, reason: str) -> HTTPException:
    ctx.metrics.count_rejected(reason)
    return HTTPException(
        429,
        "rate limit exceeded: keep the data and retry after the delay",
        headers={"Retry-After": retry_after(seconds)},
    )


async def probe_id_of(ctx: Ctx, authorization: AuthHeader = None) -> str:
    """The probe behind a bearer token, or 401."""
    token = bearer(authorization)
    if token is None:
        ctx.metrics.count_rejected("unauthenticated")
        raise _unauthorized("missing bearer token: Authorization: Bearer <probe token>")
    try:
        probe_id = await run_in_threadpool(ctx.auth.probe_for, token)
    except StoreError as exc:
        raise _store_down(ctx, exc) from exc
    if probe_id is None:
        ctx.metrics.count_rejected("bad_token")
        raise _unauthorized("unknown probe token")
    return probe_id


ProbeId = Annotated[str, Depends(probe_id_of)]


def _store_down(ctx: Context, exc: Exception) -> HTTPException:
    ctx.metrics.count_rejected("store_unavailable")
    log.warning("store unavailable: %s", exc)
    return HTTPException(
        503,
        "storage is unavailable; keep the data and retry",
        headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
    )


def _refused(ctx: Context, exc: StoreRefusedError) -> HTTPException:
    """409 for records reusing an id, 422 for records the store refuses as malformed: both
    name the records (``loc``) so the probe quarantines only them; the store's text is logged."""
    conflict = isinstance(exc, StoreConflictError)
    ctx.metrics.count_rejected("id_conflict" if conflict else "refused_by_store")
    log.warning("store refused a batch: %s", exc)
    problems = [
        {"loc": ["body", p.group, p.index, "id"], "msg": p.message, "type": p.kind}
        for p in exc.problems
    ] or [
        {
            "loc": ["body"],
            "msg": "the store refused these records as malformed; send them one by one to "
            "find the one at fault",
            "type": "refused_by_store",
        }
    ]
    return HTTPException(409 if conflict else 422, problems)


def ingest_router(max_body_bytes: int) -> APIRouter:
    router = APIRouter(route_class=limited_route(max_body_bytes))

    @router.post(
        "/v1/measurements",
        response_model=IngestOut,
        responses={401: {}, 409: {}, 413: {}, 415: {}, 422: {}, 429: {}, 503: {}},
        openapi_extra={"requestBody": BATCH_BODY},
    )
    async def post_measurements(request: Request, probe_id: ProbeId, ctx: Ctx) -> IngestOut:
        """Store a probe's batch (``tyndau.batch/1``, gzip accepted) durably and idempotently.

        The body is decoded straight from bytes by msgspec, and by pydantic-core where msgspec
        refuses it (collector/schema_fast.py); errors have FastAPI's 422 shape with ``loc``
        naming the field.
        """
        try:
            batch = decode_batch(await request.body())
        except ValidationError as exc:
            ctx.metrics.count_rejected("invalid")
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
        wait = ctx.ingest_limit.take(probe_id)
        if wait > 0:
            raise _too_many(wait, ctx, "rate_limited")
        if batch.size > ctx.settings.limits.max_batch_records:
            ctx.metrics.count_rejected("batch_too_long")
            raise HTTPException(
                413,
                f"batch has {batch.size} records; at most {ctx.settings.limits.max_batch_records}",
            )
        problems = batch_problems(batch, probe_id=probe_id, now=ctx.clock())
        if problems:
            ctx.metrics.count_rejected("invalid")
            raise HTTPException(422, problems)
        measurements, verdicts, heartbeats = batch.measurements, batch.verdicts, batch.heartbeats
        ctx.metrics.enter()
        started = time.perf_counter()
        try:
            result = await run_in_threadpool(
                lambda: ctx.store.write_batch(
                    measurements=measurements, verdicts=verdicts, heartbeats=heartbeats
                )
            )
        except StoreRefusedError as exc:
            raise _refused(ctx, exc) from exc
        except StoreError as exc:
            raise _store_down(ctx, exc) from exc
        finally:
            ctx.metrics.leave()
        ctx.metrics.observe_store(time.perf_counter() - started)
        for kind, items in (
            ("measurement", measurements),
            ("verdict", verdicts),
            ("heartbeat", heartbeats),
        ):
            ctx.metrics.count_ingested(kind, len(items))
        ctx.metrics.count_duplicates(result.duplicates)
        return IngestOut(accepted=result.accepted, duplicates=result.duplicates)

    return router


async def _enrolled(ctx: Context, token: str) -> bool:
    """Whether ``token`` is a usable enrolment token; a use is counted when it is."""
    try:
        used = await run_in_threadpool(
            lambda: ctx.store.use_enrolment(hash_token(token), now=ctx.clock())
        )
    except StoreError as exc:
        raise _store_down(ctx, exc) from exc
    return used is not None


def admin_router() -> APIRouter:
    router = APIRouter(route_class=limited_route(SMALL_BODY_BYTES))

    @router.post(
        "/v1/probes",
        status_code=201,
        response_model=RegisterOut,
        responses={401: {}, 403: {}, 429: {}, 503: {}},
    )
    async def post_probe(
        ctx: Ctx, request: Request, body: RegisterIn | None = None, authorization: AuthHeader = None
    ) -> RegisterOut:
        """Register a probe: an enrolment token (or the operator's), or open registration (rate
        limited) when enabled."""
        token = bearer(authorization)
        if token is not None and (
            same_secret(token, ctx.settings.operator_token) or await _enrolled(ctx, token)
        ):
            pass
        elif not ctx.settings.open_registration:
            ctx.metrics.count_rejected("registration_denied")
            raise _unauthorized(
                "registration needs an enrolment token from this collector's operator "
                "(tyndau collector enrol-token create)"
            )
        else:
            caller = request.client.host if request.client else "unknown"  # memory only
            wait = ctx.register_limit.take(caller)
            if wait > 0:
                raise _too_many(wait, ctx, "registration_rate")
        name = body.name if body is not None else "probe"
        try:
            probe_id, new_token = await run_in_threadpool(register_probe, ctx.store, name)
        except StoreError as exc:
            raise _store_down(ctx, exc) from exc
        return RegisterOut(probe_id=probe_id, token=new_token)

    @router.post("/v1/control", responses={401: {}, 403: {}, 404: {}, 429: {}})
    async def post_control(body: ControlIn, probe_id: ProbeId, ctx: Ctx) -> dict[str, Any]:
        """Measure a listed target from the collector (DNS, TCP, TLS, HTTP summary)."""
        if not ctx.settings.control.enabled:
            raise HTTPException(403, "the control endpoint is disabled on this collector")
        wanted = body.target.strip().lower()
        target = next((t for t in ctx.targets if wanted in {t.name, t.domain}), None)
        if target is None:
            raise HTTPException(404, f"target {body.target!r} is not in this collector's list")
        wait = ctx.control_limit.take(probe_id)
        if wait > 0:
            raise _too_many(wait, ctx, "control_rate")
        config = control.ControlConfig(
            timeout_s=ctx.settings.control.timeout_s,
            resolver=ctx.settings.control.resolver,
            ca_bundle=str(ctx.settings.control.ca_bundle)
            if ctx.settings.control.ca_bundle
            else None,
            http_max_bytes=ctx.settings.control.http_max_bytes,
            allow_net=ctx.settings.control.allow_net,
        )
        result = await control.measure(target, config)
        return result.to_dict()

    @router.get("/healthz", responses={503: {}})
    async def healthz(ctx: Ctx) -> JSONResponse:
        try:
            await run_in_threadpool(ctx.store.ping)
        except StoreError as exc:
            return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics(ctx: Ctx) -> PlainTextResponse:
        return PlainTextResponse(
            ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return router


def create_app(
    settings: CollectorSettings,
    store: Store,
    *,
    targets: list[Target] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The collector API over ``store``; ``targets`` (default: settings' file) gate /v1/control."""
    if targets is None:
        targets = load_targets(settings.targets_file)
    app = FastAPI(
        title="tyndau collector",
        version="1",
        description="Ingest and query API for tyndau probes and researchers.",
        docs_url=None,  # FastAPI's Swagger UI and ReDoc load from a CDN: no third party, ever;
        redoc_url=None,  # the document is at /openapi.json for any local viewer
    )
    app.add_middleware(SecurityHeaders)
    app.state.ctx = Context(settings=settings, store=store, targets=targets, clock=clock)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.include_router(ingest_router(settings.limits.max_body_bytes))
    app.include_router(admin_router())
    app.include_router(query_router)
    app.include_router(web_router)  # the researchers' page at / (collector/web.py)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _validation_problem(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, with a tag's pattern mismatch told as the character or space to fix."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    explained = RequestValidationError(explain_errors(exc.errors()), body=exc.body)
    return await request_validation_exception_handler(request, explained)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the batch schema, which the ingest route validates itself."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        batch = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(batch.pop("$defs", {}))
        schemas["BatchIn"] = batch
        app.openapi_schema = document
    return app.openapi_schema
