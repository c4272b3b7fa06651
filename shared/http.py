"""The HTTP edge shared by every function: routing, authentication, body and query parsing,
rendering, and the one place where project errors become HTTP responses.

A function module declares its routes on an `Api` and exposes it as its target; each handler
gets a `Call` (who, which tenant, parsed input) and returns a model and a status.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

import flask
from pydantic import BaseModel, ConfigDict, RootModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, Map, Rule, UUIDConverter

from shared import logs, strict_json
from shared.auth import authenticate
from shared.domain import idempotency
from shared.domain.tenancy import Principal, Role
from shared.errors import (
    ConflictError,
    FieldProblem,
    InvalidArgumentError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermanentTaskError,
    PermissionDeniedError,
    SynqError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedMediaTypeError,
    invalid,
)
from shared.settings import get_settings

log = logging.getLogger("synq.http")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Download:
    """A reply that is a file, not JSON: its bytes are streamed as they are made."""

    chunks: Iterable[bytes]
    media_type: str
    filename: str


Reply = tuple[BaseModel | dict[str, Any] | Download | None, int]


class QueryParams(BaseModel):
    """Base of every route's query model: a parameter it does not know is a 400, not ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Call:
    """One request as a handler sees it."""

    request: flask.Request
    principal: Principal
    body_optional: bool = False  # the route's: a body left out means the model's defaults

    def body(self, model: type[M]) -> M:
        if self.body_optional and not self.request.content_length and "Transfer-Encoding" not in self.request.headers:
            return model()
        return parse_body(self.request, model)

    def query(self, model: type[M]) -> M:
        args = self.request.args
        if repeated := [FieldProblem(k, "given more than once") for k in args if len(args.getlist(k)) > 1]:
            raise InvalidArgumentError("invalid query parameters", repeated)
        try:
            return model.model_validate(args.to_dict())
        except ValidationError as exc:
            raise invalid("invalid query parameters", exc) from exc


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    handler: Callable[..., Reply]
    summary: str
    write: bool = False
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    admin: bool = False  # ADMIN role only
    body_optional: bool = False
    tag: str = ""
    errors: tuple[int, ...] = ()  # statuses the route's shape does not imply (409s, a fixed path's 404)
    files: tuple[str, ...] = ()  # media types of Download replies the route may give instead of JSON
    idempotent: bool = False  # takes an Idempotency-Key header: a repeat gets the first answer back
    description: str = ""  # what the OpenAPI document says beyond the summary (freshness, say)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.path)

    def error_statuses(self) -> list[int]:
        """Every error status this route can answer: derived from what it takes, plus its own."""
        statuses = {401, 403, 500, 503, *self.errors}
        if self.body is not None:
            statuses |= {400, 413, 415}
        if self.query is not None:
            statuses.add(400)
        if self.path_params:
            statuses.add(404)
        if self.idempotent:  # a key's first request still running (409), a key reused (422), a bad key (400)
            statuses |= {400, 409, 422}
        return sorted(statuses)


@dataclass
class Api:
    """The routes of one HTTP function; `tag` groups its operations in the OpenAPI document."""

    name: str
    tag: str = ""
    routes: list[Route] = field(default_factory=list)
    _map: Map | None = None

    def route(
        self,
        path: str,
        method: str,
        *,
        summary: str,
        write: bool = False,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        admin: bool = False,
        body_optional: bool = False,
        tag: str | None = None,
        errors: tuple[int, ...] = (),
        files: tuple[str, ...] = (),
        idempotent: bool = False,
        description: str = "",
    ) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
        def register(handler: Callable[..., Reply]) -> Callable[..., Reply]:
            for model in (body, query):
                if model is not None and not _refuses_unknown_names(model):
                    # A name the model does not know would be dropped silently (`dryrun` for `dry_run`).
                    raise TypeError(f"{model.__name__} must refuse unknown names (extra='forbid')")
            self.routes.append(
                Route(
                    path,
                    method,
                    handler,
                    summary,
                    write or admin,
                    body,
                    query,
                    response,
                    status,
                    admin,
                    body_optional,
                    tag or self.tag,
                    errors,
                    files,
                    idempotent,
                    description,
                )
            )
            self._map = None
            return handler

        return register

    def __call__(self, request: flask.Request) -> flask.Response:
        with logs.request_context(request.headers) as request_id, bounded_body(request):
            response = self._respond(request, request_id)
            # The path only: ids are all a path holds; a query string may hold anything.
            log.info("%s %s: %s", request.method, request.path, response.status_code)
            return response

    def _respond(self, request: flask.Request, request_id: str) -> flask.Response:
        try:
            route, args = self._match(request)
            logs.bind(**{name: args[name] for name in ("job_id", "export_id") if name in args})
            principal = authenticate(request.headers, _verifier(), get_settings().auth_header)
            logs.bind(tenant_id=principal.scope.tenant_id, org_id=principal.scope.org_id)
            if route.write and not principal.role.can_write:
                raise PermissionDeniedError(f"role {principal.role.value} may only read")
            if route.admin and principal.role is not Role.ADMIN:
                raise PermissionDeniedError("only an ADMIN may do this")
            call = Call(request, principal, route.body_optional)
            key = request.headers.get(idempotency.HEADER) if route.idempotent else None
            if key is not None:
                return _once_per_key(call, idempotency.check_key(key), lambda: _answer(route, call, args))
            model, status = route.handler(call, **args)
            return render(model, status)
        except SynqError as exc:
            return error_response(exc)
        except Exception:
            log.exception("unhandled error (request %s)", request_id)
            return _json({"error": "internal error", "code": "INTERNAL", "request_id": request_id}, 500)

    def _match(self, request: flask.Request) -> tuple[Route, dict[str, Any]]:
        if self._map is None:
            self._map = Map(
                [Rule(r.path, methods=[r.method], endpoint=r) for r in self.routes],
                strict_slashes=False,
                converters={"default": IdConverter},
            )
        try:
            route, args = self._map.bind_to_environ(request.environ).match(return_rule=False)
        except MethodNotAllowed as exc:
            raise MethodNotAllowedError(f"{request.method} is not allowed on {request.path}") from exc
        except (NotFound, HTTPException) as exc:
            raise NotFoundError(f"no such resource: {request.path}") from exc
        return route, dict(args)


def _answer(route: Route, call: Call, args: dict[str, Any]) -> flask.Response:
    try:
        model, status = route.handler(call, **args)
        return render(model, status)
    except SynqError as exc:
        return error_response(exc)


def _once_per_key(call: Call, key: str, handle: Callable[[], flask.Response]) -> flask.Response:
    """The route's answer, or, for a request sent again under the same key, the first answer."""
    from shared.wiring import idempotency as keys  # late, as for the verifier

    request = call.request
    body = _read_body(request, cache=True)  # kept: the handler reads it again
    request_print = idempotency.fingerprint(request.method, request.path, body)

    def act() -> idempotency.StoredResponse:
        response = handle()
        return idempotency.StoredResponse(
            status=response.status_code, content_type=response.mimetype, body=response.get_data()
        )

    answer, replayed = keys(call.principal.scope).run(key, request_print, act)
    response = flask.Response(answer.body, status=answer.status, mimetype=answer.content_type)
    if replayed:
        response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


def _refuses_unknown_names(model: type[BaseModel]) -> bool:
    if issubclass(model, RootModel):  # a union of models: each of them must
        members = get_args(get_args(model.model_fields["root"].annotation)[0]) or ()
        return all(_refuses_unknown_names(m) for m in members)
    return model.model_config.get("extra") == "forbid"


class IdConverter(BaseConverter):
    """Every id the API hands out is a UUID, so every path parameter is one: anything else matches
    no route (404) and never reaches storage, where ids such as `__x__` or `.` are not even valid.
    An upper-case id names the same resource."""

    regex = UUIDConverter.regex

    def to_python(self, value: str) -> str:
        return str(uuid.UUID(value))


def canonical_id(value: str, field: str) -> str:
    """An id given in a body: a UUID (any case) in its canonical form, else a 400 naming the field."""
    if not re.fullmatch(UUIDConverter.regex, value):
        raise InvalidArgumentError(f"invalid {field}", [FieldProblem(field, "not an id (a UUID)")])
    return str(uuid.UUID(value))


def _verifier() -> Any:
    from shared.wiring import token_verifier  # late: keeps client construction out of import time

    return token_verifier()


@contextmanager
def bounded_body(request: flask.Request) -> Iterator[None]:
    """Every read of the body, ours or the framework's, stops at the limit. functions-framework
    reads whatever body is left after the response is made, outside any error handling: a body
    over the limit (chunked, so no Content-Length said so) would turn that read into an HTML 500."""
    # One byte over the limit: werkzeug stops a body without Content-Length at the limit without
    # a word, so only a read that gets past it tells that the body is too large.
    request.max_content_length = get_settings().max_body_bytes + 1
    try:
        yield
    finally:
        try:
            request.get_data()
        except RequestEntityTooLarge:
            request._cached_data = b""  # too large to drain: left unread, the server drops the connection


def _json_body(request: flask.Request) -> Any:
    if _declared_too_large(request):  # said before the media type: a 413 comes before a 415
        raise PayloadTooLargeError(f"request body over {get_settings().max_body_bytes} bytes")
    if not request.is_json:
        raise UnsupportedMediaTypeError("send the body as JSON with Content-Type: application/json")
    return strict_json.loads(_read_body(request, cache=False))


def _declared_too_large(request: flask.Request) -> bool:
    return request.content_length is not None and request.content_length > get_settings().max_body_bytes


def _read_body(request: flask.Request, cache: bool) -> bytes:
    """The body, read no further than the limit: a 413 if its Content-Length or the read passes it."""
    limit = get_settings().max_body_bytes
    if _declared_too_large(request):
        raise PayloadTooLargeError(f"request body over {limit} bytes")
    try:
        raw = request.get_data(cache=cache)
    except RequestEntityTooLarge as exc:
        raise PayloadTooLargeError(f"request body over {limit} bytes") from exc
    if len(raw) > limit:
        raise PayloadTooLargeError(f"request body over {limit} bytes")
    return raw


def parse_body(request: flask.Request, model: type[M]) -> M:
    try:
        return model.model_validate(_json_body(request))
    except ValidationError as exc:
        raise invalid("invalid request body", exc) from exc


def render(model: BaseModel | dict[str, Any] | Download | None, status: int) -> flask.Response:
    if model is None:
        return flask.Response(status=status)
    if isinstance(model, Download):
        disposition = {"Content-Disposition": f'attachment; filename="{model.filename}"'}
        return flask.Response(iter(model.chunks), status=status, mimetype=model.media_type, headers=disposition)
    if isinstance(model, BaseModel):
        return flask.Response(model.model_dump_json(), status=status, mimetype="application/json")
    return _json(model, status)


_FRAMEWORK_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


def framework_error(exc: HTTPException) -> flask.Response:
    """An error the framework answers before any function runs (its router matches no path that
    holds a newline, for one), in the API's own JSON shape. Registered on each app in `main.py`."""
    status = exc.code or 500
    body = {
        "error": (exc.description or exc.name).split(".")[0],
        "code": _FRAMEWORK_CODES.get(status, "INVALID_ARGUMENT"),
    }
    return _json(body, status)


def error_response(exc: SynqError) -> flask.Response:
    body: dict[str, Any] = {"error": exc.message, "code": exc.code}
    if exc.details:
        body["details"] = [{"field": d.field, "problem": d.problem} for d in exc.details]
    return _json(body, exc.status)


def _json(body: dict[str, Any], status: int) -> flask.Response:
    return flask.Response(json.dumps(body, default=str), status=status, mimetype="application/json")


# --- task handlers (called by Cloud Tasks, not by users) -------------------------------------
TASK_TOKEN_HEADER = "X-Synq-Task-Token"


def task_handler(
    model: type[M], run: Callable[[M, int], Any], check_token: bool = True
) -> Callable[[flask.Request], flask.Response]:
    """Wrap a task handler: 2xx when done or permanently failed (no retry), 503 when worth a retry.
    `run` gets the task and which delivery of it this is (1 the first). `check_token=False` is for
    Cloud Scheduler targets, which IAM alone guards (a job would carry the token in plain sight)."""

    def handle(request: flask.Request) -> flask.Response:
        # The trace and request id of the request that queued the task (see shared/logs.py).
        with logs.request_context(request.headers), bounded_body(request):
            return _handle(request)

    def _handle(request: flask.Request) -> flask.Response:
        expected = get_settings().task_auth_token if check_token else None
        given = request.headers.get(TASK_TOKEN_HEADER, "")
        if expected and not hmac.compare_digest(given.encode(), expected.encode()):  # bytes: any header value
            return error_response(UnauthenticatedError("missing or wrong task token"))
        attempt = delivery_attempt(request.headers)
        try:
            task = parse_body(request, model)
            logs.bind(**logs.labels_of(task))
            outcome = run(task, attempt)
            log.info("task %s (attempt %s): %s", getattr(task, "kind", model.__name__), attempt, outcome)
            return _json({"outcome": outcome}, 200)
        except (InvalidArgumentError, PayloadTooLargeError, UnsupportedMediaTypeError, PermanentTaskError) as exc:
            log.error("task abandoned (attempt %s): %s", attempt, exc.message)
            return _json({"outcome": "abandoned", "reason": exc.message}, 200)
        except (UnavailableError, ConflictError) as exc:
            log.warning("task will be retried (attempt %s): %s", attempt, exc.message)
            return _json({"error": exc.message, "code": exc.code}, 503)
        except Exception:
            log.exception("task failed unexpectedly (attempt %s); it will be retried", attempt)
            return _json({"error": "internal error", "code": "INTERNAL"}, 500)

    return handle


def delivery_attempt(headers: Any) -> int:
    """Which delivery of its task a request is, 1 the first, from Cloud Tasks' headers: the retry
    count includes the attempts that failed with a 5xx, the execution count does not; a request
    without them (a direct call) is a first attempt."""
    counts = [headers.get(h, "") for h in ("X-CloudTasks-TaskRetryCount", "X-CloudTasks-TaskExecutionCount")]
    return 1 + max((int(c) for c in counts if re.fullmatch(r"[0-9]{1,9}", c)), default=0)
