"""The compose stack, checked by parsing: Docker cannot run here, so read what it would run.

Services, pinned images, mounted files that exist, secrets that are defined and required, and
the collector's own config and command lines read by tyndau's real parsers.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from collector.anomaly.settings import load_anomaly_settings
from collector.settings import load_collector_settings
from collector.store import open_store
from probe.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = {"influxdb", "collector", "anomaly", "alertmanager", "grafana"}
PINNED = re.compile(r"^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*$")  # name:MAJOR.MINOR.PATCH[-suffix]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return doc


def env_example_names() -> dict[str, str]:
    names = {}
    for line in (DEPLOY / "collector.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            names[key.strip()] = value.strip()
    return names


def test_the_five_services_with_pinned_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        image = service["image"]
        assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a release"
        assert not image.endswith(":latest")
    assert services["influxdb"]["image"].startswith("influxdb:2.")
    assert services["alertmanager"]["image"].startswith("prom/alertmanager:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    for name in ("collector", "anomaly"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_dockerfile_is_slim_python_311_with_the_collector_extra() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert re.match(r"python:3\.11\.\d+-slim", base), base
    assert 'pip install ".[collector]"' in text
    assert re.search(r"^USER tyndau$", text, re.MULTILINE), "the image must not run as root"


def test_influxdb_is_set_up_with_org_bucket_token_and_dbrp(compose: dict[str, Any]) -> None:
    influx = compose["services"]["influxdb"]
    env = influx["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert env["DOCKER_INFLUXDB_INIT_ORG"] == "tyndau"
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == "tyndau"
    assert env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"] == "/run/secrets/tyndau_influx_token"
    init = [v for v in influx["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert len(init) == 1
    script = (DEPLOY / init[0].split(":")[0]).read_text()
    assert "influx v1 dbrp create" in script
    assert "--db" in script and "--rp autogen" in script and "--default" in script


def test_every_mounted_file_exists_and_named_volumes_are_declared(
    compose: dict[str, Any],
) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} missing"
            else:
                used.add(source)
    assert used == declared
    assert any(v.startswith("influxdb-data:") for v in compose["services"]["influxdb"]["volumes"])
    assert any(v.startswith("anomaly-state:") for v in compose["services"]["anomaly"]["volumes"])


def test_every_secret_is_required_and_listed_in_the_env_example(compose: dict[str, Any]) -> None:
    example = env_example_names()
    assert all(value == "" for value in example.values()), "the example must hold no secret"
    from_env = {spec["environment"] for spec in compose["secrets"].values()}
    assert from_env == set(example)
    required = {re.match(r"\$\{(\w+):\?", item).group(1) for item in compose["x-required-secrets"]}  # type: ignore[union-attr]
    assert required == set(example)
    referenced = set()
    for service in compose["services"].values():
        for secret in service.get("secrets", []):
            referenced.add(secret if isinstance(secret, str) else secret["source"])
    assert referenced == set(compose["secrets"])


def test_secret_files_named_in_configs_are_mounted(compose: dict[str, Any]) -> None:
    """Files that alertmanager.yml, Grafana and the collector config read are really there."""
    services = compose["services"]

    def mounted(service: str) -> set[str]:
        paths = set()
        for secret in services[service].get("secrets", []):
            if isinstance(secret, str):
                paths.add(f"/run/secrets/{secret}")
            else:
                paths.add(secret.get("target", f"/run/secrets/{secret['source']}"))
        return paths

    alertmanager = (DEPLOY / "alertmanager.yml").read_text()
    for path in re.findall(r"_file:\s*(\S+)", alertmanager):
        assert path in mounted("alertmanager"), path
    datasource = (DEPLOY / "grafana/provisioning/datasources/influxdb.yml").read_text()
    for path in re.findall(r"\$__file\{([^}]+)\}", datasource):
        assert path in mounted("grafana"), path
    config = (DEPLOY / "collector.compose.toml").read_text()
    for path in re.findall(r'_file = "([^"]+)"', config):
        assert path in mounted("collector") and path in mounted("anomaly"), path


def test_collector_config_and_commands_parse_with_tyndaus_own_readers(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    text = (DEPLOY / "collector.compose.toml").read_text()
    for name in ("tyndau_operator_token", "tyndau_influx_token"):
        (tmp_path / name).write_text("s" * 32 + "\n")
        text = text.replace(f"/run/secrets/{name}", str(tmp_path / name))
    (tmp_path / "targets.toml").write_text("")
    config = tmp_path / "collector.toml"
    config.write_text(text)
    settings = load_collector_settings(config)
    assert settings.listen == "0.0.0.0:8080"
    assert settings.operator_token == "s" * 32 and settings.influx_token == "s" * 32
    assert settings.store.startswith("influxdb:http://influxdb:8086?db=tyndau")
    open_store(settings.store, influx_token=settings.influx_token).close()  # URL is valid
    anomaly = load_anomaly_settings(config)
    assert anomaly.alertmanager == "http://alertmanager:9093"
    parser = build_parser()
    for name, path in (("collector", "collector serve"), ("anomaly", "anomaly watch")):
        command = compose["services"][name]["command"]
        args = parser.parse_args(command)
        assert args.command_path == f"tyndau {path}", shlex.join(command)
        assert str(args.config) == "/etc/tyndau/collector.toml"


def test_only_the_collector_listens_beyond_loopback(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if name == "collector":
                assert port == "8080:8080"
            else:
                assert port.startswith("127.0.0.1:"), f"{name} exposes {port} to the network"
