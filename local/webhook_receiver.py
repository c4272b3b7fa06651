"""A webhook receiver to try export notifications with: it checks each request's X-Synq-Signature
with the shared secret (rejecting bad or replayed ones with 400), prints the event, and keeps it.

Usage: python -m local.webhook_receiver --port 9000 --secret <the webhook_secret you configured>
       [--fail-first N]  (answer 500 to the first N requests, to watch the retries)
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.domain.notifications import SIGNATURE_HEADER, verify


class WebhookReceiver:
    """Serves on 127.0.0.1:`port` in a background thread; `events` holds every verified event."""

    def __init__(self, secret: str, port: int = 0, fail_first: int = 0, echo: bool = False) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.echo = echo
        self.requests = 0
        self.event_ids: list[str] = []  # X-Synq-Event-Id of every request, failed ones included
        self.events: list[dict[str, Any]] = []
        self.rejected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/synq"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _receive(self, headers: Any, body: bytes) -> int:
        with self._lock:
            self.requests += 1
            self.event_ids.append(headers.get("X-Synq-Event-Id", ""))
            if self.requests <= self.fail_first:
                return 500
            if not verify(self.secret, headers.get(SIGNATURE_HEADER, ""), body, int(time.time())):
                self.rejected += 1
                return 400
            event = json.loads(body)
            self.events.append(event)
        if self.echo:
            print(f"{event['event_type']} {event['event_id']} at {event['timestamp']}", flush=True)
            payload = event["payload"]
            if event["event_type"].startswith("export."):
                print(
                    f"  export {payload['id']} {payload['status']}, {payload.get('row_count')} rows, "
                    f"{payload.get('excluded_count')} left out\n  download: {payload.get('download_url')}",
                    flush=True,
                )
            else:
                print(
                    f"  {payload['job_type']} job {payload['id']} {payload['status']}: "
                    f"{payload['processed_items']} applied, {payload['failed_items']} failed",
                    flush=True,
                )
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._receive(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    receiver = WebhookReceiver(args.secret, args.port, args.fail_first, echo=True).start()
    print(f"listening on http://127.0.0.1:{receiver.port}/ (any path; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
