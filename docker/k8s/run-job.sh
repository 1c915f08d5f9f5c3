#!/usr/bin/env bash
# Runs one dbrefresh command as a Job made from the CronJob, so it has the CronJob's image, secrets,
# volume, limits and deadline; only the container's arguments differ.
#
# Usage: docker/k8s/run-job.sh NAMESPACE DBREFRESH-ARGUMENTS...
#   docker/k8s/run-job.sh "$NS" restore-users /var/lib/dbrefresh/snapshots/FILE.db --log-format json
#   docker/k8s/run-job.sh "$NS" refresh --confirm-target '$(DB_NAME_PREPROD)' --use-snapshot /var/lib/dbrefresh/snapshots/FILE.db \
#       --snapshot-dir /var/lib/dbrefresh/snapshots --report /var/lib/dbrefresh/last-report.json --log-format json
# Single-quote '$(DB_NAME_PREPROD)': Kubernetes replaces it in the pod, from the preprod secret.
# Needs kubectl (with access to the namespace). Prints the Job's name and how to follow its log.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
namespace=$1
shift
cronjob=${DBREFRESH_CRONJOB:-dbrefresh}
job="dbrefresh-$1-$(date +%s)"

# The arguments as a JSON array of strings.
args_json='['
separator=''
for arg in "$@"; do
  arg=${arg//\\/\\\\}
  arg=${arg//\"/\\\"}
  args_json+="$separator\"$arg\""
  separator=','
done
args_json+=']'

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
kubectl -n "$namespace" create job "$job" --from="cronjob/$cronjob" --dry-run=client -o json >"$manifest"
kubectl patch --local -f "$manifest" --type=json -o json \
    -p "[{\"op\": \"replace\", \"path\": \"/spec/template/spec/containers/0/args\", \"value\": $args_json}]" |
  kubectl -n "$namespace" create -f -

echo "started job/$job; follow it with:"
echo "  kubectl -n $namespace logs -f job/$job"
