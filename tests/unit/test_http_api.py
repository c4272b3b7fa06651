"""The HTTP edge every API function shares, on a small API of its own (no network): routing before
authentication, the role guards, bodies and their limit, queries, rendering, and a bug answered
500 with a request id instead of a traceback."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import flask
import pytest
from pydantic import BaseModel, ConfigDict, Field, RootModel

from local.tokens import AUDIENCE, ISSUER, ensure_keypair
from shared import http, logs
from shared.auth import TokenVerifier
from shared.errors import FieldProblem, InvalidArgumentError
from shared.http import Api, Call, QueryParams, Reply
from shared.settings import Settings, get_settings
from tests.support import headers, new_scope

LIMIT = 200  # bytes of body accepted in these tests


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("unnamed", min_length=1)


class ListQuery(QueryParams):
    limit: int = Field(10, ge=1, le=100)


api = Api("things")


@api.route("/things", "GET", query=ListQuery, summary="List")
def list_things(call: Call) -> Reply:
    return {"limit": call.query(ListQuery).limit, "caller": call.principal.email}, 200


@api.route("/things", "POST", write=True, body=Thing, status=201, summary="Create")
def create_thing(call: Call) -> Reply:
    return call.body(Thing), 201


@api.route("/things/<thing_id>", "DELETE", write=True, status=204, summary="Delete")
def delete_thing(call: Call, thing_id: str) -> Reply:
    return None, 204


@api.route("/settings", "PUT", admin=True, body=Thing, summary="Administer")
def administer(call: Call) -> Reply:
    return call.body(Thing), 200


@api.route("/optional", "POST", write=True, body=Thing, body_optional=True, status=202, summary="Body optional")
def optional_body(call: Call) -> Reply:
    return call.body(Thing), 202


@api.route("/things.csv", "GET", summary="Download", files=("text/csv",))
def download_things(call: Call) -> Reply:
    return http.Download(iter([b"name\n", b"lamp\n"]), "text/csv", "things.csv"), 200


@api.route("/jobs/<job_id>/exports/<export_id>", "GET", summary="The labels of this request's log lines")
def log_labels(call: Call, job_id: str, export_id: str) -> Reply:
    line = logs.JsonFormatter("p").format(logging.LogRecord("t", logging.INFO, __file__, 1, "line", None, None))
    return json.loads(line)[logs.LABELS_FIELD], 200


@api.route("/once", "POST", write=True, body=Thing, status=201, summary="Create once", idempotent=True)
def create_once(call: Call) -> Reply:
    return call.body(Thing), 201


@api.route("/bug", "GET", summary="A bug")
def bug(call: Call) -> Reply:
    raise KeyError("boom")


app = flask.Flask(__name__)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(autouse=True)
def edge(keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    verifier = TokenVerifier(
        Settings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_jwks_url=None, auth_public_key_file=str(keys[1]))
    )
    monkeypatch.setattr(http, "_verifier", lambda: verifier)
    monkeypatch.setenv("MAX_BODY_BYTES", str(LIMIT))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def chunked(data: bytes, hdrs: dict[str, str]) -> dict[str, Any]:
    """A request body sent in chunks (Transfer-Encoding: chunked), so with no Content-Length, as
    the server hands it on (de-chunked, the stream marked as ending by itself)."""
    return {
        "input_stream": io.BytesIO(data),
        "environ_overrides": {"wsgi.input_terminated": True},
        "headers": {**hdrs, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    }


def call(method: str, path: str, hdrs: dict[str, str] | None = None, **request: Any) -> tuple[int, Any]:
    with app.test_request_context(path, method=method, headers=hdrs or {}, **request):
        resp = api(flask.request)
        data = resp.get_data()
        return resp.status_code, json.loads(data) if data else None


@pytest.fixture()
def admin(keys: tuple[Path, Path]) -> dict[str, str]:
    return headers(keys[0], new_scope(), role="ADMIN", email="admin@example.com")


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("ADMIN", {"list": 200, "create": 201, "delete": 204, "administer": 200}),
        ("EDITOR", {"list": 200, "create": 201, "delete": 204, "administer": 403}),
        ("VIEWER", {"list": 200, "create": 403, "delete": 403, "administer": 403}),
    ],
)
def test_each_role_gets_what_its_guards_allow(keys: tuple[Path, Path], role: str, expected: dict[str, int]) -> None:
    hdrs = headers(keys[0], new_scope(), role=role)
    got = {
        "list": call("GET", "/things", hdrs)[0],
        "create": call("POST", "/things", hdrs, json={"name": "x"})[0],
        "delete": call("DELETE", "/things/0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c", hdrs)[0],
        "administer": call("PUT", "/settings", hdrs, json={"name": "x"})[0],
    }
    assert got == expected


def test_a_refusal_says_which_guard_refused(keys: tuple[Path, Path]) -> None:
    viewer, editor = (headers(keys[0], new_scope(), role=r) for r in ("VIEWER", "EDITOR"))
    assert call("PUT", "/settings", viewer, json={"name": "x"}) == (
        403,
        {"error": "role VIEWER may only read", "code": "PERMISSION_DENIED"},
    )
    assert call("PUT", "/settings", editor, json={"name": "x"}) == (
        403,
        {"error": "only an ADMIN may do this", "code": "PERMISSION_DENIED"},
    )


def test_routing_comes_before_authentication(admin: dict[str, str]) -> None:
    assert call("GET", "/nowhere") == (404, {"error": "no such resource: /nowhere", "code": "NOT_FOUND"})
    assert call("PATCH", "/things") == (
        405,
        {"error": "PATCH is not allowed on /things", "code": "METHOD_NOT_ALLOWED"},
    )
    status, body = call("GET", "/things")
    assert (status, body["code"]) == (401, "UNAUTHENTICATED")
    assert call("GET", "/things/", admin) == (200, {"limit": 10, "caller": "admin@example.com"})  # trailing slash


def test_a_query_is_parsed_into_its_model_or_refused_naming_the_field(admin: dict[str, str]) -> None:
    assert call("GET", "/things?limit=7", admin) == (200, {"limit": 7, "caller": "admin@example.com"})
    status, body = call("GET", "/things?limit=0", admin)
    assert (status, body["code"], [d["field"] for d in body["details"]]) == (400, "INVALID_ARGUMENT", ["limit"])
    assert body["error"] == "invalid query parameters"


def test_each_route_lists_the_error_statuses_its_shape_can_answer() -> None:
    """What the OpenAPI document says each operation may answer with."""

    def errors(path: str = "/things", **shape: Any) -> list[int]:
        return http.Route(path, "POST", create_thing, "Create", **shape).error_statuses()

    assert errors() == [401, 403, 500, 503]
    assert errors(body=Thing) == [400, 401, 403, 413, 415, 500, 503]
    assert errors(query=ListQuery) == [400, 401, 403, 500, 503]
    assert errors("/things/<thing_id>") == [401, 403, 404, 500, 503]
    assert errors(idempotent=True) == [400, 401, 403, 409, 422, 500, 503]  # a bad key, a key busy, a key reused
    assert errors(errors=(409, 404)) == [401, 403, 404, 409, 500, 503]
    assert http.Route("/a/<a_id>/b/<int:b_id>", "GET", list_things, "Get").path_params == ["a_id", "b_id"]


class Loose(BaseModel):  # drops a name it does not know
    name: str = "unnamed"


class Kept(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["kept"]


class Dropped(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: Literal["dropped"]


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Loose, "Loose"),
        (RootModel[Annotated[Kept | Dropped, Field(discriminator="kind")]], "RootModel[Annotated[Union[Kept, Dropped]"),
    ],
    ids=["a model", "a union with one such member"],
)
@pytest.mark.parametrize("given_as", ["body", "query"])
def test_a_model_that_would_drop_unknown_names_cannot_be_declared(model: Any, name: str, given_as: str) -> None:
    with pytest.raises(TypeError, match=rf"^{re.escape(name)}.* must refuse unknown names \(extra='forbid'\)$"):
        Api("loose").route("/loose", "POST", summary="Loose", **{given_as: model})(create_thing)


def test_a_union_of_models_that_all_refuse_unknown_names_can_be_declared() -> None:
    both = Api("strict")
    both.route("/strict", "POST", summary="Strict", body=RootModel[Annotated[Kept | Thing, Field()]])(create_thing)
    assert [r.path for r in both.routes] == ["/strict"]


def test_a_requests_log_lines_carry_the_job_and_export_it_names_and_its_scope(keys: tuple[Path, Path]) -> None:
    scope, job_id, export_id = new_scope(), str(uuid.uuid4()), str(uuid.uuid4())
    caller = {**headers(keys[0], scope, role="VIEWER"), "X-Request-ID": "req-1"}
    assert call("GET", f"/jobs/{job_id}/exports/{export_id}", caller) == (
        200,
        {
            "request_id": "req-1",
            "tenant_id": scope.tenant_id,
            "org_id": scope.org_id,
            "job_id": job_id,
            "export_id": export_id,
        },
    )


def test_a_route_is_grouped_under_its_own_tag_or_else_its_apis() -> None:
    tagged = Api("tagged", tag="Things")
    tagged.route("/things", "GET", summary="List")(list_things)
    tagged.route("/things", "POST", summary="Create", tag="Other things")(create_thing)
    assert [r.tag for r in tagged.routes] == ["Things", "Other things"]


def test_an_id_given_in_a_body_is_a_uuid_in_its_canonical_form_or_a_400_naming_its_field() -> None:
    given = "0B7E4C1A-5F3D-4E2B-9C8A-6D1F2E3A4B5C"
    assert http.canonical_id(given, "upload_id") == given.lower()
    with pytest.raises(InvalidArgumentError) as refused:
        http.canonical_id("0b7e4c1a", "upload_id")
    assert (refused.value.message, refused.value.details) == (
        "invalid upload_id",
        [FieldProblem("upload_id", "not an id (a UUID)")],
    )


def test_a_query_parameter_given_twice_is_refused_naming_it(admin: dict[str, str]) -> None:
    status, body = call("GET", "/things?limit=7&limit=8", admin)
    problem = {"field": "limit", "problem": "given more than once"}
    assert (status, body) == (
        400,
        {"error": "invalid query parameters", "code": "INVALID_ARGUMENT", "details": [problem]},
    )


def test_a_body_is_parsed_into_its_model(admin: dict[str, str]) -> None:
    assert call("POST", "/things", admin, json={"name": "lamp"}) == (201, {"name": "lamp"})
    status, body = call("POST", "/things", admin, json={"name": ""})
    assert (status, body["code"], body["error"], [d["field"] for d in body["details"]]) == (
        400,
        "INVALID_ARGUMENT",
        "invalid request body",
        ["name"],
    )


def test_a_body_that_is_not_json_is_refused(admin: dict[str, str]) -> None:
    status, body = call("POST", "/things", admin, data=b'{"name": ', content_type="application/json")
    assert (status, body["code"], body["error"], body["details"][0]["field"]) == (
        400,
        "INVALID_JSON",
        "request body is not valid JSON",
        "body",
    )
    assert call("POST", "/things", admin, data=b"name=x", content_type="text/plain") == (
        415,
        {"error": "send the body as JSON with Content-Type: application/json", "code": "UNSUPPORTED_MEDIA_TYPE"},
    )


def test_a_body_up_to_the_limit_is_read_and_one_byte_more_is_413(admin: dict[str, str]) -> None:
    def body_of(size: int) -> bytes:
        data = json.dumps({"name": ""}).encode()
        return json.dumps({"name": "x" * (size - len(data))}).encode()

    assert len(body_of(LIMIT)) == LIMIT
    assert call("POST", "/things", admin, data=body_of(LIMIT), content_type="application/json")[0] == 201
    too_large = (413, {"error": f"request body over {LIMIT} bytes", "code": "PAYLOAD_TOO_LARGE"})
    assert call("POST", "/things", admin, data=body_of(LIMIT + 1), content_type="application/json") == too_large


def sized(size: int) -> bytes:
    return json.dumps({"name": "x" * (size - 12)}).encode()


def test_a_body_sent_without_a_length_is_read_up_to_the_limit(admin: dict[str, str]) -> None:
    assert len(sized(LIMIT)) == LIMIT
    with app.test_request_context("/things", method="POST", **chunked(sized(LIMIT), admin)):
        assert flask.request.content_length is None
        resp = api(flask.request)
        assert (resp.status_code, json.loads(resp.get_data())) == (201, {"name": "x" * (LIMIT - 12)})


TOO_LARGE = {"error": f"request body over {LIMIT} bytes", "code": "PAYLOAD_TOO_LARGE"}


@pytest.mark.parametrize("path", ["/things", "/once"])
def test_a_body_sent_without_a_length_over_the_limit_is_413(admin: dict[str, str], path: str) -> None:
    keyed = {**admin, "Idempotency-Key": "k-1"}
    with app.test_request_context(path, method="POST", **chunked(sized(LIMIT + 1), keyed)):
        resp = api(flask.request)
        assert (resp.status_code, json.loads(resp.get_data())) == (413, TOO_LARGE)


def test_a_body_said_to_be_over_the_limit_is_413_before_its_key_is_looked_up(admin: dict[str, str]) -> None:
    keyed = {**admin, "Idempotency-Key": "k-1"}
    assert call("POST", "/once", keyed, data=sized(LIMIT + 1), content_type="application/json") == (413, TOO_LARGE)
    assert call("POST", "/things", admin, data=sized(LIMIT + 1), content_type="application/json") == (413, TOO_LARGE)


def test_an_optional_body_left_out_means_the_models_defaults(admin: dict[str, str]) -> None:
    assert call("POST", "/optional", admin) == (202, {"name": "unnamed"})
    assert call("POST", "/optional", admin, data=b"", content_type="application/json") == (202, {"name": "unnamed"})
    assert call("POST", "/optional", admin, json={"name": "given"}) == (202, {"name": "given"})
    # A body on its way without a length is still read, not taken for none.
    with app.test_request_context("/optional", method="POST", **chunked(b'{"name": "streamed"}', admin)):
        resp = api(flask.request)
        assert (resp.status_code, json.loads(resp.get_data())) == (202, {"name": "streamed"})
    # A body that is required stays required.
    status, body = call("POST", "/things", admin)
    assert (status, body["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_file_reply_is_its_chunks_named_as_an_attachment(admin: dict[str, str]) -> None:
    with app.test_request_context("/things.csv", method="GET", headers=admin):
        resp = api(flask.request)
        assert (resp.status_code, resp.mimetype, resp.get_data()) == (200, "text/csv", b"name\nlamp\n")
        assert resp.headers["Content-Disposition"] == 'attachment; filename="things.csv"'


def test_replies_render_as_json_or_nothing(admin: dict[str, str]) -> None:
    with app.test_request_context("/things/0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c", method="DELETE", headers=admin):
        resp = api(flask.request)
        assert (resp.status_code, resp.get_data()) == (204, b"")
    with app.test_request_context("/things", method="POST", headers=admin, json={"name": "lamp"}):
        resp = api(flask.request)
        assert (resp.status_code, resp.mimetype, resp.get_data()) == (201, "application/json", b'{"name":"lamp"}')
    with app.test_request_context("/things", method="GET", headers=admin):
        assert api(flask.request).mimetype == "application/json"


def test_a_bug_is_a_500_with_the_request_id_and_no_traceback(admin: dict[str, str]) -> None:
    assert call("GET", "/bug", {**admin, "X-Request-ID": "req-123"}) == (
        500,
        {"error": "internal error", "code": "INTERNAL", "request_id": "req-123"},
    )
    status, body = call("GET", "/bug", admin)
    assert status == 500 and len(body["request_id"]) == 32 and int(body["request_id"], 16) >= 0
