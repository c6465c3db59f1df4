import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from pbxweb.accounts.models import Extension
from tests.factories import PASSWORD, make_extension

pytestmark = pytest.mark.django_db(transaction=True)
PROFILE = "/webclient/profile/"


def picture(fmt: str = "PNG", size: tuple[int, int] = (400, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def user_client(client: Client) -> Client:
    client.force_login(make_extension("201", email="me@example.org"))
    return client


def upload(client: Client, name: str, data: bytes, content_type: str = "image/png"):
    return client.post(PROFILE, {"picture": SimpleUploadedFile(name, data, content_type)})


def test_profile_picture_is_reencoded_square_png_under_a_generated_name(
        user_client: Client) -> None:
    response = upload(user_client, "../../etc/passwd.jpg", picture("JPEG"), "image/jpeg")
    assert response.status_code == 302
    extension = Extension.objects.get(number="201")
    name = extension.avatar.name or ""
    assert name.startswith("avatars/")
    assert "passwd" not in name and ".." not in name
    with Image.open(extension.avatar.open("rb")) as stored:
        assert stored.format == "PNG"
        assert stored.size == (256, 256)
    served = user_client.get("/webclient/avatar/201.png")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"


def test_replacing_the_picture_deletes_the_old_file(user_client: Client) -> None:
    upload(user_client, "a.png", picture())
    first = Extension.objects.get(number="201").avatar
    storage, first_name = first.storage, first.name or ""
    upload(user_client, "b.png", picture())
    assert not storage.exists(first_name)


@pytest.mark.parametrize("name,data,message", [
    ("x.png", b"", "leeg"),
    ("x.png", b"<html><script>alert(1)</script></html>", "geen afbeelding"),
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "geen afbeelding"),
    ("x.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "geen afbeelding"),
    ("x.tif", None, "Alleen PNG"),
])
def test_bad_pictures_get_a_clear_error_and_change_nothing(user_client: Client, name: str,
                                                           data: bytes | None,
                                                           message: str) -> None:
    if data is None:
        buffer = io.BytesIO()
        Image.new("RGB", (10, 10)).save(buffer, format="TIFF")
        data = buffer.getvalue()
    response = upload(user_client, name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Extension.objects.get(number="201").avatar


def test_oversized_picture_is_refused(user_client: Client, settings) -> None:
    settings.AVATAR_MAX_BYTES = 1000
    response = upload(user_client, "big.png", picture(size=(300, 300)) + b"\0" * 2000)
    assert response.status_code == 400
    assert "te groot" in response.content.decode()
    assert not Extension.objects.get(number="201").avatar


def test_decompression_bomb_is_refused(user_client: Client, settings) -> None:
    settings.AVATAR_MAX_PIXELS = 100 * 100
    response = upload(user_client, "bomb.png", picture(size=(2000, 2000)))
    assert response.status_code == 400
    assert not Extension.objects.get(number="201").avatar


def test_avatars_are_for_logged_in_colleagues_only(user_client: Client) -> None:
    upload(user_client, "a.png", picture())
    assert Client().get("/webclient/avatar/201.png").status_code == 302
    assert user_client.get("/webclient/avatar/999.png").status_code == 404


def test_language_choice_is_saved_and_used(user_client: Client) -> None:
    response = user_client.post(PROFILE, {"language": "en"})
    assert response.status_code == 302
    assert Extension.objects.get(number="201").language == "en"
    page = user_client.get("/webclient/").content.decode()
    assert "Log out" in page and 'lang="en"' in page


def test_unknown_language_is_refused(user_client: Client) -> None:
    response = user_client.post(PROFILE, {"language": "xx"})
    assert response.status_code == 400
    assert Extension.objects.get(number="201").language == "nl"


def test_change_password_from_the_profile_menu(user_client: Client) -> None:
    response = user_client.post("/webclient/profile/password/", {
        "old_password": PASSWORD, "new_password1": "ander-geheim-123",
        "new_password2": "ander-geheim-123"})
    assert response.status_code == 302
    assert Extension.objects.get(number="201").check_password("ander-geheim-123")


def test_change_password_needs_the_old_one(user_client: Client) -> None:
    response = user_client.post("/webclient/profile/password/", {
        "old_password": "not-it", "new_password1": "ander-geheim-123",
        "new_password2": "ander-geheim-123"})
    assert response.status_code == 200
    assert Extension.objects.get(number="201").check_password(PASSWORD)


def test_resend_credentials_from_the_profile_menu(user_client: Client) -> None:
    assert user_client.get("/webclient/profile/resend-credentials/").status_code == 405
    response = user_client.post("/webclient/profile/resend-credentials/")
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["me@example.org"]]
