import pytest
from django.core import mail
from django.test import Client

from pbxweb.accounts.models import Extension
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(make_extension("299", is_staff=True))
    return client


def test_admin_creates_an_extension_and_the_welcome_email_goes_out(
        admin_client_: Client) -> None:
    response = admin_client_.post("/admin/accounts/extension/add/", {
        "number": "157", "first_name": "Sociale", "last_name": "Dienst",
        "email": "sd@example.org", "language": "nl", "is_active": "on",
        "ring_seconds": "25", "outbound_permission": "national",
        "new_password": "", "new_pin": "2468", "new_sip_password": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    extension = Extension.objects.get(number="157")
    assert extension.check_pin("2468") and extension.has_sip_credentials
    assert len(mail.outbox) == 1 and "2468" in mail.outbox[0].body


def test_admin_refuses_a_weak_password(admin_client_: Client) -> None:
    response = admin_client_.post("/admin/accounts/extension/add/", {
        "number": "158", "language": "nl", "is_active": "on", "new_password": "123",
        "ring_seconds": "25", "outbound_permission": "national"})
    assert response.status_code == 200
    assert "new_password" in response.context["adminform"].form.errors
    assert not Extension.objects.filter(number="158").exists()


def test_admin_resend_action(admin_client_: Client) -> None:
    extension = make_extension("160", email="bib@example.org")
    response = admin_client_.post("/admin/accounts/extension/", {
        "action": "resend_credentials", "_selected_action": [extension.pk]})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["bib@example.org"]]


def test_staff_only(client: Client) -> None:
    client.force_login(make_extension("161"))
    assert client.get("/admin/accounts/extension/").status_code == 302
