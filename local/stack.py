"""Run the whole local stack in the foreground: Firestore, Cloud Storage and Cloud Tasks
emulators, and every function behind one gateway port. Ctrl-C stops all of it.

Usage: python -m local.stack [--port 8080]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local.emulators import Emulator, FirestoreEmulator, StorageEmulator, TasksEmulator, free_port, wait_for_port
from local.mail import LocalMailServer
from local.tokens import (
    AUDIENCE,
    DEMO_ORG_ID,
    DEMO_TENANT_ID,
    ISSUER,
    STATE_DIR,
    ensure_keypair,
    ensure_signing_key,
    mint,
)

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "synq-local"
LOCATION = "us-central1"
QUEUE = "bulk-jobs"
EXPORTS_QUEUE = "exports"
NOTIFY_QUEUE = "notifications"
ENV_FILE_NAME = "stack-env.json"


def settings_env(
    project: str, prefix: str, emulators: dict[str, str], worker_port: int, export_worker_port: int, keys: Path
) -> dict[str, str]:
    """The settings variables that point the functions at a local stack (see shared/settings.py):
    the emulators' own variables, buckets and queues named `<prefix>-...`, the two workers on
    their ports, and the keys in `keys` (a directory)."""
    _, public_key = ensure_keypair(keys)
    return {
        **emulators,
        "GCP_PROJECT": project,
        "GOOGLE_CLOUD_PROJECT": project,
        "PAYLOAD_BUCKET": f"{prefix}-payloads",
        "EXPORT_BUCKET": f"{prefix}-exports",
        "UPLOAD_BUCKET": f"{prefix}-uploads",
        "TASKS_LOCATION": LOCATION,
        "TASKS_QUEUE": QUEUE,
        "EXPORTS_QUEUE": EXPORTS_QUEUE,
        "NOTIFY_QUEUE": NOTIFY_QUEUE,
        "WORKER_URL": f"http://127.0.0.1:{worker_port}/_tasks/bulk-jobs",
        "EXPORT_WORKER_URL": f"http://127.0.0.1:{export_worker_port}/_tasks/exports",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_PUBLIC_KEY_FILE": str(public_key),
        "SIGNING_KEY_FILE": str(ensure_signing_key(keys)),
        "STORAGE_PUBLIC_URL": emulators["STORAGE_EMULATOR_HOST"],
        "WEBHOOK_ALLOW_PRIVATE": "true",
    }


def queue_paths(project: str) -> list[str]:
    return [f"projects/{project}/locations/{LOCATION}/queues/{q}" for q in (QUEUE, EXPORTS_QUEUE, NOTIFY_QUEUE)]


def create_buckets(env: dict[str, str]) -> None:
    """The payload, export and upload buckets, on the storage emulator (its JSON API, no client
    needed), unless they exist already."""
    for name in (env["PAYLOAD_BUCKET"], env["EXPORT_BUCKET"], env["UPLOAD_BUCKET"]):
        req = urllib.request.Request(
            f"{env['STORAGE_EMULATOR_HOST']}/storage/v1/b?project={env['GCP_PROJECT']}",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(req, timeout=10).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # 409: it exists
                raise


class LocalStack:
    """The emulators, the API gateway and the worker, started in order and stopped in reverse.

    The two workers (Cloud Tasks targets) run in processes of their own, as they are functions of
    their own in production; Cloud Tasks calls them directly, not through the gateway. Unless
    SMTP_HOST is set, a local mail server receives the notification emails (`.local/mail`).
    """

    def __init__(self, port: int, state_dir: Path = STATE_DIR, quiet: bool = False) -> None:
        self.port = port
        self.worker_port = free_port()
        self.export_worker_port = free_port()
        self.state_dir = state_dir
        self.quiet = quiet
        self.private_key, self.public_key = ensure_keypair(state_dir)
        self.mail = None if os.environ.get("SMTP_HOST") else LocalMailServer(state_dir / "mail")
        logs = state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.firestore = FirestoreEmulator(log_path=logs / "firestore.log")
        self.storage = StorageEmulator(log_path=logs / "storage.log")
        self.tasks = TasksEmulator(log_path=logs / "tasks.log", queues=queue_paths(PROJECT))
        self.emulators: list[Emulator] = [self.firestore, self.storage, self.tasks]
        self.functions: dict[str, subprocess.Popen[bytes]] = {}  # functions-framework processes
        self._stack = ExitStack()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        emulators = {k: v for emulator in self.emulators for k, v in emulator.env().items()}
        env = settings_env(PROJECT, "synq-local", emulators, self.worker_port, self.export_worker_port, self.state_dir)
        return {**env, **(self.mail.env() if self.mail else {})}

    def start(self) -> None:
        """Start everything, or stop whatever started if any part fails (no orphan left)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for emulator in self.emulators:
            self._stack.callback(emulator.stop)
            emulator.start()
        create_buckets(self.env())
        if self.mail:
            self._stack.callback(self.mail.stop)
            self.mail.start()
        env_file = self.state_dir / ENV_FILE_NAME  # what `make sweep` needs to reach this stack
        env_file.write_text(json.dumps(self.env()))
        self._stack.callback(env_file.unlink, missing_ok=True)
        self._serve("worker", ROOT / "main.py", "bulk_job_worker", self.worker_port)
        self._serve("export-worker", ROOT / "main.py", "export_worker", self.export_worker_port)
        self._serve("gateway", ROOT / "local" / "gateway.py", "gateway", self.port)
        self._wait_healthy()

    def _serve(self, name: str, source: Path, target: str, port: int) -> None:
        """One functions-framework process (gunicorn), as Cloud Functions runs a function. Its
        log lines (JSON, as production writes them) go to `logs/NAME.log` as they are, and, unless
        quiet, to the terminal in a readable form."""
        env = {**os.environ, **self.env(), "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--source",
                str(source),
                "--target",
                target,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._stack.callback(_stop_group, proc)
        log_file = self.state_dir / "logs" / f"{name}.log"
        threading.Thread(target=_pump, args=(proc, log_file, None if self.quiet else name), daemon=True).start()
        self.functions[name] = proc
        wait_for_port(port, 30, proc)

    def stop(self) -> None:
        self._stack.close()

    def token(self, **claims: Any) -> str:
        return mint(self.private_key, **claims)

    def mail_note(self) -> str:
        if self.mail:
            return f"emails land in {self.mail.mail_dir} (read them: python -m local.mail)"
        return f"sent to {os.environ['SMTP_HOST']}"

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the local stack did not become healthy within 30s")


def _pump(proc: subprocess.Popen[bytes], log_file: Path, terminal_name: str | None) -> None:
    """Copy a process's output to its log file unchanged and, when named, to the terminal readably."""
    assert proc.stdout is not None
    with open(log_file, "ab") as out:
        for raw in proc.stdout:
            out.write(raw)
            out.flush()
            if terminal_name:
                print(f"{terminal_name}: {readable(raw.decode(errors='replace').rstrip())}", flush=True)


def readable(line: str) -> str:
    """A JSON log line as `SEVERITY message [label=value ...]`; any other line as it is."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict) or "message" not in entry:
        return line
    labels = entry.get("logging.googleapis.com/labels") or {}
    tail = " ".join(f"{k}={v}" for k, v in labels.items() if k != "request_id")
    return f"{entry.get('severity', 'DEFAULT'):<7} {entry['message']}" + (f"  [{tail}]" if tail else "")


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def console_link(url: str, token: str, tenant_id: str = DEMO_TENANT_ID, org_id: str = DEMO_ORG_ID) -> str:
    """The console, signed in: the credentials ride in the URL fragment, which the browser keeps
    to itself (never sent to a server, so never in a request log); the page moves them into the
    tab's sessionStorage and wipes the fragment."""
    return f"{url}/console#{urlencode({'token': token, 'tenant_id': tenant_id, 'org_id': org_id})}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args()
    stack = LocalStack(args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must stop the stack even when started from a script that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.start()
        token = stack.token()
        print(
            f"""
Synq PIM local stack is up.
  API:        {stack.url}/api/v1/pim   (health: {stack.url}/healthz, spec: {stack.url}/api/v1/pim/openapi.json)
  Console:    {console_link(stack.url, token)}
  Tenant id:  {DEMO_TENANT_ID}
  Org id:     {DEMO_ORG_ID}
  Token:      {token}
  Mail:       {stack.mail_note()}
  (a fresh token any time: make token; Ctrl-C stops everything)

The synq command against this stack (tokens last an hour):
  export SYNQ_URL={stack.url} SYNQ_TENANT_ID={DEMO_TENANT_ID} SYNQ_ORG_ID={DEMO_ORG_ID}
  export SYNQ_TOKEN=$(make -s token)
  {Path(sys.executable).parent / "synq"} --help
""",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping the local stack...", flush=True)
        stack.stop()


if __name__ == "__main__":
    main()
