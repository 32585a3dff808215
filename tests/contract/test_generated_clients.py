"""The committed OpenAPI document is a contract three client teams generate code from: a Python
client (openapi-python-client) and TypeScript types (openapi-typescript, npm) are generated
from it as those teams do, and neither may skip an operation or drop a response."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.fixtures.npm import NODE, needs_node, npm_ci

ROOT = Path(__file__).parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"
NODE_DIR = Path(__file__).parent / "node"


def _operations() -> dict[str, tuple[str, str]]:
    paths = json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]
    return {
        operation["operationId"]: (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
    }


def test_operation_ids_are_short_unique_names() -> None:
    paths = json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", i)] == []


def test_every_operation_names_its_clients() -> None:
    paths = json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation["x-clients"], (method, path)
            tags = [t for t in operation["tags"] if t.startswith("client:")]
            assert tags == [f"client:{c}" for c in operation["x-clients"]]


def test_the_python_client_generates_every_operation(tmp_path: Path) -> None:
    # The committed generator settings: binary media types are read as bytes.
    config = ROOT / "openapi" / "python-client.json"
    generated = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate",
            "--path", str(DOCUMENT), "--meta", "none", "--config", str(config),
            "--output-path", str(tmp_path / "client"),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    report = generated.stdout + generated.stderr
    assert "will not be generated" not in report, report
    assert "will be omitted" not in report, report
    modules = {p.stem for p in (tmp_path / "client" / "api").rglob("*.py")}
    missing = sorted(i for i in _operations() if i not in modules)
    assert missing == []


@needs_node
def test_the_typescript_types_cover_every_operation(tmp_path: Path) -> None:
    npm_ci(NODE_DIR)
    assert NODE is not None
    output = tmp_path / "api.d.ts"
    cli = NODE_DIR / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
    generated = subprocess.run(
        [NODE, str(cli), str(DOCUMENT), "--output", str(output)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    types = output.read_text(encoding="utf-8")
    block = types[types.index("export interface operations {") :]
    declared = set(re.findall(r"^    (\w+): \{$", block, flags=re.MULTILINE))
    missing = sorted(i for i in _operations() if i not in declared)
    assert missing == []
