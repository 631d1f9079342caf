"""The package's layering is a test, not a memory (DESIGN.md "Layout", STYLE.md habit 7).

Every ``import`` of a kafkalab module inside ``kafkalab/`` (at module level, inside functions, under
``TYPE_CHECKING``) is an arrow from one package to another. :data:`ALLOWED` says which arrows each package may have;
anything else fails with the file, the line and the rule. Protocol shells run on :mod:`kafkalab.ports` and never
import :mod:`kafkalab.sim`; clients import no server package; the vocabulary (:mod:`kafkalab.common`,
:mod:`kafkalab.protocol`) imports nothing above it. A few modules are allowed more, each named in :data:`EXCEPTIONS`
with the reason.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kafkalab"

# The layers, bottom to top. A package may import only the packages listed for it (and itself).
_BASE = {"errors", "config"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "ports": set(),
    "common": {"errors"},
    "protocol": {"common"},
    "check": {"common", "errors"},
    "sim": {"ports", "errors"},
    "log": {"common"} | _BASE,
    "raft": {"log", "protocol", "common", "ports"} | _BASE,
    "metadata": {"raft", "log", "protocol", "common", "ports"} | _BASE,
    "controller": {"metadata", "raft", "log", "protocol", "common", "ports"} | _BASE,
    "groups": {"log", "protocol", "common", "ports"} | _BASE,
    "txn": {"log", "protocol", "common", "ports"} | _BASE,      # the transaction coordinator, at the groups' level
    "broker": {"groups", "txn", "metadata", "raft", "log", "protocol", "common", "ports"} | _BASE,
    "clients": {"protocol", "common", "ports", "check"} | _BASE,
    # Kafka Streams is a client library: it runs on the clients (and the vocabulary), never on a server package or
    # the simulator; Cluster.streams wires it into a World
    "streams": {"clients", "protocol", "common", "ports", "check"} | _BASE,
}
#: The top: these wire everything together and may import anything.
TOP = {"kafkalab", "cluster", "experiments", "viz", "cli", "connect", "workloads", "sizing"}

#: module (path below kafkalab/) -> {package it may import beyond its layer: reason}
EXCEPTIONS: dict[str, dict[str, str]] = {
    "raft/playground.py": {"sim": "the Raft playground (RaftCluster) wires sans-I/O RaftNodes onto a simulated World",
                           "viz": "RaftCluster.live_timeline returns a LiveFigure (a type annotation only)"},
    "raft/plot.py": {"viz": "draws a RaftCluster's timeline with the live-figure helper, for the playground"},
}


def _package_of(path: Path) -> str:
    first = path.relative_to(PACKAGE).parts[0]
    if first == "__init__.py":
        return "kafkalab"
    return first[:-3] if first.endswith(".py") else first


def imports_of(source: str) -> list[tuple[int, str]]:
    """(line, imported kafkalab package) for every import of a kafkalab module in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "kafkalab" else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found += [(node.lineno, n.split(".")[1]) for n in names if n.startswith("kafkalab.")]
    return found


def violations(path: Path, source: str) -> list[str]:
    """The forbidden arrows of one module, as readable lines."""
    pkg = _package_of(path)
    if pkg in TOP:
        return []
    rel = path.relative_to(PACKAGE).as_posix()
    if pkg not in ALLOWED:
        return [f"{rel}: package {pkg!r} has no place in the layering; add it to ALLOWED or TOP in {__file__}"]
    allowed = ALLOWED[pkg] | {pkg} | set(EXCEPTIONS.get(rel, {}))
    return [f"kafkalab/{rel}:{line}: {pkg} may not import kafkalab.{target} (allowed: {', '.join(sorted(ALLOWED[pkg]))})"
            for line, target in imports_of(source) if target not in allowed]


def test_no_forbidden_import_arrows():
    problems = [v for path in sorted(PACKAGE.rglob("*.py")) for v in violations(path, path.read_text())]
    assert problems == [], "forbidden imports:\n" + "\n".join(problems)


@pytest.mark.parametrize("package", ["raft", "controller", "broker", "groups", "clients", "metadata", "log",
                                     "common", "protocol"])
def test_protocol_layers_never_import_the_simulator(package):
    hits = [f"{p.relative_to(PACKAGE)}:{line}" for p in sorted((PACKAGE / package).rglob("*.py"))
            for line, target in imports_of(p.read_text())
            if target == "sim" and "sim" not in EXCEPTIONS.get(p.relative_to(PACKAGE).as_posix(), {})]
    assert hits == []


def test_every_package_has_a_place_in_the_layering():
    packages = {_package_of(p) for p in PACKAGE.rglob("*.py")}
    assert packages - set(ALLOWED) - TOP == set()


def test_exceptions_name_real_modules_with_a_reason():
    for rel, reasons in EXCEPTIONS.items():
        assert (PACKAGE / rel).is_file(), rel
        assert all(len(reason) > 20 for reason in reasons.values())


def test_the_checker_reports_a_forbidden_arrow():
    """The rule can fail: a client importing a broker module, or a broker importing the simulator, is reported."""
    client = PACKAGE / "clients" / "producer.py"
    assert violations(client, "from kafkalab.broker.server import BrokerServer\n") == [
        "kafkalab/clients/producer.py:1: clients may not import kafkalab.broker "
        "(allowed: check, common, config, errors, ports, protocol)"]
    broker = PACKAGE / "broker" / "server.py"
    inside_function = "def f():\n    from kafkalab.sim.world import World\n"
    assert [v.split(": ", 1)[1] for v in violations(broker, inside_function)] == [
        "broker may not import kafkalab.sim (allowed: common, config, errors, groups, log, metadata, ports, protocol, "
        "raft, txn)"]
    assert violations(broker, "import kafkalab.protocol.fetch\nfrom kafkalab import ports\n") == []
