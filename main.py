"""Every deployable function target, from one source root (so `shared/` deploys with each)."""

import functions_framework
from werkzeug.exceptions import HTTPException

from functions.audit_logs import audit_logs
from functions.bulk_job_worker import bulk_job_worker
from functions.bulk_jobs import bulk_jobs
from functions.console import console
from functions.export_worker import export_worker
from functions.exports import exports
from functions.job_watchdog import job_watchdog
from functions.notification_settings import notification_settings
from functions.openapi import openapi
from functions.products import products
from functions.stats import stats
from functions.taxonomy import attributes, brands, categories, product_templates
from functions.uploads import uploads
from functions.validation_issues import validation_issues
from functions.validation_sweep import validation_sweep
from shared import logs
from shared.http import framework_error

logs.configure()  # one JSON object per line, as Cloud Logging reads them

# The framework's own answers (a path its router cannot match) in the API's JSON error shape.
functions_framework.errorhandler(HTTPException)(framework_error)

__all__ = [
    "attributes",
    "audit_logs",
    "brands",
    "bulk_job_worker",
    "bulk_jobs",
    "categories",
    "console",
    "export_worker",
    "exports",
    "job_watchdog",
    "notification_settings",
    "openapi",
    "product_templates",
    "products",
    "stats",
    "uploads",
    "validation_issues",
    "validation_sweep",
]
