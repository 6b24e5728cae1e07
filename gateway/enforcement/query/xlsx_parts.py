"""The fixed parts of an xlsx package (Office Open XML, ECMA-376): content types,
relationships, workbook, styles, custom properties, and a worksheet's head and tail.

An xlsx is a zip of XML parts; only the worksheets grow with the result, and those are
written row by row (``xlsx_cells``). Everything here is a few hundred bytes written once
per workbook, so it is plain text with the few names that vary escaped.

Cell styles (``cellXfs``), referred to by index from the cells:
``0`` default, ``1`` bold (the header), ``2`` date ``yyyy-mm-dd``, ``3`` date-time
``yyyy-mm-dd hh:mm:ss``, ``4`` text (number format ``@``, so that a value typed over an
ID number in Excel stays text too).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

BOLD, DATE, STAMP, TEXT = 1, 2, 3, 4
# characters XML 1.0 cannot hold (C0 controls but tab, LF and CR; U+FFFE, U+FFFF)
NOT_XML = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
# a literal escape sequence, which a spreadsheet would otherwise decode
ESCAPED = "(_x[0-9A-Fa-f]{4}_)"
_NOT_XML = re.compile(NOT_XML)
_ESCAPED = re.compile(ESCAPED)

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"
_CUSTOM_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"  # the one every writer uses


def content_types(sheets: int) -> bytes:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        f'ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f"{_XML}<Types "
        'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="{_CT}.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
        f'<Override PartName="/docProps/custom.xml" ContentType="{_CT}.custom-properties+xml"/>'
        f"{overrides}</Types>"
    ).encode()


def package_rels() -> bytes:
    return (
        f'{_XML}<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/custom-properties" Target="docProps/custom.xml"/>'
        "</Relationships>"
    ).encode()


def workbook(names: list[str]) -> bytes:
    """The workbook: its sheets in order (sheet ``n`` is ``worksheets/sheet{n}.xml``)."""
    sheets = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, start=1)
    )
    return (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>"
    ).encode()


def workbook_rels(sheets: int) -> bytes:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    return f'{_XML}<Relationships xmlns="{_PKG_REL}">{rels}{styles}</Relationships>'.encode()


def styles() -> bytes:
    """The five cell styles of the module docstring, in that order."""
    return (
        f'{_XML}<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
        '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ).encode()


def custom_properties(flags: dict[str, bool]) -> bytes:
    """Custom document properties (File ▸ Properties ▸ Custom), booleans only."""
    props = "".join(
        f'<property fmtid="{_CUSTOM_FMTID}" pid="{pid}" name={quoteattr(name)}>'
        f"<vt:bool>{'true' if value else 'false'}</vt:bool></property>"
        for pid, (name, value) in enumerate(flags.items(), start=2)
    )
    return (
        f"{_XML}<Properties "
        'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"{props}</Properties>"
    ).encode()


def sheet_head(widths: list[int], *, frozen: bool) -> bytes:
    """A worksheet up to its first row: the column widths, and the header row frozen
    (kept in view while scrolling) when ``frozen``."""
    cols = "".join(
        f'<col min="{n}" max="{n}" width="{width}" customWidth="1"/>'
        for n, width in enumerate(widths, start=1)
    )
    pane = ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            if frozen else "")  # fmt: skip
    return (
        f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
        f"{f'<cols>{cols}</cols>' if cols else ''}<sheetData>"
    ).encode()


SHEET_TAIL = b"</sheetData></worksheet>"


def text_row(row: int, values: list[str], style: int = 0) -> bytes:
    """One row of text cells (a header, the ``sluice`` sheet's facts)."""
    styled = f' s="{style}"' if style else ""
    cells = "".join(
        f'<c r="{column_letters(col)}{row}" t="inlineStr"{styled}><is>'
        f'<t xml:space="preserve">{xml_text(value)}</t></is></c>'
        for col, value in enumerate(values)
    )
    return f'<row r="{row}">{cells}</row>'.encode()


def xml_text(value: str) -> str:
    """``value`` as the text of a ``<t>`` element, as ``xlsx_cells.xml_texts`` makes it
    column-wise: a literal ``_xHHHH_`` escaped as ``_x005F_xHHHH_``, characters XML 1.0
    cannot hold as ``_xHHHH_`` (how a spreadsheet stores them), a carriage return as a
    character reference (an XML parser would read a bare one as a line feed), and
    ``& < >`` as entities."""
    value = _ESCAPED.sub(r"_x005F\1", value)
    value = _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return escape(value).replace("\r", "&#13;")


def column_letters(index: int) -> str:
    """``0`` → ``A``, ``25`` → ``Z``, ``26`` → ``AA`` (a cell reference's column)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
