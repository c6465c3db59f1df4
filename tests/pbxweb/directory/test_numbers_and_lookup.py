"""Comparable numbers and the caller-name lookup (personal contact, colleague, company)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from pbxweb.accounts.models import Extension
from pbxweb.directory.lookup import name_for_number, names_for_numbers
from pbxweb.directory.models import Contact
from pbxweb.directory.numbers import number_key, validate_phone_number
from tests.factories import make_extension


@pytest.mark.parametrize("typed", ["0477 12 34 56", "+32 477 12 34 56", "0032477123456",
                                   "+32 (0)477 12.34.56", "0477/12 34 56"])
def test_every_way_of_writing_a_belgian_number_has_one_key(typed: str) -> None:
    assert number_key(typed) == "+32477123456"


def test_extensions_keep_their_digits_and_junk_has_no_key() -> None:
    assert number_key("201") == "201"
    assert number_key(" 2 01 ") == "201"
    assert number_key("call me") == ""
    assert number_key("") == ""
    assert number_key("12") == "12"


def test_validator_refuses_what_cannot_be_called() -> None:
    validate_phone_number("")
    validate_phone_number("050 12 34 56")
    with pytest.raises(ValidationError):
        validate_phone_number("not a number")
    with pytest.raises(ValidationError):
        validate_phone_number("0000000000")


@pytest.fixture
def people(db: None) -> dict[str, Extension]:
    bib = make_extension("210", first_name="Bib")
    Extension.objects.filter(pk=bib.pk).update(mobile="0478 11 22 33")
    return {"onthaal": make_extension("201", first_name="Onthaal"),
            "loket": make_extension("202", first_name="Bevolking", last_name="Loket 1"),
            "bib": Extension.objects.get(pk=bib.pk)}


def test_personal_contact_wins_then_colleague_then_company(people) -> None:
    onthaal, loket = people["onthaal"], people["loket"]
    Contact.objects.create(name="Aannemer Invented NV", work_number="050 12 34 56")
    assert name_for_number("+3250123456", viewer=onthaal) == "Aannemer Invented NV"
    Contact.objects.create(owner=onthaal, name="Mijn aannemer", work_number="+32 50 12 34 56")
    assert name_for_number("+3250123456", viewer=onthaal) == "Mijn aannemer"
    # Somebody else's personal contact never names a number for me.
    assert name_for_number("+3250123456", viewer=loket) == "Aannemer Invented NV"


def test_colleague_by_extension_number_and_by_mobile(people) -> None:
    viewer = people["onthaal"]
    assert name_for_number("202", viewer=viewer) == "Bevolking Loket 1"
    assert name_for_number("+32478112233", viewer=viewer) == "Bib"
    assert name_for_number("0032 478 11 22 33", viewer=viewer) == "Bib"
    # A company contact with a colleague's mobile does not hide the colleague.
    Contact.objects.create(name="Oude gsm", mobile_number="0478112233")
    assert name_for_number("+32478112233", viewer=viewer) == "Bib"


def test_unknown_numbers_and_inactive_colleagues_have_no_name(people) -> None:
    viewer = people["onthaal"]
    Extension.objects.filter(number="202").update(is_active=False)
    assert name_for_number("202", viewer=viewer) is None
    assert name_for_number("+3222222222", viewer=viewer) is None
    assert name_for_number("anonymous", viewer=viewer) is None


def test_many_numbers_in_few_queries(people, django_assert_max_num_queries) -> None:
    viewer = people["onthaal"]
    Contact.objects.create(owner=viewer, name="Loodgieter", mobile_number="0470 00 00 01")
    numbers = ["202", "+32470000001", "+32478112233", "+3299999999", "anonymous"]
    with django_assert_max_num_queries(4):
        names = names_for_numbers(numbers, viewer=viewer)
    assert names == {"202": "Bevolking Loket 1", "+32470000001": "Loodgieter",
                     "+32478112233": "Bib"}
