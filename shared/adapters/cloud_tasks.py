"""A Cloud Tasks queue of HTTP tasks for one worker function."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from shared import logs
from shared.adapters.google_errors import translated

TASK_TOKEN_HEADER = "X-Synq-Task-Token"


class CloudTasksQueue:
    def __init__(
        self,
        client: tasks_v2.CloudTasksClient,
        queue_path: str,
        worker_url: str,
        service_account: str | None = None,
        task_token: str | None = None,
        dispatch_deadline: timedelta | None = None,
        audience: str | None = None,
    ) -> None:
        self._client = client
        self._queue_path = queue_path
        self._worker_url = worker_url
        self._service_account = service_account
        # Cloud Run accepts a token whose audience is the service URL (or a configured custom
        # audience), so it is set explicitly rather than left to default to the full task URL.
        self.audience = audience or service_url(worker_url)
        self._dispatch_deadline = dispatch_deadline
        self._headers = {"Content-Type": "application/json"}
        if task_token:
            self._headers[TASK_TOKEN_HEADER] = task_token

    def enqueue(self, name: str, body: dict[str, Any], not_before: datetime | None = None) -> None:
        request = tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=self._worker_url,
            # The trace and request id go along, so the task's logs join the request's.
            headers={**self._headers, **logs.onward_headers()},
            body=json.dumps(body).encode(),
        )
        if self._service_account:
            request.oidc_token = tasks_v2.OidcToken(service_account_email=self._service_account, audience=self.audience)
        task = tasks_v2.Task(name=f"{self._queue_path}/tasks/{name}", http_request=request)
        if not_before is not None:
            task.schedule_time = not_before
        if self._dispatch_deadline is not None:
            task.dispatch_deadline = self._dispatch_deadline
        # A task of that name queued or ran recently: the work is already scheduled.
        with translated("task queue"), contextlib.suppress(gexc.AlreadyExists):
            self._client.create_task(request=tasks_v2.CreateTaskRequest(parent=self._queue_path, task=task))


def service_url(url: str) -> str:
    """The scheme and host of a URL: the Cloud Run service URL of a task URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
