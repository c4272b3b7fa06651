"""The end-to-end tier's stack: started as `make run` starts it, once per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import pytest
import requests

from local.emulators import free_port
from local.stack import LocalStack
from synq.client import Config, SynqClient
from tests.conftest import ENVIRONMENT_AT_START, TEST_PACE
from tests.support import new_scope


@pytest.fixture(scope="module", autouse=True)
def environment_at_start() -> Iterator[None]:
    """The stacks here start as `make run` starts them: from the environment the session began
    with, not the one the integration tier's fixtures point at their own emulators."""
    with mock.patch.dict(os.environ, {**ENVIRONMENT_AT_START, **TEST_PACE}, clear=True):
        yield


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, environment_at_start: None) -> Iterator[LocalStack]:
    running = LocalStack(free_port(), state_dir=tmp_path_factory.mktemp("stack"), quiet=True)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture()
def api(stack: LocalStack) -> SynqClient:
    """The API client, as an ADMIN of a tenant of the test's own: no test sees data another left."""
    scope = new_scope()
    token = stack.token(tenant_id=scope.tenant_id, org_id=scope.org_id)
    return SynqClient(Config(stack.url, token, scope.tenant_id, scope.org_id))


@pytest.fixture()
def session(api: SynqClient) -> requests.Session:
    """Raw HTTP as the same ADMIN, for what a well-behaved client would never send."""
    return api.http
