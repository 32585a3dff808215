"""The money packages are layered: the ledger below insurance and payment, payment above
insurance; demo data lives in app/demo, which no domain package imports. Imports are read with
ast at module and function level (a function-level import is an edge too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"


def _packages_imported_by(package: str, app: Path = APP) -> dict[str, set[str]]:
    """The other app packages `app.<package>` imports, each with the files that import it
    (the code base imports absolutely; a relative import fails the test)."""
    found: dict[str, set[str]] = {}
    for path in (app / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"relative import in {path}"
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "app" and len(parts) > 1 and parts[1] != package:
                    found.setdefault(parts[1], set()).add(str(path.relative_to(app.parent)))
    return found


def _domain_packages() -> list[str]:
    return sorted(
        p.name
        for p in APP.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in {"demo", "kit", "models"}
    )


def test_the_finder_sees_module_and_function_level_imports(tmp_path: Path) -> None:
    (tmp_path / "app" / "insurance").mkdir(parents=True)
    (tmp_path / "app" / "insurance" / "settlement.py").write_text(
        "import app.kit.clock\nfrom app.insurance import repository\n\n\n"
        "def reverse():\n    from app.payment import refunds\n",
        encoding="utf-8",
    )
    found = _packages_imported_by("insurance", tmp_path / "app")
    assert found == {
        "kit": {"app/insurance/settlement.py"},
        "payment": {"app/insurance/settlement.py"},
    }


def test_the_ledger_imports_neither_insurance_nor_payment() -> None:
    imported = _packages_imported_by("ledger")
    assert {"insurance", "payment"} & set(imported) == set(), imported


def test_insurance_does_not_import_payment_which_sits_above_it() -> None:
    imported = _packages_imported_by("insurance")
    assert "payment" not in imported, imported["payment"]
    assert "ledger" in imported


def test_payment_books_through_the_ledger() -> None:
    assert "ledger" in _packages_imported_by("payment")


@pytest.mark.parametrize("package", _domain_packages())
def test_no_domain_package_imports_the_demo_data(package: str) -> None:
    imported = _packages_imported_by(package)
    assert "demo" not in imported, imported.get("demo")
    assert not (APP / package / "demo.py").exists()
