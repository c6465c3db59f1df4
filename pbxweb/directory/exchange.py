"""Contacts in and out as vCard (RFC 6350/2426, via vobject) and CSV.

Reading turns an uploaded file into rows of plain strings, each tagged with where it came from
("line 4", "card 2"); it never touches the database. Whatever is wrong with the *file* (too big,
not text, not UTF-8, unknown columns, unparsable vCard) raises ``ImportRejected`` at once;
whatever is wrong with a *row* is found by ``actions.do_import_contacts``, which checks every
row before it writes any.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import vobject
from django.conf import settings
from django.utils.translation import gettext as _

from pbxweb.directory.models import NUMBER_FIELDS, Contact, NumberKind

logger = logging.getLogger(__name__)

# A phonebook of a few thousand people is well under 1 MiB in either format.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_CONTACTS = 5000

# The CSV columns, in the order the export writes them; the header names them.
CSV_COLUMNS = ["name", "company", "work", "mobile", "home", "other", "email", "notes"]
_CSV_TO_FIELD = {"name": "name", "company": "company", "work": "work_number",
                 "mobile": "mobile_number", "home": "home_number", "other": "other_number",
                 "email": "email", "notes": "notes"}
# Header spellings accepted on import: ours, the model's, and the Dutch ones people type.
_CSV_ALIASES = {
    "naam": "name", "full name": "name", "fn": "name",
    "bedrijf": "company", "organisation": "company", "organization": "company",
    "werk": "work", "work_number": "work", "work phone": "work", "telefoon": "work",
    "gsm": "mobile", "mobiel": "mobile", "mobile_number": "mobile", "cell": "mobile",
    "thuis": "home", "home_number": "home",
    "ander": "other", "andere": "other", "other_number": "other",
    "e-mail": "email", "mail": "email",
    "notities": "notes", "opmerkingen": "notes", "note": "notes",
}
# vCard TEL types (RFC 6350 §6.4.1, RFC 2426 §3.3.1) → our four kinds.
_TEL_TYPES = {"work": NumberKind.WORK, "cell": NumberKind.MOBILE, "home": NumberKind.HOME}
# Spreadsheet programs run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    where: str  # "file", "line 4", "card 2"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRejected(Exception):
    """The file was refused; nothing was imported. ``status`` is the HTTP status to answer."""

    def __init__(self, problems: list[ImportProblem], *, status: int = 400) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems
        self.status = status


@dataclass(slots=True)
class ImportedRow:
    where: str
    values: dict[str, str] = field(default_factory=dict)  # ContactForm field -> text


def max_bytes() -> int:
    return int(getattr(settings, "CONTACTS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_contacts() -> int:
    return int(getattr(settings, "CONTACTS_IMPORT_MAX_CONTACTS", DEFAULT_MAX_CONTACTS))


def _file_problem(message: str, *, status: int = 400) -> ImportRejected:
    return ImportRejected([ImportProblem(_("file"), message)], status=status)


def check_size(size: int) -> None:
    limit = max_bytes()
    if size > limit:
        raise _file_problem(
            _("The file is %(size)s bytes; at most %(limit)s bytes can be imported at once.")
            % {"size": f"{size:,}", "limit": f"{limit:,}"}, status=413)
    if size == 0:
        raise _file_problem(_("The file is empty."))


def decode(data: bytes) -> str:
    """The file as text: UTF-8 (with or without the BOM Excel writes), nothing else."""
    check_size(len(data))
    if b"\x00" in data:
        raise _file_problem(_("This is not a text file (it contains binary data). Choose a "
                              "vCard (.vcf) or CSV file saved as UTF-8."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise _file_problem(
            _("The file is not UTF-8 text (first bad byte on line %(line)s). Save it as "
              "“CSV UTF-8” or as a vCard and try again.") % {"line": line}) from error


def read_rows(data: bytes) -> list[ImportedRow]:
    """The rows of a vCard or CSV file, recognised by content (a vCard starts BEGIN:VCARD)."""
    text = decode(data)
    rows = read_vcards(text) if text.lstrip().upper().startswith("BEGIN:VCARD") \
        else read_csv(text)
    if not rows:
        raise _file_problem(_("The file holds no contacts."))
    if len(rows) > max_contacts():
        raise _file_problem(_("The file holds %(count)s contacts; at most %(limit)s can be "
                              "imported at once.") % {"count": len(rows), "limit": max_contacts()})
    return rows


def read_csv(text: str) -> list[ImportedRow]:
    first_line = text.split("\n", 1)[0]
    # Excel in a Belgian locale writes ";" between fields; everyone else ",".
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        columns = _csv_header(header)
        rows = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            where = _("line %(line)s") % {"line": reader.line_num}
            if len(record) != len(columns):
                rows.append(ImportedRow(where, {"__error__": _(
                    "%(found)s fields where the header has %(expected)s.")
                    % {"found": len(record), "expected": len(columns)}}))
                continue
            rows.append(ImportedRow(where, {_CSV_TO_FIELD[column]: cell.strip()
                                            for column, cell in zip(columns, record,
                                                                    strict=True)}))
    except csv.Error as error:
        raise _file_problem(_("The CSV file cannot be read on line %(line)s: %(error)s")
                            % {"line": reader.line_num, "error": error}) from error
    return rows


def _csv_header(header: list[str]) -> list[str]:
    columns = []
    unknown = []
    for cell in header:
        name = cell.strip().lower()
        name = _CSV_ALIASES.get(name, name)
        if name not in _CSV_TO_FIELD:
            unknown.append(cell.strip() or "(empty)")
        columns.append(name)
    expected = ", ".join(CSV_COLUMNS)
    if unknown:
        raise _file_problem(_("Unknown column(s) in the first line: %(unknown)s. The first line "
                              "must name the columns, from: %(expected)s.")
                            % {"unknown": ", ".join(unknown)[:300], "expected": expected})
    if "name" not in columns:
        raise _file_problem(_("The first line has no “name” column. The first line must name "
                              "the columns, from: %(expected)s.") % {"expected": expected})
    duplicates = sorted({column for column in columns if columns.count(column) > 1})
    if duplicates:
        raise _file_problem(_("Column(s) named twice: %(columns)s.")
                            % {"columns": ", ".join(duplicates)})
    return columns


def read_vcards(text: str) -> list[ImportedRow]:
    rows = []
    try:
        for number, card in enumerate(vobject.readComponents(text, ignoreUnreadable=False), 1):
            rows.append(_vcard_row(number, card))
    except vobject.base.ParseError as error:
        line = getattr(error, "lineNumber", None)
        raise _file_problem(_("The vCard file cannot be read near line %(line)s.")
                            % {"line": line or "?"}) from error
    except (ValueError, TypeError, UnicodeError, AttributeError) as error:
        # vobject lets a few raw errors through for malformed values (bad base64, odd
        # parameters); they mean the same thing for the user: the file is broken.
        logger.info("vCard import refused: %r", error)
        raise _file_problem(_("The vCard file cannot be read: %(error)s")
                            % {"error": str(error)[:200]}) from error
    return rows


def _vcard_row(number: int, card: vobject.base.Component) -> ImportedRow:
    where = _("card %(number)s") % {"number": number}
    if card.name != "VCARD":
        return ImportedRow(where, {"__error__": _("this is a %(kind)s, not a vCard.")
                                   % {"kind": card.name}})
    values: dict[str, str] = {"name": _vcard_name(card)}
    if "org" in card.contents:
        org = card.contents["org"][0].value
        values["company"] = " ".join(org) if isinstance(org, list) else str(org)
    if "email" in card.contents:
        values["email"] = str(card.contents["email"][0].value)
    if "note" in card.contents:
        values["notes"] = str(card.contents["note"][0].value)
    overflow = []
    for tel in card.contents.get("tel", []):
        types = {part.strip().lower() for value in tel.params.get("TYPE", [])
                 for part in str(value).split(",")}
        kind = next((_TEL_TYPES[t] for t in ("cell", "work", "home") if t in types),
                    NumberKind.OTHER)
        slot = NUMBER_FIELDS[kind]
        if values.get(slot):
            slot = NUMBER_FIELDS[NumberKind.OTHER]
        if values.get(slot):
            overflow.append(str(tel.value))
            continue
        values[slot] = str(tel.value).strip()
    if overflow:
        values["__error__"] = _("more numbers than work, mobile, home and other: %(numbers)s")\
            % {"numbers": ", ".join(overflow)[:200]}
    return ImportedRow(where, values)


def _vcard_name(card: vobject.base.Component) -> str:
    if "fn" in card.contents and str(card.contents["fn"][0].value).strip():
        return str(card.contents["fn"][0].value).strip()
    if "n" in card.contents:
        name = card.contents["n"][0].value
        parts = [name.prefix, name.given, name.additional, name.family, name.suffix] \
            if isinstance(name, vobject.vcard.Name) else [str(name)]
        return " ".join(_flatten(parts)).strip()
    return ""


def _flatten(parts: Iterable[object]) -> list[str]:
    flat: list[str] = []
    for part in parts:
        if isinstance(part, list):
            flat.extend(str(p) for p in part if p)
        elif part:
            flat.append(str(part))
    return flat


def export_csv(contacts: Iterable[Contact]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for contact in contacts:
        writer.writerow([_spreadsheet_safe(getattr(contact, _CSV_TO_FIELD[column]))
                         for column in CSV_COLUMNS])
    # The BOM makes Excel read the file as UTF-8; our own import accepts it.
    return out.getvalue().encode("utf-8-sig")


def _spreadsheet_safe(value: str) -> str:
    # "+32 50 …" and "-" stay as they are (numbers are what this file is for); anything else a
    # spreadsheet would evaluate is quoted with a leading apostrophe (OWASP "CSV injection").
    if value.startswith(_FORMULA_STARTS) or (
            value[:1] in "+-" and not value[1:2].replace(" ", "").isdigit() and value[1:]):
        return "'" + value
    return value


def export_vcards(contacts: Iterable[Contact]) -> bytes:
    cards = []
    for contact in contacts:
        card = vobject.vCard()
        card.add("fn").value = contact.name
        card.add("n").value = vobject.vcard.Name(family=contact.name)
        if contact.company:
            card.add("org").value = [contact.company]
        for kind, number in contact.numbers():
            tel = card.add("tel")
            tel.value = number
            tel.type_param = {NumberKind.WORK: "WORK", NumberKind.MOBILE: "CELL",
                              NumberKind.HOME: "HOME", NumberKind.OTHER: "VOICE"}[kind]
        if contact.email:
            card.add("email").value = contact.email
        if contact.notes:
            card.add("note").value = contact.notes
        cards.append(card.serialize())
    return "".join(cards).encode("utf-8")
