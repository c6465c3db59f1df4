"""The dialplan's number rules: what a dialled string is and who may call it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.pbx import dialplan
from softphone.pbx.dialplan import Destination, DestinationKind
from softphone.pbx.storage import OutboundPermission, TrunkConfig

Kind = DestinationKind


# --- normalise ----------------------------------------------------------------------------

@pytest.mark.parametrize(("dialled", "e164"), [
    ("0477 12 34 56", "+32477123456"),  # mobile, as printed on a business card
    ("0477/12.34.56", "+32477123456"),
    ("0477-123-456", "+32477123456"),
    ("050 12 34 56", "+3250123456"),  # a West-Flemish landline
    ("050/12.34.56", "+3250123456"),
    ("(050) 12 34 56", "+3250123456"),
    ("02 123 45 67", "+3221234567"),  # Brussels: not in phonenumbers' tables, still possible
    ("09 123 45 67", "+3291234567"),
    ("+32 50 12 34 56", "+3250123456"),
    ("+32 (0)50 12 34 56", "+3250123456"),  # the "(0)" is the trunk prefix, not a digit
    ("+32(0)477123456", "+32477123456"),
    ("+32 0477 12 34 56", "+32477123456"),  # the 0 people keep after +32
    ("0032 50 12 34 56", "+3250123456"),
    ("0032477123456", "+32477123456"),
    ("0800 12 345", "+3280012345"),  # freephone
    ("0900 12 345", "+3290012345"),  # premium: normalised all the same; classify judges
    ("0031 20 123 4567", "+31201234567"),  # Amsterdam
    ("+31 6 12345678", "+31612345678"),
    ("0033 1 23 45 67 89", "+33123456789"),  # Paris
    ("+44 20 7946 0958", "+442079460958"),
    ("+1 (212) 555-0123", "+12125550123"),
    ("0039 06 1234 5678", "+390612345678"),  # Rome keeps its leading 0 in E.164
    (" 0477 12 34 56\n", "+32477123456"),  # pasted with a newline
    ("+882 1234567", "+8821234567"),  # satellite: non-geographic, still a number
])
def test_normalise_gives_e164(dialled: str, e164: str) -> None:
    assert dialplan.normalise(dialled) == e164


@pytest.mark.parametrize("dialled", [
    "",
    "+",
    "0",
    "00",
    "0123",  # too short for a Belgian number
    "201",  # an extension, not an external number
    "112",
    "50123456",  # a Belgian number without its trunk prefix 0
    "477123456",
    "0000000000",  # possible length, but no plan starts a subscriber number with 0
    "+3250123456789",  # too long for Belgium
    "0477123456789012345",  # too long for anything
    "0477 12 34 56 ext 12",
    "abc",
    "0477-OPROEP",  # vanity letters are not dialled here
    "++32477123456",
    "tel:+32477123456",
    "+32477123456;ext=1",
    "*8",
    "#31#0477123456",
    "+999 123456789",  # an unassigned country code
    "0477１２３４５６",  # full-width digits from a copy-paste
])
def test_normalise_rejects_what_is_not_an_external_number(dialled: str) -> None:
    assert dialplan.normalise(dialled) is None


def test_normalise_honours_the_home_country() -> None:
    assert dialplan.normalise("020 123 4567", country="NL") == "+31201234567"
    assert dialplan.normalise("06 12345678", country="NL") == "+31612345678"
    assert dialplan.normalise("020 123 4567") == "+32201234567"  # read as Belgian at home


@given(st.from_regex(r"0[1-9][0-9]{7,8}", fullmatch=True))
def test_every_national_form_has_the_same_e164_as_the_international_forms(national: str
                                                                           ) -> None:
    e164 = dialplan.normalise(national)
    if e164 is None:  # a length phonenumbers calls impossible for that area code
        return
    significant = national[1:]
    assert e164 == "+32" + significant
    assert dialplan.normalise("+32" + significant) == e164
    assert dialplan.normalise("0032" + significant) == e164
    assert dialplan.normalise("+32 (0)" + significant) == e164


@given(st.from_regex(r"0[1-9][0-9]{7,8}", fullmatch=True),
       st.lists(st.sampled_from([" ", ".", "-", "/", "  "]), min_size=1, max_size=9))
def test_separators_never_change_the_number(national: str, separators: list[str]) -> None:
    spaced = national[0]
    for index, digit in enumerate(national[1:]):
        spaced += (separators[index] if index < len(separators) else "") + digit
    assert dialplan.normalise(spaced) == dialplan.normalise(national)


@given(st.text(max_size=40))
def test_normalise_never_raises_and_returns_e164_or_none(text: str) -> None:
    result = dialplan.normalise(text)
    assert result is None or (result.startswith("+") and result[1:].isdigit()
                              and len(result) <= 16)


@given(st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=3),
       st.from_regex(r"0[1-9][0-9]{7,8}", fullmatch=True))
def test_letters_anywhere_make_junk(letters: str, national: str) -> None:
    assert dialplan.normalise(national + letters) is None
    assert dialplan.normalise(letters + national) is None


# --- classify -----------------------------------------------------------------------------

@pytest.mark.parametrize(("dialled", "is_extension", "expected"), [
    ("201", True, Destination(Kind.EXTENSION, "201")),
    ("20", True, Destination(Kind.EXTENSION, "20")),
    ("123456", True, Destination(Kind.EXTENSION, "123456")),
    ("2 01", True, Destination(Kind.EXTENSION, "201")),
    ("209", False, Destination(Kind.INVALID, "209")),  # no such extension: not sent out
    ("1733", False, Destination(Kind.INVALID, "1733")),  # short service numbers are not ours
    ("*8", False, Destination(Kind.STAR_CODE, "*8")),
    ("*41*201", False, Destination(Kind.STAR_CODE, "*41*201")),
    ("*21#", False, Destination(Kind.STAR_CODE, "*21#")),
    ("*", False, Destination(Kind.INVALID, "*")),
    ("*abc", False, Destination(Kind.INVALID, "*abc")),
    ("112", False, Destination(Kind.EMERGENCY, "112")),
    ("100", False, Destination(Kind.EMERGENCY, "100")),
    ("101", False, Destination(Kind.EMERGENCY, "101")),
    ("1 1 2", False, Destination(Kind.EMERGENCY, "112")),
    ("0477 12 34 56", False, Destination(Kind.NATIONAL, "+32477123456")),
    ("050 12 34 56", False, Destination(Kind.NATIONAL, "+3250123456")),
    ("+32 2 123 45 67", False, Destination(Kind.NATIONAL, "+3221234567")),
    ("0800 12 345", False, Destination(Kind.NATIONAL, "+3280012345")),  # freephone
    ("078 15 15 15", False, Destination(Kind.NATIONAL, "+3278151515")),  # national rate
    ("0900 12 345", False, Destination(Kind.PREMIUM, "+3290012345")),
    ("0903 12 345", False, Destination(Kind.PREMIUM, "+3290312345")),
    ("0905 12 345", False, Destination(Kind.PREMIUM, "+3290512345")),
    ("070 22 33 44", False, Destination(Kind.PREMIUM, "+3270223344")),
    ("077 22 33 44", False, Destination(Kind.PREMIUM, "+3277223344")),
    ("+32 70 22 33 44", False, Destination(Kind.PREMIUM, "+3270223344")),
    ("0032 900 12 345", False, Destination(Kind.PREMIUM, "+3290012345")),
    ("0031 20 123 4567", False, Destination(Kind.INTERNATIONAL, "+31201234567")),
    ("+44 20 7946 0958", False, Destination(Kind.INTERNATIONAL, "+442079460958")),
    ("00 882 16 000 000", False, Destination(Kind.INTERNATIONAL, "+88216000000")),
    ("0477 12 34", False, Destination(Kind.INVALID, "0477 12 34")),
    ("hello", False, Destination(Kind.INVALID, "hello")),
    ("", False, Destination(Kind.INVALID, "")),
])
def test_classify(dialled: str, is_extension: bool, expected: Destination) -> None:
    assert dialplan.classify(dialled, is_extension=is_extension) == expected


def test_an_emergency_number_wins_over_an_extension_with_the_same_number() -> None:
    assert dialplan.classify("112", is_extension=True).kind is Kind.EMERGENCY


def test_is_extension_never_turns_an_external_number_into_an_extension() -> None:
    assert dialplan.classify("0477123456", is_extension=True).kind is Kind.NATIONAL


def test_classify_abroad_uses_that_country_as_national() -> None:
    destination = dialplan.classify("020 123 4567", country="NL")
    assert destination == Destination(Kind.NATIONAL, "+31201234567")
    assert dialplan.classify("0032 50 12 34 56", country="NL").kind is Kind.INTERNATIONAL


@pytest.mark.parametrize(("dialled", "candidate"), [
    ("201", "201"), (" 2-01 ", "201"), ("12", "12"), ("123456", "123456"),
    ("1", None), ("1234567", None), ("*8", None), ("0477123456", None), ("20a", None),
])
def test_extension_candidate(dialled: str, candidate: str | None) -> None:
    assert dialplan.extension_candidate(dialled) == candidate


@given(st.from_regex(r"0(90[0-9]|70|77)[0-9]{5,6}", fullmatch=True),
       st.sampled_from(["{}", "+32{}", "0032{}", "+32 (0){}"]))
def test_premium_numbers_are_premium_in_every_spelling(national: str, spelling: str) -> None:
    destination = dialplan.classify(spelling.format(national[1:]) if spelling != "{}"
                                    else national)
    assert destination.kind in {Kind.PREMIUM, Kind.INVALID}
    assert not dialplan.permits(OutboundPermission.NATIONAL, destination)


@given(st.text(max_size=30), st.booleans())
def test_classify_never_raises_and_only_external_kinds_carry_e164(text: str,
                                                                   is_extension: bool) -> None:
    destination = dialplan.classify(text, is_extension=is_extension)
    if destination.kind in {Kind.NATIONAL, Kind.PREMIUM, Kind.INTERNATIONAL}:
        assert destination.number.startswith("+") and destination.number[1:].isdigit()


# --- permits ------------------------------------------------------------------------------

EXAMPLES = {
    Kind.EXTENSION: Destination(Kind.EXTENSION, "201"),
    Kind.STAR_CODE: Destination(Kind.STAR_CODE, "*8"),
    Kind.EMERGENCY: Destination(Kind.EMERGENCY, "112"),
    Kind.NATIONAL: Destination(Kind.NATIONAL, "+3250123456"),
    Kind.PREMIUM: Destination(Kind.PREMIUM, "+3290012345"),
    Kind.INTERNATIONAL: Destination(Kind.INTERNATIONAL, "+31201234567"),
    Kind.INVALID: Destination(Kind.INVALID, "hello"),
}

ALLOWED = {
    OutboundPermission.INTERNAL: {Kind.EXTENSION, Kind.STAR_CODE, Kind.EMERGENCY},
    OutboundPermission.NATIONAL: {Kind.EXTENSION, Kind.STAR_CODE, Kind.EMERGENCY,
                                  Kind.NATIONAL},
    OutboundPermission.INTERNATIONAL: {Kind.EXTENSION, Kind.STAR_CODE, Kind.EMERGENCY,
                                       Kind.NATIONAL, Kind.PREMIUM, Kind.INTERNATIONAL},
}


@pytest.mark.parametrize("permission", list(OutboundPermission))
@pytest.mark.parametrize("kind", list(Kind))
def test_permits_matrix(permission: OutboundPermission, kind: DestinationKind) -> None:
    assert dialplan.permits(permission, EXAMPLES[kind]) is (kind in ALLOWED[permission])


def test_permits_takes_the_stored_string_value_too() -> None:
    assert dialplan.permits("internal", EXAMPLES[Kind.EMERGENCY])  # type: ignore[arg-type]
    assert not dialplan.permits("internal", EXAMPLES[Kind.NATIONAL])  # type: ignore[arg-type]


@given(st.sampled_from(list(OutboundPermission)), st.text(max_size=25))
def test_emergency_is_always_allowed_and_invalid_never(permission: OutboundPermission,
                                                       text: str) -> None:
    destination = dialplan.classify(text)
    if destination.kind is Kind.EMERGENCY:
        assert dialplan.permits(permission, destination)
    if destination.kind is Kind.INVALID:
        assert not dialplan.permits(permission, destination)


@given(st.text(max_size=25))
def test_permissions_only_widen(text: str) -> None:
    destination = dialplan.classify(text)
    internal = dialplan.permits(OutboundPermission.INTERNAL, destination)
    national = dialplan.permits(OutboundPermission.NATIONAL, destination)
    international = dialplan.permits(OutboundPermission.INTERNATIONAL, destination)
    assert (not internal or national) and (not national or international)


def test_a_national_extension_cannot_reach_premium_or_abroad_in_any_spelling() -> None:
    for dialled in ["0900 12 345", "+32 900 12 345", "0032 900 12 345", "0031 20 123 4567",
                    "+31 20 123 4567", "00 882 16 000 000"]:
        assert not dialplan.permits(OutboundPermission.NATIONAL, dialplan.classify(dialled))


def test_destination_is_external_for_what_leaves_through_the_trunk() -> None:
    external = {kind for kind, example in EXAMPLES.items() if example.is_external}
    assert external == {Kind.EMERGENCY, Kind.NATIONAL, Kind.PREMIUM, Kind.INTERNATIONAL}


# --- display and trunk numbers ------------------------------------------------------------

@pytest.mark.parametrize(("e164", "shown"), [
    ("+32477123456", "0477 12 34 56"),
    ("+3250123456", "050 12 34 56"),
    ("+3280012345", "0800 12 345"),
    ("+3290012345", "0900 12 345"),
    ("+31201234567", "+31 20 123 4567"),
    ("+442079460958", "+44 20 7946 0958"),
    ("+3221234567", "021234567"),  # possible, not in the tables: no grouping, still national
    ("201", "201"),  # not a phone number at all: shown as it is
    ("anonymous", "anonymous"),
])
def test_to_national_display(e164: str, shown: str) -> None:
    assert dialplan.to_national_display(e164) == shown


@given(st.from_regex(r"0[1-9][0-9]{7,8}", fullmatch=True))
def test_display_of_a_normalised_belgian_number_normalises_back(national: str) -> None:
    e164 = dialplan.normalise(national)
    if e164 is not None:
        shown = dialplan.to_national_display(e164)
        assert shown.startswith("0")
        assert dialplan.normalise(shown) == e164


TRUNK = TrunkConfig(name="carrier", host="sip.carrier.example", outbound_caller_id="+3250123400",
                    dids={"+3250123401": "201", "+3250123499": "201", "+3250123402": "202"})


def test_caller_id_is_the_extensions_own_did_else_the_trunks_number() -> None:
    assert dialplan.caller_id_for_trunk(TRUNK, "201") == "+3250123401"  # lowest of its two
    assert dialplan.caller_id_for_trunk(TRUNK, "202") == "+3250123402"
    assert dialplan.caller_id_for_trunk(TRUNK, "203") == "+3250123400"


@pytest.mark.parametrize(("called", "extension"), [
    ("+3250123402", "202"),
    ("3250123402", "202"),  # E.164 without its +, as many carriers send it
    ("050123402", "202"),
    ("003250123402", "202"),
    ("+3250123403", None),
    ("s", None),
    ("", None),
])
def test_route_did(called: str, extension: str | None) -> None:
    assert dialplan.route_did(TRUNK, called) == extension


def test_normalise_from_trunk_reads_the_carriers_spellings() -> None:
    assert dialplan.normalise_from_trunk("32477123456") == "+32477123456"
    assert dialplan.normalise_from_trunk("0477123456") == "+32477123456"
    assert dialplan.normalise_from_trunk("anonymous") is None


def test_dialplan_imports_nothing_from_django() -> None:
    source = Path(dialplan.__file__).read_text()
    modules = {alias.name for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom)}
    assert not any(name.startswith(("django", "pbxweb", "asyncio")) for name in modules)


async def test_memory_store_hands_out_its_trunks() -> None:
    from softphone.pbx.storage import MemoryStore

    assert await MemoryStore(trunks=[TRUNK]).trunks() == [TRUNK]
    assert await MemoryStore().trunks() == []
