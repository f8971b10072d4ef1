#!/usr/bin/env bash
# The stock AWS CLI against a real `cairn serve`: the trail workflow of the seeds, checked by exit
# code and key fields, with a server restart in the middle. Run by scripts/test after the build;
# needs `aws` on PATH and the cairn binary (CAIRN_BIN, default target/debug/cairn).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CAIRN_BIN:-target/debug/cairn}
work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

export CAIRN_ADMIN_ACCESS_KEY_ID=AKIACLISMOKETEST0001
export CAIRN_ADMIN_SECRET_ACCESS_KEY=cli-smoke-secret-key-not-for-production
export AWS_ACCESS_KEY_ID=$CAIRN_ADMIN_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$CAIRN_ADMIN_SECRET_ACCESS_KEY
export AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

start() {
    : > "$work/out.log"
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out.log" 2>"$work/err.log" &
    pid=$!
    for _ in $(seq 1 100); do
        endpoint=$(sed -n 's/^Listening on //p' "$work/out.log")
        [ -n "$endpoint" ] && return 0
        sleep 0.1
    done
    echo "cairn serve did not start:"; cat "$work/err.log"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

ct() { aws --endpoint-url "$endpoint" cloudtrail "$@"; }
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then echo "FAIL: $1: expected '$2', got '$3'"; exit 1; fi
    echo "ok: $1"
}

start
"$bin" buckets create cli-audit-logs --data-dir "$work/data" >/dev/null

arn=$(ct create-trail --name cli-trail --s3-bucket-name cli-audit-logs --is-multi-region-trail \
      --enable-log-file-validation --query TrailARN --output text)
check "create-trail returns the ARN" "arn:aws:cloudtrail:us-east-1:123456789012:trail/cli-trail" \
      "$(echo "$arn" | sed 's/:[0-9]\{12\}:/:123456789012:/')"
check "describe-trails lists it" "cli-trail" "$(ct describe-trails --query 'trailList[0].Name' --output text)"
check "describe-trails: multi-region" "True" "$(ct describe-trails --query 'trailList[0].IsMultiRegionTrail' --output text)"
check "a new trail is not logging" "False" "$(ct get-trail-status --name cli-trail --query IsLogging --output text)"
ct start-logging --name cli-trail
check "start-logging" "True" "$(ct get-trail-status --name cli-trail --query IsLogging --output text)"

stop
start
check "logging survives a restart" "True" "$(ct get-trail-status --name "$arn" --query IsLogging --output text)"

check "put-event-selectors (basic)" "WriteOnly" "$(ct put-event-selectors --trail-name cli-trail \
    --event-selectors '[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::cli-audit-logs/"]}]}]' \
    --query 'EventSelectors[0].ReadWriteType' --output text)"
check "get-event-selectors (basic)" "arn:aws:s3:::cli-audit-logs/" \
    "$(ct get-event-selectors --trail-name cli-trail --query 'EventSelectors[0].DataResources[0].Values[0]' --output text)"
check "put-event-selectors (advanced)" "management writes" "$(ct put-event-selectors --trail-name cli-trail \
    --advanced-event-selectors '[{"Name":"management writes","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]}]}]' \
    --query 'AdvancedEventSelectors[0].Name' --output text)"
check "get-event-selectors (advanced replaces basic)" "0" \
    "$(ct get-event-selectors --trail-name cli-trail --query 'length(EventSelectors || `[]`)' --output text)"

ct add-tags --resource-id "$arn" --tags-list Key=team,Value=security Key=env,Value=prod
check "list-tags" "security" \
    "$(ct list-tags --resource-id-list "$arn" --query "ResourceTagList[0].TagsList[?Key=='team'].Value | [0]" --output text)"

ct stop-logging --name cli-trail
check "stop-logging" "False" "$(ct get-trail-status --name cli-trail --query IsLogging --output text)"

set +e
err=$(ct create-trail --name "bad name" --s3-bucket-name cli-audit-logs 2>&1); rc=$?
set -e
check "invalid trail name exits 255" "255" "$rc"
case "$err" in *InvalidTrailNameException*) echo "ok: InvalidTrailNameException";; *) echo "FAIL: $err"; exit 1;; esac

ct delete-trail --name "$arn"
check "delete-trail" "0" "$(ct describe-trails --query 'length(trailList)' --output text)"
echo "cli smoke test passed"
