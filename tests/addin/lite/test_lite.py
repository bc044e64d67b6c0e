"""Python in the browser (xlwings Lite): the lean riskfuncs wheel, its dependency closure
against Pyodide's own package lock, and the generated main.py.

Nothing here runs Pyodide itself (its numpy and pandas builds come from a CDN the tests cannot
reach); what can be checked on CPython is checked:

* ``import riskfuncs`` (from the built wheel, installed alone) succeeds with a meta-path blocker
  that refuses every module outside the standard library, numpy and pandas (and what those two
  import themselves), and computes a liquidation price;
* the wheel's metadata requires numpy and pandas only, and every module riskfuncs loads is
  provided by a package in Pyodide 314.0.8's lock, at versions perprisk's specifiers accept;
* main.py declares every spec function with the options the Excel add-in uses (recorded through
  stand-ins for ``func``/``arg``/``ret``), and, imported with the installed xlwings package's own
  decorators (no shim), gives riskfuncs' numbers and the Excel cell's one-line message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import xlwings
from packaging.requirements import Requirement
from packaging.version import Version

from addin.excel import spec
from addin.excel import udfs as excel_udfs
from addin.lite.script import main_py, requirements_txt
from addin.lite.wheels import ROOT, library_requirements, write_wheels
from riskfuncs import liquidation

LOCK = json.loads(
    (Path(__file__).resolve().parents[2] / "reference" / "pyodide" / "pyodide-lock.json")
    .read_text(encoding="utf-8")
)
#: Requirements of the cell wheel that Pyodide's lock does not list, and who provides them.
SUPPLIED_BY_LITE = {"xlwings": "xlwings Lite installs its own xlwings (lite.xlwings.org)"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="module")
def installed(wheels: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The riskfuncs wheel alone, installed by pip into an empty folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(wheels[0])],
        check=True, capture_output=True, text=True,
    )
    return target


def _metadata(wheel: Path) -> tuple[list[str], list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip()
                    for line in archive.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        for line in archive.read(record).decode().splitlines():
            path, digest, size = line.rsplit(",", 2)
            if digest:
                data = archive.read(path)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                assert digest == "sha256=" + expected.decode() and int(size) == len(data), path
    return names, requires


def test_riskfuncs_wheel_holds_riskfuncs_only_and_requires_numpy_and_pandas(
    wheels: tuple[Path, Path],
) -> None:
    names, requires = _metadata(wheels[0])
    assert requires == library_requirements()
    assert {Requirement(r).name for r in requires} == {"numpy", "pandas"}
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "riskfuncs").rglob("*.py")
               if "__pycache__" not in p.parts}
    packaged = {n for n in names if not n.startswith("riskfuncs-")}
    assert sources <= packaged and all(n.startswith("riskfuncs/") for n in packaged)


def test_cell_wheel_holds_what_the_excel_functions_import(wheels: tuple[Path, Path]) -> None:
    names, requires = _metadata(wheels[1])
    assert "addin/excel/udfs.py" in names and "addin/excel/cells.py" in names
    assert not any(n.startswith(("riskfuncs/", "addin/workbook/", "addin/mail/")) for n in names)
    assert [Requirement(r).name for r in requires] == ["riskfuncs", "xlwings"]


# Runs in a fresh interpreter: numpy and pandas first (with whatever they load), then a blocker
# that refuses any other top-level module outside the standard library, then riskfuncs from the
# folder given (the repository's own path removed), then one calculation.
BLOCKED_IMPORT = r"""
import importlib.abc, json, sys
site, repo = sys.argv[1], sys.argv[2]
sys.path[:] = [site] + [p for p in sys.path if p.rstrip("/") != repo.rstrip("/") and p != ""]
import numpy, pandas
loaded = {name.split(".")[0] for name in sys.modules}
allowed = set(sys.stdlib_module_names) | loaded | {"numpy", "pandas", "riskfuncs"}
refused = []

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top not in allowed:
            refused.append(name)
            raise ModuleNotFoundError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Blocker())
import riskfuncs
price = riskfuncs.liquidation_price("long", 60000.0, 0.5, 3000.0, exchange="binance",
                                    maintenance_margin_rate=0.004)
added = sorted({n.split(".")[0] for n in sys.modules} - loaded - set(sys.stdlib_module_names))
print(json.dumps({"file": riskfuncs.__file__, "price": price, "refused": refused,
                  "added": added}))
"""


def _blocked_run(site: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, str(site), str(ROOT)],
                          capture_output=True, text=True, check=False, cwd=site)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_riskfuncs_from_the_wheel_imports_with_only_numpy_and_pandas(installed: Path) -> None:
    run = _blocked_run(installed)
    assert Path(run["file"]).resolve().is_relative_to(installed.resolve())
    assert run["refused"] == []
    assert run["price"] == liquidation.liquidation_price(
        "long", 60_000.0, 0.5, 3_000.0, exchange="binance", maintenance_margin_rate=0.004)


def test_the_blocker_does_refuse_a_module_outside_the_closure(
    installed: Path, tmp_path: Path
) -> None:
    """The check can fail: a riskfuncs module that imported scipy would be stopped."""
    site = tmp_path / "site"
    shutil.copytree(installed, site)
    (site / "riskfuncs" / "_probe.py").write_text("import scipy\n", encoding="utf-8")
    code = BLOCKED_IMPORT.replace("import riskfuncs\n", "import riskfuncs, riskfuncs._probe\n")
    done = subprocess.run([sys.executable, "-c", code, str(site), str(ROOT)],
                          capture_output=True, text=True, check=False, cwd=site)
    assert done.returncode != 0 and "blocked: scipy" in done.stderr


def _lock_closure(names: list[str]) -> set[str]:
    packages = LOCK["packages"]
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in packages, f"{name} is not in Pyodide's lock"
        seen.add(name)
        todo += packages[name]["depends"]
    return seen


def test_riskfuncs_dependency_closure_is_in_pyodides_lock(installed: Path) -> None:
    requirements = [Requirement(r) for r in library_requirements()]
    for requirement in requirements:
        locked = Version(LOCK["packages"][requirement.name]["version"])
        assert requirement.specifier.contains(locked), (requirement, locked)
    closure = _lock_closure([r.name for r in requirements])
    assert {"numpy", "pandas", "python-dateutil", "pytz", "six"} <= closure
    # Beyond what numpy and pandas load themselves, riskfuncs brings in nothing but itself.
    assert _blocked_run(installed)["added"] == ["riskfuncs"]


def test_cell_wheel_requirements_are_pyodides_ours_or_lites(wheels: tuple[Path, Path]) -> None:
    _, requires = _metadata(wheels[1])
    for requirement in map(Requirement, requires):
        assert (requirement.name in LOCK["packages"] or requirement.name == "riskfuncs"
                or requirement.name in SUPPLIED_BY_LITE), requirement
    assert LOCK["info"]["python"].startswith("3.14")  # perprisk requires Python >= 3.11


class _Recorder:
    """Stands in for xlwings' ``func``/``arg``/``ret`` and keeps what main.py gives them."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.arguments: dict[str, dict[str, dict[str, Any]]] = {}
        self.returns: dict[str, dict[str, Any]] = {}

    def func(self, f: Callable[..., Any]) -> Callable[..., Any]:
        self.functions.append(f.__name__)
        return f

    def arg(self, name: str, convert: Any = None, **options: Any) -> Callable[..., Any]:
        def mark(f: Callable[..., Any]) -> Callable[..., Any]:
            recorded = dict(options, **({"convert": convert} if convert is not None else {}))
            self.arguments.setdefault(f.__name__, {})[name] = recorded
            return f
        return mark

    def ret(self, convert: Any = None, **options: Any) -> Callable[..., Any]:
        def mark(f: Callable[..., Any]) -> Callable[..., Any]:
            self.returns[f.__name__] = dict(
                options, **({"convert": convert} if convert is not None else {}))
            return f
        return mark


def _load(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "main"}
    exec(compile(source, "main.py", "exec"), namespace)  # the generated file, as Lite runs it
    return namespace


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    recorder = _Recorder()
    for name in ("func", "arg", "ret"):
        monkeypatch.setattr(xlwings, name, getattr(recorder, name))
    _load(main_py())
    yield recorder


def test_main_py_declares_every_function_as_the_excel_add_in_does(recorded: _Recorder) -> None:
    assert recorded.functions == [f.name for f in spec.functions()]
    for function in spec.functions():
        assert recorded.arguments.get(function.name, {}) == {
            a.name: {**a.options, "doc": a.doc} for a in function.arguments}
        assert recorded.returns.get(function.name, {}) == dict(function.returns)


def test_main_py_gives_riskfuncs_numbers_and_the_excel_message() -> None:
    main = _load(main_py())  # the installed xlwings' own func/arg/ret (no-ops off Windows)
    got = main["PERP_LIQ_PRICE"](side=[["long"], ["short"]], entry_price=[[60_000.0], [3_000.0]],
                                 quantity=[[0.5], [2.0]], collateral=[[3_000.0], [600.0]],
                                 exchange="bybit", maintenance_margin_rate=[[0.005]])
    expected = liquidation.liquidation_price(["long", "short"], [60_000.0, 3_000.0],
                                             [0.5, 2.0], [3_000.0, 600.0], exchange="bybit",
                                             maintenance_margin_rate=0.005)
    assert all(math.isclose(g[0], e, rel_tol=1e-12) for g, e in zip(got, expected, strict=True))
    bad = main["PERP_NOTIONAL"]([[-1.0]], [[60_000.0]])
    assert bad == vars(excel_udfs)["PERP_NOTIONAL"]([[-1.0]], [[60_000.0]])
    assert bad == "quantity must be > 0 (got -1)"


def test_requirements_list_both_wheels_and_pyodides_numpy_and_pandas() -> None:
    lines = requirements_txt("https://example.org/wheels/").splitlines()
    assert lines[:2] == [f"https://example.org/wheels/{name}" for name in (
        f"riskfuncs-{spec_version()}-py3-none-any.whl",
        f"perprisk_cells-{spec_version()}-py3-none-any.whl")]
    assert lines[2:] == ["numpy", "pandas"]  # unpinned: Pyodide's own builds


def spec_version() -> str:
    from addin import __version__
    return __version__


def test_build_py_lite_writes_the_wheels_and_the_lite_files(tmp_path: Path) -> None:
    """``python build.py --lite`` (the same as ``perprisk lite``) from a source checkout."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--lite", "--out", str(tmp_path),
         "--wheel-url", "https://example.org/wheels"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    version = spec_version()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        f"riskfuncs-{version}-py3-none-any.whl", f"perprisk_cells-{version}-py3-none-any.whl",
        "main.py", "requirements.txt"])
    assert (tmp_path / "main.py").read_text(encoding="utf-8") == main_py()
    assert (tmp_path / "requirements.txt").read_text(encoding="utf-8") == requirements_txt(
        "https://example.org/wheels")
