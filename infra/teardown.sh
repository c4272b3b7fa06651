#!/usr/bin/env bash
# Delete what infra/deploy.sh created, newest layer first. Resources already gone are skipped.
#
#   PROJECT=my-project REGION=us-central1 bash infra/teardown.sh --yes [--delete-indexes]
#
# --dry-run prints the commands instead. Kept on purpose: the Firestore database and its data
# (and, without --delete-indexes, its composite indexes and index exemptions) and the enabled APIs.
# A deleted Cloud Tasks queue's name cannot be reused for about 7 days.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

DRY_RUN=0
CONFIRMED=0
DELETE_INDEXES=0
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    --yes) CONFIRMED=1 ;;
    --delete-indexes) DELETE_INDEXES=1 ;;
    -h | --help) usage && exit 0 ;;
    *) usage >&2 && exit 2 ;;
  esac
done

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/lib.sh
source "$INFRA_DIR/lib.sh"
# shellcheck source=infra/config.sh
source "$INFRA_DIR/config.sh"

if ! is_dry && [[ $CONFIRMED != 1 ]]; then
  die "this deletes the Synq PIM deployment in project $PROJECT (payloads included); re-run with --yes"
fi
GONE='not found|NOT_FOUND|does not exist|was not found'

log "Synq PIM teardown: project=$PROJECT region=$REGION$(is_dry && echo ' (DRY RUN: printing commands only)')"

step "API Gateway: gateway, configs, api"
run_tolerating "$GONE" gcloud api-gateway gateways delete "$GATEWAY_ID" --location="$GATEWAY_REGION"
configs=$(query "" gcloud api-gateway api-configs list --api="$API_ID" --format='value(name.basename())' 2>/dev/null || true)
for config in $configs; do
  run_tolerating "$GONE" gcloud api-gateway api-configs delete "$config" --api="$API_ID"
done
run_tolerating "$GONE" gcloud api-gateway apis delete "$API_ID"

step "Cloud Scheduler jobs $SWEEP_JOB, $WATCHDOG_JOB (before the functions they call)"
run_tolerating "$GONE" gcloud scheduler jobs delete "$SWEEP_JOB" --location="$SCHEDULER_REGION"
run_tolerating "$GONE" gcloud scheduler jobs delete "$WATCHDOG_JOB" --location="$SCHEDULER_REGION"

step "Functions"
for target in $(api_targets); do
  run_tolerating "$GONE" gcloud functions delete "$(function_name "$target")" --region="$REGION"
done
run_tolerating "$GONE" gcloud functions delete "$FN_WORKER" --region="$REGION"
run_tolerating "$GONE" gcloud functions delete "$FN_EXPORT_WORKER" --region="$REGION"
run_tolerating "$GONE" gcloud functions delete "$FN_SWEEP" --region="$REGION"
run_tolerating "$GONE" gcloud functions delete "$FN_WATCHDOG" --region="$REGION"

step "Cloud Tasks queues, task token secret, payload and export buckets (with every file in them)"
run_tolerating "$GONE" gcloud tasks queues delete "$TASKS_QUEUE" --location="$REGION"
run_tolerating "$GONE" gcloud tasks queues delete "$EXPORTS_QUEUE" --location="$REGION"
run_tolerating "$GONE" gcloud tasks queues delete "$NOTIFY_QUEUE" --location="$REGION"
run_tolerating "$GONE" gcloud secrets delete "$TASK_TOKEN_SECRET"
run_tolerating "$GONE|matched no objects" gcloud storage rm --recursive "gs://$PAYLOAD_BUCKET"
run_tolerating "$GONE|matched no objects" gcloud storage rm --recursive "gs://$EXPORT_BUCKET"
run_tolerating "$GONE|matched no objects" gcloud storage rm --recursive "gs://$UPLOAD_BUCKET"

step "IAM bindings and service accounts"
# Project-level grants outlive their account as "deleted:" members: removed first. The grants on
# buckets, queues, secrets and accounts go with those resources.
for entry in "${RUNTIME_GRANTS[@]}"; do
  read -r role kind _ iam_role <<<"$entry"
  [[ $kind == project ]] || continue
  account=$(role_account "$role")
  run_tolerating "$GONE|Policy binding" gcloud projects remove-iam-policy-binding "$PROJECT" \
    --member="serviceAccount:$account" --role="$iam_role" --condition=None --format=none
done
runtime_accounts=()
for entry in "${RUNTIME_ROLES[@]}"; do
  read -r role _ <<<"$entry"
  account=$(role_account "$role")
  runtime_accounts+=("$account")
done
for sa in "$SCHEDULER_SA" "$GATEWAY_SA" "$TASKS_SA" "${runtime_accounts[@]}" "$LEGACY_RUNTIME_SA"; do
  run_tolerating "$GONE" gcloud iam service-accounts delete "$sa"
done

if [[ $DELETE_INDEXES == 1 ]]; then
  # The collection groups of infra/firestore.indexes.json (python3: standard library only).
  read -r -a indexed_groups <<<"$(python3 -c 'import json, sys
print(" ".join(sorted({i["collectionGroup"] for i in json.load(open(sys.argv[1]))["indexes"]})))' \
    "$INFRA_DIR/firestore.indexes.json")"
  step "Firestore composite indexes of ${indexed_groups[*]}"
  indexes=$(query "" gcloud firestore indexes composite list --database='(default)' --format='value(name)')
  for name in $indexes; do
    for group in "${indexed_groups[@]}"; do
      if [[ $name == */collectionGroups/$group/indexes/* ]]; then
        run_tolerating "$GONE" gcloud firestore indexes composite delete "${name##*/}" --database='(default)'
      fi
    done
  done
  step "Firestore single-field index exemptions of infra/firestore.indexes.json"
  exemptions=$(python3 -c 'import json, sys
for o in json.load(open(sys.argv[1])).get("fieldOverrides", []):
    print(o["collectionGroup"], o["fieldPath"])' "$INFRA_DIR/firestore.indexes.json")
  while read -r group field; do
    [[ -n $group ]] || continue
    run_tolerating "$GONE" gcloud firestore indexes fields update "$field" --database='(default)' \
      --collection-group="$group" --clear-exemption --async
  done <<<"$exemptions"
fi

step "Done$(is_dry && echo ' (dry run: nothing was changed)')"
log "  Kept: the Firestore database and its data, the enabled APIs. To delete the data as well:"
log "  gcloud firestore databases delete --database='(default)' --project=$PROJECT"
