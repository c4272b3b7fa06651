# shellcheck shell=bash
# Helpers shared by deploy.sh and teardown.sh (sourced, not run).
#
# Every command that changes or reads the cloud goes through one of the wrappers below, which
# echo it first. With DRY_RUN=1 nothing is executed: `run` only prints, `exists` answers "no",
# and `query` prints its placeholder instead of the command's output.
# Commands starting with `gcloud` get `--project=$PROJECT --quiet` appended.

DRY_RUN=${DRY_RUN:-0}
exec 3>&1 # the log channel: still the terminal inside $(...)

log() { printf '%s\n' "$*" >&3; }
step() { printf '\n==> %s\n' "$*" >&3; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}
is_dry() { [[ $DRY_RUN == 1 ]]; }

# CMD=(the command, with the gcloud defaults added)
_with_defaults() {
  CMD=("$@")
  if [[ ${1:-} == gcloud ]]; then
    CMD+=("--project=$PROJECT" --quiet)
  fi
}

# Print a command, shell-quoted where needed, prefixed with $1.
_show() {
  local prefix=$1 out="" arg
  shift
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
      out+="$arg "
    else
      out+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  printf '  %s %s\n' "$prefix" "${out% }" >&3
}

# Run a command (dry run: print it only).
run() {
  _with_defaults "$@"
  _show '+' "${CMD[@]}"
  is_dry && return 0
  "${CMD[@]}"
}

# Run a command, treating an error whose message matches the regex $1 as success
# (e.g. "already exists" when creating, "not found" when deleting).
run_tolerating() {
  local pattern=$1
  shift
  run_retrying "$pattern" 'a^' "$@" # a^ matches nothing: no retries
}

# run_retrying OK_PATTERN RETRY_PATTERN CMD...: run a command; an error matching the regex
# OK_PATTERN counts as success, one matching RETRY_PATTERN (contention, a concurrent change) is
# retried with growing waits (RETRY_WAIT_SECONDS, doubling, at most 60 s: 5, 10, 20, 40, 60,
# 60 s by default), any other stops the script.
run_retrying() {
  local ok=$1 retry=$2 output status wait attempt
  shift 2
  _with_defaults "$@"
  _show '+' "${CMD[@]}"
  is_dry && return 0
  for attempt in 1 2 3 4 5 6 7; do
    status=0
    output=$("${CMD[@]}" 2>&1) || status=$?
    if ((status == 0)); then
      [[ -z $output ]] || printf '%s\n' "$output" >&3
      return 0
    fi
    if grep -qiE -- "$ok" <<<"$output"; then
      log "    (tolerated: $(grep -iE -m1 -- "$ok" <<<"$output"))"
      return 0
    fi
    if ((attempt == 7)) || ! grep -qiE -- "$retry" <<<"$output"; then
      printf '%s\n' "$output" >&2
      return "$status"
    fi
    wait=$((${RETRY_WAIT_SECONDS:-5} << (attempt - 1)))
    ((wait <= 60)) || wait=60
    log "    (attempt $attempt: $(grep -iE -m1 -- "$retry" <<<"$output"); retrying in ${wait}s)"
    sleep "$wait"
  done
}

# Run a command, retrying a few times: new service accounts take a while to be visible to IAM.
run_retry() {
  local attempt
  _with_defaults "$@"
  _show '+' "${CMD[@]}"
  is_dry && return 0
  for attempt in 1 2 3 4 5 6; do
    "${CMD[@]}" && return 0
    ((attempt < 6)) || break
    log "    (attempt $attempt failed; retrying in $((attempt * 10))s)"
    sleep $((attempt * 10))
  done
  return 1
}

# Succeed if the command succeeds (output discarded). Dry run: print it and answer "no".
exists() {
  _with_defaults "$@"
  _show '?' "${CMD[@]}"
  is_dry && return 1
  "${CMD[@]}" >/dev/null 2>&1
}

# Print the command's output, for values later steps need. Dry run: print the placeholder $1.
query() {
  local placeholder=$1
  shift
  _with_defaults "$@"
  _show '+' "${CMD[@]}"
  if is_dry; then
    printf '%s\n' "$placeholder"
    return 0
  fi
  "${CMD[@]}"
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n ${!name:-} ]] || die "set $name (e.g. PROJECT=my-project REGION=us-central1 bash infra/deploy.sh)"
  done
}
