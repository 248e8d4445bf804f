#!/bin/sh
# Written by `sanjiang kafka stack-files`; do not edit (a test checks it is fresh
# and runs it). Adds each process's ACLs (sanjiang.kafka.security) as the admin.
set -eu
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD in infra/.env}"
: "${KAFKA_HOME:=/opt/kafka}" "${KAFKA_CONFIG_DIR:=/tmp}"
umask 077
cat > "$KAFKA_CONFIG_DIR/admin-client.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="sanjiang-admin" password="${KAFKA_ADMIN_PASSWORD}";
EOF
ACLS="$KAFKA_HOME/bin/kafka-acls.sh --bootstrap-server ${KAFKA_BOOTSTRAP:-kafka:9092} --command-config $KAFKA_CONFIG_DIR/admin-client.properties"
out=$($ACLS --add --allow-principal User:sanjiang-api --operation Describe --operation Write --topic sanjiang.events --topic sanjiang.telemetry --topic sanjiang.deadletter --topic sanjiang.commands --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-api --operation Describe --operation Read --topic sanjiang.live --topic sanjiang.replies --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-sink --operation Describe --operation Read --topic sanjiang.events --topic sanjiang.live --topic sanjiang.alerts --topic sanjiang.telemetry --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-sink --operation Describe --operation Read --operation Write --topic sanjiang.deadletter --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-sink --operation Read --group sanjiang-warehouse --group sanjiang-ops --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-streams --operation Describe --operation Read --topic sanjiang.events --topic sanjiang.telemetry --topic sanjiang.deadletter --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-streams --operation Describe --operation Write --topic sanjiang.live --topic sanjiang.alerts --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-streams --operation All --topic sanjiang.streams-changelog --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-streams --operation Describe --operation DescribeConfigs --topic sanjiang. --resource-pattern-type prefixed 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-streams --operation All --topic sanjiang-streams --resource-pattern-type prefixed 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-streams --operation All --group sanjiang-streams --resource-pattern-type prefixed 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-deciders --operation Describe --operation Read --topic sanjiang.commands --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-deciders --operation Describe --operation Read --operation Write --topic sanjiang.events --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-deciders --operation Describe --operation Write --topic sanjiang.replies --resource-pattern-type literal 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-deciders --operation Describe --operation DescribeConfigs --topic sanjiang. --resource-pattern-type prefixed 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-deciders --operation All --topic sanjiang-deciders --resource-pattern-type prefixed 2>&1) || { echo "$out" >&2; exit 1; }
out=$($ACLS --add --allow-principal User:sanjiang-deciders --operation All --group sanjiang-deciders --resource-pattern-type prefixed 2>&1) || { echo "$out" >&2; exit 1; }
echo "kafka ACLs applied"
