"""An extension's call settings: ring time and how far it may call out (SPEC.md E2, E3)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from pbxweb.accounts.models import Extension, OutboundPermission
from softphone.pbx import storage
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_extension_rings_25_seconds_and_may_call_belgian_numbers() -> None:
    extension = make_extension("231")
    extension.refresh_from_db()
    assert extension.ring_seconds == storage.DEFAULT_RING_SECONDS == 25
    assert extension.outbound_permission == OutboundPermission.NATIONAL


def test_permission_values_are_the_ones_call_control_reads() -> None:
    assert {value for value, _label in OutboundPermission.choices} == {
        str(p) for p in storage.OutboundPermission}


@pytest.mark.parametrize(("seconds", "valid"), [(4, False), (5, True), (120, True),
                                                (121, False)])
def test_ring_time_stays_between_5_and_120_seconds(seconds: int, valid: bool) -> None:
    extension = make_extension("232")
    extension.ring_seconds = seconds
    if valid:
        extension.full_clean(exclude=["password"])
    else:
        with pytest.raises(ValidationError) as error:
            extension.full_clean(exclude=["password"])
        assert set(error.value.message_dict) == {"ring_seconds"}


def test_an_unknown_permission_is_refused() -> None:
    extension = make_extension("233")
    extension.outbound_permission = "everywhere"
    with pytest.raises(ValidationError) as error:
        extension.full_clean(exclude=["password"])
    assert set(error.value.message_dict) == {"outbound_permission"}


def test_labels_are_translated_to_dutch() -> None:
    field = Extension._meta.get_field("outbound_permission")
    with translation.override("nl"):
        assert str(field.verbose_name) == "uitgaande gesprekken"
        assert str(OutboundPermission.INTERNAL.label) == "Alleen interne gesprekken"
        assert str(Extension._meta.get_field("ring_seconds").verbose_name) == (
            "beltijd (seconden)")


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(make_extension("299", is_staff=True))
    return client


def test_admin_sets_call_settings_on_a_new_extension(admin_client_: Client) -> None:
    response = admin_client_.post("/admin/accounts/extension/add/", {
        "number": "234", "first_name": "Onthaal", "language": "nl", "is_active": "on",
        "ring_seconds": "45", "outbound_permission": "internal"})
    assert response.status_code == 302, response.content.decode()[:2000]
    extension = Extension.objects.get(number="234")
    assert (extension.ring_seconds, extension.outbound_permission) == (45, "internal")
    assert extension.has_sip_credentials  # still created through the action


def test_admin_changes_call_settings(admin_client_: Client) -> None:
    extension = make_extension("235", first_name="Bibliotheek")
    response = admin_client_.post(f"/admin/accounts/extension/{extension.pk}/change/", {
        "number": "235", "first_name": "Bibliotheek", "language": "nl", "is_active": "on",
        "ring_seconds": "60", "outbound_permission": "international"})
    assert response.status_code == 302, response.content.decode()[:2000]
    extension.refresh_from_db()
    assert (extension.ring_seconds, extension.outbound_permission) == (60, "international")


def test_admin_refuses_a_ring_time_of_three_minutes(admin_client_: Client) -> None:
    extension = make_extension("236")
    response = admin_client_.post(f"/admin/accounts/extension/{extension.pk}/change/", {
        "number": "236", "language": "nl", "is_active": "on", "ring_seconds": "180",
        "outbound_permission": "national"})
    assert response.status_code == 200
    extension.refresh_from_db()
    assert extension.ring_seconds == 25
