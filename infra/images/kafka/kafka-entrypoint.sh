#!/bin/bash
# Writes server.properties from KAFKA_* variables (apache/kafka's convention: strip KAFKA_, lower-case,
# "___" -> "-", "__" -> "_", "_" -> "."), fills single-node KRaft defaults, formats the log directory once and
# execs the broker so it receives SIGTERM directly.
set -euo pipefail

conf=/opt/kafka/config/server.properties
: > "$conf"
declare -A set_keys=()
for var in $(compgen -e); do
  case "$var" in
    KAFKA_HEAP_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_OPTS | KAFKA_LOG4J_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_JMX_OPTS | KAFKA_HOME) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${var#KAFKA_}"
  key="${key,,}"
  key="${key//___/-}"
  key="${key//__/@}"
  key="${key//_/.}"
  key="${key//@/_}"
  printf '%s=%s\n' "$key" "${!var}" >> "$conf"
  set_keys[$key]=1
done

default() {
  if [[ -z "${set_keys[$1]:-}" ]]; then printf '%s=%s\n' "$1" "$2" >> "$conf"; fi
}
default node.id 1
default process.roles broker,controller
default listeners PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
default controller.listener.names CONTROLLER
default listener.security.protocol.map CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
default controller.quorum.voters 1@127.0.0.1:9093
default log.dirs /var/lib/kafka/data
default offsets.topic.replication.factor 1
default transaction.state.log.replication.factor 1
default transaction.state.log.min.isr 1
default group.initial.rebalance.delay.ms 0
default auto.create.topics.enable false

log_dirs="$(sed -n 's/^log\.dirs=//p' "$conf" | head -n1)"
IFS=, read -r -a dirs <<< "$log_dirs"
mkdir -p "${dirs[@]}"

export CLASSPATH="/opt/kafka/libs/*"
# shellcheck disable=SC2086
java_opts=(${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} ${KAFKA_OPTS:-} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties)
java "${java_opts[@]}" kafka.tools.StorageTool format --ignore-formatted \
  --cluster-id "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" --config "$conf"
echo "kafka-entrypoint: starting broker with $conf" >&2
exec java "${java_opts[@]}" kafka.Kafka "$conf"
