import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from pbxweb.accounts import actions
from pbxweb.accounts.models import Extension
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)


def test_creating_an_extension_sends_the_welcome_email(settings) -> None:
    settings.WEBCLIENT_URL_OUTSIDE = "https://telefonie.example.org/webclient/"
    make_extension("219", first_name="Gemeentewerken", email="gw@example.org", pin="7391",
                   send_welcome=True)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["gw@example.org"]
    assert "219" in message.subject
    body = message.body
    assert "7391" in body  # the PIN, known only at creation
    assert "sip-219" in body  # the SIP password, idem
    assert settings.WEBCLIENT_URL_INSIDE in body
    assert "https://telefonie.example.org/webclient/" in body
    assert "/webclient/password/set/" in body
    assert "correct-horse-battery" not in body  # the web password is never mailed


def test_welcome_email_speaks_the_extensions_language() -> None:
    make_extension("220", email="nl@example.org", language="nl", send_welcome=True)
    make_extension("221", email="en@example.org", language="en", send_welcome=True)
    dutch, english = mail.outbox
    assert "Toestelnummer" in dutch.body
    assert "Extension number" in english.body


def test_password_set_link_from_the_email_sets_the_password(client) -> None:
    make_extension("222", email="a@example.org", password="", send_welcome=True)
    link = re.search(r"http://[^\s]+/password/set/[^\s]+", str(mail.outbox[0].body))
    assert link
    path = link.group(0).split("127.0.0.1:8000", 1)[1]
    response = client.get(path, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "a-brand-new-secret",
                                      "new_password2": "a-brand-new-secret"})
    assert response.status_code == 302
    assert Extension.objects.get(number="222").check_password("a-brand-new-secret")
    # The token works once.
    assert client.get(path, follow=True).context["validlink"] is False


def test_resend_credentials_mails_a_fresh_link_but_no_secrets() -> None:
    extension = make_extension("223", email="b@example.org", pin="5555")
    assert actions.do_resend_credentials(extension)
    body = mail.outbox[0].body
    assert "5555" not in body and "sip-223" not in body
    assert "/webclient/password/set/" in body


def test_resend_credentials_without_email_says_so() -> None:
    extension = make_extension("224", email="")
    assert actions.do_resend_credentials(extension) is False
    assert mail.outbox == []


def test_weak_password_is_refused_and_nothing_is_created() -> None:
    with pytest.raises(ValidationError):
        make_extension("225", password="1234")
    assert not Extension.objects.filter(number="225").exists()
    assert mail.outbox == []


def test_no_welcome_email_when_creation_fails() -> None:
    make_extension("226")
    with pytest.raises(ValidationError):
        make_extension("226", email="dup@example.org", send_welcome=True)
    assert mail.outbox == []


def test_set_sip_password_replaces_both_ha1() -> None:
    extension = make_extension("227")
    before = (extension.sip_ha1_md5, extension.sip_ha1_sha256)
    actions.do_set_sip_password(extension, "another-sip-secret")
    extension.refresh_from_db()
    assert (extension.sip_ha1_md5, extension.sip_ha1_sha256) != before
    assert len(extension.sip_ha1_md5) == 32 and len(extension.sip_ha1_sha256) == 64
