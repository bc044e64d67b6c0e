"""Build the LibreOffice Calc extension ``PerpRisk.oxt`` from the cell-function declarations.

The extension holds:

* ``XPerpRisk.rdb``: the type library, the interface ``org.perprisk.calc.XPerpRisk`` with one
  method per ``PERP_`` function, named like the function, taking ``any`` arguments (a number, a
  text or a range) and returning ``sequence<sequence<any>>`` (one cell or an array). It is
  compiled from generated IDL by the LibreOffice SDK's ``unoidl-write``. A copy compiled from the
  same IDL ships with perprisk (``addin/calc/XPerpRisk.idl`` and ``.rdb``), so a machine without
  the SDK can still assemble the extension as long as the declarations have not changed;
* ``CalcAddIns.xcu``: per function the name a user types (``PERP_LIQ_PRICE``), the description
  and argument help the Function Wizard shows, and ``PERP_LIQ_PRICE`` again as the Excel
  compatibility name (used when LibreOffice reads or writes Excel files);
* ``perprisk_calc.py`` (:mod:`addin.calc.component`) and ``perprisk_functions.json``: the Python
  component, which calls the Excel functions through :mod:`addin.calc.host`;
* optionally ``perprisk_paths.json``: the folders where LibreOffice's Python finds perprisk,
  numpy and pandas (written by ``perprisk addin install --libreoffice``);
* ``description.xml`` and ``META-INF/manifest.xml``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from addin import __version__
from addin.excel import spec

__all__ = [
    "IDENTIFIER",
    "IMPLEMENTATION",
    "INTERFACE",
    "OXT_NAME",
    "SdkMissingError",
    "calc_addins_xcu",
    "compile_idl",
    "find_unoidl_write",
    "idl_source",
    "programmatic_name",
    "type_library",
    "write_oxt",
]

OXT_NAME = "PerpRisk.oxt"
IDENTIFIER = "org.perprisk.calc"
INTERFACE = "org.perprisk.calc.XPerpRisk"
IMPLEMENTATION = "org.perprisk.calc.PerpRisk"
HERE = Path(__file__).resolve().parent
SHIPPED_IDL = HERE / "XPerpRisk.idl"
SHIPPED_RDB = HERE / "XPerpRisk.rdb"
COMPONENT = HERE / "component.py"
#: Where LibreOffice keeps its SDK tools and type libraries, per system (program folder first).
PROGRAM_DIRS = (
    "/usr/lib/libreoffice/program",
    "/opt/libreoffice/program",
    "/Applications/LibreOffice.app/Contents/Resources",
    r"C:\Program Files\LibreOffice\program",
)


class SdkMissingError(RuntimeError):
    """The type library must be compiled but the LibreOffice SDK is not installed."""


def programmatic_name(name: str) -> str:
    """The name LibreOffice stores in .ods files for a function, e.g. for PERP_LIQ_PRICE
    ``ORG.PERPRISK.CALC.PERPRISK.PERP_LIQ_PRICE``."""
    return f"{IMPLEMENTATION}.{name}".upper()


def idl_source(functions: Sequence[spec.CellFunction] | None = None) -> str:
    """UNO IDL of the interface: one method per function, ``any`` in, 2-D ``any`` out."""
    functions = spec.functions() if functions is None else functions
    module, interface = INTERFACE.rsplit(".", 1)
    opening = " ".join(f"module {part} {{" for part in module.split("."))
    closing = " ".join("};" for _ in module.split("."))
    lines = [
        "// Generated from addin/excel/udfs.py by addin.calc.oxt; do not edit.",
        "#include <com/sun/star/uno/XInterface.idl>",
        "",
        opening,
        f"    interface {interface} : com::sun::star::uno::XInterface {{",
    ]
    for function in functions:
        arguments = ", ".join(f"[in] any {name}" for name in function.idl_arguments)
        lines.append(f"        sequence< sequence< any > > {function.name}({arguments});")
    lines += ["    };", closing, ""]
    return "\n".join(lines)


def _prop(name: str, value: str, lang: str | None = None) -> str:
    attribute = f" xml:lang={quoteattr(lang)}" if lang else ""
    return f'<prop oor:name="{name}"><value{attribute}>{escape(value)}</value></prop>'


def calc_addins_xcu(functions: Sequence[spec.CellFunction] | None = None) -> str:
    """``CalcAddIns.xcu``: names, help texts and compatibility names for the Function Wizard."""
    functions = spec.functions() if functions is None else functions
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<oor:component-data xmlns:oor="http://openoffice.org/2001/registry"'
        ' xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        ' oor:name="CalcAddIns" oor:package="org.openoffice.Office">',
        ' <node oor:name="AddInInfo">',
        f'  <node oor:name="{IMPLEMENTATION}" oor:op="replace">',
        '   <node oor:name="AddInFunctions">',
    ]
    for function in functions:
        out += [
            f'    <node oor:name="{function.name}" oor:op="replace">',
            "     " + _prop("DisplayName", function.name),
            "     " + _prop("Description", function.summary),
            "     " + _prop("Category", "Add-In"),
            "     " + _prop("CompatibilityName", function.name, "en-US"),
            '     <node oor:name="Parameters">',
        ]
        for argument in function.arguments:
            out += [
                f'      <node oor:name="{argument.idl_name}" oor:op="replace">',
                "       " + _prop("DisplayName", argument.name),
                "       " + _prop("Description", _argument_help(argument)),
                "      </node>",
            ]
        out += ["     </node>", "    </node>"]
    out += ["   </node>", "  </node>", " </node>", "</oor:component-data>", ""]
    return "\n".join(out)


def _argument_help(argument: spec.Argument) -> str:
    doc = " ".join(argument.doc.split())
    return f"(optional) {doc}" if argument.optional else doc


def _description_xml() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<description xmlns="http://openoffice.org/extensions/description/2006"
  xmlns:d="http://openoffice.org/extensions/description/2006"
  xmlns:l="http://libreoffice.org/extensions/description/2011"
  xmlns:xlink="http://www.w3.org/1999/xlink">
 <identifier value="{IDENTIFIER}"/>
 <version value="{escape(__version__)}"/>
 <display-name><name lang="en">PerpRisk cell functions</name></display-name>
 <dependencies>
  <l:LibreOffice-minimal-version d:name="LibreOffice 7.4" value="7.4"/>
 </dependencies>
</description>
"""


_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="http://openoffice.org/2001/manifest">
 <manifest:file-entry manifest:full-path="XPerpRisk.rdb"
  manifest:media-type="application/vnd.sun.star.uno-typelibrary;type=RDB"/>
 <manifest:file-entry manifest:full-path="CalcAddIns.xcu"
  manifest:media-type="application/vnd.sun.star.configuration-data"/>
 <manifest:file-entry manifest:full-path="perprisk_calc.py"
  manifest:media-type="application/vnd.sun.star.uno-component;type=Python"/>
</manifest:manifest>
"""


def find_unoidl_write() -> str | None:
    """``unoidl-write`` from ``PERPRISK_UNOIDL_WRITE``, the PATH or LibreOffice's SDK folder."""
    configured = os.environ.get("PERPRISK_UNOIDL_WRITE")
    if configured:
        return configured
    found = shutil.which("unoidl-write")
    if found:
        return found
    for program in PROGRAM_DIRS:
        for candidate in (
            Path(program).parent / "sdk" / "bin" / "unoidl-write",
            Path(program).parent / "sdk" / "bin" / "unoidl-write.exe",
        ):
            if candidate.is_file():
                return str(candidate)
    return None


def _types_rdb(unoidl_write: str) -> Path:
    """LibreOffice's own type library (``types.rdb``), which defines XInterface."""
    candidates = [Path(p) / "types.rdb" for p in PROGRAM_DIRS]
    sdk = Path(unoidl_write).resolve().parent.parent  # <office>/sdk/bin/unoidl-write
    candidates.insert(0, sdk.parent / "program" / "types.rdb")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SdkMissingError("LibreOffice's types.rdb not found next to unoidl-write")


def compile_idl(idl: str, unoidl_write: str | None = None) -> bytes:
    """Compile IDL text to a type library with ``unoidl-write``; the library's bytes."""
    tool = unoidl_write or find_unoidl_write()
    if tool is None:
        raise SdkMissingError(
            "unoidl-write (LibreOffice SDK) not found: install libreoffice-dev (Debian/Ubuntu) "
            "or the LibreOffice SDK, or set PERPRISK_UNOIDL_WRITE"
        )
    with tempfile.TemporaryDirectory(prefix="perprisk-idl-") as scratch:
        source = Path(scratch) / "XPerpRisk.idl"
        target = Path(scratch) / "XPerpRisk.rdb"
        source.write_text(idl, encoding="utf-8")
        done = subprocess.run(
            [tool, str(_types_rdb(tool)), str(source), str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0 or not target.is_file():
            message = (done.stderr or done.stdout).strip().splitlines()
            detail = message[-1] if message else f"exit code {done.returncode}"
            raise RuntimeError(f"unoidl-write failed: {detail}")
        return target.read_bytes()


def type_library(idl: str | None = None, *, compile: bool | None = None) -> bytes:
    """The type library for ``idl``: compiled when the SDK is there (or ``compile=True``),
    else the shipped copy if it was compiled from the same IDL."""
    idl = idl_source() if idl is None else idl
    tool = find_unoidl_write()
    if compile or (compile is None and tool is not None):
        return compile_idl(idl, tool)
    shipped_idl = SHIPPED_IDL.read_text(encoding="utf-8") if SHIPPED_IDL.is_file() else ""
    if shipped_idl == idl and SHIPPED_RDB.is_file():
        return SHIPPED_RDB.read_bytes()
    raise SdkMissingError(
        "the cell functions changed since the shipped type library was compiled, and "
        "unoidl-write (LibreOffice SDK, Debian/Ubuntu package libreoffice-dev) is not installed"
    )


def write_oxt(
    out_dir: Path | str,
    *,
    python_paths: Sequence[str] | None = None,
    compile: bool | None = None,
) -> Path:
    """Write ``PerpRisk.oxt`` into ``out_dir``; return its path.

    ``python_paths``: folders LibreOffice's Python should import perprisk, numpy and pandas
    from (recorded in the extension as ``perprisk_paths.json``).
    """
    functions = spec.functions()
    idl = idl_source(functions)
    library = type_library(idl, compile=compile)
    target = Path(out_dir) / OXT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    names = {f.name: len(f.arguments) for f in functions}
    parts: list[tuple[str, str | bytes]] = [
        ("META-INF/manifest.xml", _MANIFEST),
        ("description.xml", _description_xml()),
        ("CalcAddIns.xcu", calc_addins_xcu(functions)),
        ("XPerpRisk.rdb", library),
        ("perprisk_calc.py", COMPONENT.read_text(encoding="utf-8")),
        ("perprisk_functions.json", json.dumps(names, indent=1) + "\n"),
    ]
    if python_paths:
        parts.append(("perprisk_paths.json", json.dumps(list(python_paths), indent=1) + "\n"))
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as oxt:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            oxt.writestr(info, data)
    partial.replace(target)
    return target
