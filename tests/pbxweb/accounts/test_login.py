import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, PIN, make_extension

pytestmark = pytest.mark.django_db

LOGIN = "/webclient/login/"


def post_login(client: Client, number: str, secret: str, address: str = "10.9.8.7"):
    return client.post(LOGIN, {"username": number, "password": secret}, REMOTE_ADDR=address)


def test_login_with_extension_and_password_opens_the_web_client(client: Client) -> None:
    extension = make_extension("201")
    response = post_login(client, "201", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("webclient:home")
    assert int(client.session["_auth_user_id"]) == extension.pk


def test_login_rotates_the_session_key(client: Client) -> None:
    make_extension("201")
    client.get(LOGIN)
    session = client.session
    session["before"] = 1
    session.save()
    before = session.session_key
    post_login(client, "201", PASSWORD)
    assert client.session.session_key != before


def test_login_with_extension_and_pin(client: Client) -> None:
    make_extension("201", pin=PIN)
    assert post_login(client, "201", PIN).status_code == 302


def test_pin_login_can_be_switched_off(client: Client, settings) -> None:
    settings.WEBCLIENT_PIN_LOGIN = False
    make_extension("201", pin=PIN)
    response = post_login(client, "201", PIN)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("number,secret", [("201", "wrong-password"), ("299", PASSWORD),
                                           ("201", "0000")])
def test_wrong_credentials_get_one_clear_message(client: Client, number: str,
                                                 secret: str) -> None:
    make_extension("201")
    response = post_login(client, number, secret)
    assert response.status_code == 200
    assert "Verkeerd toestelnummer, wachtwoord of pincode." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_non_numeric_extension_is_refused_with_a_field_message(client: Client) -> None:
    response = post_login(client, "admin", PASSWORD)
    assert response.status_code == 200
    assert "2 tot 6 cijfers" in response.content.decode()


def test_disabled_extension_cannot_log_in(client: Client) -> None:
    extension = make_extension("201")
    extension.is_active = False
    extension.save()
    assert post_login(client, "201", PASSWORD).status_code == 200
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_address_but_not_the_extension(client: Client,
                                                                  settings) -> None:
    make_extension("201")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "201", "wrong-password", address="10.0.0.66")
    locked = post_login(client, "201", PASSWORD, address="10.0.0.66")
    assert locked.status_code == 429
    assert "Te veel" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # The colleague at another address still gets in with the right password.
    other = Client()
    assert post_login(other, "201", PASSWORD, address="10.0.0.7").status_code == 302


def test_pin_guessing_is_limited_per_extension_across_addresses(client: Client,
                                                                settings) -> None:
    settings.PIN_LOGIN_RATE = "3/h"
    make_extension("201", pin=PIN)
    for index, guess in enumerate(("1111", "2222", "3333")):
        post_login(Client(), "201", guess, address=f"10.1.0.{index}")
    # The right PIN from yet another address is refused now, with a message saying why ...
    response = post_login(client, "201", PIN, address="10.1.0.99")
    assert response.status_code == 200
    assert "Te veel foute pincodes" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # ... but the password still works.
    assert post_login(client, "201", PASSWORD, address="10.1.0.99").status_code == 302


def test_logout_needs_post_and_ends_the_session(client: Client) -> None:
    extension = make_extension("201")
    client.force_login(extension)
    assert client.get("/webclient/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    assert client.post("/webclient/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_login_post_without_csrf_token_is_refused() -> None:
    make_extension("201")
    client = Client(enforce_csrf_checks=True)
    response = post_login(client, "201", PASSWORD)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_web_client_requires_login(client: Client) -> None:
    response = client.get("/webclient/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_logged_in_user_visiting_login_goes_to_the_client(client: Client) -> None:
    client.force_login(make_extension("201"))
    assert client.get(LOGIN)["Location"] == "/webclient/"
