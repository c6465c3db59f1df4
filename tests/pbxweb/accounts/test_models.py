import hashlib

import pytest
from django.core.exceptions import ValidationError

from pbxweb.accounts.models import Extension
from pbxweb.accounts.sip_credentials import sip_ha1
from tests.factories import make_extension

pytestmark = pytest.mark.django_db


def test_sip_ha1_matches_rfc2617_example() -> None:
    # RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life"
    assert sip_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life") == (
        "939e7578ed9e3c518a452acee763bce9"
    )


def test_sip_ha1_sha256_is_rfc7616_formula() -> None:
    expected = hashlib.sha256(b"Mufasa:http-auth@example.org:Circle of Life").hexdigest()
    assert sip_ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life") == expected


def test_sip_ha1_refuses_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        sip_ha1("SHA-1", "a", "b", "c")


def test_extension_keeps_only_hashes_of_its_secrets(settings) -> None:
    extension = make_extension("201", pin="4826")
    row = Extension.objects.values().get(pk=extension.pk)
    flat = " ".join(str(value) for value in row.values())
    assert "4826" not in flat
    assert "sip-201" not in flat
    assert "correct-horse-battery" not in flat
    assert row["sip_ha1_md5"] == sip_ha1("MD5", "201", settings.SIP_REALM, "sip-201")
    assert row["sip_ha1_sha256"] == sip_ha1("SHA-256", "201", settings.SIP_REALM, "sip-201")
    assert row["sip_realm"] == settings.SIP_REALM


def test_pin_is_checked_against_its_hash() -> None:
    extension = make_extension("202", pin="4826")
    assert extension.check_pin("4826")
    assert not extension.check_pin("4827")


@pytest.mark.parametrize("pin", ["12", "12a4", "12345678901", "", " 1234"])
def test_bad_pins_are_refused(pin: str) -> None:
    extension = Extension(number="203")
    with pytest.raises(ValidationError):
        extension.set_pin(pin)


@pytest.mark.parametrize("number", ["1", "1234567", "12a", "+32", ""])
def test_extension_numbers_have_two_to_six_digits(number: str) -> None:
    with pytest.raises(ValidationError):
        make_extension(number)
    assert not Extension.objects.exists()


def test_extension_without_pin_never_matches_a_pin() -> None:
    extension = make_extension("204", pin=None)
    assert not extension.check_pin("0000")
