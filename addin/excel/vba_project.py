"""Write a VBA project (``vbaProject.bin``) from module source text, as [MS-OVBA] describes.

The project is source only: ``_VBA_PROJECT`` carries version 0xFFFF and no performance cache
([MS-OVBA] 2.3.4.1: "MUST be 0xFFFF on write"; the cache "MUST NOT be present on write"), so
Office compiles the modules when it loads them. The pieces:

* every module stream holds its source, compressed ([MS-OVBA] 2.4.1), at offset 0;
* the ``dir`` stream (2.3.4.2) describes the project, its references and modules, compressed;
* ``PROJECT`` (2.3.1) is the text description, with the protection fields CMG/DPB/GC encrypted
  as 2.4.3 prescribes (unprotected, no password, visible); ``PROJECTwm`` (2.3.3) maps names;
* all of it in a Compound File Binary container ([MS-CFB], version 3, 512-byte sectors; streams
  under 4096 bytes live in the mini stream).

Also here: :func:`udf_module_source`, the ``xlwings_udfs`` module that xlwings' own
``import_udfs`` writes into a workbook, generated from the function declarations, so a ready
add-in needs no "Import Functions" step.
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CLASS_BASE",
    "Module",
    "class_module_source",
    "compound_file",
    "compress",
    "document_module_source",
    "encrypt_project_data",
    "udf_module_source",
    "vba_project",
    "vba_string",
]

#: ``VB_Base`` of a class module (the VBE adds it when a .cls file is imported).
CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"
#: ``VB_Base`` of Excel's workbook and worksheet document modules.
WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
CODE_PAGE = 1252
ENCODING = "cp1252"
LCID = 0x0409

ModuleKind = Literal["module", "class", "document"]


@dataclass(frozen=True)
class Module:
    """One VBA module: its name, kind and source text (as the VBE stores it)."""

    name: str
    kind: ModuleKind
    source: str


# --- [MS-OVBA] 2.4.1 compression ----------------------------------------------------------------

CHUNK = 4096


def _copy_token_layout(position: int) -> tuple[int, int]:
    """(bit count for the offset, maximum match length) at ``position`` in a chunk."""
    bit_count = max((position - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _compress_chunk(chunk: bytes) -> bytes:
    out = bytearray()
    seen: dict[bytes, list[int]] = {}  # where each 3-byte sequence started so far
    indexed = 0
    position = 0
    while position < len(chunk):
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if position >= len(chunk):
                break
            for i in range(indexed, min(position, len(chunk) - 2)):
                seen.setdefault(chunk[i : i + 3], []).append(i)
            indexed = max(indexed, position)
            best_length, best_offset = 0, 0
            if position > 0:
                bit_count, longest = _copy_token_layout(position)
                limit = min(longest, len(chunk) - position)
                for start in reversed(seen.get(chunk[position : position + 3], [])[-256:]):
                    length = 0
                    while length < limit and chunk[start + length] == chunk[position + length]:
                        length += 1
                    if length > best_length:
                        best_length, best_offset = length, position - start
                        if length == limit:
                            break
            if best_length >= 3:
                bit_count, _ = _copy_token_layout(position)
                token = ((best_offset - 1) << (16 - bit_count)) | (best_length - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                position += best_length
            else:
                out.append(chunk[position])
                position += 1
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """A CompressedContainer ([MS-OVBA] 2.4.1.1.1) holding ``data``."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        body = _compress_chunk(chunk)
        if len(body) + 2 <= CHUNK + 2:
            header = 0x8000 | 0x3000 | (len(body) + 2 - 3)
        elif len(chunk) == CHUNK:  # incompressible: a raw chunk holds exactly 4096 bytes
            body = chunk
            header = 0x3000 | (CHUNK + 2 - 3)
        else:
            raise ValueError("a short incompressible last chunk cannot be stored")
        out += struct.pack("<H", header) + body
    return bytes(out)


# --- [MS-OVBA] 2.4.3 data encryption (CMG, DPB, GC) ---------------------------------------------


def encrypt_project_data(project_id: str, data: bytes, seed: int) -> str:
    """Encrypt ``data`` for a PROJECT field, keyed by the project ID; hex text."""
    project_key = sum(project_id.encode("ascii")) & 0xFF
    version = 2
    version_enc = seed ^ version
    key_enc = seed ^ project_key
    unencrypted_1, encrypted_1, encrypted_2 = project_key, key_enc, version_enc
    out = bytearray([seed, version_enc, key_enc])
    ignored = [(seed * 7 + i * 13) & 0xFF for i in range((seed & 6) // 2)]
    for value in [*ignored, *struct.pack("<I", len(data)), *data]:
        byte = value ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(byte)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte, value
    return out.hex().upper()


# --- module sources ----------------------------------------------------------------------------

CRLF = "\r\n"


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def _join(lines: Sequence[str]) -> str:
    return CRLF.join(lines) + CRLF


def document_module_source(name: str, base: str, code: Sequence[str] = ()) -> str:
    """The source of a workbook or worksheet document module, with ``code`` lines if any."""
    return _join(
        [
            f'Attribute VB_Name = "{name}"',
            f'Attribute VB_Base = "{base}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True",
            "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = True",
            *code,
        ]
    )


def vba_string(text: str) -> str:
    """A VBA string literal for ``text`` (one line; characters outside the code page folded).

    >>> vba_string('say "hi" to USDⓈ-M')
    '"say ""hi"" to USDS-M"'
    """
    folded = unicodedata.normalize("NFKC", " ".join(text.split()))
    plain = folded.encode(ENCODING, errors="replace").decode(ENCODING)
    return '"' + plain.replace('"', '""') + '"'


def class_module_source(exported: str) -> str:
    """A class module as the VBE stores it, from its exported .cls text: without the
    ``VERSION``/``BEGIN``/``END`` header, with the attributes the VBE adds on import."""
    lines = _lines(exported)
    if lines and lines[0].startswith("VERSION "):
        end = lines.index("END")
        lines = lines[end + 1 :]
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.startswith("Attribute VB_Name ="):
            out.append(f'Attribute VB_Base = "{CLASS_BASE}"')
        elif line == "Attribute VB_Exposed = True" or line == "Attribute VB_Exposed = False":
            out += ["Attribute VB_TemplateDerived = False", "Attribute VB_Customizable = False"]
    while out and out[-1] == "":
        out.pop()
    return _join(out)


@dataclass(frozen=True)
class WrappedFunction:
    """What the VBA wrapper of one Python cell function needs."""

    name: str
    arguments: tuple[tuple[str, bool], ...]  # (name, optional)
    volatile: bool = False
    call_in_wizard: bool = True


def udf_module_source(
    functions: Sequence[WrappedFunction], python_module: str, *, add_in: bool = True
) -> str:
    """The ``xlwings_udfs`` module, line for line what xlwings' ``import_udfs`` writes
    (functions in name order; ``ActiveWorkbook`` in an add-in, else ``ThisWorkbook``)."""
    book = "ActiveWorkbook" if add_in else "ThisWorkbook"
    lines = [
        'Attribute VB_Name = "xlwings_udfs"',
        "'Autogenerated code by xlwings - changes will be lost with next import!",
        '#Const App = "Microsoft Excel" \'Adjust when using outside of Excel',
    ]
    for function in sorted(functions, key=lambda f: f.name):
        name = function.name
        signature = ", ".join(
            ("Optional " if optional else "") + argument
            for argument, optional in function.arguments
        )
        arguments = "Array(" + ", ".join(a for a, _ in function.arguments) + ")"
        lines.append(f"Function {name}({signature})")
        if not function.call_in_wizard:
            lines.append(
                '    If (Not Application.CommandBars("Standard").Controls(1).Enabled) Then '
                "Exit Function"
            )
        if function.volatile:
            lines.append("    Application.Volatile")
        lines += [
            '    #If App = "Microsoft Excel" Then',
            "        If TypeOf Application.Caller Is Range Then On Error GoTo failed",
            f'        {name} = XLPy.CallUDF("{python_module}", "{name}", {arguments}, {book}, '
            "Application.Caller)",
            "        Exit Function",
            "    #Else",
            f'        {name} = XLPy.CallUDF("{python_module}", "{name}", {arguments})',
            "        Exit Function",
            "    #End If",
            "failed:",
            f"    {name} = Err.Description",
            "End Function",
            "",
        ]
    return _join(lines)


# --- [MS-OVBA] 2.3.4.2 dir stream ---------------------------------------------------------------


def _record(record_id: int, data: bytes) -> bytes:
    return struct.pack("<HI", record_id, len(data)) + data


def _text_records(record_id: int, unicode_id: int, text: str) -> bytes:
    return _record(record_id, text.encode(ENCODING)) + _record(
        unicode_id, text.encode("utf-16-le")
    )


@dataclass(frozen=True)
class Reference:
    """A registered type library the project refers to."""

    name: str
    libid: str

    def records(self) -> bytes:
        libid = self.libid.encode(ENCODING)
        registered = struct.pack("<I", len(libid)) + libid + b"\x00" * 6
        return _text_records(0x0016, 0x003E, self.name) + _record(0x000D, registered)


REFERENCES = (
    Reference(
        "stdole",
        "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\\Windows\\System32\\stdole2.tlb"
        "#OLE Automation",
    ),
    Reference(
        "Office",
        "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#C:\\Program Files\\Common Files\\"
        "Microsoft Shared\\OFFICE16\\MSO.DLL#Microsoft Office 16.0 Object Library",
    ),
)


def _dir_stream(project_name: str, modules: Sequence[Module]) -> bytes:
    out = bytearray()
    out += _record(0x0001, struct.pack("<I", 1))  # SysKind: 32-bit Windows
    out += _record(0x0002, struct.pack("<I", LCID))
    out += _record(0x0014, struct.pack("<I", LCID))  # LcidInvoke
    out += _record(0x0003, struct.pack("<H", CODE_PAGE))
    out += _record(0x0004, project_name.encode(ENCODING))
    out += _text_records(0x0005, 0x0040, "")  # DocString
    out += _text_records(0x0006, 0x003D, "")  # HelpFile1, HelpFile2
    out += _record(0x0007, struct.pack("<I", 0))  # HelpContext
    out += _record(0x0008, struct.pack("<I", 0))  # LibFlags
    # PROJECTVERSION: its "size" field is fixed at 4 though 6 bytes follow.
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)
    out += _text_records(0x000C, 0x003C, "")  # Constants
    for reference in REFERENCES:
        out += reference.records()
    out += _record(0x000F, struct.pack("<H", len(modules)))
    out += _record(0x0013, struct.pack("<H", 0xFFFF))  # ProjectCookie
    for module in modules:
        out += _record(0x0019, module.name.encode(ENCODING))
        out += _record(0x0047, module.name.encode("utf-16-le"))
        out += _text_records(0x001A, 0x0032, module.name)  # stream name
        out += _text_records(0x001C, 0x0048, "")  # DocString
        out += _record(0x0031, struct.pack("<I", 0))  # TextOffset: source at the start
        out += _record(0x001E, struct.pack("<I", 0))  # HelpContext
        out += _record(0x002C, struct.pack("<H", 0xFFFF))  # Cookie
        out += struct.pack("<HI", 0x0021 if module.kind == "module" else 0x0022, 0)
        out += struct.pack("<HI", 0x002B, 0)  # module terminator
    out += struct.pack("<HI", 0x0010, 0)  # dir terminator
    return bytes(out)


def _project_stream(project_id: str, project_name: str, modules: Sequence[Module]) -> bytes:
    seed = hashlib.sha256(project_id.encode("ascii")).digest()
    protection = encrypt_project_data(project_id, bytes(4), seed[0])  # not protected
    password = encrypt_project_data(project_id, bytes(1), seed[1])  # no password
    visibility = encrypt_project_data(project_id, bytes([0xFF]), seed[2])  # visible
    lines = [f'ID="{project_id}"']
    for module in modules:
        if module.kind == "document":
            lines.append(f"Document={module.name}/&H00000000")
        elif module.kind == "class":
            lines.append(f"Class={module.name}")
        else:
            lines.append(f"Module={module.name}")
    lines += [
        f'Name="{project_name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{protection}"',
        f'DPB="{password}"',
        f'GC="{visibility}"',
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
    ]
    return CRLF.join(lines).encode(ENCODING)


def _project_wm(modules: Sequence[Module]) -> bytes:
    out = bytearray()
    for module in modules:
        out += module.name.encode(ENCODING) + b"\x00" + module.name.encode("utf-16-le") + b"\0\0"
    return bytes(out + b"\x00\x00")


def vba_project(
    modules: Sequence[Module], *, project_name: str = "VBAProject", project_id: str | None = None
) -> bytes:
    """The ``vbaProject.bin`` bytes for these modules (sources as the VBE stores them)."""
    names = [m.name for m in modules]
    if len(set(n.lower() for n in names)) != len(names):
        raise ValueError(f"module names must be unique: {names}")
    project_id = project_id or "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, project_name)).upper() + "}"
    streams = {
        "PROJECT": _project_stream(project_id, project_name, modules),
        "PROJECTwm": _project_wm(modules),
        "VBA/_VBA_PROJECT": bytes.fromhex("cc61ffff000300"),
        "VBA/dir": compress(_dir_stream(project_name, modules)),
    }
    for module in modules:
        streams[f"VBA/{module.name}"] = compress(module.source.encode(ENCODING))
    return compound_file(streams)


# --- [MS-CFB] compound file, version 3 ----------------------------------------------------------

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[_Entry] = field(default_factory=list)
    index: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    start: int = ENDOFCHAIN
    size: int = 0


def _cfb_key(entry: _Entry) -> tuple[int, str]:
    return len(entry.name), entry.name.upper()


def _balanced(entries: list[_Entry]) -> int:
    """Link ``entries`` (sorted) as a balanced binary tree; the root's index."""
    if not entries:
        return NOSTREAM
    middle = len(entries) // 2
    root = entries[middle]
    root.left = _balanced(entries[:middle])
    root.right = _balanced(entries[middle + 1 :])
    return root.index


def _walk(entry: _Entry) -> Iterator[_Entry]:
    yield entry
    for child in entry.children:
        yield from _walk(child)


def _chain(fat: list[int], start: int, count: int) -> None:
    for i in range(count):
        fat[start + i] = start + i + 1 if i < count - 1 else ENDOFCHAIN


def _sectors(length: int, size: int) -> int:
    return (length + size - 1) // size


def compound_file(streams: Mapping[str, bytes]) -> bytes:
    """A compound file holding ``streams`` (paths such as ``VBA/dir``)."""
    root = _Entry("Root Entry", 5)
    for path, data in streams.items():
        node = root
        *folders, leaf = path.split("/")
        for folder in folders:
            found = next((c for c in node.children if c.name == folder), None)
            if found is None:
                found = _Entry(folder, 1)
                node.children.append(found)
            node = found
        node.children.append(_Entry(leaf, 2, data))
    entries = list(_walk(root))
    for index, entry in enumerate(entries):
        if len(entry.name) > 31:
            raise ValueError(f"name too long for a compound file: {entry.name}")
        entry.index = index
    for entry in entries:
        entry.child = _balanced(sorted(entry.children, key=_cfb_key))

    small = [e for e in entries if e.kind == 2 and len(e.data) < MINI_CUTOFF]
    large = [e for e in entries if e.kind == 2 and len(e.data) >= MINI_CUTOFF]
    mini_stream = bytearray()
    mini_fat: list[int] = []
    for entry in small:
        entry.size = len(entry.data)
        if not entry.data:
            continue
        count = _sectors(len(entry.data), MINI_SECTOR)
        entry.start = len(mini_fat)
        mini_fat += [len(mini_fat) + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
        mini_stream += entry.data.ljust(count * MINI_SECTOR, b"\x00")

    directory_sectors = _sectors(len(entries), 4)
    mini_fat_sectors = _sectors(len(mini_fat) * 4, SECTOR)
    mini_stream_sectors = _sectors(len(mini_stream), SECTOR)
    large_sectors = [_sectors(len(e.data), SECTOR) for e in large]
    others = directory_sectors + mini_fat_sectors + mini_stream_sectors + sum(large_sectors)
    fat_sectors = 1
    while fat_sectors * (SECTOR // 4) < others + fat_sectors:
        fat_sectors += 1
    if fat_sectors > 109:
        raise ValueError("compound file too large for a header-only DIFAT")

    fat = [FREESECT] * (fat_sectors * (SECTOR // 4))
    for i in range(fat_sectors):
        fat[i] = FATSECT
    position = fat_sectors
    directory_start = position
    _chain(fat, position, directory_sectors)
    position += directory_sectors
    mini_fat_start = position if mini_fat_sectors else ENDOFCHAIN
    _chain(fat, position, mini_fat_sectors)
    position += mini_fat_sectors
    root.start = position if mini_stream_sectors else ENDOFCHAIN
    root.size = len(mini_stream)
    _chain(fat, position, mini_stream_sectors)
    position += mini_stream_sectors
    for entry, count in zip(large, large_sectors, strict=True):
        entry.start, entry.size = position, len(entry.data)
        _chain(fat, position, count)
        position += count

    header = bytearray()
    header += bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16)
    header += struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack(
        "<IIIIIIIII",
        0,  # directory sectors (version 3: 0)
        fat_sectors,
        directory_start,
        0,  # transaction signature
        MINI_CUTOFF,
        mini_fat_start,
        mini_fat_sectors,
        ENDOFCHAIN,  # no DIFAT sectors
        0,
    )
    header += struct.pack("<109I", *(list(range(fat_sectors)) + [FREESECT] * (109 - fat_sectors)))

    def directory_entry(entry: _Entry | None) -> bytes:
        if entry is None:  # an unused slot
            links = struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM)
            return bytes(64) + links + bytes(16 + 4 + 16) + struct.pack("<IQ", 0, 0)
        name = (entry.name + "\0").encode("utf-16-le")
        return (
            name.ljust(64, b"\x00")
            + struct.pack("<HBB", len(name), entry.kind, 1)  # all black
            + struct.pack("<III", entry.left, entry.right, entry.child)
            + bytes(16)  # CLSID
            + struct.pack("<I", 0)  # state bits
            + bytes(16)  # creation and modification times
            + struct.pack("<IQ", entry.start, entry.size)
        )

    slots = [*entries, *([None] * (directory_sectors * 4 - len(entries)))]
    body = bytearray()
    body += b"".join(struct.pack("<I", value) for value in fat)
    body += b"".join(directory_entry(entry) for entry in slots)
    mini_fat_bytes = b"".join(struct.pack("<I", v) for v in mini_fat)
    body += mini_fat_bytes.ljust(mini_fat_sectors * SECTOR, b"\xff")
    body += bytes(mini_stream).ljust(mini_stream_sectors * SECTOR, b"\x00")
    for entry, count in zip(large, large_sectors, strict=True):
        body += entry.data.ljust(count * SECTOR, b"\x00")
    return bytes(header) + bytes(body)
