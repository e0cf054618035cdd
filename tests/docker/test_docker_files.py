"""The deployment files: compose files validate, and their commands are real CLI commands."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hub.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILES = sorted(DOCKER.glob("compose*.yml"))
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))


def _exec_form(dockerfile: Path, instruction: str) -> list[str]:
    m = re.search(rf"^{instruction}\s+(\[.*\])\s*$", dockerfile.read_text(), re.MULTILINE)
    assert m, f"{dockerfile.name} needs an exec-form {instruction}"
    return list(json.loads(m.group(1)))


def _parses(argv: list[str]) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as err:  # argparse exits on unknown commands or options
        raise AssertionError(f"'homehub {' '.join(argv)}' is not a valid command") from err
    assert hasattr(args, "func"), f"'homehub {' '.join(argv)}' runs nothing"


def test_there_are_deployment_files() -> None:
    assert DOCKERFILES, "docker/ should hold Dockerfiles"
    assert COMPOSE_FILES, "docker/ should hold compose files"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_command_is_a_homehub_command(dockerfile: Path) -> None:
    assert _exec_form(dockerfile, "ENTRYPOINT") == ["homehub"]
    _parses(_exec_form(dockerfile, "CMD"))
    for copied in re.findall(r"^COPY\s+(\S+)\s", dockerfile.read_text(), re.MULTILINE):
        assert (ROOT / copied).exists(), f"{dockerfile.name} copies {copied}, which is missing"


@pytest.mark.parametrize("compose", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_commands_are_homehub_commands(compose: Path) -> None:
    doc = yaml.safe_load(compose.read_text())
    for name, service in doc["services"].items():
        if "command" in service and "build" in service:
            _parses(list(service["command"]))
        build = service.get("build")
        if build:
            assert (compose.parent / build["context"] / build["dockerfile"]).exists(), name


def test_hub_runs_on_the_host_network() -> None:
    doc = yaml.safe_load((DOCKER / "compose.hub.yml").read_text())
    hub = doc["services"]["hub"]
    assert hub["network_mode"] == "host", "mDNS and ECHONET multicast need the host network"
    assert any(v.endswith(":/data") for v in hub["volumes"])


@pytest.mark.parametrize("compose", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_validates(compose: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (Debian: apt install docker-compose)")
    result = subprocess.run(
        [tool, "-f", str(compose), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=compose.parent,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_relay_cluster_has_three_nodes_behind_a_health_checking_haproxy() -> None:
    doc = yaml.safe_load((DOCKER / "compose.relay-cluster.yml").read_text())
    services = doc["services"]
    nodes = [s for s in services.values() if s.get("command", [None])[0] == "relay"]
    assert len(nodes) == 3
    for node in nodes:
        command = node["command"]
        assert command[command.index("--store") + 1].startswith("postgresql://")
        assert command[command.index("--routing") + 1].startswith("redis://")
    assert {"postgres", "redis", "haproxy"} <= set(services)
    cfg = (DOCKER / "haproxy-relay.cfg").read_text()
    assert "option httpchk GET /v1/health" in cfg
    for name in ("relay-a", "relay-b", "relay-c"):
        assert f"server {name} {name}:8480 check" in cfg
