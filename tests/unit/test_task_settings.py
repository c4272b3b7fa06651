"""What production needs of the task and mail settings: an explicit OIDC audience on tasks, and
mail that Google Cloud lets out (port 587 with STARTTLS)."""

from __future__ import annotations

from shared.adapters.cloud_tasks import CloudTasksQueue
from shared.settings import Settings

WORKER = "https://synq-pim-bulk-job-worker-abc-uc.a.run.app"


def test_a_task_token_names_the_worker_service_as_its_audience_unless_told_otherwise() -> None:
    queue = CloudTasksQueue(None, "q", f"{WORKER}/_tasks/bulk-jobs")  # type: ignore[arg-type]
    assert queue.audience == WORKER
    told = CloudTasksQueue(None, "q", f"{WORKER}/_tasks/bulk-jobs", audience="https://custom")  # type: ignore[arg-type]
    assert told.audience == "https://custom"


def test_mail_goes_out_on_the_submission_port_with_starttls_by_default() -> None:
    defaults = {name: Settings.model_fields[name].default for name in ("smtp_port", "smtp_starttls")}
    assert defaults == {"smtp_port": 587, "smtp_starttls": True}
