# shellcheck shell=bash
# Names and locations shared by deploy.sh and teardown.sh (sourced after lib.sh).
# PROJECT and REGION are required; the rest may be overridden from the environment.
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file

require_env PROJECT REGION
[[ $PROJECT =~ ^[a-z][a-z0-9-]*[a-z0-9]$ ]] || die "PROJECT must be a project id (lowercase letters, digits, hyphens)"

GATEWAY_REGION=${GATEWAY_REGION:-$REGION}         # API Gateway runs in fewer regions than functions
FIRESTORE_LOCATION=${FIRESTORE_LOCATION:-$REGION} # used only when the database is created
PAYLOAD_BUCKET=${PAYLOAD_BUCKET:-$PROJECT-synq-pim-payloads}
TASKS_QUEUE=${TASKS_QUEUE:-bulk-jobs}
EXPORT_BUCKET=${EXPORT_BUCKET:-$PROJECT-synq-pim-exports}
EXPORT_RETENTION_DAYS=${EXPORT_RETENTION_DAYS:-30} # export files are deleted after this many days
EXPORTS_QUEUE=${EXPORTS_QUEUE:-exports}
NOTIFY_QUEUE=${NOTIFY_QUEUE:-notifications} # notification attempts, apart from the long export runs
UPLOAD_BUCKET=${UPLOAD_BUCKET:-$PROJECT-synq-pim-uploads} # uploaded files of items and their jobs' working copies
BUCKET_SOFT_DELETE_DAYS=${BUCKET_SOFT_DELETE_DAYS:-0} # 0: deleted files are gone at once; 7-90: kept (billed) that long
KEEP_GATEWAY_CONFIGS=${KEEP_GATEWAY_CONFIGS:-3} # API Gateway configs kept (the one serving included); older ones are deleted
SMTP_PASSWORD_SECRET=${SMTP_PASSWORD_SECRET:-} # Secret Manager secret holding SMTP_PASSWORD, if any
USE_TASK_TOKEN=${USE_TASK_TOKEN:-1}
TASK_TOKEN_SECRET=${TASK_TOKEN_SECRET:-synq-pim-task-auth-token}
BUILD_SERVICE_ACCOUNT=${BUILD_SERVICE_ACCOUNT:-} # e.g. builder@PROJECT.iam.gserviceaccount.com

SCHEDULER_REGION=${SCHEDULER_REGION:-$REGION}     # location of the sweep's Cloud Scheduler job
SWEEP_SCHEDULE=${SWEEP_SCHEDULE:-'*/15 * * * *'}  # cron, in SWEEP_TIME_ZONE
SWEEP_TIME_ZONE=${SWEEP_TIME_ZONE:-Etc/UTC}
SWEEP_BUDGET_SECONDS=${SWEEP_BUDGET_SECONDS:-480} # per run (whole seconds, 1-510: the timeout is 540 s)
WATCHDOG_SCHEDULE=${WATCHDOG_SCHEDULE:-'*/5 * * * *'} # the job watchdog, cron, in SWEEP_TIME_ZONE
WATCHDOG_BUDGET_SECONDS=${WATCHDOG_BUDGET_SECONDS:-240} # per run (whole seconds, 1-270: the timeout is 300 s)

# Deliveries Cloud Tasks makes of one task. More than the app's own limits, or the app's last
# attempt (which ends a batch or an export for good) never runs: bulk-jobs above
# BATCH_MAX_ATTEMPTS, exports above EXPORT_MAX_ATTEMPTS + 1 (the delivery after the last counted
# run fails the export). deploy.sh checks both.
TASKS_QUEUE_MAX_ATTEMPTS=${TASKS_QUEUE_MAX_ATTEMPTS:-20}
EXPORTS_QUEUE_MAX_ATTEMPTS=${EXPORTS_QUEUE_MAX_ATTEMPTS:-10}
# Notification retries are tasks the app schedules itself; the queue's own cover crashes only.
NOTIFY_QUEUE_MAX_ATTEMPTS=${NOTIFY_QUEUE_MAX_ATTEMPTS:-10}

TASKS_SA=synq-pim-tasks@$PROJECT.iam.gserviceaccount.com         # Cloud Tasks -> workers (OIDC)
GATEWAY_SA=synq-pim-gateway@$PROJECT.iam.gserviceaccount.com     # API Gateway -> API functions
SCHEDULER_SA=synq-pim-scheduler@$PROJECT.iam.gserviceaccount.com # Cloud Scheduler -> sweep, watchdog (OIDC)
# The one runtime account every function used before they got one per role: deploy.sh retires it.
LEGACY_RUNTIME_SA=synq-pim-runtime@$PROJECT.iam.gserviceaccount.com

# Runtime identities: one service account per function role, holding only what its functions use
# (RUNTIME_GRANTS below; infra/README.md "IAM" documents the same table, and a test holds the
# two together). role: account name (@$PROJECT.iam.gserviceaccount.com) and its functions.
RUNTIME_ROLES=(
  "api           synq-pim-api           products brands categories audit_logs validation_issues notification_settings stats"
  "docs          synq-pim-docs          openapi console"
  "bulk-api      synq-pim-bulk-api      bulk_jobs"
  "catalog-api   synq-pim-catalog-api   attributes product_templates"
  "uploads-api   synq-pim-uploads-api   uploads"
  "exports-api   synq-pim-exports-api   exports"
  "bulk-worker   synq-pim-bulk-worker   bulk_job_worker"
  "export-worker synq-pim-export-worker export_worker"
  "sweep         synq-pim-sweep         validation_sweep"
  "watchdog      synq-pim-watchdog      job_watchdog"
)
# What each role may do: role, kind of resource, resource (the name of the variable holding it;
# `self` is the role's own account), IAM role. The task-token grants apply when USE_TASK_TOKEN=1,
# the SMTP password's when SMTP_PASSWORD_SECRET is set.
RUNTIME_GRANTS=(
  "api           project -                    roles/datastore.user"
  "bulk-api      project -                    roles/datastore.user"
  "bulk-api      bucket  PAYLOAD_BUCKET       roles/storage.objectUser"
  "bulk-api      queue   TASKS_QUEUE          roles/cloudtasks.enqueuer"
  "bulk-api      queue   NOTIFY_QUEUE         roles/cloudtasks.enqueuer"
  "bulk-api      account TASKS_SA             roles/iam.serviceAccountUser"
  "bulk-api      secret  TASK_TOKEN_SECRET    roles/secretmanager.secretAccessor"
  "bulk-api      bucket  UPLOAD_BUCKET        roles/storage.objectUser"
  "catalog-api   project -                    roles/datastore.user"
  "catalog-api   queue   TASKS_QUEUE          roles/cloudtasks.enqueuer"
  "catalog-api   account TASKS_SA             roles/iam.serviceAccountUser"
  "catalog-api   secret  TASK_TOKEN_SECRET    roles/secretmanager.secretAccessor"
  "uploads-api   project -                    roles/datastore.user"
  "uploads-api   bucket  UPLOAD_BUCKET        roles/storage.objectUser"
  "uploads-api   account self                 roles/iam.serviceAccountTokenCreator"
  "exports-api   project -                    roles/datastore.user"
  "exports-api   bucket  EXPORT_BUCKET        roles/storage.objectUser"
  "exports-api   account self                 roles/iam.serviceAccountTokenCreator"
  "exports-api   queue   EXPORTS_QUEUE        roles/cloudtasks.enqueuer"
  "exports-api   account TASKS_SA             roles/iam.serviceAccountUser"
  "exports-api   secret  TASK_TOKEN_SECRET    roles/secretmanager.secretAccessor"
  "bulk-worker   project -                    roles/datastore.user"
  "bulk-worker   bucket  PAYLOAD_BUCKET       roles/storage.objectUser"
  "bulk-worker   queue   TASKS_QUEUE          roles/cloudtasks.enqueuer"
  "bulk-worker   queue   NOTIFY_QUEUE         roles/cloudtasks.enqueuer"
  "bulk-worker   account TASKS_SA             roles/iam.serviceAccountUser"
  "bulk-worker   secret  TASK_TOKEN_SECRET    roles/secretmanager.secretAccessor"
  "bulk-worker   bucket  UPLOAD_BUCKET        roles/storage.objectUser"
  "export-worker project -                    roles/datastore.user"
  "export-worker bucket  EXPORT_BUCKET        roles/storage.objectUser"
  "export-worker account self                 roles/iam.serviceAccountTokenCreator"
  "export-worker queue   EXPORTS_QUEUE        roles/cloudtasks.enqueuer"
  "export-worker queue   NOTIFY_QUEUE         roles/cloudtasks.enqueuer"
  "export-worker account TASKS_SA             roles/iam.serviceAccountUser"
  "export-worker secret  TASK_TOKEN_SECRET    roles/secretmanager.secretAccessor"
  "export-worker secret  SMTP_PASSWORD_SECRET roles/secretmanager.secretAccessor"
  "sweep         project -                    roles/datastore.user"
  "watchdog      project -                    roles/datastore.user"
  "watchdog      queue   TASKS_QUEUE          roles/cloudtasks.enqueuer"
  "watchdog      queue   EXPORTS_QUEUE        roles/cloudtasks.enqueuer"
  "watchdog      queue   NOTIFY_QUEUE         roles/cloudtasks.enqueuer"
  "watchdog      account TASKS_SA             roles/iam.serviceAccountUser"
  "watchdog      secret  TASK_TOKEN_SECRET    roles/secretmanager.secretAccessor"
)

# The functions NOT behind the gateway: main.py target (= entry point) and function name.
WORKER_TARGET=bulk_job_worker # Cloud Tasks calls it
FN_WORKER=synq-pim-bulk-job-worker
WORKER_PATH=/_tasks/bulk-jobs
EXPORT_WORKER_TARGET=export_worker # Cloud Tasks calls it (exports and notifications queues)
FN_EXPORT_WORKER=synq-pim-export-worker
EXPORT_WORKER_PATH=/_tasks/exports
EXPORT_WORKER_TIMEOUT_SECONDS=1800 # = the export run task's dispatch deadline, Cloud Tasks' longest
# Memory and vCPUs of the workers (CPU empty: the share that comes with the memory). A batch peaks
# near 170 MiB, so 1 GiB (0.583 vCPU) suffices; an export is CPU-bound (decoding the catalog) and
# must finish within the 30-minute deadline, so it gets a whole vCPU (with 2 GiB): about 2 million
# products a run instead of 1.1 (docs/scaling.md section 5).
WORKER_MEMORY=1Gi
WORKER_CPU=
EXPORT_WORKER_MEMORY=2Gi
EXPORT_WORKER_CPU=1
SWEEP_TARGET=validation_sweep # Cloud Scheduler calls it (job $SWEEP_JOB)
FN_SWEEP=synq-pim-validation-sweep
SWEEP_JOB=synq-pim-validation-sweep
SWEEP_TIMEOUT_SECONDS=540
WATCHDOG_TARGET=job_watchdog # Cloud Scheduler calls it (job $WATCHDOG_JOB)
FN_WATCHDOG=synq-pim-job-watchdog
WATCHDOG_JOB=synq-pim-job-watchdog
WATCHDOG_TIMEOUT_SECONDS=300

# The functions behind the gateway: main.py target (= entry point = the Api's name), memory,
# timeout, max instances. Each is deployed as $(function_name TARGET). `python -m
# infra.gateway_spec --targets` must list the same targets (deploy.sh checks it).
API_FUNCTIONS=(
  "bulk_jobs         1Gi   60s 50"
  "products          512Mi 30s 50"
  "brands            512Mi 30s 20"
  "categories        512Mi 30s 20"
  "attributes        512Mi 30s 20"
  "product_templates 512Mi 30s 20"
  "audit_logs        512Mi 30s 20"
  "validation_issues 512Mi 30s 20"
  "stats             256Mi 30s 20"
  "exports           512Mi 30s 20"
  "notification_settings 256Mi 30s 5"
  "uploads           256Mi 30s 20"
  "openapi           256Mi 30s 5"
  "console           256Mi 30s 5"
)
# Behind the gateway, Authorization carries the gateway's own ID token and the caller's arrives here.
GATEWAY_AUTH_HEADER=X-Forwarded-Authorization
# The API functions that queue tasks, and so need the task token.
ENQUEUING_TARGETS=(bulk_jobs exports attributes product_templates)
API_ID=synq-pim
GATEWAY_ID=synq-pim

function_name() { # function_name TARGET: bulk_jobs -> synq-pim-bulk-jobs
  printf 'synq-pim-%s\n' "${1//_/-}"
}

api_targets() { # the first word of each API_FUNCTIONS entry, one a line
  local entry
  for entry in "${API_FUNCTIONS[@]}"; do printf '%s\n' "${entry%% *}"; done
}

role_account() { # role_account ROLE: its service account's email
  local entry role name
  for entry in "${RUNTIME_ROLES[@]}"; do
    read -r role name _ <<<"$entry"
    if [[ $role == "$1" ]]; then
      printf '%s@%s.iam.gserviceaccount.com\n' "$name" "$PROJECT"
      return 0
    fi
  done
  die "no runtime role $1 in RUNTIME_ROLES"
}

runtime_account() { # runtime_account TARGET: the service account the function of a main.py target runs as
  local entry role targets
  for entry in "${RUNTIME_ROLES[@]}"; do
    read -r role _ targets <<<"$entry"
    if [[ " $targets " == *" $1 "* ]]; then
      role_account "$role"
      return 0
    fi
  done
  die "main.py target $1 has no runtime role in RUNTIME_ROLES (infra/config.sh)"
}
