#!/usr/bin/env bash
# Deploy the Synq PIM bulk-operations API to Google Cloud. Safe to re-run: every step creates
# what is missing and brings what exists up to date.
#
#   PROJECT=my-project REGION=us-central1 bash infra/deploy.sh [--dry-run]
#
# --dry-run prints every gcloud command instead of running it (no credentials needed).
# Settings (environment): see infra/README.md.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

DRY_RUN=0
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage && exit 0 ;;
    *) usage >&2 && exit 2 ;;
  esac
done

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$INFRA_DIR")
# shellcheck source=infra/lib.sh
source "$INFRA_DIR/lib.sh"

# shellcheck source=infra/config.sh
source "$INFRA_DIR/config.sh"

# Bearer tokens: Identity Platform / Firebase Auth of the same project unless overridden.
AUTH_ISSUER=${AUTH_ISSUER:-https://securetoken.google.com/$PROJECT}
AUTH_AUDIENCE=${AUTH_AUDIENCE:-$PROJECT}
AUTH_JWKS_URL=${AUTH_JWKS_URL:-https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com}
# Optional app limits, passed on only when set (the app's defaults apply otherwise).
OPTIONAL_SETTINGS=(MAX_BODY_BYTES BATCH_MAX_ITEMS BATCH_MAX_BYTES INLINE_PAYLOAD_MAX_BYTES MAX_JOB_ITEMS
  EXPORT_MAX_ATTEMPTS EXPORT_URL_TTL_SECONDS NOTIFY_MAX_ATTEMPTS NOTIFY_BACKOFF_SECONDS NOTIFY_BACKOFF_MAX_SECONDS
  WEBHOOK_TIMEOUT_SECONDS SMTP_HOST SMTP_PORT SMTP_USERNAME SMTP_STARTTLS MAIL_FROM
  BATCH_MAX_ATTEMPTS WATCHDOG_JOB_STALL_SECONDS WATCHDOG_EXPORT_STALL_SECONDS WATCHDOG_MAX_RESCUES)
# Batches of a job in flight and the tenant ramp's pace (docs/scaling.md, section 8, changes 2-3).
OPTIONAL_SETTINGS+=(JOB_MAX_IN_FLIGHT_BATCHES TENANT_RAMP_START_PRODUCTS_PER_SECOND TENANT_MAX_PRODUCTS_PER_SECOND)

APIS=(
  cloudresourcemanager.googleapis.com iam.googleapis.com
  cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com
  artifactregistry.googleapis.com logging.googleapis.com
  firestore.googleapis.com storage.googleapis.com cloudtasks.googleapis.com
  cloudscheduler.googleapis.com secretmanager.googleapis.com
  iamcredentials.googleapis.com # signBlob: export download URLs are signed through IAM
  apigateway.googleapis.com servicemanagement.googleapis.com servicecontrol.googleapis.com
)

# The gateway config is generated from the routes the app declares, so this Python must be able to
# import the app (requirements.txt installed): the project's .venv when there is one.
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x $ROOT_DIR/.venv/bin/python ]]; then PYTHON=$ROOT_DIR/.venv/bin/python; else PYTHON=python3; fi
fi
gateway_spec() { (cd "$ROOT_DIR" && PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m infra.gateway_spec "$@"); }

if [[ ! $SWEEP_BUDGET_SECONDS =~ ^[1-9][0-9]{0,4}$ ]] || ((SWEEP_BUDGET_SECONDS > SWEEP_TIMEOUT_SECONDS - 30)); then
  die "SWEEP_BUDGET_SECONDS must be whole seconds from 1 to $((SWEEP_TIMEOUT_SECONDS - 30)) (the sweep times out after ${SWEEP_TIMEOUT_SECONDS}s)"
fi
if [[ ! $WATCHDOG_BUDGET_SECONDS =~ ^[1-9][0-9]{0,4}$ ]] || ((WATCHDOG_BUDGET_SECONDS > WATCHDOG_TIMEOUT_SECONDS - 30)); then
  die "WATCHDOG_BUDGET_SECONDS must be whole seconds from 1 to $((WATCHDOG_TIMEOUT_SECONDS - 30)) (the watchdog times out after ${WATCHDOG_TIMEOUT_SECONDS}s)"
fi
for var in FIRESTORE_EMULATOR_HOST STORAGE_EMULATOR_HOST TASKS_EMULATOR_HOST; do
  [[ -z ${!var:-} ]] || warn "$var is set in this shell; it is NOT deployed (production uses the real services)"
done
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: set PYTHON to a Python 3.11 with requirements.txt installed"
spec_targets=$(gateway_spec --targets) ||
  die "$PYTHON cannot import the app to generate the gateway config: install requirements.txt into it, or set PYTHON (e.g. python3 -m venv .venv && .venv/bin/pip install -r requirements.txt)"
[[ $(sort <<<"$spec_targets") == "$(api_targets | sort)" ]] ||
  die "the app's routes are served by [$(tr '\n' ' ' <<<"$spec_targets")] but API_FUNCTIONS in infra/config.sh deploys [$(api_targets | tr '\n' ' ')]"
# The app's attempt limits, as the functions will read them (this shell's overrides included).
read -r batch_attempts export_attempts < <(cd "$ROOT_DIR" && "$PYTHON" -c \
  'from shared.settings import Settings; s = Settings(); print(s.batch_max_attempts, s.export_max_attempts)') ||
  die "the app's settings are invalid (see above)"
((TASKS_QUEUE_MAX_ATTEMPTS > batch_attempts)) ||
  die "TASKS_QUEUE_MAX_ATTEMPTS ($TASKS_QUEUE_MAX_ATTEMPTS) must exceed BATCH_MAX_ATTEMPTS ($batch_attempts): the app's last attempt must run"
((EXPORTS_QUEUE_MAX_ATTEMPTS > export_attempts + 1)) ||
  die "EXPORTS_QUEUE_MAX_ATTEMPTS ($EXPORTS_QUEUE_MAX_ATTEMPTS) must exceed EXPORT_MAX_ATTEMPTS + 1 ($((export_attempts + 1)))"
if ! is_dry; then
  command -v gcloud >/dev/null || die "gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
  account=$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null | head -n1)
  [[ -n $account ]] || die "gcloud has no active account: run 'gcloud auth login' first"
  log "Deploying as $account"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/synq-pim-deploy.XXXXXX") # staged sources, env files, gateway spec
if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then
  trap 'log "(kept $WORK)"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi

log "Synq PIM deploy: project=$PROJECT region=$REGION gateway-region=$GATEWAY_REGION$(is_dry && echo ' (DRY RUN: printing commands only)')"

# --- APIs -------------------------------------------------------------------------------------
step "Enabling the APIs the project needs"
run gcloud services enable "${APIS[@]}"

# --- Firestore --------------------------------------------------------------------------------
step "Firestore (Native mode) database '(default)'"
if exists gcloud firestore databases describe --database='(default)'; then
  # A Datastore-mode database answers the same describe, but the app speaks Firestore's API.
  db_type=$(query FIRESTORE_NATIVE gcloud firestore databases describe --database='(default)' --format='value(type)')
  [[ $db_type == FIRESTORE_NATIVE ]] ||
    die "the project's (default) database is $db_type, not FIRESTORE_NATIVE (Firestore in Native mode): the app cannot use it"
  log "  exists, Native mode"
else
  run gcloud firestore databases create --database='(default)' --location="$FIRESTORE_LOCATION" --type=firestore-native
fi

step "Firestore composite indexes (from infra/firestore.indexes.json; built in the background)"
# One line per entry. index <TAB> collectionGroup <TAB> queryScope <TAB> field-config ...
# or exempt <TAB> collectionGroup <TAB> fieldPath (a field override that disables its indexes).
index_lines=$("$PYTHON" - "$INFRA_DIR/firestore.indexes.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for index in doc["indexes"]:
    configs = []
    for field in index["fields"]:
        if "arrayConfig" in field:
            configs.append(f"field-path={field['fieldPath']},array-config={field['arrayConfig'].lower()}")
        else:
            configs.append(f"field-path={field['fieldPath']},order={field['order'].lower()}")
    scope = index.get("queryScope", "COLLECTION").lower().replace("_", "-")
    print("\t".join(["index", index["collectionGroup"], scope, *configs]))
for override in doc.get("fieldOverrides", []):
    if override.get("indexes") != [] or "ttl" in override:
        sys.exit(f"fieldOverrides: only exemptions that disable every index are supported ({override})")
    print("\t".join(["exempt", override["collectionGroup"], override["fieldPath"]]))
PY
)
exemptions=()
while IFS=$'\t' read -r -a row; do
  [[ ${#row[@]} -gt 0 ]] || continue
  if [[ ${row[0]} == exempt ]]; then
    exemptions+=("${row[1]}"$'\t'"${row[2]}")
    continue
  fi
  field_args=()
  for config in "${row[@]:3}"; do field_args+=("--field-config=$config"); done
  # Firestore answers a burst of index creations with 409/ABORTED ("too much contention"): retried.
  run_retrying 'already exists' 'ABORTED|contention|409|concurrent' \
    gcloud firestore indexes composite create --database='(default)' \
    --collection-group="${row[1]}" --query-scope="${row[2]}" "${field_args[@]}" --async
done <<<"$index_lines"

step "Firestore single-field index exemptions (fields never queried)"
for exemption in ${exemptions[@]+"${exemptions[@]}"}; do
  group=${exemption%%$'\t'*} field=${exemption#*$'\t'}
  # Only saves index writes and storage, so a failure does not stop the deployment.
  run gcloud firestore indexes fields update "$field" --database='(default)' --collection-group="$group" \
    --disable-indexes --async ||
    warn "could not disable the indexes of $group.$field; re-run, or run the command above yourself"
done

step "Firestore TTL policies (a record is deleted within about a day after the time in its field)"
# Idempotency keys, and the parts of a large stored answer, expire 24 hours after their request.
for group in idempotency_keys idempotency_key_parts; do
  run gcloud firestore fields ttls update expires_at --database='(default)' --collection-group="$group" \
    --enable-ttl --async
done

# --- Cloud Storage ----------------------------------------------------------------------------
# Soft delete keeps deleted objects (billed) for a while; new buckets get 7 days unless told.
# Payloads and export files are deleted by lifecycle on purpose and an export can be run again,
# so the default is none (BUCKET_SOFT_DELETE_DAYS=0); 7-90 keeps them that many days.
[[ $BUCKET_SOFT_DELETE_DAYS =~ ^[0-9]{1,2}$ ]] || die "BUCKET_SOFT_DELETE_DAYS must be 0 (none) or 7-90"
if ((BUCKET_SOFT_DELETE_DAYS == 0)); then
  soft_delete_flags=(--clear-soft-delete)
elif ((BUCKET_SOFT_DELETE_DAYS >= 7 && BUCKET_SOFT_DELETE_DAYS <= 90)); then
  soft_delete_flags=(--soft-delete-duration="${BUCKET_SOFT_DELETE_DAYS}d")
else
  die "BUCKET_SOFT_DELETE_DAYS must be 0 (none) or 7-90"
fi
ensure_bucket() { # ensure_bucket NAME LIFECYCLE_FILE [CORS_FILE]: uniform access, no public access, lifecycle, soft delete
  local cors=()
  [[ -z ${3:-} ]] || cors=(--cors-file="$3")
  if exists gcloud storage buckets describe "gs://$1"; then
    log "  exists"
  else
    run gcloud storage buckets create "gs://$1" --location="$REGION" \
      --uniform-bucket-level-access --public-access-prevention
  fi
  run gcloud storage buckets update "gs://$1" --uniform-bucket-level-access \
    --public-access-prevention --lifecycle-file="$2" "${soft_delete_flags[@]}" ${cors[@]+"${cors[@]}"}
}
step "Payload bucket gs://$PAYLOAD_BUCKET (uniform access, no public access, lifecycle)"
ensure_bucket "$PAYLOAD_BUCKET" "$INFRA_DIR/payload-bucket-lifecycle.json"

step "Export bucket gs://$EXPORT_BUCKET (uniform access, no public access, lifecycle)"
# Export files expire after EXPORT_RETENTION_DAYS; staged files of crashed attempts (tmp/) after a day.
export_lifecycle=$WORK/export-bucket-lifecycle.json
sed "s/EXPORT_RETENTION_DAYS/$EXPORT_RETENTION_DAYS/" "$INFRA_DIR/export-bucket-lifecycle.json" >"$export_lifecycle"
ensure_bucket "$EXPORT_BUCKET" "$export_lifecycle"

step "Upload bucket gs://$UPLOAD_BUCKET (uniform access, no public access, lifecycle)"
# Uploaded files expire after 7 days, jobs' working copies after 30 (upload-bucket-lifecycle.json).
# A browser (a merchant's admin page) may PUT a file to its signed URL from any origin: the
# signature, not the origin, is the permission, and it allows that one object, once, for a while.
ensure_bucket "$UPLOAD_BUCKET" "$INFRA_DIR/upload-bucket-lifecycle.json" "$INFRA_DIR/upload-bucket-cors.json"

# --- Cloud Tasks ------------------------------------------------------------------------------
ensure_queue() { # ensure_queue NAME FLAGS...: created, or brought up to date
  local name=$1
  shift
  if exists gcloud tasks queues describe "$name" --location="$REGION"; then
    run gcloud tasks queues update "$name" --location="$REGION" "$@"
  else
    run gcloud tasks queues create "$name" --location="$REGION" "$@"
  fi
}
step "Cloud Tasks queue $TASKS_QUEUE"
# The app gives a task up after BATCH_MAX_ATTEMPTS (about 4 minutes of this backoff at 10); the
# queue's extra attempts are for a last attempt that could not record it.
ensure_queue "$TASKS_QUEUE" --max-attempts="$TASKS_QUEUE_MAX_ATTEMPTS" --min-backoff=1s --max-backoff=60s \
  --max-dispatches-per-second=200 --max-concurrent-dispatches=100

step "Cloud Tasks queue $EXPORTS_QUEUE"
# Failed export runs are retried by the queue (the app fails an export after EXPORT_MAX_ATTEMPTS);
# notification retries are tasks the app schedules itself, with its own backoff.
ensure_queue "$EXPORTS_QUEUE" --max-attempts="$EXPORTS_QUEUE_MAX_ATTEMPTS" --min-backoff=10s --max-backoff=300s \
  --max-dispatches-per-second=20 --max-concurrent-dispatches=20

step "Cloud Tasks queue $NOTIFY_QUEUE"
# Every notification attempt (of exports and bulk jobs), to the export worker: on a queue of its
# own, so that export runs (up to 30 minutes each) cannot hold every slot while attempts wait.
# Retries are tasks the app schedules itself (its own backoff); the queue's only cover crashes.
ensure_queue "$NOTIFY_QUEUE" --max-attempts="$NOTIFY_QUEUE_MAX_ATTEMPTS" --min-backoff=10s --max-backoff=300s \
  --max-dispatches-per-second=20 --max-concurrent-dispatches=20

# --- service accounts and IAM -----------------------------------------------------------------
step "Service accounts: one per function role, and the invokers"
ensure_service_account() {
  local email=$1 display=$2
  if exists gcloud iam service-accounts describe "$email"; then
    log "  $email exists"
  else
    run gcloud iam service-accounts create "${email%%@*}" --display-name="$display"
  fi
}
for entry in "${RUNTIME_ROLES[@]}"; do
  read -r role _ targets <<<"$entry"
  account=$(role_account "$role")
  ensure_service_account "$account" "Synq PIM runtime: $role ($targets)"
done
ensure_service_account "$TASKS_SA" "Synq PIM Cloud Tasks invoker (workers only)"
ensure_service_account "$GATEWAY_SA" "Synq PIM API Gateway backend auth"
ensure_service_account "$SCHEDULER_SA" "Synq PIM Cloud Scheduler invoker (sweep and watchdog only)"

# --- task token secret ------------------------------------------------------------------------
secret_flags=()
if [[ $USE_TASK_TOKEN == 1 ]]; then
  step "Secret Manager: $TASK_TOKEN_SECRET (shared task token, X-Synq-Task-Token)"
  if exists gcloud secrets describe "$TASK_TOKEN_SECRET"; then
    log "  exists (value kept)"
  else
    token_file=$WORK/task-token
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$token_file")
    run gcloud secrets create "$TASK_TOKEN_SECRET" --replication-policy=automatic --data-file="$token_file"
    rm -f "$token_file"
  fi
  secret_flags=(--set-secrets="TASK_AUTH_TOKEN=$TASK_TOKEN_SECRET:latest")
else
  step "Task token secret skipped (USE_TASK_TOKEN=$USE_TASK_TOKEN)"
fi
# The export worker sends the emails, so it alone reads the SMTP password.
export_worker_flags=(${secret_flags[@]+"${secret_flags[@]}"})
if [[ -n $SMTP_PASSWORD_SECRET ]]; then
  mail_secret="SMTP_PASSWORD=$SMTP_PASSWORD_SECRET:latest"
  # One --set-secrets flag carries every secret of the function.
  if [[ $USE_TASK_TOKEN == 1 ]]; then
    export_worker_flags=(--set-secrets="TASK_AUTH_TOKEN=$TASK_TOKEN_SECRET:latest,$mail_secret")
  else
    export_worker_flags=(--set-secrets="$mail_secret")
  fi
fi

step "IAM: what each runtime account may do (RUNTIME_GRANTS in infra/config.sh), and nothing more"
# grant ROLE KIND RESOURCE_VAR IAM_ROLE: one line of RUNTIME_GRANTS.
grant() {
  local member resource
  member=serviceAccount:$(role_account "$1")
  if [[ $3 == self ]]; then resource=$(role_account "$1"); elif [[ $3 != - ]]; then resource=${!3:-}; fi
  case $2 in
    project)
      run_retry gcloud projects add-iam-policy-binding "$PROJECT" --member="$member" --role="$4" \
        --condition=None --format=none
      ;;
    bucket)
      run_retry gcloud storage buckets add-iam-policy-binding "gs://$resource" --member="$member" --role="$4" \
        --format=none
      ;;
    queue)
      run_retry gcloud tasks queues add-iam-policy-binding "$resource" --location="$REGION" --member="$member" \
        --role="$4" --format=none
      ;;
    account)
      run_retry gcloud iam service-accounts add-iam-policy-binding "$resource" --member="$member" --role="$4" \
        --format=none
      ;;
    secret)
      run_retry gcloud secrets add-iam-policy-binding "$resource" --member="$member" --role="$4" --format=none
      ;;
    *) die "RUNTIME_GRANTS: unknown kind of resource $2" ;;
  esac
}
for entry in "${RUNTIME_GRANTS[@]}"; do
  read -r role kind resource iam_role <<<"$entry"
  if [[ $resource == TASK_TOKEN_SECRET && $USE_TASK_TOKEN != 1 ]] ||
    [[ $resource == SMTP_PASSWORD_SECRET && -z $SMTP_PASSWORD_SECRET ]]; then
    continue
  fi
  grant "$role" "$kind" "$resource" "$iam_role"
done

# --- sources ----------------------------------------------------------------------------------
step "Building the console (npm packages as console/package-lock.json pins them)"
run bash -c "cd '$ROOT_DIR/console' && npm ci --no-audit --no-fund && npm run build"
step "Staging a clean copy of the sources (main.py, functions/, shared/, requirements.txt, console/dist)"
SRC_DIR=$WORK/src
mkdir -p "$SRC_DIR"
console_build=()
if [[ -f $ROOT_DIR/console/dist/index.html ]]; then console_build=(console/dist); fi # a dry run builds nothing
tar -C "$ROOT_DIR" --exclude='__pycache__' --exclude='*.pyc' -cf - \
  main.py functions shared requirements.txt ${console_build[@]+"${console_build[@]}"} | tar -C "$SRC_DIR" -xf -
log "  $(find "$SRC_DIR" -type f | wc -l | tr -d ' ') files in $SRC_DIR"

# --- functions --------------------------------------------------------------------------------
# write_env_file FILE WORKER_URL AUTH_HEADER: the runtime environment of a function.
write_env_file() {
  local file=$1 worker_url=$2 auth_header=$3 name value
  {
    printf 'GCP_PROJECT: "%s"\n' "$PROJECT"
    printf 'PAYLOAD_BUCKET: "%s"\n' "$PAYLOAD_BUCKET"
    printf 'TASKS_LOCATION: "%s"\n' "$REGION"
    printf 'TASKS_QUEUE: "%s"\n' "$TASKS_QUEUE"
    printf 'EXPORT_BUCKET: "%s"\n' "$EXPORT_BUCKET"
    printf 'UPLOAD_BUCKET: "%s"\n' "$UPLOAD_BUCKET"
    printf 'EXPORTS_QUEUE: "%s"\n' "$EXPORTS_QUEUE"
    printf 'NOTIFY_QUEUE: "%s"\n' "$NOTIFY_QUEUE"
    [[ -z ${EXPORT_WORKER_URL:-} ]] || printf 'EXPORT_WORKER_URL: "%s"\n' "$EXPORT_WORKER_URL"
    # The audience of the tasks' OIDC tokens: the worker's service URL, which Cloud Run accepts.
    [[ -z ${EXPORT_WORKER_AUDIENCE:-} ]] || printf 'EXPORT_WORKER_AUDIENCE: "%s"\n' "$EXPORT_WORKER_AUDIENCE"
    printf 'TASKS_SERVICE_ACCOUNT: "%s"\n' "$TASKS_SA"
    [[ -z $worker_url ]] || printf 'WORKER_URL: "%s"\n' "$worker_url"
    [[ -z ${WORKER_AUDIENCE:-} ]] || printf 'WORKER_AUDIENCE: "%s"\n' "$WORKER_AUDIENCE"
    printf 'AUTH_ISSUER: "%s"\n' "$AUTH_ISSUER"
    printf 'AUTH_AUDIENCE: "%s"\n' "$AUTH_AUDIENCE"
    printf 'AUTH_JWKS_URL: "%s"\n' "$AUTH_JWKS_URL"
    [[ -z $auth_header ]] || printf 'AUTH_HEADER: "%s"\n' "$auth_header"
    for name in "${OPTIONAL_SETTINGS[@]}"; do
      value=${!name:-}
      [[ -z $value ]] || printf '%s: "%s"\n' "$name" "$value"
    done
  } >"$file"
}

# Ingress: the API functions are called by API Gateway, which is not internal traffic. Cloud
# Tasks and Cloud Scheduler of the same project calling a function's run.app URL are internal
# traffic (Cloud Run's ingress documentation), so their targets take nothing from anywhere else.
ingress_of() { # ingress_of TARGET
  # No `api_targets | grep -q`: grep leaving at the first match can kill the writer with SIGPIPE,
  # and under pipefail the pipeline then fails, making an API function internal-only at random.
  local entry
  for entry in "${API_FUNCTIONS[@]}"; do
    [[ ${entry%% *} == "$1" ]] && { echo all; return; }
  done
  echo internal-only
}

# deploy_function NAME ENTRY_POINT MEMORY TIMEOUT MAX_INSTANCES WORKER_URL AUTH_HEADER [extra flags...]
# It runs as the service account of its target's role (RUNTIME_ROLES).
deploy_function() {
  local name=$1 entry=$2 memory=$3 timeout=$4 max_instances=$5 worker_url=$6 auth_header=$7
  shift 7
  local env_file=$WORK/env-$name.yaml account ingress
  account=$(runtime_account "$entry")
  ingress=$(ingress_of "$entry")
  write_env_file "$env_file" "$worker_url" "$auth_header"
  if [[ $(<"$env_file") != "${LAST_ENV_SHOWN:-}" ]]; then
    log "  runtime environment (--env-vars-file):"
    sed 's/^/      /' "$env_file" >&3
    LAST_ENV_SHOWN=$(<"$env_file")
  else
    log "  runtime environment: as above"
  fi
  local flags=(--gen2 --region="$REGION" --runtime=python311 --source="$SRC_DIR" --entry-point="$entry"
    --trigger-http --no-allow-unauthenticated --ingress-settings="$ingress" --service-account="$account"
    --env-vars-file="$env_file" --memory="$memory" --timeout="$timeout" --max-instances="$max_instances")
  if [[ -n $BUILD_SERVICE_ACCOUNT ]]; then
    flags+=(--build-service-account="projects/$PROJECT/serviceAccounts/$BUILD_SERVICE_ACCOUNT")
  fi
  run gcloud functions deploy "$name" "${flags[@]}" "$@"
}

function_url() { # the function's https://...run.app URL
  local url
  url=$(query "https://FUNCTION-URL-placeholder-$1.a.run.app" \
    gcloud functions describe "$1" --region="$REGION" --format='value(serviceConfig.uri)')
  [[ -n $url ]] || die "could not read the URL of function $1"
  printf '%s\n' "${url%/}"
}

grant_invoker() { # grant_invoker FUNCTION SERVICE_ACCOUNT (the gen2 function's Cloud Run service)
  run_retry gcloud run services add-iam-policy-binding "$1" --region="$REGION" \
    --member="serviceAccount:$2" --role=roles/run.invoker --format=none
}

# deploy_worker NAME ENTRY_POINT PATH MEMORY CPU TIMEOUT MAX_INSTANCES URL_VAR AUDIENCE_VAR [extra flags...]:
# a Cloud Tasks target, private. Its own URL is part of its environment, so the first deployment
# only learns it.
deploy_worker() {
  local name=$1 entry=$2 path=$3 memory=$4 cpu=$5 timeout=$6 max_instances=$7 url_var=$8 audience_var=$9 service_url
  shift 9
  local cpu_flags=() # none: the memory's own share of a vCPU
  [[ -z $cpu ]] || cpu_flags=(--cpu="$cpu")
  step "Function $name (Cloud Tasks target, private; deployed first for its URL)"
  if ! exists gcloud functions describe "$name" --region="$REGION"; then
    log "  first deployment: deploy once to learn the URL, then again with $url_var set"
    deploy_function "$name" "$entry" "$memory" "$timeout" "$max_instances" "$WORKER_URL" "" ${cpu_flags[@]+"${cpu_flags[@]}"} "$@"
  fi
  # A plain assignment, so that a failed lookup stops the script (errexit ignores a failure
  # inside a substitution that is only an argument).
  service_url=$(function_url "$name")
  printf -v "$url_var" '%s' "$service_url$path"
  printf -v "$audience_var" '%s' "$service_url"
  log "  $url_var=${!url_var} $audience_var=${!audience_var}"
  deploy_function "$name" "$entry" "$memory" "$timeout" "$max_instances" "$WORKER_URL" "" ${cpu_flags[@]+"${cpu_flags[@]}"} "$@"
  grant_invoker "$name" "$TASKS_SA"
}
WORKER_URL="" EXPORT_WORKER_URL="" WORKER_AUDIENCE="" EXPORT_WORKER_AUDIENCE=""
deploy_worker "$FN_WORKER" "$WORKER_TARGET" "$WORKER_PATH" "$WORKER_MEMORY" "$WORKER_CPU" 540s 100 \
  WORKER_URL WORKER_AUDIENCE ${secret_flags[@]+"${secret_flags[@]}"}
deploy_worker "$FN_EXPORT_WORKER" "$EXPORT_WORKER_TARGET" "$EXPORT_WORKER_PATH" "$EXPORT_WORKER_MEMORY" \
  "$EXPORT_WORKER_CPU" "${EXPORT_WORKER_TIMEOUT_SECONDS}s" 20 \
  EXPORT_WORKER_URL EXPORT_WORKER_AUDIENCE ${export_worker_flags[@]+"${export_worker_flags[@]}"}

# The API functions: each main.py target is its own function, behind the gateway. Only those that
# enqueue work (ENQUEUING_TARGETS) get the task token.
for entry in "${API_FUNCTIONS[@]}"; do
  read -r target memory timeout max_instances <<<"$entry"
  name=$(function_name "$target")
  step "Function $name (entry point $target; called by the gateway only)"
  extra_flags=()
  if [[ " ${ENQUEUING_TARGETS[*]} " == *" $target "* ]]; then extra_flags=(${secret_flags[@]+"${secret_flags[@]}"}); fi
  deploy_function "$name" "$target" "$memory" "$timeout" "$max_instances" "$WORKER_URL" "$GATEWAY_AUTH_HEADER" \
    ${extra_flags[@]+"${extra_flags[@]}"}
  grant_invoker "$name" "$GATEWAY_SA"
done

# --- validation sweep (Cloud Scheduler) -------------------------------------------------------
# Private, like the worker, and only the scheduler's account may invoke it. It gets no task token:
# the job would have to carry it as a header, readable by anyone who can view the job, and the
# same token protects the worker. One instance: runs hold a lease, so a second one finds it taken.
step "Function $FN_SWEEP (entry point $SWEEP_TARGET; called by Cloud Scheduler only)"
deploy_function "$FN_SWEEP" "$SWEEP_TARGET" 1Gi "${SWEEP_TIMEOUT_SECONDS}s" 1 "$WORKER_URL" ""
grant_invoker "$FN_SWEEP" "$SCHEDULER_SA"
SWEEP_URL=$(function_url "$FN_SWEEP")

ensure_scheduler_job() { # ensure_scheduler_job NAME FLAGS...: an HTTP job posting JSON, created or brought up to date
  local name=$1
  shift
  if exists gcloud scheduler jobs describe "$name" --location="$SCHEDULER_REGION"; then
    run gcloud scheduler jobs update http "$name" "$@" --update-headers=Content-Type=application/json
  else
    # The new service account may take a while to be usable for OIDC tokens.
    run_retry gcloud scheduler jobs create http "$name" "$@" --headers=Content-Type=application/json
  fi
}

step "Cloud Scheduler job $SWEEP_JOB in $SCHEDULER_REGION ('$SWEEP_SCHEDULE' $SWEEP_TIME_ZONE)"
# No retries: the next run resumes where a failed one stopped. The attempt deadline leaves the
# function its whole timeout.
job_flags=(--location="$SCHEDULER_REGION" --schedule="$SWEEP_SCHEDULE" --time-zone="$SWEEP_TIME_ZONE"
  --uri="$SWEEP_URL" --http-method=POST --message-body="{\"budget_seconds\": $SWEEP_BUDGET_SECONDS}"
  --oidc-service-account-email="$SCHEDULER_SA" --oidc-token-audience="$SWEEP_URL"
  --attempt-deadline="$((SWEEP_TIMEOUT_SECONDS + 60))s" --max-retry-attempts=0
  --description="Synq PIM: re-evaluate the catalogs (validation issues), resuming where the last run stopped")
ensure_scheduler_job "$SWEEP_JOB" "${job_flags[@]}"

# --- job watchdog (Cloud Scheduler) -----------------------------------------------------------
# Re-queues the lost tasks of silent jobs and exports, so it sends the task token the workers check
# (it checks none itself: IAM lets only the scheduler's account call it). Runs are safe to overlap.
step "Function $FN_WATCHDOG (entry point $WATCHDOG_TARGET; called by Cloud Scheduler only)"
deploy_function "$FN_WATCHDOG" "$WATCHDOG_TARGET" 512Mi "${WATCHDOG_TIMEOUT_SECONDS}s" 1 "$WORKER_URL" "" \
  ${secret_flags[@]+"${secret_flags[@]}"}
grant_invoker "$FN_WATCHDOG" "$SCHEDULER_SA"
WATCHDOG_URL=$(function_url "$FN_WATCHDOG")

step "Cloud Scheduler job $WATCHDOG_JOB in $SCHEDULER_REGION ('$WATCHDOG_SCHEDULE' $SWEEP_TIME_ZONE)"
watchdog_flags=(--location="$SCHEDULER_REGION" --schedule="$WATCHDOG_SCHEDULE" --time-zone="$SWEEP_TIME_ZONE"
  --uri="$WATCHDOG_URL" --http-method=POST --message-body="{\"budget_seconds\": $WATCHDOG_BUDGET_SECONDS}"
  --oidc-service-account-email="$SCHEDULER_SA" --oidc-token-audience="$WATCHDOG_URL"
  --attempt-deadline="$((WATCHDOG_TIMEOUT_SECONDS + 60))s" --max-retry-attempts=0
  --description="Synq PIM: re-queue the lost tasks of silent bulk jobs and exports; fail those rescued too often")
ensure_scheduler_job "$WATCHDOG_JOB" "${watchdog_flags[@]}"

# --- API Gateway ------------------------------------------------------------------------------
step "API Gateway: generating the config from the app's routes (python -m infra.gateway_spec)"
url_args=()
for target in $(api_targets); do
  url=$(function_url "$(function_name "$target")")
  url_args+=(--url "$target=$url")
done
SPEC_FILE=$WORK/gateway.openapi.json
gateway_spec "${url_args[@]}" --output "$SPEC_FILE" || die "could not generate the gateway config"
log "  $(grep -c '"operationId"' "$SPEC_FILE" | tr -d ' ') operations, routed to:"
grep -o '"address": "[^"]*"' "$SPEC_FILE" | sort | uniq -c |
  awk '{ gsub(/"/, "", $3); printf "      %-3s %s\n", $1, $3 }' >&3

# Configs are immutable: name each by its content, so an unchanged spec is not created twice.
if command -v sha256sum >/dev/null; then hash_cmd=(sha256sum); else hash_cmd=(shasum -a 256); fi
spec_hash=$( (cat "$SPEC_FILE" && echo "$GATEWAY_SA") | "${hash_cmd[@]}" | cut -c1-12)
API_CONFIG=$API_ID-$spec_hash

step "API Gateway: api $API_ID"
if exists gcloud api-gateway apis describe "$API_ID"; then
  log "  exists"
else
  run gcloud api-gateway apis create "$API_ID" --display-name="Synq PIM"
fi
managed_service=$(query "$API_ID-HASH.apigateway.$PROJECT.cloud.goog" \
  gcloud api-gateway apis describe "$API_ID" --format='value(managedService)')
run gcloud services enable "$managed_service"

step "API Gateway: api config $API_CONFIG"
if exists gcloud api-gateway api-configs describe "$API_CONFIG" --api="$API_ID"; then
  log "  exists (spec unchanged)"
else
  run gcloud api-gateway api-configs create "$API_CONFIG" --api="$API_ID" \
    --openapi-spec="$SPEC_FILE" --backend-auth-service-account="$GATEWAY_SA"
fi

step "API Gateway: gateway $GATEWAY_ID in $GATEWAY_REGION"
if exists gcloud api-gateway gateways describe "$GATEWAY_ID" --location="$GATEWAY_REGION"; then
  run gcloud api-gateway gateways update "$GATEWAY_ID" --location="$GATEWAY_REGION" \
    --api="$API_ID" --api-config="$API_CONFIG"
else
  run gcloud api-gateway gateways create "$GATEWAY_ID" --location="$GATEWAY_REGION" \
    --api="$API_ID" --api-config="$API_CONFIG"
fi
GATEWAY_HOST=$(query "$GATEWAY_ID-HASH.uc.gateway.dev" \
  gcloud api-gateway gateways describe "$GATEWAY_ID" --location="$GATEWAY_REGION" \
  --format='value(defaultHostname)')

step "API Gateway: pruning old api configs (keeping the newest $KEEP_GATEWAY_CONFIGS; an api holds 100 at most)"
[[ $KEEP_GATEWAY_CONFIGS =~ ^[1-9][0-9]?$ ]] || die "KEEP_GATEWAY_CONFIGS must be 1-99"
configs=$(query "" gcloud api-gateway api-configs list --api="$API_ID" --sort-by=~createTime \
  --format='value(name.basename())')
kept=0
for config in $configs; do
  if [[ $config == "$API_CONFIG" ]] || ((kept < KEEP_GATEWAY_CONFIGS - 1)); then
    [[ $config == "$API_CONFIG" ]] || kept=$((kept + 1))
    continue
  fi
  # A config a gateway still serves cannot be deleted: that refusal is no reason to stop.
  run_tolerating 'not found|NOT_FOUND|in use|FAILED_PRECONDITION' \
    gcloud api-gateway api-configs delete "$config" --api="$API_ID"
done

# Before each function had its own account, all of them ran as one with project-wide roles.
step "Retiring the former shared runtime account $LEGACY_RUNTIME_SA (if present)"
if exists gcloud iam service-accounts describe "$LEGACY_RUNTIME_SA"; then
  for role in roles/datastore.user roles/cloudtasks.enqueuer; do
    run_tolerating 'not found|NOT_FOUND|does not exist|Policy binding' gcloud projects remove-iam-policy-binding \
      "$PROJECT" --member="serviceAccount:$LEGACY_RUNTIME_SA" --role="$role" --condition=None --format=none
  done
  run_tolerating 'not found|NOT_FOUND' gcloud iam service-accounts delete "$LEGACY_RUNTIME_SA"
else
  log "  none"
fi

step "Done$(is_dry && echo ' (dry run: nothing was changed)')"
log "  API:        https://$GATEWAY_HOST/api/v1/pim   (spec: https://$GATEWAY_HOST/api/v1/pim/openapi.json)"
log "  Worker:     $WORKER_URL   (internal ingress; only $TASKS_SA may invoke it; token audience $WORKER_AUDIENCE)"
log "  Exports:    $EXPORT_WORKER_URL   (internal ingress; only $TASKS_SA may invoke it; token audience $EXPORT_WORKER_AUDIENCE)"
log "  Sweep:      $SWEEP_URL   (private: job $SWEEP_JOB, '$SWEEP_SCHEDULE' $SWEEP_TIME_ZONE, as $SCHEDULER_SA)"
log "  Watchdog:   $WATCHDOG_URL   (private: job $WATCHDOG_JOB, '$WATCHDOG_SCHEDULE' $SWEEP_TIME_ZONE, as $SCHEDULER_SA)"
log "  Buckets:    gs://$PAYLOAD_BUCKET gs://$EXPORT_BUCKET   Queues: $TASKS_QUEUE $EXPORTS_QUEUE $NOTIFY_QUEUE ($REGION)"
