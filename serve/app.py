"""The FastAPI app: one engine loaded at start-up, thin typed routes over the pipeline.

Routes are plain ``def`` functions, so FastAPI runs the CPU-bound scoring in its thread pool and
the event loop stays free for health checks.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from stancewire import __version__
from stancewire.model.engine import StanceEngine
from stancewire.model.errors import InvalidInput, StancewireError
from stancewire.model.pipeline import StancePipeline
from stancewire.model.quotes import QuoteExtractor
from stancewire.model.registry import ModelRegistry
from stancewire.model.types import Pair
from stancewire.serve import page
from stancewire.serve.batcher import MicroBatcher, Overloaded, RequestTimeout
from stancewire.serve.feedback import Correction, FeedbackError, LazyStore
from stancewire.serve.logs import REQUEST_ID
from stancewire.serve.metrics import ServiceMetrics
from stancewire.serve.middleware import BodySizeLimit
from stancewire.serve.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    Prediction,
    ReloadRequest,
    StanceRequest,
    StanceResponse,
    stance_response,
)
from stancewire.serve.settings import Settings

log = logging.getLogger(__name__)
access_log = logging.getLogger("stancewire.access")
RELOAD_GRACE_SECONDS = 30.0
"""How long a replaced model keeps scoring for requests that started before a reload."""

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "request larger than the configured limits"},
    422: {"model": ErrorResponse, "description": "invalid request"},
    503: {
        "model": ErrorResponse,
        "description": "model not loaded yet, or the server is busy (see Retry-After)",
    },
    504: {"model": ErrorResponse, "description": "the model did not finish the request within the timeout"},
}


def get_pipeline(request: Request) -> StancePipeline:
    pipeline: StancePipeline | None = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise HTTPException(status_code=503, detail="model not loaded yet")
    return pipeline


def request_id_of(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new random one."""
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 128 and given.isascii() and given.isprintable() and " " not in given:
        return given
    return uuid.uuid4().hex


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PipelineDep = Annotated[StancePipeline, Depends(get_pipeline)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _limit(ok: bool, message: str) -> None:
    if not ok:
        raise HTTPException(status_code=413, detail=message)


def create_app(settings: Settings | None = None, engine: StanceEngine | None = None) -> FastAPI:
    """Build the app; ``engine`` is loaded from ``settings.model_dir`` at start-up unless given."""
    settings = settings or Settings()

    metrics = ServiceMetrics()
    batchers: dict[int, MicroBatcher] = {}  # id(pipeline) -> the batcher that owns its engine

    def serving(loaded: StanceEngine) -> StancePipeline:
        """A warmed-up pipeline whose micro-batcher owns ``loaded``."""
        loaded.logits([Pair("Warm-up statement.", "Warm-up target.")])  # first pass allocates; not a user's
        batcher = MicroBatcher(
            loaded,
            max_batch=settings.batch_size,
            max_wait_ms=settings.batch_wait_ms,
            max_queue_pairs=settings.max_queue_pairs,
            max_batch_tokens=settings.max_batch_tokens,
            max_queue_seconds=settings.request_timeout_s,
            on_batch=metrics.observe_batch,
        ).start()
        metrics.set_model(loaded.version)
        metrics.track_queue(lambda: batcher.queued_pairs)
        log.info("serving model %s on %s", loaded.version, loaded.device)
        scorer = functools.partial(batcher.logits, timeout=settings.request_timeout_s)
        pipeline = StancePipeline(QuoteExtractor(), loaded, settings.batch_size, scorer)
        batchers[id(pipeline)] = batcher
        return pipeline

    def retire(pipeline: StancePipeline | None, grace: float) -> None:
        """Stop an old pipeline's batcher once requests that already hold it are done."""
        batcher = batchers.pop(id(pipeline), None)
        if batcher is not None:
            timer = threading.Timer(grace, batcher.stop)
            timer.daemon = True
            timer.start()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pipeline = serving(
            engine
            or StanceEngine.load(settings.model_dir, settings.device, settings.precision, settings.backend)
        )
        hangup = listen_for_hangup(app)
        yield
        if hangup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        old, app.state.pipeline = app.state.pipeline, None
        retire(old, grace=0)  # finishes the queued work first
        feedback.close()

    app = FastAPI(
        title="stancewire",
        version=__version__,
        description="Who denied, confirmed, condemned or threatened what: stance of quoted and reported "
        "statements in news toward target propositions.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pipeline = None
    feedback = LazyStore(settings.feedback_db_url)
    app.state.feedback = feedback
    page.mount(app)

    keys = [k.encode() for k in settings.keys()]

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if keys and request.url.path.startswith("/v1/"):
            header = request.headers.get("authorization", "")
            given = header.removeprefix("Bearer ").strip().encode()
            # compare against every key in constant time, so timing reveals nothing about a key
            if not header.startswith("Bearer ") or not any(hmac.compare_digest(given, k) for k in keys):
                return JSONResponse(
                    status_code=401,
                    content={"detail": "missing or wrong API key: send 'Authorization: Bearer KEY'"},
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)

    @app.middleware("http")
    async def record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        request_id = request_id_of(request)
        token = REQUEST_ID.set(request_id)
        try:
            response = await call_next(request)
        finally:
            REQUEST_ID.reset(token)
        seconds = time.perf_counter() - started
        route = request.scope.get("route")
        # the route template, never the raw path: unknown paths must not grow the label set
        name = getattr(route, "path", "unmatched")
        metrics.observe_request(name, response.status_code, seconds)
        response.headers["X-Request-ID"] = request_id
        access_log.info(
            "%s %s %d %.0f ms",
            request.method,
            request.url.path,
            response.status_code,
            seconds * 1000,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round(seconds * 1000, 1),
            },
        )
        return response

    @app.exception_handler(Overloaded)
    async def overloaded(_: Request, exc: Overloaded) -> JSONResponse:
        return JSONResponse(
            status_code=503, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(RequestTimeout)
    async def timed_out(_: Request, exc: RequestTimeout) -> JSONResponse:
        return JSONResponse(status_code=504, content={"detail": str(exc)})

    @app.exception_handler(FeedbackError)
    async def feedback_unavailable(_: Request, exc: FeedbackError) -> JSONResponse:
        log.error("feedback store: %s", exc)
        return JSONResponse(
            status_code=503,
            content={"detail": f"{exc}; check the feedback_db_url setting (STANCEWIRE_FEEDBACK_DB_URL)"},
        )

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", responses=ERRORS)
    def readyz(pipeline: PipelineDep) -> dict[str, str]:
        """The model is loaded and can answer."""
        return {"status": "ready", "model_version": pipeline.engine.version}

    @app.get("/metrics", response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus metrics: requests and latencies by route and status, batch sizes, queue depth, model."""
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/model", responses=ERRORS)
    def model_info(pipeline: PipelineDep) -> dict[str, Any]:
        """Version, base model, labels, training-data fingerprint and metrics of the served model."""
        return pipeline.engine.describe()

    reload_lock = threading.Lock()

    def swap_model(app: FastAPI, version: str | None = None) -> dict[str, str]:
        """Load the configured model again (or a version of its registry) and swap it in.

        Requests already running finish on the old model; new ones get the new model once it is
        loaded and warmed up. A model that fails to load leaves the old one serving (the error is
        raised).
        """
        with reload_lock:
            path = settings.model_dir
            if version is not None:
                # the name is validated against the version-id pattern: it cannot leave the registry
                path = str(ModelRegistry(settings.model_dir).path(version))
            loaded = StanceEngine.load(path, settings.device, settings.precision, settings.backend)
            old = app.state.pipeline
            app.state.pipeline = serving(loaded)
            retire(old, grace=RELOAD_GRACE_SECONDS)
        previous = old.engine.version if old is not None else ""
        log.info("now serving model %s (was %s)", loaded.version, previous or "none")
        return {"model_version": loaded.version, "previous_version": previous}

    def listen_for_hangup(app: FastAPI) -> bool:
        """``kill -HUP`` reloads the configured model, as ``POST /v1/admin/reload`` with no body does."""
        loop = asyncio.get_running_loop()

        def reload_in_background() -> None:
            def run() -> None:
                try:
                    swap_model(app)
                except StancewireError as exc:
                    log.error("SIGHUP reload failed, still serving the old model: %s", exc)

            loop.run_in_executor(None, run)

        try:
            loop.add_signal_handler(signal.SIGHUP, reload_in_background)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            return False  # not the main thread (a test client) or no SIGHUP on this platform
        return True

    @app.post("/v1/admin/reload", responses=ERRORS)
    def reload(body: ReloadRequest, request: Request) -> dict[str, str]:
        """Load the configured model again (or a version of its registry) and swap it in, dropping nothing.

        When the configured directory is a model registry, an empty body loads whatever its
        ``current`` points to now (so `stancewire models promote` + this call switch versions
        without a restart), and ``version`` loads one named version of it. ``kill -HUP`` on the
        server process does the same as an empty body. A model that fails to load leaves the old
        one serving (422).
        """
        try:
            return swap_model(request.app, body.version)
        except StancewireError as exc:
            raise HTTPException(
                status_code=422, detail=f"reload failed, still serving the old model: {exc}"
            ) from exc

    @app.post("/v1/stance", response_model=StanceResponse, responses=ERRORS)
    def stance(body: StanceRequest, pipeline: PipelineDep, cfg: SettingsDep) -> StanceResponse:
        """Find every quoted or reported statement in the text and its stance toward each target."""
        _limit(
            len(body.text) <= cfg.max_text_chars,
            f"text has {len(body.text)} characters; the limit is {cfg.max_text_chars}",
        )
        _limit(
            len(body.targets) <= cfg.max_targets,
            f"{len(body.targets)} targets; the limit is {cfg.max_targets}",
        )
        if not body.text.strip():
            raise InvalidInput("text is empty")
        if not body.targets:
            raise InvalidInput("targets is empty: give at least one target proposition")
        for i, target in enumerate(body.targets):
            _limit(
                len(target) <= cfg.max_target_chars,
                f"targets[{i}] is longer than {cfg.max_target_chars} characters",
            )
            if not target.strip():
                raise InvalidInput(f"targets[{i}] is empty")
        abstain = cfg.abstain_below if body.abstain_below is None else body.abstain_below
        results = pipeline.analyze(body.text, body.targets, abstain_below=abstain)
        return stance_response(results, body.targets, pipeline.engine.version)

    @app.post("/v1/feedback", status_code=201, response_model=FeedbackResponse, responses=ERRORS)
    def post_feedback(body: FeedbackRequest, cfg: SettingsDep) -> FeedbackResponse:
        """Store a person's label for one statement × target (a correction for retraining)."""
        _limit(
            len(body.statement) <= cfg.max_statement_chars,
            f"statement is longer than {cfg.max_statement_chars} characters",
        )
        _limit(
            len(body.target) <= cfg.max_target_chars,
            f"target is longer than {cfg.max_target_chars} characters",
        )
        _limit(
            len(body.context or "") <= cfg.max_statement_chars,
            f"context is longer than {cfg.max_statement_chars} characters",
        )
        if not body.statement.strip() or not body.target.strip():
            raise InvalidInput("statement and target must be non-empty")
        stored = feedback.get().add(
            Correction(
                statement=body.statement,
                target=body.target,
                label=body.label,
                context=body.context,
                speaker=body.speaker,
                request_id=body.request_id,
                model_version=body.model_version,
            )
        )
        return FeedbackResponse(id=stored, label=body.label)

    @app.post("/v1/classify", response_model=ClassifyResponse, responses=ERRORS)
    def classify(body: ClassifyRequest, pipeline: PipelineDep, cfg: SettingsDep) -> ClassifyResponse:
        """Label (statement, target) pairs directly, without quote extraction."""
        _limit(len(body.pairs) <= cfg.max_pairs, f"{len(body.pairs)} pairs; the limit is {cfg.max_pairs}")
        if not body.pairs:
            raise InvalidInput("pairs is empty")
        for i, p in enumerate(body.pairs):
            _limit(
                len(p.statement) <= cfg.max_statement_chars,
                f"pairs[{i}].statement is longer than {cfg.max_statement_chars} characters",
            )
            _limit(
                len(p.target) <= cfg.max_target_chars,
                f"pairs[{i}].target is longer than {cfg.max_target_chars} characters",
            )
            if not p.statement.strip() or not p.target.strip():
                raise InvalidInput(f"pairs[{i}]: statement and target must be non-empty")
        abstain = cfg.abstain_below if body.abstain_below is None else body.abstain_below
        pairs = [Pair(p.statement, p.target, p.speaker, p.context) for p in body.pairs]
        scored = pipeline.score(pairs, abstain)
        return ClassifyResponse(
            model_version=pipeline.engine.version,
            predictions=[
                Prediction(label=s.label, confidence=s.confidence, probs=s.probs, abstained=s.abstained)
                for s in scored
            ],
        )

    # Middleware added last runs first. CORS answers a browser's preflight before the API-key
    # check (a preflight carries no key); the body limit refuses an oversized body before anything
    # reads it.
    if settings.origins():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.origins(),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
