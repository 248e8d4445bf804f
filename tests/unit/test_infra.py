"""Static checks of the production stack in infra/ (no Docker on these machines, so the compose
file, the ClickHouse users and the Dockerfile are checked as text and data, against the code)."""

from __future__ import annotations

import os
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from sanjiang.cli import app
from sanjiang.kafka.security import (
    ADMIN_USER,
    API_USER,
    DECIDERS_USER,
    PASSWORD_VARIABLES,
    SINK_USER,
    STREAMS_USER,
)
from sanjiang.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE = INFRA / "compose.yaml"
USERS_XML = INFRA / "clickhouse" / "users.d" / "sanjiang.xml"
CONFIG_XML = INFRA / "clickhouse" / "config.d" / "sanjiang.xml"
DOCKERFILE = INFRA / "Dockerfile"
ENV_EXAMPLE = INFRA / ".env.example"
BUILT_DATASOURCE = INFRA / "grafana" / "provisioning" / "datasources" / "sanjiang.yaml"

PROMETHEUS_YML = INFRA / "prometheus" / "prometheus.yml"

INFRA_SERVICES = {"kafka", "clickhouse", "grafana", "prometheus"}
APP_SERVICES = {"api", "sink", "streams", "migrate", "topics"}
ONE_SHOTS = {"migrate", "topics", "kafka-acls"}
#: The CLI command each Sanjiang service runs.
COMMANDS = {
    "api": ["api"],
    "sink": ["sink"],
    "streams": ["streams"],
    "migrate": ["warehouse", "migrate"],
    "topics": ["topics", "ensure"],
}
#: What the Grafana ClickHouse plugin's client adds to its query timeout for max_execution_time.
CLICKHOUSE_GO_TIMEOUT_SLACK_S = 5
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "PSEUDONYM_KEY")
VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _compose_code() -> str:
    """compose.yaml without its comments (they may quote variables and secrets' names)."""
    lines = COMPOSE.read_text("utf-8").splitlines()
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in lines)


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text("utf-8"))
    assert isinstance(doc, dict)
    return doc


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def _interpolate(value: str) -> str:
    """Compose-style interpolation with placeholders for required variables."""

    def one(match: re.Match[str]) -> str:
        if match["op"] in (":-", "-"):
            return match["arg"]
        if match["name"].endswith("_KEY"):  # keys are hex
            return "0123456789abcdef" * 4
        return f"placeholder{match['name'].lower()}"

    return VAR.sub(one, value)


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host, container) of the bind mounts (volume entries whose source is a path)."""
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = str(entry.get("source", "")), str(entry["target"])
        else:
            source, target = str(entry).split(":")[:2]
        if source.startswith((".", "/")):
            found.append((source, target))
    return found


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _profile_of(root: ET.Element, user: str) -> ET.Element:
    node = root.find(f"users/{user}")
    assert node is not None, f"user {user} missing"
    name = node.findtext("profile")
    profile = root.find(f"profiles/{name}")
    assert profile is not None, f"profile {name} of {user} missing"
    return profile


# --- compose: shape and wiring ---------------------------------------------------------------


def test_compose_has_every_service() -> None:
    assert set(_services()) >= INFRA_SERVICES | APP_SERVICES


def test_images_are_the_official_ones_and_grafana_is_recent_enough() -> None:
    services = _services()
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    image = services["grafana"]["image"]
    assert image.startswith("grafana/grafana:")
    major, minor = (int(part) for part in image.split(":", 1)[1].split(".")[:2])
    assert (major, minor) >= (11, 6), "the ClickHouse plugin needs Grafana >= 11.6"


def test_kafka_is_a_single_kraft_node_with_a_volume() -> None:
    kafka = _services()["kafka"]
    env = _env(kafka)
    assert env["CLUSTER_ID"]
    assert kafka["entrypoint"] == ["/bin/sh", "/etc/sanjiang/start.sh"]
    assert ("./kafka/start.sh", "/etc/sanjiang/start.sh") in _mounts(kafka)
    script = (INFRA / "kafka" / "start.sh").read_text()
    assert "process.roles=broker,controller" in script
    assert "auto.create.topics.enable=false" in script  # the `topics` service creates them
    assert "${KAFKA_DATA:=/var/lib/kafka/data}" in script
    volumes = [str(v) for v in kafka["volumes"]]
    assert "kafka-data:/var/lib/kafka/data" in volumes
    assert set(_compose()["volumes"]) >= {v.split(":")[0] for v in volumes if not v.startswith(".")}


def test_kafka_authenticates_every_client_and_each_process_is_its_own_user() -> None:
    """SASL/SCRAM on every listener and ACLs per process (the scripts are tested on a real
    broker in tests/integration/test_kafka_security.py); here, that compose wires them."""
    services = _services()
    kafka = services["kafka"]
    env = _env(kafka)
    for variable in PASSWORD_VARIABLES.values():
        assert _env(kafka)[variable] == f"${{{variable}:?set {variable} in infra/.env}}"
    assert [str(p) for p in kafka["ports"]] == ["127.0.0.1:19092:19092"]  # not the controller
    acls = services["kafka-acls"]
    assert ("./kafka/acls.sh", "/etc/sanjiang/acls.sh") in _mounts(acls)
    assert _env(acls)["KAFKA_ADMIN_PASSWORD"] == env["KAFKA_ADMIN_PASSWORD"]
    users = {
        "api": API_USER,
        "sink": SINK_USER,
        "streams": STREAMS_USER,
        "deciders": DECIDERS_USER,
        "topics": ADMIN_USER,
    }
    for name, user in users.items():
        process = _env(services[name])
        assert process["SANJIANG_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert process["SANJIANG_KAFKA_USERNAME"] == user, name
        assert process["SANJIANG_KAFKA_PASSWORD"] == env[PASSWORD_VARIABLES[user]], name
    for name in ("api", "sink", "streams", "deciders"):
        assert _depends(services[name])["kafka-acls"] == "service_completed_successfully"


def test_long_running_services_have_health_checks_or_wait_for_healthy_ones() -> None:
    services = _services()
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service.get("restart") == "no", f"{name} is a one-shot"
            assert "healthcheck" not in service
            continue
        assert service.get("restart") in ("unless-stopped", "always"), name
        deps = _depends(service)
        if "healthcheck" not in service:
            assert deps, f"{name} has neither a health check nor dependencies"
        for dep, condition in deps.items():
            assert condition in ("service_healthy", "service_completed_successfully"), (name, dep)
    for name in INFRA_SERVICES | {"api"}:
        assert "healthcheck" in services[name], name
    assert "/api/health" in str(services["grafana"]["healthcheck"]["test"])
    assert "/healthz" in str(services["api"]["healthcheck"]["test"])


def test_dependency_conditions_match_what_the_target_can_report() -> None:
    services = _services()
    for name, service in services.items():
        for dep, condition in _depends(service).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOTS, f"{name} waits for long-running {dep} to complete"


def test_processes_start_after_topics_and_migrations() -> None:
    services = _services()
    for name in ("api", "sink", "streams"):
        deps = _depends(services[name])
        assert deps.get("kafka") == "service_healthy", name
        assert deps.get("topics") == "service_completed_successfully", name
    for name in ("api", "sink"):
        deps = _depends(services[name])
        assert deps.get("clickhouse") == "service_healthy", name
        assert deps.get("migrate") == "service_completed_successfully", name
    assert _depends(services["migrate"]) == {"clickhouse": "service_healthy"}
    assert _depends(services["topics"]) == {"kafka": "service_healthy"}


def test_dependency_graph_has_no_cycle() -> None:
    services = _services()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dep in _depends(services[name]):
            visit(dep, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


# --- compose: the Sanjiang processes ---------------------------------------------------------


def test_every_process_runs_a_real_cli_command() -> None:
    root: Any = typer.main.get_command(app)
    services = _services()
    for name, expected in COMMANDS.items():
        command = services[name]["command"]
        assert command == expected, name
        node = root
        for word in command:
            children = getattr(node, "commands", None)
            assert isinstance(children, dict), f"{name}: {word!r} under a leaf command"
            assert word in children, f"{name}: `sanjiang {' '.join(command)}` does not exist"
            node = children[word]
        assert getattr(node, "commands", None) is None, f"{name}: {command} is a group"


def test_processes_share_one_image_built_from_the_dockerfile() -> None:
    services = _services()
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE


def test_process_environment_is_valid_sanjiang_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = set(Settings.model_fields)
    for name in APP_SERVICES:
        env = _env(_services()[name])
        for key in env:
            if key.startswith(ENV_PREFIX):
                assert key.removeprefix(ENV_PREFIX).lower() in fields, f"{name}: unknown {key}"
        for key in list(os.environ):
            if key.startswith(ENV_PREFIX):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, _interpolate(value))
        settings = load_settings()
        assert settings.kafka_bootstrap == "kafka:9092", name
        assert settings.clickhouse_url is not None, name
        assert re.fullmatch(r"http://sanjiang:[^@]+@clickhouse:8123", settings.clickhouse_url)
        assert settings.api_hosts_sink is False, name
        if name == "api":
            assert settings.api_host == "0.0.0.0"
            assert settings.auth_key is not None  # one key for every API container
            analyst = settings.clickhouse_analyst_url
            assert analyst is not None
            assert analyst.get_secret_value().startswith("http://analyst_ro:")
            published = _services()["api"]["ports"][0]
            assert _interpolate(str(published)).endswith(f":{settings.api_port}")


def test_the_api_keeps_its_device_keys_on_a_volume() -> None:
    api = _services()["api"]
    volumes = [str(v) for v in api["volumes"]]
    assert any(v.split(":")[1] == "/var/lib/sanjiang" for v in volumes)
    assert "ENV SANJIANG_VAR_DIR=/var/lib/sanjiang" in DOCKERFILE.read_text("utf-8")


# --- compose: mounts -------------------------------------------------------------------------


def test_bind_mounted_paths_exist_except_the_built_grafana_files() -> None:
    grafana_mounts = set()
    for name, service in _services().items():
        for source, target in _mounts(service):
            host = (COMPOSE.parent / source).resolve()
            assert host.is_relative_to(ROOT), f"{name} mounts {source} from outside the repo"
            if host.is_relative_to(INFRA / "grafana"):
                grafana_mounts.add((host.relative_to(ROOT).as_posix(), target, name))
                continue
            assert host.exists(), f"{name} mounts missing {source}"
    # `sanjiang dashboards build --out infra/grafana` writes these two folders
    assert grafana_mounts == {
        ("infra/grafana/provisioning", "/etc/grafana/provisioning", "grafana"),
        ("infra/grafana/dashboards", "/var/lib/grafana/dashboards", "grafana"),
    }


def test_clickhouse_mounts_the_users_and_config_files() -> None:
    targets = {t: s for s, t in _mounts(_services()["clickhouse"])}
    users = targets["/etc/clickhouse-server/users.d/sanjiang.xml"]
    config = targets["/etc/clickhouse-server/config.d/sanjiang.xml"]
    assert (COMPOSE.parent / users).resolve() == USERS_XML
    assert (COMPOSE.parent / config).resolve() == CONFIG_XML


def test_grafana_installs_the_clickhouse_plugin() -> None:
    env = _env(_services()["grafana"])
    plugins = ",".join(
        env.get(key, "")
        for key in ("GF_PLUGINS_PREINSTALL_SYNC", "GF_PLUGINS_PREINSTALL", "GF_INSTALL_PLUGINS")
    )
    assert "grafana-clickhouse-datasource" in plugins.split(",")


# --- metrics -------------------------------------------------------------------------------


def test_prometheus_scrapes_every_long_running_process_where_it_serves_its_metrics() -> None:
    services = _services()
    defaults = Settings()
    ports = {
        "api": defaults.api_port,
        "streams": defaults.streams_metrics_port,
        "deciders": defaults.deciders_metrics_port,
        "sink": defaults.sink_metrics_port,
    }
    config = yaml.safe_load(PROMETHEUS_YML.read_text("utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {f"sanjiang-{name}" for name in ports}
    for name, port in ports.items():
        job = jobs[f"sanjiang-{name}"]
        (sd,) = job["dns_sd_configs"]  # every replica of the service
        assert sd["names"] == [name] and sd["type"] == "A" and sd["port"] == port, name
        env = {k: _interpolate(v) for k, v in _env(services[name]).items()}
        if name != "api":  # the workers listen on the compose network, unpublished
            assert env["SANJIANG_METRICS_HOST"] == "0.0.0.0", name
            assert not any(str(port) in str(p) for p in services[name].get("ports", [])), name
    prometheus = services["prometheus"]
    assert ("./prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml") in _mounts(prometheus)
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    # the API's route takes the scrape token, which Prometheus reads from a compose secret
    auth = jobs["sanjiang-api"]["authorization"]
    assert auth["type"] == "Bearer"
    (secret,) = prometheus["secrets"]
    assert auth["credentials_file"] == f"/run/secrets/{secret}"
    source = _compose()["secrets"][secret]["environment"]
    assert _env(services["api"])["SANJIANG_METRICS_TOKEN"] == (
        f"${{{source}:?set {source} in infra/.env}}"
    )
    grafana = _depends(services["grafana"])
    assert grafana["prometheus"] == "service_healthy"


def test_grafana_reaches_prometheus_where_compose_runs_it() -> None:
    doc = yaml.safe_load(BUILT_DATASOURCE.read_text("utf-8"))
    (source,) = (s for s in doc["datasources"] if s["type"] == "prometheus")
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in _services()


# --- secrets ---------------------------------------------------------------------------------


def _only_references(value: str) -> bool:
    return VAR.sub("", value).strip() == "" and VAR.search(value) is not None


def test_no_secret_literals_in_compose() -> None:
    for name, service in _services().items():
        for key, value in _env(service).items():
            if any(word in key for word in SECRET_WORDS):
                assert _only_references(value), f"{name}: {key} must come from the environment"
                assert all(m["op"] in (None, ":?", "?") for m in VAR.finditer(value)), (
                    f"{name}: {key} must not have a default"
                )
            for userinfo in re.findall(r"://([^/@\s]+)@", value):
                password = userinfo.partition(":")[2]
                assert _only_references(password), f"{name}: {key} embeds a password literal"
    text = _compose_code()
    literal = re.compile(r"(?i)(password|secret|token)\w*[ \t]*[:=][ \t]*['\"]?[^\s'\"$]{4,}")
    for line in VAR.sub("", text).splitlines():
        assert not literal.search(line), f"secret literal in compose.yaml: {line.strip()}"


def test_required_variables_are_documented_and_empty_in_the_example() -> None:
    example: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    required = {m["name"] for m in VAR.finditer(_compose_code()) if m["op"] == ":?"}
    assert required
    assert required <= set(example), f"undocumented: {required - set(example)}"
    for key, value in example.items():
        if any(word in key for word in SECRET_WORDS):
            assert value == "", f"{key} has a value in .env.example"


# --- ClickHouse users ------------------------------------------------------------------------


def test_users_xml_defines_the_writer_and_the_read_only_users() -> None:
    root = _xml(USERS_XML)
    assert root.tag == "clickhouse"
    assert {u.tag for u in root.findall("users/*")} == {"sanjiang", "grafana_ro", "analyst_ro"}


def test_passwords_come_from_the_environment_and_compose_requires_them() -> None:
    env = _env(_services()["clickhouse"])
    for user in _xml(USERS_XML).findall("users/*"):
        password = user.find("password")
        assert password is not None, user.tag
        assert not (password.text or "").strip(), f"{user.tag} has a password literal"
        variable = password.get("from_env")
        assert variable, f"{user.tag}'s password must use from_env"
        assert variable in env, f"the clickhouse service does not get {variable}"
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), (
            f"{variable} must be required (${{{variable}:?…}}): an empty one means no password"
        )
        assert user.find("password_sha256_hex") is None


@pytest.mark.parametrize("user", ["grafana_ro", "analyst_ro"])
def test_read_only_users_are_read_only_with_limits(user: str) -> None:
    root = _xml(USERS_XML)
    profile = _profile_of(root, user)
    assert profile.findtext("readonly") == "1"
    assert profile.findtext("allow_ddl") == "0"
    for limit in ("max_execution_time", "max_result_rows", "max_memory_usage"):
        assert int(profile.findtext(limit) or 0) > 0, f"{user} lacks {limit}"
    # readonly=1 users may change only what is changeable_in_readonly: max_execution_time,
    # which the Grafana plugin sends with every query, bounded.
    changeable = [
        c.tag
        for c in profile.findall("constraints/*")
        if c.find("changeable_in_readonly") is not None
    ]
    assert changeable == ["max_execution_time"]
    bound = profile.find("constraints/max_execution_time/max")
    assert bound is not None and int(bound.text or 0) > 0
    for limit in ("max_result_rows", "max_memory_usage"):
        node = profile.find(f"constraints/{limit}")
        assert node is not None and (
            node.find("const") is not None
            or node.find("readonly") is not None
            or node.find("max") is not None
        ), limit
    node = root.find(f"users/{user}")
    assert node is not None
    assert node.find("access_management") is None or node.findtext("access_management") == "0"
    grants = [q.text or "" for q in node.findall("grants/query")]
    assert grants == ["GRANT SELECT ON sanjiang.*"]


def test_changeable_in_readonly_is_enabled_on_the_server() -> None:
    improvements = _xml(CONFIG_XML).find("access_control_improvements")
    assert improvements is not None
    assert improvements.findtext("settings_constraints_replace_previous") == "true"


def test_grafana_query_timeout_fits_the_read_only_bound() -> None:
    bound = _profile_of(_xml(USERS_XML), "grafana_ro").find("constraints/max_execution_time/max")
    assert bound is not None
    # committed, and kept current by tests/dashboards/test_model.py
    assert BUILT_DATASOURCE.exists(), "run `sanjiang dashboards build --out infra/grafana`"
    doc = yaml.safe_load(BUILT_DATASOURCE.read_text("utf-8"))
    (source,) = (s for s in doc["datasources"] if s["type"] == "grafana-clickhouse-datasource")
    data = source["jsonData"]
    assert int(data["queryTimeout"]) + CLICKHOUSE_GO_TIMEOUT_SLACK_S <= int(bound.text or 0)
    assert data["username"] == "grafana_ro"
    assert data["host"] == "clickhouse"
    assert int(data["port"]) == 9000 and data["protocol"] == "native"
    password = source["secureJsonData"]["password"]
    (variable,) = (m["name"] for m in VAR.finditer(password))
    assert variable in _env(_services()["grafana"])
    xml_user = _xml(USERS_XML).find("users/grafana_ro/password")
    assert xml_user is not None and xml_user.get("from_env") == variable


def test_the_writer_is_confined_to_its_databases() -> None:
    node = _xml(USERS_XML).find("users/sanjiang")
    assert node is not None
    assert node.find("access_management") is None or node.findtext("access_management") == "0"
    grants = [q.text or "" for q in node.findall("grants/query")]
    assert grants
    for grant in grants:
        assert re.fullmatch(r"GRANT ALL ON sanjiang(_replay|_previous)?\.\*", grant), grant
    profile = _profile_of(_xml(USERS_XML), "sanjiang")
    assert profile.findtext("readonly") in (None, "0")


# --- the image -------------------------------------------------------------------------------


def test_dockerfile_installs_the_package_with_everything_it_needs() -> None:
    text = DOCKERFILE.read_text("utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \.(\s|$)", text, re.MULTILINE)
    assert "sanjiang build-fold --strict" in text  # the compiled live fold, or no image
    copied: set[str] = set()
    for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        *sources, _ = line.split()
        copied.update(s.rstrip("/") for s in sources if not s.startswith("--"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied, f"not copied into the image: {packages - copied}"
    assert {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE), "run as an unprivileged user"
