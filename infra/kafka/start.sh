#!/bin/sh
# Written by `sanjiang kafka stack-files`; do not edit (a test checks it is fresh
# and runs it). The compose stack's Kafka: SASL/SCRAM on every listener, and ACLs
# (infra/kafka/acls.sh). Passwords are hex (`openssl rand -hex 24`): they go into
# the broker's JAAS settings.
set -eu
  : "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD in infra/.env}"
  : "${KAFKA_API_PASSWORD:?set KAFKA_API_PASSWORD in infra/.env}"
  : "${KAFKA_SINK_PASSWORD:?set KAFKA_SINK_PASSWORD in infra/.env}"
  : "${KAFKA_STREAMS_PASSWORD:?set KAFKA_STREAMS_PASSWORD in infra/.env}"
  : "${KAFKA_DECIDERS_PASSWORD:?set KAFKA_DECIDERS_PASSWORD in infra/.env}"
: "${CLUSTER_ID:?set KAFKA_CLUSTER_ID}"
: "${KAFKA_HOME:=/opt/kafka}" "${KAFKA_DATA:=/var/lib/kafka/data}"
: "${KAFKA_CONFIG_DIR:=/tmp}" "${KAFKA_HOSTNAME:=kafka}" "${KAFKA_LISTEN_HOST:=}"
: "${KAFKA_INTERNAL_PORT:=9092}" "${KAFKA_CONTROLLER_PORT:=9093}"
: "${KAFKA_HOST_PORT:=19092}" "${KAFKA_HOST_ADVERTISED:=localhost}"
CONFIG="$KAFKA_CONFIG_DIR/server.properties"
umask 077
cat > "$CONFIG" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_HOSTNAME}:${KAFKA_CONTROLLER_PORT}
listeners=INTERNAL://${KAFKA_LISTEN_HOST}:${KAFKA_INTERNAL_PORT},CONTROLLER://${KAFKA_LISTEN_HOST}:${KAFKA_CONTROLLER_PORT},HOST://${KAFKA_LISTEN_HOST}:${KAFKA_HOST_PORT}
advertised.listeners=INTERNAL://${KAFKA_HOSTNAME}:${KAFKA_INTERNAL_PORT},HOST://${KAFKA_HOST_ADVERTISED}:${KAFKA_HOST_PORT}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="sanjiang-admin" password="${KAFKA_ADMIN_PASSWORD}";
listener.name.host.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="sanjiang-admin" password="${KAFKA_ADMIN_PASSWORD}";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="sanjiang-admin" password="${KAFKA_ADMIN_PASSWORD}" user_sanjiang-admin="${KAFKA_ADMIN_PASSWORD}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:sanjiang-admin
allow.everyone.if.no.acl.found=false
log.dirs=${KAFKA_DATA}
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
cat > "$KAFKA_CONFIG_DIR/admin-client.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="sanjiang-admin" password="${KAFKA_ADMIN_PASSWORD}";
EOF
if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
  "$KAFKA_HOME/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" \
    --config "$CONFIG" --add-scram "SCRAM-SHA-512=[name=sanjiang-admin,password=${KAFKA_ADMIN_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=sanjiang-api,password=${KAFKA_API_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=sanjiang-sink,password=${KAFKA_SINK_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=sanjiang-streams,password=${KAFKA_STREAMS_PASSWORD}]" \
    --add-scram "SCRAM-SHA-512=[name=sanjiang-deciders,password=${KAFKA_DECIDERS_PASSWORD}]"
fi
exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONFIG"
