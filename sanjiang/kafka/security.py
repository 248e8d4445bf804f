"""Who may do what on the Kafka cluster: one SASL/SCRAM user per process and its ACLs.

A host that reaches the broker must not be able to write events: every listener of the
production stack authenticates (SASL/SCRAM), the broker's authorizer denies what no ACL allows
(``allow.everyone.if.no.acl.found=false``), and each process gets exactly what it does:

- ``sanjiang-api``: writes events, telemetry, dead letters and commands; reads the live views
  and the deciders' replies (assigned, no group).
- ``sanjiang-sink``: reads events, live views, alerts, dead letters and telemetry in its groups
  (``sanjiang-warehouse``, ``sanjiang-ops``); writes dead letters (poison records).
- ``sanjiang-streams``: reads events, telemetry and dead letters; writes the live views, alerts
  and its checkpoints; owns its Faust app's group and topics (``<prefix>-streams…``); may
  describe the platform's topics (it checks them at start).
- ``sanjiang-deciders``: reads commands and events; writes events and replies; owns its Faust
  app's group and topics (``<prefix>-deciders…``); may describe the platform's topics.
- ``sanjiang-admin``: the super user — creates topics (``sanjiang topics ensure``), replays,
  manages users and ACLs. Its password stays with the operator.

The same list drives the compose stack (``infra/kafka/acls.sh``, written by
``sanjiang kafka acls``) and the test that runs a SASL broker with these ACLs.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sanjiang.kafka.topics import Topics

ADMIN_USER = "sanjiang-admin"
API_USER = "sanjiang-api"
SINK_USER = "sanjiang-sink"
STREAMS_USER = "sanjiang-streams"
DECIDERS_USER = "sanjiang-deciders"
PROCESS_USERS = (API_USER, SINK_USER, STREAMS_USER, DECIDERS_USER)
WAREHOUSE_GROUP = "sanjiang-warehouse"
OPS_GROUP = "sanjiang-ops"
SCRAM_MECHANISM = "SCRAM-SHA-512"

Operation = Literal["Read", "Write", "Describe", "DescribeConfigs", "All"]
ResourceType = Literal["topic", "group"]


@dataclass(frozen=True)
class Acl:
    """Allow ``user`` to do ``operation`` on a topic or group (a name, or a name prefix)."""

    user: str
    operation: Operation
    resource: ResourceType
    name: str
    prefixed: bool = False


def process_acls(topics: Topics) -> list[Acl]:
    """Every ACL of the platform's processes (see the module docstring)."""
    app_id = f"{topics.prefix}-streams"
    deciders_id = f"{topics.prefix}-deciders"

    def on(user: str, operations: tuple[Operation, ...], *names: str) -> list[Acl]:
        return [Acl(user, op, "topic", name) for name in names for op in operations]

    read: tuple[Operation, ...] = ("Read", "Describe")
    write: tuple[Operation, ...] = ("Write", "Describe")
    return [
        *on(API_USER, write, topics.events, topics.telemetry, topics.deadletter, topics.commands),
        *on(API_USER, read, topics.live, topics.replies),
        *on(
            SINK_USER,
            read,
            topics.events,
            topics.live,
            topics.alerts,
            topics.deadletter,
            topics.telemetry,
        ),
        *on(SINK_USER, write, topics.deadletter),
        Acl(SINK_USER, "Read", "group", WAREHOUSE_GROUP),
        Acl(SINK_USER, "Read", "group", OPS_GROUP),
        *on(STREAMS_USER, read, topics.events, topics.telemetry, topics.deadletter),
        *on(STREAMS_USER, write, topics.live, topics.alerts),
        *on(STREAMS_USER, ("All",), topics.streams_changelog),
        Acl(STREAMS_USER, "Describe", "topic", f"{topics.prefix}.", prefixed=True),
        Acl(STREAMS_USER, "DescribeConfigs", "topic", f"{topics.prefix}.", prefixed=True),
        Acl(STREAMS_USER, "All", "topic", app_id, prefixed=True),
        Acl(STREAMS_USER, "All", "group", app_id, prefixed=True),
        *on(DECIDERS_USER, read, topics.commands, topics.events),
        *on(DECIDERS_USER, write, topics.events, topics.replies),
        Acl(DECIDERS_USER, "Describe", "topic", f"{topics.prefix}.", prefixed=True),
        Acl(DECIDERS_USER, "DescribeConfigs", "topic", f"{topics.prefix}.", prefixed=True),
        Acl(DECIDERS_USER, "All", "topic", deciders_id, prefixed=True),
        Acl(DECIDERS_USER, "All", "group", deciders_id, prefixed=True),
    ]


def broker_security(admin_password: str, client_listeners: Sequence[str]) -> list[str]:
    """The broker settings that make it authenticate every client and authorize it by ACLs
    (the local test broker and the compose stack share them): SCRAM-SHA-512 on the client
    listeners (named, lower case, in ``client_listeners``; the first carries inter-broker
    traffic), PLAIN for the admin alone on the controller listener (SCRAM credentials live in
    the metadata log the controller serves, so it cannot use them), the standard authorizer
    denying what no ACL allows, and the admin as the only super user."""
    scram_login = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN_USER}" password="{admin_password}";'
    )
    return [
        f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
        *(
            f"listener.name.{name}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={scram_login}"
            for name in client_listeners
        ),
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "listener.name.controller.plain.sasl.jaas.config="
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{ADMIN_USER}" password="{admin_password}" '
        f'user_{ADMIN_USER}="{admin_password}";',
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found=false",
    ]


def acl_commands(topics: Topics) -> list[list[str]]:
    """The ``kafka-acls --add`` arguments that create every ACL, grouped so that one command
    adds a user's operations on several resources of one kind and pattern (kafka-acls adds
    each operation to each resource named: ACLs are grouped by the set of operations)."""
    by_resource: dict[tuple[str, ResourceType, bool, str], set[str]] = {}
    for acl in process_acls(topics):
        key = (acl.user, acl.resource, acl.prefixed, acl.name)
        by_resource.setdefault(key, set()).add(acl.operation)
    grouped: dict[tuple[str, ResourceType, bool, tuple[str, ...]], list[str]] = {}
    for (user, resource, prefixed, name), allowed in by_resource.items():
        grouped.setdefault((user, resource, prefixed, tuple(sorted(allowed))), []).append(name)
    commands = []
    for (user, resource, prefixed, operations), names in grouped.items():
        command = ["--add", "--allow-principal", f"User:{user}"]
        for operation in operations:
            command += ["--operation", operation]
        for name in names:
            command += [f"--{resource}", name]
        command += ["--resource-pattern-type", "prefixed" if prefixed else "literal"]
        commands.append(command)
    return commands


def acls_script(topics: Topics) -> str:
    """A shell script (the compose stack's one-shot ``kafka-acls`` job, in the kafka image)
    that adds every ACL as the admin; idempotent (adding an ACL twice changes nothing)."""
    variable = PASSWORD_VARIABLES[ADMIN_USER]
    lines = [
        "#!/bin/sh",
        "# Written by `sanjiang kafka stack-files`; do not edit (a test checks it is fresh",
        "# and runs it). Adds each process's ACLs (sanjiang.kafka.security) as the admin.",
        "set -eu",
        f': "${{{variable}:?set {variable} in infra/.env}}"',
        ': "${KAFKA_HOME:=/opt/kafka}" "${KAFKA_CONFIG_DIR:=/tmp}"',
        "umask 077",
        *_admin_client_config(),
        'ACLS="$KAFKA_HOME/bin/kafka-acls.sh --bootstrap-server ${KAFKA_BOOTSTRAP:-kafka:9092}'
        ' --command-config $KAFKA_CONFIG_DIR/admin-client.properties"',
    ]
    lines += [
        f'out=$($ACLS {shlex.join(command)} 2>&1) || {{ echo "$out" >&2; exit 1; }}'
        for command in acl_commands(topics)
    ]
    lines.append('echo "kafka ACLs applied"')
    return "\n".join(lines) + "\n"


#: the environment variable of each user's password in the compose stack
PASSWORD_VARIABLES = {
    ADMIN_USER: "KAFKA_ADMIN_PASSWORD",
    API_USER: "KAFKA_API_PASSWORD",
    SINK_USER: "KAFKA_SINK_PASSWORD",
    STREAMS_USER: "KAFKA_STREAMS_PASSWORD",
    DECIDERS_USER: "KAFKA_DECIDERS_PASSWORD",
}


def _admin_client_config() -> list[str]:
    """Shell lines writing the admin's client settings to $KAFKA_CONFIG_DIR (both scripts)."""
    admin = "${" + PASSWORD_VARIABLES[ADMIN_USER] + "}"
    return [
        'cat > "$KAFKA_CONFIG_DIR/admin-client.properties" <<EOF',
        "security.protocol=SASL_PLAINTEXT",
        f"sasl.mechanism={SCRAM_MECHANISM}",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN_USER}" password="{admin}";',
        "EOF",
    ]


def broker_start_script() -> str:
    """The compose stack's Kafka entry point (runs in the apache/kafka image): writes the
    broker's settings (``broker_security`` with the admin password from the environment),
    formats the storage once with every user's SCRAM credentials, starts the broker, and
    leaves the admin's client settings for the health check and the ACL job. Paths, host name
    and ports default to the image's and the stack's; a test runs it on the Maven jars."""
    admin = "${" + PASSWORD_VARIABLES[ADMIN_USER] + "}"
    properties = [
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@${KAFKA_HOSTNAME}:${KAFKA_CONTROLLER_PORT}",
        "listeners=INTERNAL://${KAFKA_LISTEN_HOST}:${KAFKA_INTERNAL_PORT},"
        "CONTROLLER://${KAFKA_LISTEN_HOST}:${KAFKA_CONTROLLER_PORT},"
        "HOST://${KAFKA_LISTEN_HOST}:${KAFKA_HOST_PORT}",
        "advertised.listeners=INTERNAL://${KAFKA_HOSTNAME}:${KAFKA_INTERNAL_PORT},"
        "HOST://${KAFKA_HOST_ADVERTISED}:${KAFKA_HOST_PORT}",
        "listener.security.protocol.map="
        "INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT",
        "inter.broker.listener.name=INTERNAL",
        "controller.listener.names=CONTROLLER",
        *broker_security(admin, ["internal", "host"]),
        "log.dirs=${KAFKA_DATA}",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
    ]
    required = [f'  : "${{{var}:?set {var} in infra/.env}}"' for var in PASSWORD_VARIABLES.values()]
    scram = " \\\n    ".join(
        f'--add-scram "{SCRAM_MECHANISM}=[name={user},password=${{{var}}}]"'
        for user, var in PASSWORD_VARIABLES.items()
    )
    return "\n".join(
        [
            "#!/bin/sh",
            "# Written by `sanjiang kafka stack-files`; do not edit (a test checks it is fresh",
            "# and runs it). The compose stack's Kafka: SASL/SCRAM on every listener, and ACLs",
            "# (infra/kafka/acls.sh). Passwords are hex (`openssl rand -hex 24`): they go into",
            "# the broker's JAAS settings.",
            "set -eu",
            *required,
            ': "${CLUSTER_ID:?set KAFKA_CLUSTER_ID}"',
            ': "${KAFKA_HOME:=/opt/kafka}" "${KAFKA_DATA:=/var/lib/kafka/data}"',
            ': "${KAFKA_CONFIG_DIR:=/tmp}" "${KAFKA_HOSTNAME:=kafka}" "${KAFKA_LISTEN_HOST:=}"',
            ': "${KAFKA_INTERNAL_PORT:=9092}" "${KAFKA_CONTROLLER_PORT:=9093}"',
            ': "${KAFKA_HOST_PORT:=19092}" "${KAFKA_HOST_ADVERTISED:=localhost}"',
            'CONFIG="$KAFKA_CONFIG_DIR/server.properties"',
            "umask 077",
            'cat > "$CONFIG" <<EOF',
            *properties,
            "EOF",
            *_admin_client_config(),
            'if [ ! -f "$KAFKA_DATA/meta.properties" ]; then',
            '  "$KAFKA_HOME/bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" \\',
            f'    --config "$CONFIG" {scram}',
            "fi",
            'exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONFIG"',
            "",
        ]
    )
