"""The sweep's lease and cursor (one document outside every tenant), and the list of tenants."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared.adapters.google_errors import translated
from shared.domain.tenancy import Scope
from shared.services.sweep import SweepCursor


class FirestoreSweepStore:
    """`name` keys the lease and cursor; `tenant_ids`, when given, limits the sweep to them."""

    def __init__(
        self, client: firestore.Client, name: str = "validation-sweep", tenant_ids: set[str] | None = None
    ) -> None:
        self._client = client
        self._ref = client.collection("system").document(name)
        self._tenant_ids = tenant_ids

    def acquire(self, owner: str, now: datetime, lease: timedelta) -> tuple[bool, SweepCursor | None]:
        @firestore.transactional
        def take(txn: firestore.Transaction) -> tuple[bool, SweepCursor | None]:
            state = self._ref.get(transaction=txn).to_dict() or {}
            if (
                state.get("owner")
                and state["owner"] != owner
                and state.get("lease_until")
                and state["lease_until"] > now
            ):
                return False, None
            txn.set(self._ref, {**state, "owner": owner, "lease_until": now + lease, "started_at": now})
            return True, SweepCursor.model_validate(state["cursor"]) if state.get("cursor") else None

        with translated("sweep state"):
            result: tuple[bool, SweepCursor | None] = take(self._client.transaction())
        return result

    def save(self, owner: str, cursor: SweepCursor | None, now: datetime, lease: timedelta) -> bool:
        @firestore.transactional
        def save(txn: firestore.Transaction) -> bool:
            state = self._ref.get(transaction=txn).to_dict() or {}
            if state.get("owner") != owner:
                return False
            txn.update(self._ref, {"cursor": cursor.model_dump() if cursor else None, "lease_until": now + lease})
            return True

        with translated("sweep state"):
            saved: bool = save(self._client.transaction())
        return saved

    def release(self, owner: str, completed: bool, now: datetime) -> None:
        changes: dict[str, Any] = {"owner": None, "lease_until": None}
        if completed:
            changes |= {"cursor": None, "completed_at": now}
        with translated("sweep state"):
            if (self._ref.get().to_dict() or {}).get("owner") == owner:
                self._ref.update(changes)

    def last_completed(self) -> datetime | None:
        with translated("sweep state"):
            ended: datetime | None = (self._ref.get().to_dict() or {}).get("completed_at")
        return ended

    def scopes(self, after: tuple[str, str] | None) -> Iterator[Scope]:
        """Tenants and orgs hold data in subcollections, so their documents may not exist:
        list_documents finds them anyway. Sorted, so a sweep can resume."""
        with translated("tenants"):
            for tenant in sorted(t.id for t in self._client.collection("tenants").list_documents()):
                if (after and tenant < after[0]) or (self._tenant_ids is not None and tenant not in self._tenant_ids):
                    continue
                orgs = self._client.collection("tenants").document(tenant).collection("orgs").list_documents()
                for org in sorted(o.id for o in orgs):
                    if after and (tenant, org) < after:
                        continue
                    yield Scope(tenant, org)
