"""A bulk job's end announced as an export's is: a signed webhook in Synq's event envelope received
by a real loopback receiver, or an email a real SMTP server received; retried with the same event
id; one event per outcome, with an id that stays the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from local.mail import LocalMailServer
from local.webhook_receiver import WebhookReceiver
from shared import wiring
from shared.domain.notifications import event_id
from shared.domain.tenancy import Scope
from shared.errors import PermanentTaskError
from tests.integration.conftest import B, JobsApi
from tests.support import wait_until

SECRET = "whsec_jobs_0123456789abcdef"
ENVELOPE = {"event_id", "event_type", "timestamp", "tenant_id", "org_id", "payload"}


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver(SECRET).start()
    yield running
    running.stop()


def configure(client: Any, auth: dict[str, str], **settings: Any) -> None:
    resp = client.put(f"{B}/settings/notifications", json=settings, headers=auth)
    assert resp.status_code == 200, resp.get_json()


def settled(jobs: JobsApi, job_id: str) -> dict[str, Any]:
    """The job once its announcement is settled (delivered or failed for good)."""

    def done() -> dict[str, Any] | None:
        job = jobs.get(job_id)
        note = job["notification"]
        return job if note and note["status"] != "PENDING" else None

    return wait_until(done, 60, interval=0.2)


def test_a_completed_job_is_announced_by_a_signed_webhook_in_the_envelope(
    jobs: JobsApi, client: Any, auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    configure(client, auth, channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)
    job = settled(jobs, jobs.create("BULK_IMPORT", [{"title": "Lamp"}, {"sku": "no title"}])["id"])
    assert (job["status"], job["notification"]["status"], job["notification"]["attempts"]) == (
        "COMPLETED",
        "DELIVERED",
        1,
    )
    [event] = receiver.events  # the receiver verified the signature before keeping it
    assert set(event) == ENVELOPE
    assert event["event_type"] == "bulk_job.completed"
    assert event["event_id"] == job["notification"]["event_id"] == event_id(job["id"], "bulk_job.completed")
    assert (event["tenant_id"], event["org_id"]) == (job["tenant_id"], job["org_id"])
    assert event["timestamp"].endswith("Z") or event["timestamp"].endswith("+00:00")
    assert datetime.fromisoformat(event["timestamp"]) == datetime.fromisoformat(job["completed_at"])
    payload = event["payload"]
    assert (payload["id"], payload["status"], payload["processed_items"], payload["failed_items"]) == (
        job["id"],
        "COMPLETED",
        1,
        1,
    )
    assert [e["code"] for e in payload["errors"]] == ["INVALID_ITEM"]
    assert "payload" not in payload and "notification" not in payload  # not the items sent, only the outcome


def test_a_failed_job_is_announced_as_failed(
    jobs: JobsApi, client: Any, auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    configure(client, auth, channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)
    job = settled(jobs, jobs.create("BULK_DELETE", ["0b7e4c1a-5f3d-4e2b-9c8a-6d1f2e3a4b5c"])["id"])
    assert job["status"] == "FAILED"
    [event] = receiver.events
    assert (event["event_type"], event["payload"]["failed_items"]) == ("bulk_job.failed", 1)


def test_a_cancelled_job_is_announced_as_cancelled(
    jobs: JobsApi, client: Any, auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    configure(client, auth, channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)
    created = jobs.create("BULK_IMPORT", [{"title": f"P{i}"} for i in range(3000)])
    resp = client.post(f"{B}/bulk-jobs/{created['id']}/cancel", headers=auth)
    if resp.status_code == 409:
        pytest.skip("the worker finished the job before it could be cancelled")  # pragma: no cover
    assert resp.status_code == 200
    job = settled(jobs, created["id"])
    [event] = receiver.events
    assert event["event_type"] == "bulk_job.cancelled" and event["payload"]["status"] == "CANCELLED"
    # The counts as the cancel left them: a batch that was between its parts (these products'
    # issues make batches too large for one commit) may still add the part it was committing.
    assert event["payload"]["processed_items"] <= job["processed_items"]
    wait_until(lambda: jobs.get(created["id"])["processed_items"] == len(jobs.products()))


def test_a_failing_receiver_is_retried_with_the_same_event(
    jobs: JobsApi, client: Any, auth: dict[str, str], receiver: WebhookReceiver
) -> None:
    configure(client, auth, channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)
    receiver.fail_first = 2
    job = settled(jobs, jobs.create("BULK_IMPORT", [{"title": "Retried"}])["id"])
    note = job["notification"]
    assert (note["status"], note["attempts"], note["last_error"]) == ("DELIVERED", 3, None)
    assert receiver.requests == 3 and len(receiver.events) == 1
    assert receiver.event_ids == [note["event_id"]] * 3
    # The event is stamped with the job's end, not with the job's last change (each failed
    # attempt's record moved `updated_at` since).
    [event] = receiver.events
    assert datetime.fromisoformat(event["timestamp"]) == datetime.fromisoformat(job["completed_at"])
    assert datetime.fromisoformat(job["updated_at"]) > datetime.fromisoformat(job["completed_at"])


def test_a_notice_of_a_job_that_does_not_exist_is_not_retried(scope: Scope) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(PermanentTaskError) as refused:
        wiring.job_notifications(scope).notify(missing, 1)
    assert refused.value.message == f"job {missing} does not exist"


def test_a_job_is_announced_by_email(
    jobs: JobsApi, client: Any, auth: dict[str, str], mail: LocalMailServer, unique: str
) -> None:
    address = f"imports-{unique}@example.com"
    configure(client, auth, channel="email", emails=[address])
    job = settled(jobs, jobs.create("BULK_IMPORT", [{"title": "Mailed"}, {"title": ""}])["id"])
    assert job["notification"]["status"] == "DELIVERED"
    [message] = [m for m in mail.messages() if address in m["To"]]
    assert message["Subject"] == "Your bulk import job completed (1 applied, 1 failed)"
    assert message["Message-ID"] == f"<{job['notification']['event_id']}@synq-pim>"
    text = message.get_payload(decode=True).decode()
    assert job["id"] in text and f"/bulk-jobs/{job['id']}/errors" in text


def test_without_settings_the_job_says_nobody_was_told(jobs: JobsApi) -> None:
    job = settled(jobs, jobs.create("BULK_IMPORT", [{"title": "Unannounced"}])["id"])
    assert (job["status"], job["notification"]["status"]) == ("COMPLETED", "NOT_CONFIGURED")
