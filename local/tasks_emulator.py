"""Run the gcloud-tasks-emulator bound to 127.0.0.1 (its own CLI binds every interface), with a
dispatcher that delivers tasks concurrently, as Cloud Tasks does.

The emulator's own processor delivers one task at a time per queue. Production Cloud Tasks has
up to a queue's `max_concurrent_dispatches` in flight at once, so batches of one job run side by
side and race on the job's counters and on the SKU index; locally they should too. This
dispatcher keeps the emulator's queue state, task records and retry rule (a failed delivery goes
to the back of the queue, tried again no sooner than RETRY_DELAY_SECONDS later, until
`--max-retries`), and dispatches a task as soon as it is queued instead of polling for it.

Usage: python -m local.tasks_emulator --port P --queue projects/X/locations/Y/queues/Z
       [--max-retries N] [--max-concurrent-dispatches N]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections import Counter
from concurrent import futures
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any
from urllib import error

import grpc
from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server
from gcloud_tasks_emulator.server import Greeter, QueueState, _make_task_request
from google.cloud.tasks_v2 import Attempt, Queue, RateLimits

log = logging.getLogger("tasks_emulator")

# As the production bulk-jobs queue (infra/deploy.sh); a queue created with its own rate limits
# keeps them.
DEFAULT_MAX_CONCURRENT = 100
RETRY_DELAY_SECONDS = 0.1  # the emulator's own processor retried about this often
POLL_SECONDS = 0.1  # for tasks scheduled in the future and retries coming due


class ConcurrentDispatcher:
    """Delivers each running queue's due tasks, at most its max_concurrent_dispatches at once."""

    def __init__(self, state: QueueState, default_concurrency: int) -> None:
        self._state = state
        self._default = default_concurrency
        self._wake = threading.Condition()
        self._in_flight: Counter[str] = Counter()
        self._retry_at: dict[int, float] = {}  # id(task) -> monotonic time of its next attempt
        self._running = True
        create_task = state.create_task

        def create_and_wake(queue: str, task: Any) -> Any:
            with self._wake:
                created = create_task(queue, task)
                self._wake.notify()
            return created

        state.create_task = create_and_wake  # type: ignore[method-assign]

    def run(self) -> None:
        with self._wake:
            while self._running:
                self._dispatch_due()
                self._wake.wait(POLL_SECONDS)

    def stop(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()

    def _limit(self, queue: str) -> int:
        return self._state.queue(queue).rate_limits.max_concurrent_dispatches or self._default

    def _dispatch_due(self) -> None:
        """Start every due task the queues' limits allow (called holding the lock)."""
        now, wall = time.monotonic(), datetime.now(UTC)
        for queue in self._state.queue_names():
            tasks = self._state._queue_tasks.get(queue)
            if tasks is None or self._state.queue(queue).state != Queue.State.RUNNING:
                continue
            i = 0
            while i < len(tasks) and self._in_flight[queue] < self._limit(queue):
                task = tasks[i]
                if (task.schedule_time and task.schedule_time > wall) or self._retry_at.get(id(task), 0) > now:
                    i += 1
                    continue
                tasks.pop(i)
                self._retry_at.pop(id(task), None)
                self._in_flight[queue] += 1
                threading.Thread(target=self._deliver, args=(queue, task), daemon=True).start()

    def _deliver(self, queue: str, task: Any) -> None:
        """One delivery, recorded on the task as the emulator records it; a failure is retried."""
        task.dispatch_count += 1
        dispatched = datetime.now(UTC)
        try:
            status = _make_task_request(queue, task, self._state._target_host, self._state._target_port).status
        except error.HTTPError as exc:
            status = exc.code
        except (OSError, HTTPException) as exc:  # refused, reset, timed out, garbled: the worker is not there
            log.warning("task %s: delivery failed: %s", task.name, exc)
            status = 500
        attempt = Attempt(dispatch_time=dispatched, response_time=datetime.now(UTC), response_status={"code": status})
        task.first_attempt = task.first_attempt or attempt
        task.last_attempt = attempt
        with self._wake:
            self._in_flight[queue] -= 1
            retries = self._state._max_retries
            tasks = self._state._queue_tasks.get(queue)
            if 400 <= status < 600 and tasks is not None and (retries < 0 or task.dispatch_count <= retries):
                self._retry_at[id(task)] = time.monotonic() + RETRY_DELAY_SECONDS
                tasks.append(task)
            self._wake.notify()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", action="append", default=[])
    parser.add_argument("--max-retries", type=int, default=100)
    parser.add_argument("--max-concurrent-dispatches", type=int, default=DEFAULT_MAX_CONCURRENT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    # Task URLs are absolute, so the emulator's default target host/port is never used.
    state = QueueState("127.0.0.1", 80, args.max_retries)
    for name in args.queue:
        limits = RateLimits(max_concurrent_dispatches=args.max_concurrent_dispatches)
        state.create_queue(name.rsplit("/", 2)[0], Queue(name=name, rate_limits=limits))
    dispatcher = ConcurrentDispatcher(state, args.max_concurrent_dispatches)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_CloudTasksServicer_to_server(Greeter(state), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    threading.Thread(target=dispatcher.run, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    dispatcher.stop()
    server.stop(grace=0)


if __name__ == "__main__":
    main()
