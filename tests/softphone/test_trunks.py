"""SIP trunk and DID configuration in the admin (SPEC.md A1, E2)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.test import Client

from softphone.models import Trunk, TrunkDid
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)


def test_trunk_defaults() -> None:
    trunk = Trunk.objects.create(name="carrier", host="sip.carrier.example")
    assert (trunk.port, trunk.transport, trunk.register, trunk.register_expires,
            trunk.enabled) == (5060, "udp", True, 300, True)


def test_numbers_are_stored_in_e164_whatever_the_spelling() -> None:
    trunk = Trunk(name="carrier", host="sip.carrier.example",
                  outbound_caller_id="+32 (0)50 12 34 00")
    trunk.full_clean()
    trunk.save()
    assert trunk.outbound_caller_id == "+3250123400"
    did = TrunkDid(trunk=trunk, number="050/12.34.01", extension=make_extension("241"))
    did.full_clean()
    assert did.number == "+3250123401"


@pytest.mark.parametrize("number", ["241", "50123401", "hello", "+32 50 12 34 01 99 99"])
def test_a_did_must_be_a_phone_number(number: str) -> None:
    trunk = Trunk.objects.create(name="carrier", host="sip.carrier.example")
    did = TrunkDid(trunk=trunk, number=number, extension=make_extension("242"))
    with pytest.raises(ValidationError) as error:
        did.full_clean()
    assert set(error.value.message_dict) == {"number"}


def test_the_same_did_in_another_spelling_is_a_duplicate() -> None:
    trunk = Trunk.objects.create(name="carrier", host="sip.carrier.example")
    extension = make_extension("243")
    TrunkDid.objects.create(trunk=trunk, number="+3250123403", extension=extension)
    did = TrunkDid(trunk=trunk, number="050 12 34 03", extension=extension)
    with pytest.raises(ValidationError) as error:
        did.full_clean()
    assert set(error.value.message_dict) == {"number"}


def test_a_bad_caller_id_is_refused() -> None:
    trunk = Trunk(name="carrier", host="sip.carrier.example", outbound_caller_id="reception")
    with pytest.raises(ValidationError) as error:
        trunk.full_clean()
    assert set(error.value.message_dict) == {"outbound_caller_id"}


def test_an_extension_with_a_did_is_not_deleted_behind_its_callers_back() -> None:
    trunk = Trunk.objects.create(name="carrier", host="sip.carrier.example")
    extension = make_extension("244")
    TrunkDid.objects.create(trunk=trunk, number="+3250123404", extension=extension)
    with pytest.raises(ProtectedError):
        extension.delete()


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(make_extension("299", is_staff=True))
    return client


TRUNK_FORM = {
    "name": "carrier", "enabled": "on", "host": "sip.carrier.example", "port": "5060",
    "transport": "udp", "username": "3250123400", "password": "carrier-secret", "realm": "",
    "register": "on", "register_expires": "300", "outbound_caller_id": "050 12 34 00",
    "from_domain": "",
    "dids-TOTAL_FORMS": "1", "dids-INITIAL_FORMS": "0", "dids-MIN_NUM_FORMS": "0",
    "dids-MAX_NUM_FORMS": "1000",
}


def test_admin_creates_a_trunk_with_a_did(admin_client_: Client) -> None:
    extension = make_extension("245")
    response = admin_client_.post("/admin/softphone/trunk/add/", {
        **TRUNK_FORM, "dids-0-number": "050 12 34 05", "dids-0-extension": extension.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    trunk = Trunk.objects.get()
    assert (trunk.password, trunk.outbound_caller_id) == ("carrier-secret", "+3250123400")
    assert list(trunk.dids.values_list("number", "extension__number")) == [
        ("+3250123405", "245")]


def test_admin_never_shows_the_password_and_keeps_it_when_left_empty(
        admin_client_: Client) -> None:
    trunk = Trunk.objects.create(name="carrier", host="sip.carrier.example",
                                 password="carrier-secret")
    page = admin_client_.get(f"/admin/softphone/trunk/{trunk.pk}/change/")
    assert page.status_code == 200 and "carrier-secret" not in page.content.decode()
    response = admin_client_.post(f"/admin/softphone/trunk/{trunk.pk}/change/", {
        **TRUNK_FORM, "password": "", "host": "sip2.carrier.example",
        "dids-TOTAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    trunk.refresh_from_db()
    assert (trunk.host, trunk.password) == ("sip2.carrier.example", "carrier-secret")


def test_admin_refuses_a_did_that_is_not_a_number(admin_client_: Client) -> None:
    extension = make_extension("246")
    response = admin_client_.post("/admin/softphone/trunk/add/", {
        **TRUNK_FORM, "dids-0-number": "onthaal", "dids-0-extension": extension.pk})
    assert response.status_code == 200
    assert not Trunk.objects.exists()
