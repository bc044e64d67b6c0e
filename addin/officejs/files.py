"""The Office.js add-in's files, generated from the cell-function spec (:mod:`addin.excel.spec`).

* ``functions.json``: the custom-functions metadata Excel reads (one entry per ``PERP_``
  function: id, name, description, every parameter as a matrix of any values, optional where the
  spec says so, a matrix result so arrays spill).
* ``functions.js``: one ``CustomFunctions.associate`` per function; each POSTs its arguments as
  JSON to the server and returns the 2-D result, or throws ``CustomFunctions.Error`` (``#VALUE!``
  with the one-line message the Excel cell shows).
* ``functions.html``: the page that loads Microsoft's custom-functions runtime and functions.js.
* ``manifest.xml``: an add-in-only (XML) manifest with the CustomFunctions extension point, to
  sideload; Microsoft's unified JSON manifest cannot declare custom functions.

Examples
--------
>>> meta = functions_metadata()
>>> liq = next(f for f in meta["functions"] if f["name"] == "PERP_LIQ_PRICE")
>>> liq["parameters"][0]["name"], liq["parameters"][4]["optional"], liq["result"]
('side', True, {'dimensionality': 'matrix'})
>>> 'CustomFunctions.associate("PERP.LIQ.PRICE", function (side, ' in functions_js(BASE_URL)
True
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from typing import Any
from xml.sax.saxutils import quoteattr

from addin import __version__
from addin.excel import spec

__all__ = [
    "ADDIN_ID",
    "BASE_URL",
    "NAMESPACE",
    "function_id",
    "functions_html",
    "functions_js",
    "functions_metadata",
    "icon_png",
    "manifest_xml",
]

#: Where ``perprisk serve`` listens unless told otherwise (Office needs HTTPS, even locally).
BASE_URL = "https://localhost:8443"

#: Excel shows the functions as ``=PERPRISK.PERP_LIQ_PRICE(...)``.
NAMESPACE = "PERPRISK"

#: The add-in's fixed id, so a new manifest replaces the sideloaded one instead of adding one.
ADDIN_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "perprisk:officejs-custom-functions"))

# Names a strict-mode JavaScript function cannot take as parameters.
_JS_WORDS = """arguments await break case catch class const continue debugger default delete do
    else enum
    eval export extends false finally for function if implements import in instanceof interface
    let new null package private protected public return static super switch this throw true try
    typeof var void while with yield"""
_JS_RESERVED = frozenset(_JS_WORDS.split())


def _js_name(name: str) -> str:
    return name + "_" if name in _JS_RESERVED else name


def function_id(name: str) -> str:
    """The metadata id of a cell function: Office allows only letters, digits and periods.

    >>> function_id("PERP_LIQ_PRICE")
    'PERP.LIQ.PRICE'
    """
    return name.replace("_", ".")


def functions_metadata() -> dict[str, Any]:
    """The ``functions.json`` document (Office custom-functions metadata)."""
    entries = []
    for function in spec.functions():
        parameters = []
        for argument in function.arguments:
            parameter: dict[str, Any] = {
                "name": argument.name,
                "description": argument.doc,
                "type": "any",
                "dimensionality": "matrix",
            }
            if argument.optional:
                parameter["optional"] = True
            parameters.append(parameter)
        entry: dict[str, Any] = {
            "id": function_id(function.name),
            "name": function.name,
            "description": function.summary,
            "parameters": parameters,
            "result": {"dimensionality": "matrix"},
        }
        if function.options.get("volatile"):
            entry["options"] = {"volatile": True}
        entries.append(entry)
    return {"functions": entries}


_JS_HEAD = """\
// perprisk cell functions for Office.js, generated from perprisk's cell-function spec.
// Each function sends its arguments to the perprisk server and returns its rows of cells.
(function () {
  "use strict";
  var BASE = %(base)s;

  function fail(message) {
    return new CustomFunctions.Error(CustomFunctions.ErrorCode.invalidValue, message);
  }

  function call(name, args) {
    var given = args.map(function (a) { return a === undefined ? null : a; });
    var body = JSON.stringify({ args: given });
    return fetch(BASE + "/udf/" + name, {
      method: "POST",
      // text/plain keeps the request "simple" (no preflight), which is all the CORS Excel's
      // JavaScript-only custom-functions runtime supports; the body is JSON all the same.
      headers: { "Content-Type": "text/plain" },
      body: body
    }).then(function (response) {
      return response.text().then(function (text) {
        var answer = null;
        try { answer = JSON.parse(text); } catch (e) { answer = null; }
        if (response.ok && answer && Array.isArray(answer.result)) { return answer.result; }
        throw fail(answer && answer.error ? answer.error
                   : "perprisk server answered HTTP " + response.status);
      });
    }, function () {
      throw new CustomFunctions.Error(CustomFunctions.ErrorCode.notAvailable,
        "perprisk serve is not running at " + BASE);
    });
  }
"""


def functions_js(base_url: str = BASE_URL) -> str:
    """``functions.js``: one association per function, calling the server at ``base_url``."""
    lines = [_JS_HEAD % {"base": json.dumps(base_url.rstrip("/"))}]
    for function in spec.functions():
        names = ", ".join(_js_name(argument.name) for argument in function.arguments)
        lines.append(
            f"  CustomFunctions.associate({json.dumps(function_id(function.name))}, "
            f"function ({names}) {{\n"
            f"    return call({json.dumps(function.name)}, [{names}]);\n"
            "  });\n"
        )
    lines.append("})();\n")
    return "\n".join(lines)


def functions_html() -> str:
    """``functions.html``: Microsoft's custom-functions runtime, then ``functions.js``."""
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>PerpRisk functions</title>\n"
        '<script src="https://appsforoffice.microsoft.com/lib/1/hosted/'
        'custom-functions-runtime.js"></script>\n'
        '<script src="functions.js"></script>\n'
        "</head><body><p>perprisk cell functions</p></body></html>\n"
    )


def manifest_xml(base_url: str = BASE_URL) -> str:
    """The add-in-only XML manifest to sideload, pointing at the server at ``base_url``."""
    base = base_url.rstrip("/")
    parts = __version__.split(".")
    version = ".".join((parts + ["0"] * 4)[:4])

    def url(path: str) -> str:
        return quoteattr(f"{base}/{path}")

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OfficeApp xmlns="http://schemas.microsoft.com/office/appforoffice/1.1"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xmlns:bt="http://schemas.microsoft.com/office/officeappbasictypes/1.0"
           xmlns:ov="http://schemas.microsoft.com/office/taskpaneappversionoverrides"
           xsi:type="TaskPaneApp">
  <Id>{ADDIN_ID}</Id>
  <Version>{version}</Version>
  <ProviderName>perprisk</ProviderName>
  <DefaultLocale>en-US</DefaultLocale>
  <DisplayName DefaultValue="PerpRisk"/>
  <Description DefaultValue="Credit-risk cell functions for perpetual futures (PERP_...)."/>
  <IconUrl DefaultValue={url("icon-32.png")}/>
  <HighResolutionIconUrl DefaultValue={url("icon-64.png")}/>
  <SupportUrl DefaultValue={url("")}/>
  <Hosts>
    <Host Name="Workbook"/>
  </Hosts>
  <Requirements>
    <Sets DefaultMinVersion="1.1">
      <Set Name="CustomFunctionsRuntime" MinVersion="1.1"/>
    </Sets>
  </Requirements>
  <DefaultSettings>
    <SourceLocation DefaultValue={url("functions.html")}/>
  </DefaultSettings>
  <Permissions>ReadWriteDocument</Permissions>
  <VersionOverrides xmlns="http://schemas.microsoft.com/office/taskpaneappversionoverrides" \
xsi:type="VersionOverridesV1_0">
    <Hosts>
      <Host xsi:type="Workbook">
        <AllFormFactors>
          <ExtensionPoint xsi:type="CustomFunctions">
            <Script>
              <SourceLocation resid="Functions.Script.Url"/>
            </Script>
            <Page>
              <SourceLocation resid="Functions.Page.Url"/>
            </Page>
            <Metadata>
              <SourceLocation resid="Functions.Metadata.Url"/>
            </Metadata>
            <Namespace resid="Functions.Namespace"/>
          </ExtensionPoint>
        </AllFormFactors>
      </Host>
    </Hosts>
    <Resources>
      <bt:Urls>
        <bt:Url id="Functions.Script.Url" DefaultValue={url("functions.js")}/>
        <bt:Url id="Functions.Metadata.Url" DefaultValue={url("functions.json")}/>
        <bt:Url id="Functions.Page.Url" DefaultValue={url("functions.html")}/>
      </bt:Urls>
      <bt:ShortStrings>
        <bt:String id="Functions.Namespace" DefaultValue="{NAMESPACE}"/>
      </bt:ShortStrings>
    </Resources>
  </VersionOverrides>
</OfficeApp>
"""


def icon_png(size: int) -> bytes:
    """A square PNG icon (the manifest requires one): dark blue with an orange bar."""
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            bar = size // 4 <= x < 3 * size // 4 and size // 2 <= y < 5 * size // 8
            row += bytes((240, 140, 20)) if bar else bytes((20, 40, 90))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
