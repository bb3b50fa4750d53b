#!/usr/bin/env bash
# Elava's Kafka ACLs: each part of the pipeline may write and read only its own topics
# (the table in docs/operations.md, Kafka ACLs). Run it once as a Kafka admin, after
# `elava topics create`, against a broker whose authorizer denies what no ACL allows.
#
#   acls.sh <kafka-acls command and its connection options>
#   e.g. acls.sh kafka-acls.sh --bootstrap-server b-1.example:9096 --command-config admin.properties
#        acls.sh bash deploy/kafka/kafka.sh acls     # the local broker of kafka.sh
#        acls.sh echo kafka-acls.sh ...              # only print the commands
#
# Environment (defaults in brackets):
#   ELAVA_TOPIC_PREFIX [elava]   (kafka.topic_prefix)
#   ELAVA_COLLECTOR [User:elava-collector]  ELAVA_COLLECTOR_GROUP [elava-collectors]  (collector.group_id)
#   ELAVA_SCHEDULER [User:elava-scheduler]
#   ELAVA_WORKER [User:elava-worker]        ELAVA_WORKER_APP [elava-worker]       (worker.app_id)
#                                           ELAVA_POLICIES_APP [elava-policies]   (policies.app_id)
#                                           ELAVA_FLEET_APP [elava-fleet-patterns] (analyzer.patterns.fleet_app_id)
#                                           ELAVA_DRIFT_APP [elava-drift]          (analyzer.drift.app_id)
#   ELAVA_EXECUTOR [User:elava-executor]    ELAVA_EXECUTOR_APP [elava-executor]   (executor.app_id)
set -euo pipefail

(($#)) || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
KAFKA_ACLS=("$@")
P="${ELAVA_TOPIC_PREFIX:-elava}"
COLLECTOR="${ELAVA_COLLECTOR:-User:elava-collector}"
COLLECTOR_GROUP="${ELAVA_COLLECTOR_GROUP:-elava-collectors}"
SCHEDULER="${ELAVA_SCHEDULER:-User:elava-scheduler}"
WORKER="${ELAVA_WORKER:-User:elava-worker}"
WORKER_APP="${ELAVA_WORKER_APP:-elava-worker}"
POLICIES_APP="${ELAVA_POLICIES_APP:-elava-policies}"
FLEET_APP="${ELAVA_FLEET_APP:-elava-fleet-patterns}"
DRIFT_APP="${ELAVA_DRIFT_APP:-elava-drift}"
EXECUTOR="${ELAVA_EXECUTOR:-User:elava-executor}"
EXECUTOR_APP="${ELAVA_EXECUTOR_APP:-elava-executor}"

# $1 = principal, $2 = operation(s) "Read,Write", then topic suffixes of the catalog.
allow_topics() {
  local principal=$1 operations=$2 args=() op suffix
  shift 2
  for op in ${operations//,/ }; do args+=(--operation "$op"); done
  for suffix in "$@"; do args+=(--topic "$P.$suffix"); done
  "${KAFKA_ACLS[@]}" --add --allow-principal "$principal" "${args[@]}"
}

# Every part sees every Elava topic: `ensure_topics` lists them and creates only what is missing.
"${KAFKA_ACLS[@]}" --add --allow-principal "$COLLECTOR" --allow-principal "$SCHEDULER" \
  --allow-principal "$WORKER" --allow-principal "$EXECUTOR" --operation Describe \
  --resource-pattern-type prefixed --topic "$P."

# Collectors: observations and markers out, CloudTrail out, their checkpoints both ways,
# scan requests in (as one consumer group), the store's shard layout in (checked at start),
# CloudTrail in (`collect --serve`/`--interval` follow it to re-describe what changed;
# assigned partitions, no group).
allow_topics "$COLLECTOR" Write observations scan-markers cloudtrail checkpoints
allow_topics "$COLLECTOR" Read scan-requests checkpoints layout cloudtrail
"${KAFKA_ACLS[@]}" --add --allow-principal "$COLLECTOR" --operation Read --group "$COLLECTOR_GROUP"

# The scheduler: scan requests out.
allow_topics "$SCHEDULER" Write scan-requests

# The worker and its policy, drift and fleet-pattern stages (the worker's children, or `elava
# policy serve`, `elava drift-stage serve` and `elava fleet serve` apart, with the worker's credentials): observations
# and CloudTrail in; changes, drift, patterns, waste, its shard layout; each stage reads
# attributed changes in its own group, and the policy stage is the only writer of actions. The worker's internal topics (table changelogs, the assignor's)
# and consumer groups start with its app id.
allow_topics "$WORKER" Read observations cloudtrail changes attributed-changes drift layout
allow_topics "$WORKER" Write changes attributed-changes drift patterns waste policy-decisions actions ocsf dlq layout
"${KAFKA_ACLS[@]}" --add --allow-principal "$WORKER" --operation All \
  --resource-pattern-type prefixed --topic "$WORKER_APP-"
"${KAFKA_ACLS[@]}" --add --allow-principal "$WORKER" --operation Read \
  --resource-pattern-type prefixed --group "$WORKER_APP"
"${KAFKA_ACLS[@]}" --add --allow-principal "$WORKER" --operation Read --group "$POLICIES_APP"
"${KAFKA_ACLS[@]}" --add --allow-principal "$WORKER" --operation Read --group "$FLEET_APP"
"${KAFKA_ACLS[@]}" --add --allow-principal "$WORKER" --operation Read --group "$DRIFT_APP"

# The executor: the only reader of actions; results (and their OCSF copies), its ledger
# and the DLQ out.
allow_topics "$EXECUTOR" Read actions executor-ledger
allow_topics "$EXECUTOR" Write action-results executor-ledger ocsf dlq
"${KAFKA_ACLS[@]}" --add --allow-principal "$EXECUTOR" --operation Read --group "$EXECUTOR_APP"
