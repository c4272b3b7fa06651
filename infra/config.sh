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
USE_TASK_TOKEN=${USE_TASK_TOKEN:-1}
TASK_TOKEN_SECRET=${TASK_TOKEN_SECRET:-synq-pim-task-auth-token}
BUILD_SERVICE_ACCOUNT=${BUILD_SERVICE_ACCOUNT:-} # e.g. builder@PROJECT.iam.gserviceaccount.com

RUNTIME_SA=synq-pim-runtime@$PROJECT.iam.gserviceaccount.com # identity of all four functions
TASKS_SA=synq-pim-tasks@$PROJECT.iam.gserviceaccount.com     # Cloud Tasks -> worker (OIDC)
GATEWAY_SA=synq-pim-gateway@$PROJECT.iam.gserviceaccount.com # API Gateway -> API functions
RUNTIME_PROJECT_ROLES=(roles/datastore.user roles/cloudtasks.enqueuer)

FN_WORKER=synq-pim-bulk-job-worker
FN_BULK_JOBS=synq-pim-bulk-jobs
FN_PRODUCTS=synq-pim-products
FN_OPENAPI=synq-pim-openapi
WORKER_PATH=/_tasks/bulk-jobs
API_ID=synq-pim
GATEWAY_ID=synq-pim
INDEXED_COLLECTIONS=(bulk_jobs products batches) # the collection groups of firestore.indexes.json
