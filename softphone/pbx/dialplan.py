"""The dialplan's number rules: what a dialled string is, and who may call it (SPEC.md E2).

Pure functions, no I/O. Call control asks the store whether a short number is an extension
and hands the answer in, so nothing here awaits:

    candidate = dialplan.extension_candidate(dialled)
    is_extension = candidate is not None and await store.extension_info(candidate) is not None
    destination = dialplan.classify(dialled, is_extension=is_extension)
    if not dialplan.permits(info.outbound, destination):
        ...  # 403: toll fraud is the classic way a PBX gets abused

External numbers are kept in E.164 (``+3250123456``) everywhere: in the database, on the trunk,
in call records. ``to_national_display`` turns them back into what a Belgian reads.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from softphone.pbx.storage import OutboundPermission, TrunkConfig

DEFAULT_COUNTRY = "BE"

# Emergency numbers are always allowed, whatever the extension's permission — and they win over
# an extension that happens to carry the same number. 112 (EU), 100 (ambulance/fire), 101
# (police) in Belgium.
EMERGENCY_NUMBERS: dict[str, frozenset[str]] = {
    "BE": frozenset({"112", "100", "101"}),
}

# National numbers that cost the caller more than a normal call: 090x (premium rate), 070x
# and 077x (paid information/entertainment lines). Prefixes of the national significant
# number, i.e. without the trunk prefix 0. A number phonenumbers tags PREMIUM_RATE counts too.
PREMIUM_PREFIXES: dict[str, tuple[str, ...]] = {
    "BE": ("90", "70", "77"),
}

EXTENSION_RE = re.compile(r"[0-9]{2,6}")  # as pbxweb.accounts.models.EXTENSION_NUMBER_RE
STAR_CODE_RE = re.compile(r"\*[0-9*#]{1,15}")
# What people type or paste between digits: "0477 12 34 56", "050/12.34.56", "+32 (0)50-..".
_SEPARATORS_RE = re.compile(r"[\s.\-/()]+")
_DIALLABLE_RE = re.compile(r"\+?[0-9]{1,17}")  # "00" + 15 digits of E.164 at most
_ZERO_IN_PARENTHESES_RE = re.compile(r"(?<=[0-9])\s*\(0\)")  # "+32 (0)50 ..." house style


class DestinationKind(enum.StrEnum):
    EXTENSION = "extension"
    STAR_CODE = "star_code"
    EMERGENCY = "emergency"
    NATIONAL = "national"
    PREMIUM = "premium"
    INTERNATIONAL = "international"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Destination:
    kind: DestinationKind
    # The extension number, star code or emergency number as dialled (separators removed), or
    # the E.164 number for NATIONAL/PREMIUM/INTERNATIONAL; what was dialled for INVALID.
    number: str

    @property
    def is_external(self) -> bool:
        """True when the call leaves through the trunk (emergency calls included)."""
        return self.kind in _EXTERNAL_KINDS


_EXTERNAL_KINDS = frozenset({DestinationKind.EMERGENCY, DestinationKind.NATIONAL,
                             DestinationKind.PREMIUM, DestinationKind.INTERNATIONAL})


def clean(dialled: str) -> str:
    """Remove the separators people type or paste: spaces, dots, dashes, slashes, brackets.

    A "(0)" after the country code ("+32 (0)50 12 34 56") is the trunk prefix shown for
    national callers and must go, not just its brackets.
    """
    return _SEPARATORS_RE.sub("", _ZERO_IN_PARENTHESES_RE.sub("", dialled.strip()))


def normalise(number: str, *, country: str = DEFAULT_COUNTRY) -> str | None:
    """The E.164 form of an external number as dialled, or None if it is not one.

    National numbers must start with the trunk prefix 0 (``050 12 34 56``) and international
    ones with ``+`` or the international prefix 00 (``0032 50…``, ``0031 20…``): bare digits
    (``201``, ``50123456``) are not external numbers. Letters, stray symbols and numbers of
    impossible length give None; the number need not be *assigned* in phonenumbers' tables
    (they lag behind the carriers), only possible.
    """
    cleaned = clean(number)
    if not _DIALLABLE_RE.fullmatch(cleaned) or not cleaned.startswith(("+", "0")):
        return None
    return _possible_e164(cleaned, country)


def normalise_from_trunk(number: str, *, country: str = DEFAULT_COUNTRY) -> str | None:
    """The E.164 form of a number a carrier sends (caller or called DID), or None.

    Carriers write the same number as ``+3250123456``, ``3250123456`` or ``050123456``: bare
    digits that do not start with 0 are taken as E.164 without its ``+``.
    """
    cleaned = clean(number)
    if not _DIALLABLE_RE.fullmatch(cleaned):
        return None
    if not cleaned.startswith(("+", "0")):
        cleaned = "+" + cleaned
    return _possible_e164(cleaned, country)


def _possible_e164(cleaned: str, country: str) -> str | None:
    try:
        parsed = phonenumbers.parse(cleaned, country)
    except NumberParseException:
        return None
    if phonenumbers.region_code_for_country_code(parsed.country_code or 0) == "ZZ":
        return None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    # "0000000000" has a possible length, but hardly any plan starts a subscriber number with
    # 0; where one does (Italy's fixed lines), phonenumbers knows the number as valid.
    significant = phonenumbers.national_significant_number(parsed)
    if significant.startswith("0") and not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def extension_candidate(dialled: str) -> str | None:
    """The extension number to look up for a dialled string, or None if it cannot be one."""
    cleaned = clean(dialled)
    return cleaned if EXTENSION_RE.fullmatch(cleaned) else None


def classify(dialled: str, *, is_extension: bool = False,
             country: str = DEFAULT_COUNTRY) -> Destination:
    """What a dialled string is.

    ``is_extension`` says whether ``extension_candidate(dialled)`` is an existing extension
    (the caller asks the store; this function does no I/O). Order matters: an emergency number
    is an emergency call even if an extension carries it, and a short number that is not an
    extension is never sent out as a national number.
    """
    cleaned = clean(dialled)
    if cleaned.startswith("*"):
        if STAR_CODE_RE.fullmatch(cleaned):
            return Destination(DestinationKind.STAR_CODE, cleaned)
        return Destination(DestinationKind.INVALID, dialled)
    if cleaned in EMERGENCY_NUMBERS.get(country, frozenset()):
        return Destination(DestinationKind.EMERGENCY, cleaned)
    if EXTENSION_RE.fullmatch(cleaned):
        kind = DestinationKind.EXTENSION if is_extension else DestinationKind.INVALID
        return Destination(kind, cleaned if is_extension else dialled)
    e164 = normalise(cleaned, country=country)
    if e164 is None:
        return Destination(DestinationKind.INVALID, dialled)
    parsed = phonenumbers.parse(e164)
    if parsed.country_code != phonenumbers.country_code_for_region(country):
        return Destination(DestinationKind.INTERNATIONAL, e164)
    if _is_premium(parsed, country):
        return Destination(DestinationKind.PREMIUM, e164)
    return Destination(DestinationKind.NATIONAL, e164)


def _is_premium(parsed: phonenumbers.PhoneNumber, country: str) -> bool:
    significant = phonenumbers.national_significant_number(parsed)
    if significant.startswith(PREMIUM_PREFIXES.get(country, ())):
        return True
    return phonenumbers.number_type(parsed) == PhoneNumberType.PREMIUM_RATE


_ALLOWED: dict[OutboundPermission, frozenset[DestinationKind]] = {
    OutboundPermission.INTERNAL: frozenset({
        DestinationKind.EXTENSION, DestinationKind.STAR_CODE, DestinationKind.EMERGENCY}),
    OutboundPermission.NATIONAL: frozenset({
        DestinationKind.EXTENSION, DestinationKind.STAR_CODE, DestinationKind.EMERGENCY,
        DestinationKind.NATIONAL}),
    OutboundPermission.INTERNATIONAL: frozenset({
        DestinationKind.EXTENSION, DestinationKind.STAR_CODE, DestinationKind.EMERGENCY,
        DestinationKind.NATIONAL, DestinationKind.PREMIUM, DestinationKind.INTERNATIONAL}),
}


def permits(permission: OutboundPermission, destination: Destination) -> bool:
    """May an extension with this permission call this destination? Never an INVALID one."""
    return destination.kind in _ALLOWED[OutboundPermission(permission)]


def to_national_display(e164: str, *, country: str = DEFAULT_COUNTRY) -> str:
    """How a person reads an external number: ``0477 12 34 56`` for a Belgian one,
    ``+31 20 123 4567`` for a foreign one. Anything else (an extension, "anonymous") is
    returned unchanged."""
    normalised = normalise(e164, country=country)
    if normalised is None:
        return e164
    parsed = phonenumbers.parse(normalised)
    national = parsed.country_code == phonenumbers.country_code_for_region(country)
    if phonenumbers.is_valid_number(parsed):
        style = PhoneNumberFormat.NATIONAL if national else PhoneNumberFormat.INTERNATIONAL
        return phonenumbers.format_number(parsed, style)
    # Possible but not in phonenumbers' tables (a new range): no grouping to go by.
    significant = phonenumbers.national_significant_number(parsed)
    if national:
        prefix = phonenumbers.ndd_prefix_for_region(country, True) or ""
        return prefix + significant
    return f"+{parsed.country_code} {significant}"


def caller_id_for_trunk(trunk: TrunkConfig, extension: str) -> str:
    """The E.164 number an extension's outgoing call presents on the trunk.

    The extension's own DID when it has one (its colleagues and callers know it; a call back
    reaches it directly), else the trunk's general number (the switchboard), as 3CX does. With
    several DIDs on one extension the lowest is taken, so the choice never changes between
    calls. Empty when neither is configured: the carrier then applies its default.
    """
    own = sorted(did for did, target in trunk.dids.items() if target == extension)
    return own[0] if own else trunk.outbound_caller_id


def route_did(trunk: TrunkConfig, called: str, *, country: str = DEFAULT_COUNTRY) -> str | None:
    """The extension an inbound call to ``called`` (as the carrier wrote it) rings, or None."""
    e164 = normalise_from_trunk(called, country=country)
    return trunk.dids.get(e164) if e164 is not None else None
