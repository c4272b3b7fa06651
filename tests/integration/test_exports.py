"""Exports through the API and the export worker, against the emulators: the file in Cloud Storage
fetched by its signed URL, the signed webhook or the email a real SMTP server received, and the
retries and redeliveries Cloud Tasks may make."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.mail import LocalMailServer
from local.webhook_receiver import WebhookReceiver
from shared import wiring
from shared.adapters.firestore.exports import FirestoreExportStore, FirestoreNotificationSettingsStore
from shared.adapters.gcs_exports import GcsExportFiles
from shared.adapters.smtp_mail import SmtpMailer
from shared.adapters.webhooks import HttpWebhookSender
from shared.domain.exports import (
    CSV_COLUMNS,
    TEMPLATE_COLUMNS,
    Delivery,
    DeliveryStatus,
    Export,
    ExportFormat,
    ExportResult,
    ExportStatus,
)
from shared.domain.notifications import Channel, NotificationSettingsInput, event_id
from shared.domain.tenancy import Principal, Role, Scope
from shared.errors import UnavailableError
from shared.services.exports import ExportProcessor, Exports
from shared.services.tasks import ExportTask
from tests.integration.conftest import CapturedQueue, JobsApi
from tests.support import concurrently, deliver, headers, new_scope, wait_until

EXPORTS = "/api/v1/pim/exports"
SETTINGS = "/api/v1/pim/settings/notifications"
SECRET = "whsec_test_0123456789abcdef"
GOOD = {"description": "Ready to sell", "category": "Tools", "brand": "Acme", "barcode": "4006381333931"}


class ExportsApi:
    def __init__(self, client: Any, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth

    def configure(self, expect: int = 200, **settings: Any) -> dict[str, Any]:
        resp = self.client.put(SETTINGS, json=settings, headers=self.auth)
        assert resp.status_code == expect, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def start(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = (
            self.client.post(EXPORTS, json=body, headers=self.auth)
            if body
            else self.client.post(EXPORTS, headers=self.auth)
        )
        assert resp.status_code == 202, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def get(self, export_id: str) -> dict[str, Any]:
        resp = self.client.get(f"{EXPORTS}/{export_id}", headers=self.auth)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        return resp.get_json()

    def wait_notified(self, export_id: str, timeout: float = 60) -> dict[str, Any]:
        """The export once finished and its notification settled (delivered or failed)."""

        def settled() -> dict[str, Any] | None:
            export = self.get(export_id)
            note = export["notification"]
            return export if note and note["status"] != "PENDING" else None

        return wait_until(settled, timeout, interval=0.2)


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return bytes(resp.read())


@pytest.fixture()
def exports(client: Any, auth: dict[str, str]) -> ExportsApi:
    return ExportsApi(client, auth)


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver(SECRET).start()
    yield running
    running.stop()


def seed(jobs: JobsApi, count: int = 6, broken: int = 1) -> tuple[list[str], str]:
    """`count` clean products and `broken` with an invalid barcode (an ERROR issue); the clean
    ones' ids and the (first) broken one's."""
    items = [{"title": f"Product {i}", "sku": f"SKU-{i}", **GOOD} for i in range(count)]
    items += [
        {"title": "Broken barcode" + (f" {n}" if n else ""), "sku": f"SKU-BAD-{n}", **GOOD, "barcode": "4006381333932"}
        for n in range(broken)
    ]
    job = jobs.run("BULK_IMPORT", items)
    assert job["processed_items"] == count + broken
    # The job's end is announced by a task of its own: settled (not configured) before a test sets
    # up its webhook, or, delivered late on a loaded machine, it would reach the test's receiver.
    wait_until(lambda: jobs.get(job["id"])["notification"]["status"] != "PENDING", 60)
    by_title = {p["title"]: p["id"] for p in jobs.products()}
    return [by_title[f"Product {i}"] for i in range(count)], by_title["Broken barcode"]


def test_an_ndjson_export_is_written_downloaded_and_announced_by_a_signed_webhook(
    exports: ExportsApi, jobs: JobsApi, receiver: WebhookReceiver
) -> None:
    clean, broken = seed(jobs)
    exports.configure(channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)

    queued = exports.start()
    assert queued["status"] == "QUEUED" and queued["format"] == "NDJSON" and queued["download_url"] is None

    done = exports.wait_notified(queued["id"])
    assert done["status"] == "COMPLETED"
    assert (done["row_count"], done["excluded_count"]) == (len(clean), 1)
    assert done["notification"]["status"] == "DELIVERED" and done["notification"]["attempts"] == 1
    assert done["object_path"].endswith(f"{queued['id']}.ndjson")

    body = download(done["download_url"])
    assert len(body) == done["size_bytes"]
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(clean) and broken not in {r["id"] for r in rows}
    assert all(r["barcode"] == GOOD["barcode"] and r["tenant_id"] == done["tenant_id"] for r in rows)

    [event] = receiver.events  # the receiver verified its signature before keeping it
    assert event["event_type"] == "export.completed" and event["event_id"] == done["notification"]["event_id"]
    assert event["payload"]["id"] == queued["id"] and event["payload"]["row_count"] == len(clean)
    assert download(event["payload"]["download_url"]) == body


def test_a_csv_export_is_announced_by_email(
    exports: ExportsApi, jobs: JobsApi, mail: LocalMailServer, unique: str
) -> None:
    clean, _ = seed(jobs, count=3)
    address = f"ops-{unique}@example.com"
    exports.configure(channel="email", emails=[address, f"cc-{unique}@example.com"])

    done = exports.wait_notified(exports.start({"format": "CSV"})["id"])
    assert done["status"] == "COMPLETED" and done["notification"]["status"] == "DELIVERED"

    [message] = [m for m in mail.messages() if address in m["To"]]
    assert message["Subject"] == f"Your catalog export is ready ({len(clean)} products)"
    assert message["Message-ID"] == f"<{done['notification']['event_id']}@synq-pim>"
    text = message.get_payload(decode=True).decode()
    url = next(line for line in text.splitlines() if line.startswith("http"))

    reader = csv.DictReader(io.StringIO(download(url).decode()))
    rows = list(reader)
    assert reader.fieldnames == [*CSV_COLUMNS, *TEMPLATE_COLUMNS]  # no attribute definitions
    assert sorted(r["id"] for r in rows) == sorted(clean)
    assert json.loads(rows[0]["variants"]) == [] and rows[0]["data_quality_score"].isdigit()


def export_to(exports: ExportsApi, receiver: WebhookReceiver) -> dict[str, Any]:
    exports.configure(channel="webhook", webhook_url=receiver.url, webhook_secret=SECRET)
    return exports.wait_notified(exports.start()["id"])


def test_a_failing_receiver_is_retried_with_the_same_event_until_it_answers(
    exports: ExportsApi, jobs: JobsApi, receiver: WebhookReceiver
) -> None:
    seed(jobs, count=1)
    receiver.fail_first = 2
    note = export_to(exports, receiver)["notification"]
    assert (note["status"], note["attempts"], note["last_error"]) == ("DELIVERED", 3, None)
    assert receiver.requests == 3 and len(receiver.events) == 1
    assert receiver.event_ids == [note["event_id"]] * 3  # every attempt carried the same event id


def test_a_receiver_that_never_answers_is_recorded_as_failed(
    exports: ExportsApi, jobs: JobsApi, receiver: WebhookReceiver
) -> None:
    seed(jobs, count=1)
    receiver.fail_first = 1000
    done = export_to(exports, receiver)
    assert done["status"] == "COMPLETED"  # the file is fine; only the notice failed
    note = done["notification"]
    assert (note["status"], note["attempts"]) == ("FAILED", 3)
    assert note["last_error"] == "webhook receiver answered 500" and receiver.requests == 3


def test_a_worker_that_dies_mid_send_is_redelivered_and_makes_the_same_attempt_again(
    exports: ExportsApi, jobs: JobsApi, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver gets the event, then the worker dies before recording the outcome: the task
    answers 500, the Cloud Tasks emulator delivers it again, and that delivery sends again."""
    seed(jobs, count=1)
    real_post = HttpWebhookSender.post
    deaths: list[str] = []

    def post_then_die(self: HttpWebhookSender, url: str, body: bytes, headers: dict[str, str]) -> None:
        real_post(self, url, body, headers)
        if not deaths:
            deaths.append(headers["X-Synq-Event-Id"])
            raise RuntimeError("the worker died between sending and recording")

    monkeypatch.setattr(HttpWebhookSender, "post", post_then_die)
    note = export_to(exports, receiver)["notification"]
    assert deaths == [note["event_id"]]
    assert (note["status"], note["attempts"], note["last_error"]) == ("DELIVERED", 1, None)
    assert receiver.event_ids == [note["event_id"]] * 2  # the same attempt, made again, same event


def test_without_settings_the_export_completes_and_says_nobody_was_told(exports: ExportsApi, jobs: JobsApi) -> None:
    seed(jobs, count=1)
    done = exports.wait_notified(exports.start()["id"])
    assert done["status"] == "COMPLETED" and done["notification"]["status"] == "NOT_CONFIGURED"


def test_fixing_the_error_brings_the_product_back_into_the_next_export(
    client: Any, exports: ExportsApi, jobs: JobsApi, auth: dict[str, str]
) -> None:
    clean, broken = seed(jobs, count=2)
    first = exports.wait_notified(exports.start()["id"])
    assert (first["row_count"], first["excluded_count"]) == (2, 1)
    resp = client.put(f"/api/v1/pim/products/{broken}", json={"barcode": "036000291452"}, headers=auth)
    assert resp.status_code == 200
    second = exports.wait_notified(exports.start()["id"])
    assert (second["row_count"], second["excluded_count"]) == (3, 0)
    ids = {json.loads(line)["id"] for line in download(second["download_url"]).decode().splitlines()}
    assert ids == {*clean, broken}


def test_every_product_with_an_error_is_left_out_and_counted(exports: ExportsApi, jobs: JobsApi) -> None:
    clean, _ = seed(jobs, count=2, broken=3)
    done = exports.wait_notified(exports.start()["id"])
    assert (done["row_count"], done["excluded_count"]) == (2, 3)
    assert sorted(json.loads(line)["id"] for line in download(done["download_url"]).decode().splitlines()) == sorted(
        clean
    )
    # The link is good for its whole life from the moment it is handed out.
    before = datetime.now(UTC)
    link = exports.get(done["id"])
    after = datetime.now(UTC)
    ttl = wiring.export_policy().url_ttl
    assert before + ttl <= datetime.fromisoformat(link["download_url_expires_at"]) <= after + ttl


def test_an_empty_catalog_exports_an_empty_file(exports: ExportsApi) -> None:
    done = exports.wait_notified(exports.start({"format": "CSV"})["id"])
    assert (done["status"], done["row_count"], done["excluded_count"]) == ("COMPLETED", 0, 0)
    assert download(done["download_url"]).decode().splitlines() == [",".join([*CSV_COLUMNS, *TEMPLATE_COLUMNS])]


# --- settings ------------------------------------------------------------------------------
def test_settings_mask_the_secret_and_keep_it_when_left_out(
    exports: ExportsApi, client: Any, auth: dict[str, str], keys: tuple[Path, Path]
) -> None:
    assert client.get(SETTINGS, headers=auth).status_code == 404
    shown = exports.configure(channel="webhook", webhook_url="http://127.0.0.1:9/hook", webhook_secret=SECRET)
    assert SECRET not in json.dumps(shown) and shown["webhook_secret"].endswith(SECRET[-4:])
    kept = exports.configure(channel="webhook", webhook_url="http://127.0.0.1:9/other")
    assert kept["webhook_secret"] == shown["webhook_secret"] and kept["webhook_url"].endswith("/other")
    got = client.get(SETTINGS, headers=auth).get_json()
    assert got == kept and SECRET not in json.dumps(got)
    assert client.get(SETTINGS, headers=headers(keys[0], new_scope())).status_code == 404  # not another's


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "sms"}, "channel"),
        ({"channel": "webhook"}, "body"),
        ({"channel": "webhook", "webhook_url": "http://127.0.0.1:9/h"}, "webhook_secret"),
        ({"channel": "webhook", "webhook_url": "http://127.0.0.1:9/h", "webhook_secret": "short"}, "webhook_secret"),
        ({"channel": "webhook", "webhook_url": "ftp://example.com/h", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://u:p@127.0.0.1/h", "webhook_secret": SECRET}, "webhook_url"),
        # inputs the URL parser, the port or IDNA would raise on: each a 400, never a 500
        ({"channel": "webhook", "webhook_url": "http://[::1:9/x", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://h.example:99999/", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://a..example.com/", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://\u2100.example/", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://h\u0000.example/", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://127.0.0.1:9/\u0000", "webhook_secret": SECRET}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "http://[fe80::1%25lo]/", "webhook_secret": SECRET}, "webhook_url"),
        (
            {"channel": "webhook", "webhook_url": "http://127.0.0.1:9/h", "webhook_secret": SECRET + "\u0000"},
            "webhook_secret",
        ),
        ({"channel": "email", "emails": ["a\u0000@example.com"]}, "emails.0"),
        ({"channel": "email"}, "body"),
        ({"channel": "email", "emails": ["not-an-address"]}, "emails.0"),
        ({"channel": "email", "emails": ["a@example.com", "A@example.com"]}, "body"),
        ({"channel": "email", "emails": ["a@example.com"], "extra": 1}, "extra"),
    ],
)
def test_bad_settings_are_400_and_change_nothing(
    exports: ExportsApi, client: Any, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    before = exports.configure(channel="email", emails=["keep@example.com"])
    resp = client.put(SETTINGS, json=body, headers=auth)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    error = resp.get_json()
    assert error["code"] == "INVALID_ARGUMENT" and field in [d["field"] for d in error["details"]]
    assert client.get(SETTINGS, headers=auth).get_json() == before


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/computeMetadata/v1/",
        "https://metadata.google.internal/",
        "https://[::1]/hook",
        "https://no-such-host.invalid/hook",
        "https://[64:ff9b::a9fe:a9fe]/computeMetadata/v1/",  # NAT64 of the metadata server
        "https://[::ffff:10.0.0.1]/hook",
        "https://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
        "https://[::7f00:1]/hook",
        "https://[::1:9/hook",
    ],
)
def test_production_refuses_webhook_urls_that_reach_inside(
    client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "false")
    wiring.get_settings.cache_clear()
    try:
        resp = client.put(
            SETTINGS, json={"channel": "webhook", "webhook_url": url, "webhook_secret": SECRET}, headers=auth
        )
    finally:
        monkeypatch.undo()
        wiring.get_settings.cache_clear()
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["details"][0]["field"] == "webhook_url"


def test_only_an_admin_may_change_settings(client: Any, keys: tuple[Path, Path], scope: Scope) -> None:
    body = {"channel": "email", "emails": ["a@example.com"]}
    for role in ("EDITOR", "VIEWER"):
        resp = client.put(SETTINGS, json=body, headers=headers(keys[0], scope, role=role))
        assert resp.status_code == 403 and resp.get_json()["code"] == "PERMISSION_DENIED"
    assert client.get(SETTINGS, headers=headers(keys[0], scope, role="ADMIN")).status_code == 404


# --- bad requests and tenancy --------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"format": "XML"}', "application/json", 400, "INVALID_ARGUMENT"),
        (b'{"format": "CSV", "columns": ["id"]}', "application/json", 400, "INVALID_ARGUMENT"),
        (b"{nope", "application/json", 400, "INVALID_JSON"),
        (b'{"format": "CSV"}', "text/csv", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_bad_export_requests_are_rejected_and_queue_nothing(
    client: Any, auth: dict[str, str], body: bytes, content_type: str, status: int, code: str
) -> None:
    resp = client.post(EXPORTS, data=body, content_type=content_type, headers=auth)
    assert resp.status_code == status and resp.get_json()["code"] == code
    assert client.get(EXPORTS, headers=auth).get_json()["items"] == []


def test_another_tenants_export_is_404(exports: ExportsApi, client: Any, keys: tuple[Path, Path]) -> None:
    mine = exports.start()
    other = headers(keys[0], new_scope())
    assert client.get(f"{EXPORTS}/{mine['id']}", headers=other).status_code == 404
    assert client.get(EXPORTS, headers=other).get_json()["items"] == []
    assert [e["id"] for e in client.get(EXPORTS, headers=exports.auth).get_json()["items"]] == [mine["id"]]


# --- at-least-once delivery of the worker's tasks --------------------------------------------
class FlakyFiles(GcsExportFiles):
    """The real Cloud Storage adapter, made to crash at a chosen step (a worker dying mid-task)."""

    def __init__(self, crash_on: str = "", times: int = 1) -> None:
        s = wiring.get_settings()
        super().__init__(wiring.storage_client(), s.export_bucket, wiring.url_signer(), s.storage_public_url)
        self.crash_on, self.crashes_left = crash_on, times
        self.published: list[str] = []  # the staged objects copied to an export's path

    def _maybe_crash(self, step: str) -> None:
        if step == self.crash_on and self.crashes_left:
            self.crashes_left -= 1
            raise UnavailableError(f"crashed in {step}")

    def publish(self, staged: str, path: str, filename: str) -> None:
        self._maybe_crash("publish")
        super().publish(staged, path, filename)
        self.published.append(staged)

    def write(self, path: str, content_type: str, chunks: Any) -> int:
        def crash_midway() -> Iterator[bytes]:
            for n, chunk in enumerate(chunks):
                if n == 3:
                    self._maybe_crash("write")
                yield chunk

        return super().write(path, content_type, crash_midway())


class RecordingSender(HttpWebhookSender):
    """The real webhook sender, keeping the headers of every POST it makes."""

    def __init__(self, allow_private: bool, timeout_seconds: float) -> None:
        super().__init__(allow_private, timeout_seconds)
        self.sent: list[dict[str, str]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        self.sent.append(headers)
        super().post(url, body, headers)


class Harness:
    def __init__(self, scope: Scope, files: FlakyFiles) -> None:
        self.scope = scope
        self.queue = CapturedQueue(ExportTask)
        self.files = files
        self.receiver = WebhookReceiver(SECRET).start()
        s = wiring.get_settings()
        client = wiring.firestore_client()
        self.store = FirestoreExportStore(client, scope)
        settings = FirestoreNotificationSettingsStore(client, scope)
        policy = wiring.export_policy()
        self.exports = Exports(scope, self.store, files, self.queue, policy, wiring.utc_now)
        self.sender = RecordingSender(True, 5)
        self.processor = ExportProcessor(
            scope,
            self.store,
            settings,
            files,
            self.queue,
            self.sender,
            SmtpMailer(s.smtp_host, s.smtp_port, s.mail_from),
            policy,
            wiring.utc_now,
        )
        wiring.notification_settings(scope).put(
            Principal("admin@example.com", Role.ADMIN, scope),
            NotificationSettingsInput(channel=Channel.WEBHOOK, webhook_url=self.receiver.url, webhook_secret=SECRET),
        )

    def start(self) -> tuple[str, ExportTask]:
        export = self.exports.request(Principal("ops@example.com", Role.EDITOR, self.scope), ExportFormat.NDJSON)
        [task] = self.queue.take()
        return export.id, task

    def deliver(self, task: ExportTask) -> str:
        return self.processor.handle(task)

    def export(self, export_id: str) -> Export:
        return self.store.get(export_id)

    def objects(self) -> dict[str, list[str]]:
        """Names of the tenant's final and staged export objects."""
        bucket = wiring.storage_client().bucket(self.files.bucket)
        tenant = f"{self.scope.tenant_id}/{self.scope.org_id}/"
        return {
            prefix: sorted(b.name for b in bucket.list_blobs(prefix=f"{prefix}{tenant}"))
            for prefix in ("exports/", "tmp/exports/")
        }

    def rows(self, export_id: str) -> list[dict[str, Any]]:
        data = (
            wiring.storage_client()
            .bucket(self.files.bucket)
            .blob(self.export(export_id).object_path)
            .download_as_bytes()
        )
        return [json.loads(line) for line in data.decode().splitlines()]

    def close(self) -> None:
        self.receiver.stop()
        self.queue.delete()


@pytest.fixture()
def make_harness(stack_env: dict[str, str], scope: Scope, jobs: JobsApi) -> Iterator[Any]:
    made: list[Harness] = []

    def make(crash_on: str = "", times: int = 1) -> Harness:
        made.append(Harness(scope, FlakyFiles(crash_on, times)))
        return made[-1]

    seed(jobs, count=12)
    yield make
    for h in made:
        h.close()


def assert_one_clean_export(h: Harness, export_id: str) -> None:
    export = h.export(export_id)
    assert export.status is ExportStatus.COMPLETED and export.row_count == 12 and export.excluded_count == 1
    objects = h.objects()
    assert objects == {"exports/": [export.object_path], "tmp/exports/": []}
    rows = h.rows(export_id)
    assert len(rows) == len({r["id"] for r in rows}) == 12


def test_a_redelivered_run_writes_no_second_file_and_sends_no_second_event(make_harness: Any) -> None:
    h = make_harness()
    export_id, run = h.start()
    assert h.deliver(run) == "completed"
    first = h.export(export_id)
    assert h.deliver(run) == "already COMPLETED"
    assert h.export(export_id).completed_at == first.completed_at
    notifies = h.queue.take()
    assert {t.name for t in notifies} == {f"{export_id}-notify-1"}  # queued twice, one task
    for task in notifies * 2:  # and that task delivered twice
        h.deliver(task)
    assert len(h.receiver.events) == 1 and h.receiver.requests == 1
    assert h.export(export_id).notification.status is DeliveryStatus.DELIVERED  # type: ignore[union-attr]
    assert_one_clean_export(h, export_id)


class MeetsAtClaimAndFinish(FirestoreExportStore):
    """Runs that have each written their staged file claim it at the same moment, and finish the
    export at the same moment; every answer to a claim or a finish is kept."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(wiring.firestore_client(), scope)
        self.at_claim, self.at_finish = threading.Barrier(2), threading.Barrier(2)
        self.claims: list[tuple[str, Export]] = []  # (the attempt that claimed, the export answered)
        self.finishes: list[Export] = []
        self._lock = threading.Lock()

    def claim(self, export_id: str, result: ExportResult) -> Export:
        self.at_claim.wait(timeout=60)
        export = super().claim(export_id, result)
        with self._lock:
            self.claims.append((result.attempt_id, export))
        return export

    def finish(
        self, export_id: str, status: ExportStatus, delivery: Delivery, now: datetime, reason: str | None
    ) -> Export:
        # Both runs reach this only when the loser's copy of the winner's file succeeded; a loser
        # that found the file already gone never comes, and the winner goes on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            self.at_finish.wait(timeout=20)
        export = super().finish(export_id, status, delivery, now, reason)
        with self._lock:
            self.finishes.append(export)
        return export


def test_two_deliveries_of_a_run_at_once_publish_one_file(make_harness: Any) -> None:
    h = make_harness()
    export_id, run = h.start()
    racing = MeetsAtClaimAndFinish(h.scope)
    processor = dataclasses.replace(h.processor, store=racing)
    outcomes = concurrently(lambda: deliver(processor.handle, run), lambda: deliver(processor.handle, run))
    assert all(o in ("completed", "already COMPLETED") for o in outcomes), outcomes

    # One claim won, and both runs were told so: the winner's result is the export's.
    final = h.export(export_id)
    assert final.result is not None
    (first, answer1), (second, answer2) = racing.claims
    assert first != second and final.result.attempt_id in (first, second)
    assert [answer1.result, answer2.result] == [final.result] * 2
    # Only the winner's staged file was ever copied to the export's path (the loser's was deleted).
    assert h.files.published and set(h.files.published) == {final.result.staged_object}
    # The export was finished once: every finish answered with the same completion.
    assert {(e.status, e.completed_at) for e in racing.finishes} == {(ExportStatus.COMPLETED, final.completed_at)}
    assert {name for name, _ in h.queue.take_named()} == {f"{export_id}-notify-1"}
    assert_one_clean_export(h, export_id)


@pytest.mark.parametrize("step", ["write", "publish"])
def test_a_run_that_crashes_is_finished_by_its_redelivery(make_harness: Any, step: str) -> None:
    h = make_harness(crash_on=step)
    export_id, run = h.start()
    with pytest.raises(UnavailableError):
        h.deliver(run)
    crashed = h.export(export_id)
    assert crashed.status is ExportStatus.RUNNING and h.objects()["exports/"] == []
    # A crash while writing leaves no staged object (the upload is cancelled); one after the
    # claim leaves the claimed one, which the redelivery publishes.
    assert (crashed.result is None) == (step == "write")
    assert h.deliver(run) == "completed"
    assert h.export(export_id).attempts == 2
    assert_one_clean_export(h, export_id)


def test_an_export_that_keeps_failing_is_failed_and_announced(make_harness: Any) -> None:
    h = make_harness(crash_on="write", times=100)
    export_id, run = h.start()
    for _ in range(2):
        with pytest.raises(UnavailableError):
            h.deliver(run)
    assert h.deliver(run) == "failed"  # the third and last attempt
    export = h.export(export_id)
    assert export.status is ExportStatus.FAILED and export.failure_reason == "crashed in write"
    [notify] = h.queue.take()
    h.deliver(notify)
    [event] = h.receiver.events
    assert event["event_type"] == "export.failed" and event["payload"]["failure_reason"] == "crashed in write"
    assert h.objects() == {"exports/": [], "tmp/exports/": []}


def test_a_stale_notify_attempt_does_nothing(make_harness: Any) -> None:
    h = make_harness()
    h.receiver.fail_first = 1
    _, run = h.start()
    h.deliver(run)
    [first] = h.queue.take()
    assert h.deliver(first).startswith("attempt 1 failed")
    [second] = h.queue.take()
    assert second.attempt == 2
    assert h.deliver(second) == "delivered"
    assert h.deliver(first) == "already DELIVERED"  # attempt 1 redelivered late
    assert h.receiver.requests == 2 and len(h.receiver.events) == 1
    assert h.queue.take() == []


def test_a_completed_file_downloads_under_a_dated_name(make_harness: Any) -> None:
    h = make_harness()
    export_id, run = h.start()
    assert h.deliver(run) == "completed"
    export = h.export(export_id)
    blob = wiring.storage_client().bucket(h.files.bucket).get_blob(export.object_path)
    expected = f"catalog-export-{export.created_at:%Y%m%d-%H%M%S}.ndjson"
    assert (blob.content_disposition, blob.content_type) == (
        f'attachment; filename="{expected}"',
        "application/x-ndjson",
    )


class Unqueueable:
    def enqueue(self, name: str, body: dict[str, Any], not_before: datetime | None = None) -> None:
        raise UnavailableError("task queue: storage unreachable")


def test_an_export_that_cannot_be_queued_is_failed_at_once(make_harness: Any) -> None:
    h = make_harness()
    exports = dataclasses.replace(h.exports, tasks=Unqueueable())
    with pytest.raises(UnavailableError):
        exports.request(Principal("ops@example.com", Role.EDITOR, h.scope), ExportFormat.CSV)
    [export] = h.store.list(10, None).items
    assert (export.status, export.failure_reason) == (ExportStatus.FAILED, "the export could not be queued")
    assert export.notification is not None
    assert (export.notification.status, export.notification.event_type, export.notification.event_id) == (
        DeliveryStatus.NOT_CONFIGURED,
        "export.failed",
        event_id(export.id, "export.failed"),
    )


def test_an_export_whose_every_run_died_after_its_claim_is_given_up(make_harness: Any) -> None:
    h = make_harness(crash_on="publish", times=100)
    export_id, run = h.start()
    for _ in range(3):
        with pytest.raises(UnavailableError):
            h.deliver(run)
    assert h.deliver(run) == "failed"  # a fourth run finds three attempts spent
    export = h.export(export_id)
    assert (export.status, export.failure_reason) == (ExportStatus.FAILED, "gave up after 3 attempts")
    [(name, notify)] = h.queue.take_named()
    assert (name, notify.attempt) == (f"{export_id}-notify-1", 1)
    assert h.deliver(notify) == "delivered"
    [event] = h.receiver.events
    assert (event["event_type"], event["payload"]["failure_reason"]) == ("export.failed", "gave up after 3 attempts")
    assert h.export(export_id).notification.attempts == 1  # type: ignore[union-attr]


class FailedMeanwhile(FirestoreExportStore):
    """Another attempt gives the export up just before this one claims its file."""

    def claim(self, export_id: str, result: ExportResult) -> Export:
        delivery = Delivery(event_id=event_id(export_id, "export.failed"), event_type="export.failed", status="PENDING")
        self.finish(export_id, ExportStatus.FAILED, delivery, wiring.utc_now(), "gave up after 3 attempts")
        return super().claim(export_id, result)


def test_a_run_that_finds_its_export_failed_meanwhile_cleans_up_and_says_so(make_harness: Any) -> None:
    h = make_harness()
    export_id, run = h.start()
    processor = dataclasses.replace(h.processor, store=FailedMeanwhile(wiring.firestore_client(), h.scope))
    assert processor.handle(run) == "already FAILED"
    assert h.objects() == {"exports/": [], "tmp/exports/": []}  # its staged file deleted, nothing published
    assert {name for name, _ in h.queue.take_named()} == {f"{export_id}-notify-1"}


def test_a_losing_run_that_finds_the_file_already_moved_completes_quietly(make_harness: Any) -> None:
    """The winner publishes and removes its staged file while the loser, told who won, is about to
    copy the same file: the loser's copy finds nothing, and it checks the export is done."""
    h = make_harness()
    export_id, run = h.start()
    a_claimed, b_claimed, a_done = threading.Event(), threading.Event(), threading.Event()

    class Store(FirestoreExportStore):
        def __init__(self, winner: bool) -> None:
            super().__init__(wiring.firestore_client(), h.scope)
            self.winner = winner

        def claim(self, export_id: str, result: ExportResult) -> Export:
            if not self.winner:
                assert a_claimed.wait(60)
            export = super().claim(export_id, result)
            (a_claimed if self.winner else b_claimed).set()
            return export

        def finish(
            self, export_id: str, status: ExportStatus, delivery: Delivery, now: datetime, reason: str | None
        ) -> Export:
            if self.winner:
                assert b_claimed.wait(60)
            return super().finish(export_id, status, delivery, now, reason)

    class Files(FlakyFiles):
        def __init__(self, winner: bool) -> None:
            super().__init__()
            self.winner = winner

        def publish(self, staged: str, path: str, filename: str) -> None:
            if not self.winner:
                assert a_done.wait(60)
            super().publish(staged, path, filename)

        def delete(self, path: str) -> None:
            super().delete(path)
            if self.winner:
                a_done.set()

    a, b = (dataclasses.replace(h.processor, store=Store(w), files=Files(w)) for w in (True, False))
    assert concurrently(lambda: a.handle(run), lambda: b.handle(run)) == ["completed", "completed"]
    assert_one_clean_export(h, export_id)


def test_notify_attempts_are_made_once_each_and_a_late_one_gives_way(make_harness: Any) -> None:
    h = make_harness()
    h.receiver.fail_first = 3
    export_id, run = h.start()
    early = ExportTask.notify(h.scope, export_id, 1)
    assert h.deliver(early) == "export not finished"
    assert h.deliver(run) == "completed"
    [first] = h.queue.take()
    before = datetime.now(UTC)
    assert h.deliver(first) == "attempt 1 failed; next in 0.2s"
    after = datetime.now(UTC)
    note = h.export(export_id).notification
    assert note is not None and note.next_attempt_at is not None
    assert before + timedelta(seconds=0.2) <= note.next_attempt_at <= after + timedelta(seconds=0.2)
    assert h.deliver(first) == "attempt 1 failed; next in 0.2s"  # Cloud Tasks redelivered it: tried again
    [second] = {t.name: t for t in h.queue.take()}.values()
    assert h.deliver(second) == "attempt 2 failed; next in 0.4s"
    assert h.deliver(first) == "superseded by a later attempt"
    assert h.receiver.requests == 3
    [third] = h.queue.take()
    assert h.deliver(third) == "delivered"
    export = h.export(export_id)
    [event] = h.receiver.events
    assert datetime.fromisoformat(event["timestamp"]) == export.completed_at  # not moved by the attempts
    assert [(s["Content-Type"], s["X-Synq-Event-Id"]) for s in h.sender.sent] == [
        ("application/json", event["event_id"])
    ] * 4


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(make_harness: Any) -> None:
    h = make_harness()
    h.receiver.fail_first = 1000
    _, run = h.start()
    h.deliver(run)
    outcomes = []
    while tasks := h.queue.take():
        outcomes += [h.deliver(task) for task in tasks]
    assert outcomes == ["attempt 1 failed; next in 0.2s", "attempt 2 failed; next in 0.4s", "delivery failed"]


def test_without_settings_a_notify_task_records_that_nobody_was_told(make_harness: Any) -> None:
    h = make_harness()
    root = f"tenants/{h.scope.tenant_id}/orgs/{h.scope.org_id}"
    wiring.firestore_client().document(f"{root}/settings/notifications").delete()
    export_id, run = h.start()
    h.deliver(run)
    [notify] = h.queue.take()
    assert h.deliver(notify) == "not configured"
    assert h.export(export_id).notification.status is DeliveryStatus.NOT_CONFIGURED  # type: ignore[union-attr]
    assert h.deliver(notify) == "already NOT_CONFIGURED" and h.receiver.requests == 0
