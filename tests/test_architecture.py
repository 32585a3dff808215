"""The import graph of app/: no file imports itself back, and packages only point down.

The graph counts every import, at module level or inside a function, found with `ast`. A
package is app/<name> (a top-level module is its own package). Entry points - `app.main`,
`app.cli`, `app.api`, `app.wiring`, `app.worker` and every `__main__` - are the composition
root: they may import anything and nothing in app/ imports them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

Graph = dict[str, set[str]]

APP = Path(__file__).resolve().parent.parent / "app"
ENTRY_POINTS = {"app.main", "app.cli", "app.api", "app.wiring", "app.worker"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in APP.rglob("*.py"):
        parts = list(path.relative_to(APP.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _import_graph() -> Graph:
    modules = _modules()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {module: set() for module in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                found = known(target)
                if found and found != module:
                    graph[module].add(found)
    return graph


def _package(module: str) -> str:
    if module in ENTRY_POINTS or module.endswith(".__main__"):
        return "<entry>"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else module


def _edges(graph: Graph) -> list[tuple[str, str]]:
    return [(source, target) for source, targets in graph.items() for target in targets]


def _package_graph(graph: Graph) -> Graph:
    packages: Graph = defaultdict(set)
    for source, target in _edges(graph):
        a, b = _package(source), _package(target)
        if a != b:
            packages[a].add(b)
    return packages


def _cycles(graph: Graph) -> set[frozenset[str]]:
    """The strongly connected components of more than one node (Kosaraju, iterative)."""
    nodes = set(graph) | {t for targets in graph.values() for t in targets}
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(nodes):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                order.append(node)
                stack.pop()
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    reverse: Graph = defaultdict(set)
    for source, target in _edges(graph):
        reverse[target].add(source)
    assigned: set[str] = set()
    components: set[frozenset[str]] = set()
    for root in reversed(order):
        if root in assigned:
            continue
        component, frontier = {root}, [root]
        assigned.add(root)
        while frontier:
            for source in reverse[frontier.pop()]:
                if source not in assigned:
                    assigned.add(source)
                    component.add(source)
                    frontier.append(source)
        if len(component) > 1:
            components.add(frozenset(component))
    return components


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}
    assert _cycles({"a": {"b"}, "b": set()}) == set()


def test_no_module_imports_itself_back() -> None:
    assert _cycles(_import_graph()) == set()


def test_no_package_imports_itself_back() -> None:
    cycles = sorted(sorted(cycle) for cycle in _cycles(_package_graph(_import_graph())))
    assert cycles == [], f"packages that import each other: {cycles}"


def test_kit_is_the_bottom_layer_and_the_principal_sits_below_sign_in_and_sockets() -> None:
    """Settings reach kit as parameters or typed dependencies, and a module that needs a model
    is a repository of the package owning it; the principal is loaded without sign-in's code."""
    packages = _package_graph(_import_graph())
    assert packages["kit"] & {"config", "models"} == set()
    assert packages["authz"] & {"auth", "realtime"} == set()


def test_nothing_in_app_imports_an_entry_point() -> None:
    graph = _import_graph()
    importers = defaultdict(list)
    for source, target in _edges(graph):
        if _package(target) == "<entry>" and _package(source) != "<entry>":
            importers[target].append(source)
    assert dict(importers) == {}


def test_domains_meet_only_through_the_wiring_where_they_used_to_cycle() -> None:
    packages = _package_graph(_import_graph())
    for upper, lower in [("chat", "care"), ("pharmacy", "prescription"), ("chat", "prescription")]:
        assert upper not in packages[lower], f"{lower} imports {upper}"
    assert "app.api" not in _import_graph()["app.outbox.handlers"]


# --- SQL only in repositories ---------------------------------------------------------------
#
# A statement is built where a name imported from sqlalchemy that makes one (select, insert,
# update, delete, text, ...) is called, by its imported name or as `sqlalchemy.select` through
# the imported module, and run where `.execute/.scalar/.scalars/.get/.stream/.exec_driver_sql`
# is called on a session, a connection or a DB-API cursor. Both belong in repository modules:
# `repository.py`, `<anything>_repository.py` or a `repositories/` package. Besides those, only
# the plumbing that repositories stand on may do it; no other module is excepted.
STATEMENT_BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "exists",
    "union",
    "union_all",
    "literal_column",
    "tuple_",
    "values",
    "lambda_stmt",
}
STATEMENT_RUNNERS = {
    "execute",
    "scalar",
    "scalars",
    "get",
    "get_one",
    "stream",
    "stream_scalars",
    "exec_driver_sql",
}
STATEMENT_RECEIVERS = ("session", "connection", "conn", "cursor")
SQL_PLUMBING = {
    "app.db": "engines, the unit of work, SQLite's set-up",
    "app.kit.sql": "dialect-aware statement pieces and locks that repositories compose",
    "app.kit.repository": "a row by its primary or a unique key, for every domain",
    "app.kit.key_rotation": "re-encrypts every encrypted column of the metadata, table by table",
    "app.authz.scopes": "access scopes as WHERE clauses that repositories compose; runs nothing",
}
# Models call `text` for DDL only (server defaults, check constraints, partial indexes).
DDL_ONLY = ("app.models", {"text"})


def _is_repository(module: str) -> bool:
    parts = module.split(".")
    return parts[-1] == "repository" or parts[-1].endswith("_repository") or "repositories" in parts


def _receiver(node: ast.expr) -> str:
    # What a method is called on, by name: `session`, `self.connection`, and also what a call
    # or an await hands over (`dbapi_connection.cursor()`, `(await session.connection())`).
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _receiver(node.func)
    if isinstance(node, ast.Await):
        return _receiver(node.value)
    return ""


def _sql_calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    builders = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy"
        for alias in node.names
        if alias.name in STATEMENT_BUILDERS
    }
    sqlalchemy_modules = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.split(".")[0] == "sqlalchemy"
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in builders:
            found.add(builders[node.func.id])
        elif not isinstance(node.func, ast.Attribute):
            continue
        elif node.func.attr in STATEMENT_BUILDERS and ast.unparse(node.func.value) in (
            sqlalchemy_modules
        ):
            found.add(node.func.attr)
        elif node.func.attr in STATEMENT_RUNNERS:
            receiver = _receiver(node.func.value)
            if receiver.endswith(STATEMENT_RECEIVERS):
                found.add(f"{receiver}.{node.func.attr}")
    return found


def _sql_outside_repositories() -> dict[str, set[str]]:
    offenders = {}
    for module, path in _modules().items():
        if _is_repository(module) or module in SQL_PLUMBING:
            continue
        calls = _sql_calls(path)
        if module.startswith(DDL_ONLY[0] + ".") or module == DDL_ONLY[0]:
            calls -= DDL_ONLY[1]
        if calls:
            offenders[module] = calls
    return offenders


def test_the_sql_finder_finds_built_and_run_statements(tmp_path: Path) -> None:
    source = tmp_path / "service.py"
    source.write_text(
        "import sqlalchemy as sa\n"
        "import sqlalchemy.sql\n"
        "from sqlalchemy import select as pick, func\n"
        "async def f(session, db_session, self, dbapi_connection, conn):\n"
        "    await session.scalar(pick(1))\n"
        "    await db_session.get(object, 1)\n"
        "    await self.connection.execute(func.now())\n"
        "    sa.update(object)\n"
        "    sqlalchemy.sql.delete(object)\n"
        "    dbapi_connection.cursor().execute('PRAGMA foreign_keys=ON')\n"
        "    conn.exec_driver_sql('BEGIN IMMEDIATE')\n"
        "    await (await session.connection()).stream(pick(1))\n"
        "    settings.get('x')\n"
        "    sa.func.now()\n"
    )
    assert _sql_calls(source) == {
        "select",
        "update",
        "delete",
        "session.scalar",
        "db_session.get",
        "connection.execute",
        "cursor.execute",
        "conn.exec_driver_sql",
        "connection.stream",
    }


def test_statements_are_built_and_run_only_in_repositories() -> None:
    offenders = {m: sorted(c) for m, c in _sql_outside_repositories().items()}
    assert offenders == {}, "SQL outside repositories (move it into the domain's repository)"


def test_every_plumbing_exception_still_holds_sql() -> None:
    # An exception whose module has gone, or no longer holds SQL, would silently excuse whatever
    # is written under that name next.
    modules = _modules()
    stale = sorted(m for m in SQL_PLUMBING if m not in modules or not _sql_calls(modules[m]))
    assert stale == [], "take these off SQL_PLUMBING"


def test_endpoints_hand_the_session_on_and_never_work_with_it_themselves() -> None:
    offenders = {}
    for module, path in _modules().items():
        if module.rpartition(".")[2] != "endpoints":
            continue
        calls = {
            f"{_receiver(node.func.value)}.{node.func.attr}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _receiver(node.func.value).endswith("session")
        }
        if calls:
            offenders[module] = sorted(calls)
    assert offenders == {}
