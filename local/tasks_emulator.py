"""Run the gcloud-tasks-emulator bound to 127.0.0.1 (its own CLI binds every interface).

Usage: python -m local.tasks_emulator --port P --queue projects/X/locations/Y/queues/Z [--max-retries N]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from concurrent import futures

import grpc
from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server
from gcloud_tasks_emulator.server import Greeter, Processor, QueueState
from google.cloud.tasks_v2 import Queue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", action="append", default=[])
    parser.add_argument("--max-retries", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    # Task URLs are absolute, so the emulator's default target host/port is never used.
    state = QueueState("127.0.0.1", 80, args.max_retries)
    for name in args.queue:
        state.create_queue(name.rsplit("/", 2)[0], Queue(name=name))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_CloudTasksServicer_to_server(Greeter(state), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    processor = Processor(state)
    processor.daemon = True
    processor.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    processor._is_running.clear()
    server.stop(grace=0)


if __name__ == "__main__":
    main()
