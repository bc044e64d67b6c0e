"""Drive headless LibreOffice Calc over UNO: fill cells, enter formulas, recalculate, read back.

Runs under LibreOffice's own Python (on Debian the system ``/usr/bin/python3`` with python3-uno),
not the test environment: ``python3 drive_calc.py JOB.json RESULT.json``. The job names the
soffice command line and a list of steps; the result holds what each read step saw. One soffice
process serves the whole job.

Steps (``sheet`` is the sheet index, addresses are A1 style):

* ``{"do": "new"}``: a new spreadsheet becomes the current document;
* ``{"do": "open", "path": ...}``: open a file (.ods/.xlsx) as the current document;
* ``{"do": "values", "cells": {"A1": 1.5, "B1": "long", "C1": null}}``: constants;
* ``{"do": "formula", "cell": "A1", "formula": "=..."}``; ``{"do": "array", "range": "A1:B2",
  "formula": "=..."}``: a formula as typed in the UI (English function names, ``;`` or ``,``);
* ``{"do": "recalc"}``: hard recalculation (``calculateAll``);
* ``{"do": "read", "range": "A1:C3", "key": "name"}``: per cell value, text, formula, error code;
* ``{"do": "save", "path": ..., "filter": "calc8" | "Calc Office Open XML"}``;
* ``{"do": "functions", "prefix": "PERP_", "key": "name"}``: the Function Wizard's entries;
* ``{"do": "close"}``.
"""

import contextlib
import json
import os
import subprocess
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException


def _property(name, value):
    item = PropertyValue()
    item.Name = name
    item.Value = value
    return item


def _connect(pipe, process, seconds=60.0):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    deadline = time.monotonic() + seconds
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except NoConnectException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def _cell_record(cell):
    kind = cell.getType().value
    formula_kind = None
    if kind == "FORMULA":
        formula_kind = "text" if cell.FormulaResultType2 == 2 else "number"
    return {
        "value": cell.getValue(),
        "text": cell.getString(),
        "formula": cell.getFormula(),
        "error": cell.getError(),
        "kind": kind.lower(),
        "result": formula_kind,
    }


def _functions(context, prefix):
    """What the Function Wizard lists for functions whose name starts with ``prefix``."""
    descriptions = context.ServiceManager.createInstanceWithContext(
        "com.sun.star.sheet.FunctionDescriptions", context
    )
    found = {}
    for index in range(descriptions.getCount()):
        entry = {p.Name: p.Value for p in descriptions.getByIndex(index)}
        if entry["Name"].startswith(prefix):
            found[entry["Name"]] = {
                "description": entry["Description"],
                "arguments": [
                    {"name": a.Name, "description": a.Description, "optional": a.IsOptional}
                    for a in entry.get("Arguments") or ()
                ],
            }
    return found


def run(job):
    pipe = job["pipe"]
    command = [*job["soffice"], f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = {}
    desktop = None
    try:
        context = _connect(pipe, process)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        document = None
        hidden = (_property("Hidden", True),)
        for step in job["steps"]:
            action = step["do"]
            if action == "new":
                url = "private:factory/scalc"
                document = desktop.loadComponentFromURL(url, "_blank", 0, hidden)
            elif action == "open":
                url = uno.systemPathToFileUrl(os.path.abspath(step["path"]))
                document = desktop.loadComponentFromURL(url, "_blank", 0, hidden)
            elif action == "close":
                document.close(True)
                document = None
            elif action == "recalc":
                document.calculateAll()
            elif action == "functions":
                results[step["key"]] = _functions(context, step["prefix"])
            elif action == "save":
                url = uno.systemPathToFileUrl(os.path.abspath(step["path"]))
                document.storeToURL(url, (_property("FilterName", step["filter"]),))
            else:
                sheet = document.Sheets.getByIndex(step.get("sheet", 0))
                if action == "values":
                    for address, value in step["cells"].items():
                        cell = sheet.getCellRangeByName(address)
                        if value is None:
                            cell.setString("")
                        elif isinstance(value, str):
                            cell.setString(value)
                        else:
                            cell.setValue(float(value))
                elif action == "formula":
                    sheet.getCellRangeByName(step["cell"]).setFormula(step["formula"])
                elif action == "array":
                    sheet.getCellRangeByName(step["range"]).setArrayFormula(step["formula"])
                elif action == "read":
                    block = sheet.getCellRangeByName(step["range"])
                    address = block.getRangeAddress()
                    rows = []
                    for r in range(address.EndRow - address.StartRow + 1):
                        rows.append(
                            [
                                _cell_record(block.getCellByPosition(c, r))
                                for c in range(address.EndColumn - address.StartColumn + 1)
                            ]
                        )
                    results[step["key"]] = rows
                else:
                    raise ValueError(f"unknown step {action!r}")
    finally:
        if desktop is not None:
            with contextlib.suppress(Exception):
                desktop.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return results


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    results = run(job)
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
