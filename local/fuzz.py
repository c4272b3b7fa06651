"""`make fuzz`: schemathesis against the running local stack, over HTTP, every operation of the
served OpenAPI document with valid and invalid data. Fails on any 5xx and on any answer the
document does not describe. Each run uses a tenant of its own, so the demo data stays clean.

FUZZ_EXAMPLES (default 100) sets the examples per operation; extra arguments go to
`schemathesis run` (e.g. `make fuzz FUZZ_ARGS="--include-tag Products"`)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from local.tokens import STATE_DIR, ensure_keypair, mint

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> None:
    base = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}"
    tenant, org = str(uuid.uuid4()), str(uuid.uuid4())
    token = mint(ensure_keypair(STATE_DIR)[0], tenant_id=tenant, org_id=org, email="fuzz@synq.local")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/api/v1/pim/openapi.json",
        "--wait-for-schema=30",
        f"--checks={CHECKS}",
        "--mode=all",
        f"--max-examples={os.environ.get('FUZZ_EXAMPLES', '100')}",
        "--generation-allow-x00=true",
        f"--header=Authorization: Bearer {token}",
        f"--header=X-Tenant-ID: {tenant}",
        f"--header=X-Org-ID: {org}",
        *sys.argv[1:],
    ]
    print(f"fuzzing {base} as tenant {tenant}", flush=True)
    sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
