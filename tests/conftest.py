"""Session fixtures: the emulators (started by the suite itself), the environment pointing the
real Google clients at them, and the gateway app both in-process and on a local port (the Cloud
Tasks emulator delivers worker tasks to it over HTTP)."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from werkzeug.serving import make_server

from local.emulators import FirestoreEmulator, StorageEmulator, TasksEmulator, free_port
from local.mail import LocalMailServer
from local.stack import create_buckets, queue_paths, settings_env
from local.tokens import ensure_keypair
from shared import wiring
from shared.domain.tenancy import Scope
from tests.support import headers, new_scope

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "synq-test"
# Emulators already running, as JSON of their variables: the mutation runs (tests/mutation) start
# them once for a whole series of test runs. Each run then has them to itself, so it starts from
# an empty Firestore and empty task queues.
SHARED_EMULATORS = "SYNQ_TEST_EMULATORS"
# The environment before any fixture pointed it at the session's emulators (tests/e2e starts
# stacks of its own, which must not inherit those settings, whatever ran before them).
ENVIRONMENT_AT_START = dict(os.environ)
# The ramp's production pace (250 products/s at first) would spread a test's batches over seconds;
# tests that are about pacing set their own.
TEST_PACE = {"TENANT_RAMP_START_PRODUCTS_PER_SECOND": "1000000", "TENANT_MAX_PRODUCTS_PER_SECOND": "1000000"}


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_keypair(tmp_path_factory.mktemp("auth"))


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if SHARED_EMULATORS in os.environ:
        yield json.loads(os.environ[SHARED_EMULATORS])
        return
    logs = tmp_path_factory.mktemp("emulator-logs")
    started = [
        FirestoreEmulator(log_path=logs / "firestore.log"),
        StorageEmulator(log_path=logs / "storage.log"),
        TasksEmulator(log_path=logs / "tasks.log", queues=queue_paths(PROJECT)),
    ]
    try:
        env: dict[str, str] = {}
        for emulator in started:
            emulator.start()
            env.update(emulator.env())
        yield env
    finally:
        for emulator in reversed(started):
            emulator.stop()


@pytest.fixture(scope="session")
def worker_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def export_worker_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMailServer]:
    """A real SMTP server; the tests read what it received."""
    server = LocalMailServer(tmp_path_factory.mktemp("mail"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_env(
    emulators: dict[str, str], keys: tuple[Path, Path], worker_port: int, export_worker_port: int, mail: LocalMailServer
) -> Iterator[dict[str, str]]:
    """Point settings and clients at the emulators for the whole session; restore afterwards."""
    env = {
        **settings_env(PROJECT, PROJECT, emulators, worker_port, export_worker_port, keys[0].parent),
        **mail.env(),
        # Retries of failed deliveries within a test's patience.
        "NOTIFY_BACKOFF_SECONDS": "0.2",
        "NOTIFY_MAX_ATTEMPTS": "3",
        # Tests share tenants across many jobs; the per-tenant limits have tests of their own.
        "TENANT_MAX_RUNNING_JOBS": "1000",
        "TENANT_MAX_RUNNING_EXPORTS": "1000",
        **TEST_PACE,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    wiring.reset()
    create_buckets(env)
    if SHARED_EMULATORS in os.environ:
        wipe = f"http://{env['FIRESTORE_EMULATOR_HOST']}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
        urllib.request.urlopen(urllib.request.Request(wipe, method="DELETE"), timeout=60).close()
        for queue in queue_paths(PROJECT):
            wiring.tasks_client().purge_queue(name=queue)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        wiring.reset()


def serve(target: str, port: int) -> Iterator[Any]:
    """A worker function served on `port`, so the Cloud Tasks emulator can deliver to it."""
    flask_app = functions_framework.create_app(target=target, source=str(ROOT / "main.py"))
    server = make_server("127.0.0.1", port, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield flask_app
    server.shutdown()


@pytest.fixture(scope="session")
def worker_app(stack_env: dict[str, str], worker_port: int) -> Iterator[Any]:
    yield from serve("bulk_job_worker", worker_port)


@pytest.fixture(scope="session")
def export_worker_app(stack_env: dict[str, str], export_worker_port: int) -> Iterator[Any]:
    yield from serve("export_worker", export_worker_port)


@pytest.fixture(scope="session")
def app(stack_env: dict[str, str], worker_app: Any, export_worker_app: Any) -> Any:
    """The local gateway app (every API function under its path), with both workers running."""
    return functions_framework.create_app(target="gateway", source=str(ROOT / "local" / "gateway.py"))


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture()
def scope() -> Scope:
    return new_scope()


@pytest.fixture()
def auth(keys: tuple[Path, Path], scope: Scope) -> dict[str, str]:
    """Headers of an ADMIN of the test's own tenant."""
    return headers(keys[0], scope)


@pytest.fixture()
def unique() -> str:
    return uuid.uuid4().hex[:8]
