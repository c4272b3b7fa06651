"""Every deployable function target, from one source root (so `shared/` deploys with each)."""

from functions.bulk_job_worker import bulk_job_worker
from functions.bulk_jobs import bulk_jobs
from functions.openapi import openapi
from functions.products import products

__all__ = ["bulk_job_worker", "bulk_jobs", "openapi", "products"]
