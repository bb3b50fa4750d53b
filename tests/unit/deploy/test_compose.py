"""docker-compose.yml, checked without a Docker engine: against the Compose
Specification, and against Elava's own settings, commands and ports."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from compose_spec import PyCompose

from tests.unit.deploy.checks import (
    CONFIG_VARIABLE,
    LOOPBACK,
    REPO,
    cli_error,
    image_is_pinned,
    pending_settings,
    setting_exists,
    settings_for,
    shadowed_settings,
    unknown_topic_mentions,
    unknown_variables,
)

COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # anchors and merge keys resolved, as Compose does


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def elava_services(services: dict[str, dict]) -> dict[str, dict]:
    """The services that run the `elava` entrypoint of the image built from deploy/Dockerfile."""
    return {name: s for name, s in services.items()
            if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile" and "entrypoint" not in s}


def container_ports(service: dict) -> dict[int, str]:
    """Published ports: container port -> host address."""
    ports = {}
    for entry in service.get("ports", []):
        host_ip, _, rest = str(entry).rpartition(":")
        host_ip, _, _host_port = host_ip.rpartition(":")
        ports[int(rest.split("/")[0])] = host_ip
    return ports


def mounted_config(service: dict) -> Path | None:
    """The file of this checkout mounted where ELAVA_CONFIG points, if any."""
    target = service.get("environment", {}).get(CONFIG_VARIABLE)
    for volume in service.get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target and source.startswith("./"):
            return REPO / source
    return None


def service_settings(service: dict):
    return settings_for(mounted_config(service), {k: str(v) for k, v in service.get("environment", {}).items()})


def test_the_file_follows_the_compose_specification(compose):
    parsed = PyCompose.from_yaml(yaml.safe_dump(compose))
    parsed.validate()  # networks, volumes, configs and secrets the services use are declared
    assert sorted(parsed.service_names()) == sorted(compose["services"])


def test_a_misspelt_key_is_refused_by_the_specification_check(compose):
    broken = yaml.safe_load(yaml.safe_dump(compose))
    broken["services"]["worker"]["restrat"] = "always"
    with pytest.raises(ValueError, match="restrat"):
        PyCompose.from_yaml(yaml.safe_dump(broken))


def test_dependencies_and_volumes_name_what_the_file_declares(compose, services):
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("./", "/", "~")):
                assert source in compose.get("volumes", {}), f"{name}: volume {source} is not declared"
            elif source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} is not in the checkout"


def test_every_image_is_pinned_to_a_release(services):
    for name, service in services.items():
        if "build" in service:
            continue  # built here from deploy/Dockerfile, whose base image is checked below
        assert image_is_pinned(service["image"]), f"{name}: {service['image']} is not pinned to a version"
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert bases and all(image_is_pinned(base) for base in bases), bases


def test_every_elava_variable_is_a_setting(services):
    names = [name for service in services.values() for name in service.get("environment", {})]
    names += re.findall(r"\b(ELAVA_[A-Z0-9_]+)=", DOCKERFILE.read_text())
    assert any(name.startswith("ELAVA_") for name in names)
    assert unknown_variables(names) == []


def test_every_elava_service_loads_its_settings(services):
    for name, service in elava_services(services).items():
        assert mounted_config(service) is not None, f"{name} does not get deploy/compose/elava.yaml"
        service_settings(service)  # raises, naming the field, on a bad value


def test_the_image_environment_does_not_hide_a_setting_of_the_file():
    assert shadowed_settings(REPO / "deploy" / "compose" / "elava.yaml") == []


def test_every_command_is_an_elava_command(services):
    commands = {name: service["command"] for name, service in elava_services(services).items()}
    assert {"worker", "collect", "schedule", "executor", "topics"} <= {c[0] for c in commands.values()}
    for name, command in commands.items():
        assert cli_error(command) is None, f"{name}: {cli_error(command)}"


def test_the_services_find_kafka_where_it_advertises_itself(services):
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    addresses = {listener.split("://", 1)[1] for listener in advertised.split(",")}
    assert services["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] in addresses
    for name, service in elava_services(services).items():
        assert service_settings(service).kafka.bootstrap_servers in addresses, name


def test_aws_calls_go_to_the_moto_service_and_the_story_plays_there(services):
    moto_ports = set(container_ports(services["moto"]))
    for name in ("collector", "scheduler", "executor"):
        endpoint = urlparse(service_settings(services[name]).providers.aws.endpoint_url)
        assert endpoint.hostname == "moto" and endpoint.port in moto_ports, name
    story = services["story"]
    script = REPO / story["entrypoint"][-1]
    assert script.exists()
    args = _story_parser(script).parse_args(story["command"])
    endpoint = urlparse(args.endpoint_url)
    assert endpoint.hostname == "moto" and endpoint.port in moto_ports
    # Every act must be seen by a scan: the acts are further apart than the scan interval.
    tiers = service_settings(services["scheduler"]).tiers
    assert all(args.act_interval > tier.interval.total_seconds() for tier in tiers)


def _story_parser(script: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("play_story", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parser()


def test_the_query_api_is_published_on_the_hosts_loopback(services):
    worker = services["worker"]
    settings = service_settings(worker)
    published = container_ports(worker)
    assert settings.worker.web_port in published, "the port of worker.web_port is not published"
    assert published[settings.worker.web_port] == "127.0.0.1"
    # Published from the container's own interface: a worker on loopback could not be reached.
    assert settings.worker.web_host not in LOOPBACK
    assert f"EXPOSE {settings.worker.web_port}" in DOCKERFILE.read_text()


def test_the_worker_keeps_its_store_on_a_volume(services):
    worker = services["worker"]
    data_dir = service_settings(worker).worker.data_dir
    targets = [Path(volume.split(":")[1]) for volume in worker["volumes"] if not volume.startswith("./")]
    assert any(data_dir.is_relative_to(target) for target in targets)


def test_the_executor_only_reports(services):
    executor = services["executor"]
    assert service_settings(executor).executor.dry_run is True
    assert "--enforce" not in executor["command"]


def test_every_port_is_published_on_loopback_only(services):
    for name, service in services.items():
        for port, host_ip in container_ports(service).items():
            assert host_ip == "127.0.0.1", f"{name}: port {port} is published on {host_ip or 'every interface'}"


def test_kafka_ui_shows_text_keys_and_json_values_and_cannot_write(services):
    ui = services["kafka-ui"]["environment"]
    assert ui["KAFKA_CLUSTERS_0_DEFAULTKEYSERDE"] == "String"
    assert ui["KAFKA_CLUSTERS_0_DEFAULTVALUESERDE"] == "String"  # UTF-8 JSON, shown as JSON
    assert ui["KAFKA_CLUSTERS_0_READONLY"] == "true"


def test_the_one_shots_have_no_health_check_to_wait_for(services):
    for name in ("topics", "story"):
        assert services[name]["restart"] == "no"
        assert services[name]["healthcheck"] == {"disable": True}


def test_the_image_has_a_health_check_that_exists():
    text = DOCKERFILE.read_text()
    check = re.search(r'^HEALTHCHECK .*CMD \["python", "/app/(\S+)"\]', text, re.MULTILINE | re.DOTALL)
    assert check is not None
    assert (REPO / check.group(1)).exists()


def test_topics_named_in_comments_exist_and_pending_settings_have_not_landed():
    text = COMPOSE_FILE.read_text() + (REPO / "deploy" / "compose" / "elava.yaml").read_text()
    assert unknown_topic_mentions(text) == []
    landed = [name for name in pending_settings(text) if setting_exists(name)]
    assert landed == [], f"these settings exist now: enable the lines marked pending(...) for {landed}"
