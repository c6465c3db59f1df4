import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from pbxweb.accounts.models import Extension

pytestmark = pytest.mark.django_db(transaction=True)


def test_extension_add_creates_and_mails(capsys) -> None:
    call_command("extension", "add", "201", "--name", "Onthaal Balie", "--email",
                 "onthaal@example.org", "--password", "lang-genoeg-wachtwoord",
                 "--sip-password", "sip-secret-201", "--pin", "1234")
    extension = Extension.objects.get(number="201")
    assert (extension.first_name, extension.last_name) == ("Onthaal", "Balie")
    assert extension.check_password("lang-genoeg-wachtwoord")
    assert extension.check_pin("1234")
    assert len(mail.outbox) == 1 and "sip-secret-201" in mail.outbox[0].body
    assert "created 201" in capsys.readouterr().out


def test_extension_add_refuses_duplicates_and_bad_input() -> None:
    call_command("extension", "add", "201", "--no-email")
    with pytest.raises(CommandError, match="already exists"):
        call_command("extension", "add", "201")
    with pytest.raises(CommandError):
        call_command("extension", "add", "2x1")
    with pytest.raises(CommandError):
        call_command("extension", "add", "202", "--pin", "12ab")
    with pytest.raises(CommandError):
        call_command("extension", "add", "203", "--password", "short")
    assert list(Extension.objects.values_list("number", flat=True)) == ["201"]


def test_extension_list_set_password_set_pin_remove(capsys) -> None:
    call_command("extension", "add", "201", "--name", "Bib Centrum", "--no-email")
    call_command("extension", "list")
    assert "201\tBib Centrum" in capsys.readouterr().out
    call_command("extension", "set-password", "201", "een-nieuw-wachtwoord")
    call_command("extension", "set-pin", "201", "9876")
    extension = Extension.objects.get(number="201")
    assert extension.check_password("een-nieuw-wachtwoord") and extension.check_pin("9876")
    call_command("extension", "remove", "201")
    assert not Extension.objects.exists()
    with pytest.raises(CommandError, match="no extension"):
        call_command("extension", "remove", "201")


def test_seed_demo_builds_the_demo_organisation_once() -> None:
    call_command("seed_demo", "--quiet")
    numbers = set(Extension.objects.values_list("number", flat=True))
    assert len(numbers) >= 25
    assert {"124", "157", "219", "227", "100"} <= numbers
    assert Extension.objects.filter(group__name="Gemeente").count() == len(numbers)
    assert Extension.objects.get(number="299").is_staff
    assert Extension.objects.get(number="100").check_password("demo-telefonie")
    call_command("seed_demo", "--quiet")
    assert Extension.objects.count() == len(numbers)
    assert mail.outbox == []
