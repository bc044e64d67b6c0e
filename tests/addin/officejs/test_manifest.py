"""The Office.js add-in's metadata and manifest, checked offline against Microsoft's rules.

* manifest.xml validates against the Office add-in manifest XSDs (vendored in
  tests/reference/office_manifest_xsd with their source and licence), and a broken one does not;
* functions.json follows the custom-functions metadata reference (learn.microsoft.com, "Manually
  create JSON metadata for custom functions"): Microsoft publishes no JSON schema file for it in
  any package the tests can install, so its documented rules are checked one by one;
* every function of the spec is in functions.json with its arguments in order and the optional
  ones marked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from addin.excel import spec
from addin.officejs import files

XSD_DIR = Path(__file__).resolve().parents[2] / "reference" / "office_manifest_xsd"
BASE = "https://localhost:8443"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / "OfficeAppManifestV1_1.xsd")))


def _manifest(text: str | None = None) -> etree._Element:
    return etree.fromstring((text or files.manifest_xml(BASE)).encode("utf-8"))


def test_manifest_validates_against_the_office_xsd(schema: etree.XMLSchema) -> None:
    document = _manifest()
    assert schema.validate(document), schema.error_log


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (('xsi:type="CustomFunctions"', 'xsi:type="CustomFunctionz"'), "unknown extension point"),
        (("<Version>0.1.0.0</Version>", "<Version>zero</Version>"), "version not dotted numbers"),
        (("<ProviderName>perprisk</ProviderName>", ""), "required element missing"),
        (('<Namespace resid', '<Namespaces resid'), "misspelt element"),
    ],
)
def test_a_broken_manifest_fails_the_xsd(
    schema: etree.XMLSchema, change: tuple[str, str], reason: str
) -> None:
    text = files.manifest_xml(BASE)
    assert change[0] in text
    assert not schema.validate(_manifest(text.replace(change[0], change[1], 1))), reason


def test_manifest_points_at_the_served_files() -> None:
    document = _manifest()
    urls = {
        element.get("id"): element.get("DefaultValue")
        for element in document.iter("{http://schemas.microsoft.com/office/officeappbasictypes/1.0}Url")
    }
    assert urls == {
        "Functions.Script.Url": f"{BASE}/functions.js",
        "Functions.Metadata.Url": f"{BASE}/functions.json",
        "Functions.Page.Url": f"{BASE}/functions.html",
    }
    assert all(url.startswith("https://") for url in urls.values())  # Office requires HTTPS


ID = re.compile(r"[A-Za-z0-9.]+")  # "only alphanumeric characters and periods"
# Excel's function-name rule as xlwings Server enforces it (a letter first, then letters,
# digits, underscores or periods; at most 128 characters).
NAME = re.compile(r"[^\W\d_][\w.]{0,127}")
TYPES = {"boolean", "number", "string", "any"}
DIMENSIONS = {"scalar", "matrix"}
FUNCTION_KEYS = {"id", "name", "description", "helpUrl", "options", "parameters", "result"}
PARAMETER_KEYS = {"name", "description", "type", "dimensionality", "optional", "repeating",
                  "cellValueType", "customEnumType"}
OPTION_KEYS = {"cancelable", "requiresAddress", "requiresParameterAddresses", "stream",
               "volatile", "capturesCallingObject", "excludeFromAutoComplete",
               "linkedEntityLoadService", "requiresStreamAddress",
               "requiresStreamParameterAddresses"}


def test_functions_json_follows_the_metadata_reference() -> None:
    metadata = files.functions_metadata()
    assert set(metadata) <= {"functions", "enums", "allowCustomDataForDataTypeAny",
                             "allowErrorForDataTypeAny", "$schema"}
    ids = [entry["id"] for entry in metadata["functions"]]
    assert len(ids) == len(set(ids)), "ids must be unique"
    names = [entry["name"].upper() for entry in metadata["functions"]]
    assert len(names) == len(set(names)), "names must be unique"
    for entry in metadata["functions"]:
        assert {"id", "name", "parameters", "result"} <= set(entry) <= FUNCTION_KEYS, entry["id"]
        assert ID.fullmatch(entry["id"]), entry["id"]
        assert NAME.fullmatch(entry["name"]), entry["name"]
        assert isinstance(entry["description"], str) and entry["description"], entry["id"]
        assert set(entry.get("options", {})) <= OPTION_KEYS
        assert entry["result"]["dimensionality"] in DIMENSIONS
        seen_optional = False
        for parameter in entry["parameters"]:
            assert {"name"} <= set(parameter) <= PARAMETER_KEYS, (entry["id"], parameter)
            assert parameter["type"] in TYPES and parameter["dimensionality"] in DIMENSIONS
            # Excel fills arguments left to right: no required one after an optional one.
            assert not (seen_optional and not parameter.get("optional")), entry["id"]
            seen_optional = seen_optional or bool(parameter.get("optional"))


def test_functions_json_declares_every_spec_function_and_argument() -> None:
    declared = {entry["name"]: entry for entry in files.functions_metadata()["functions"]}
    assert list(declared) == [function.name for function in spec.functions()]
    for function in spec.functions():
        entry = declared[function.name]
        assert entry["id"] == files.function_id(function.name)
        assert entry["description"] == function.summary
        assert [(p["name"], p["description"], p.get("optional", False))
                for p in entry["parameters"]] == [
            (a.name, a.doc, a.optional) for a in function.arguments]
        # Every value can be a range: results spill, as the Excel cells' do.
        assert entry["result"] == {"dimensionality": "matrix"}
