"""`make watchdog`: run the job watchdog once against the running local stack, as Cloud Scheduler
would call it. It acts only on what has been silent longer than its thresholds; shorten them for
a try, e.g. `WATCHDOG_JOB_STALL_SECONDS=60 make watchdog`."""

from __future__ import annotations

import json
import os
import sys

from local.stack import ENV_FILE_NAME, ROOT, STATE_DIR

ENV_FILE = STATE_DIR / ENV_FILE_NAME


def main() -> None:
    if not ENV_FILE.exists():
        sys.exit("the local stack is not running: start it with `make run`")
    stack_env = json.loads(ENV_FILE.read_text())
    # The stack's own settings win, except the watchdog's, which this shell may override.
    os.environ.update({k: v for k, v in stack_env.items() if not (k.startswith("WATCHDOG_") and k in os.environ)})
    import functions_framework

    client = functions_framework.create_app(target="job_watchdog", source=str(ROOT / "main.py")).test_client()
    resp = client.post("/", json={"budget_seconds": 60})
    outcome = resp.get_json().get("outcome")
    if resp.status_code != 200 or not isinstance(outcome, dict):
        sys.exit(f"watchdog failed: {resp.status_code} {resp.get_data(as_text=True)}")
    print(", ".join(f"{k}: {v}" for k, v in outcome.items()), flush=True)


if __name__ == "__main__":
    main()
