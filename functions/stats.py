"""`stats`: a tenant's aggregate catalog figures, for a dashboard."""

from __future__ import annotations

from typing import Any

import functions_framework

from shared import wiring
from shared.domain.stats import CatalogStats
from shared.http import Api, Call, Reply

api = Api("stats", tag="Stats")

FRESHNESS = (
    "Products by status and the score distribution change in the same atomic commit as the "
    "products they count, so they are exact the moment a write answers (a bulk job's, batch by "
    "batch). Validation issues and blocked products change with each product's evaluation, which "
    "runs right after its write (a bulk batch's before the batch's task ends); if an evaluation "
    "fails, the validation sweep brings them up to date. Bulk jobs and the last export are read "
    "as they are at the request. Nothing is counted by scanning the catalog, so the answer costs "
    "the same at any catalog size; after each pass the validation sweep recounts the catalog as of "
    "one moment and corrects any drift (data changed behind the API's back)."
)


@api.route(
    "/api/v1/pim/stats",
    "GET",
    response=CatalogStats,
    summary="Aggregate figures of the catalog: products, data quality, issues, recent jobs, the last export",
    description=FRESHNESS,
)
def get_stats(call: Call) -> Reply:
    return wiring.stats(call.principal.scope).read(), 200


@functions_framework.http
def stats(request: Any) -> Any:
    return api(request)
