"""`make sweep`: run the scheduled validation sweep against the running local stack, as Cloud
Scheduler would call it, until it has covered every tenant."""

from __future__ import annotations

import json
import os
import sys
import time

from local.stack import ENV_FILE_NAME, ROOT, STATE_DIR

ENV_FILE = STATE_DIR / ENV_FILE_NAME


def main() -> None:
    if not ENV_FILE.exists():
        sys.exit("the local stack is not running: start it with `make run`")
    os.environ.update(json.loads(ENV_FILE.read_text()))
    os.environ["SWEEP_MIN_INTERVAL_HOURS"] = "0"  # asked for by hand: a pass now, however recent the last
    import functions_framework

    client = functions_framework.create_app(target="validation_sweep", source=str(ROOT / "main.py")).test_client()
    started, products, writes = time.monotonic(), 0, 0
    while True:
        resp = client.post("/", json={"budget_seconds": 30})
        outcome = resp.get_json().get("outcome")
        if resp.status_code != 200 or not isinstance(outcome, dict):
            sys.exit(f"sweep failed: {resp.status_code} {resp.get_data(as_text=True)}")
        products += outcome["products"]
        writes += outcome["issue_writes"]
        print(f"{outcome['status']}: {products} products evaluated, {writes} issue records written", flush=True)
        if outcome["status"] == "completed":
            break
        if outcome["status"] == "busy":
            time.sleep(2)
    print(f"sweep done in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
