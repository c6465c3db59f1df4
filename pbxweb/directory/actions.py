"""Everything that changes contacts goes through here (``do_*``); views parse and authorise.

Contacts are nobody's live state, so no event is published: a page shows them when it loads.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from pbxweb.directory.exchange import ImportedRow, ImportProblem, ImportRejected
from pbxweb.directory.forms import ContactForm
from pbxweb.directory.models import Contact


def may_edit(viewer: Any, contact: Contact) -> bool:
    """Personal contacts: their owner only. Company phonebook: administrators."""
    if contact.owner_id is None:
        return bool(viewer.is_staff)
    return bool(contact.owner_id == viewer.pk)


def do_save_contact(contact: Contact, *, owner: Any | None) -> Contact:
    """Save a checked contact as ``owner``'s personal one, or (``owner=None``) the company's."""
    contact.owner = owner
    contact.full_clean()
    contact.save()
    return contact


def do_delete_contact(contact: Contact) -> None:
    contact.delete()


@transaction.atomic
def do_import_contacts(rows: list[ImportedRow], *, owner: Any | None) -> list[Contact]:
    """Check every row like the contact form does, then create them all, or none.

    Raises ``ImportRejected`` listing every bad row; the database is untouched then.
    """
    problems = []
    contacts = []
    for row in rows:
        if "__error__" in row.values:
            problems.append(ImportProblem(row.where, row.values["__error__"]))
            continue
        form = ContactForm(data=row.values)
        if not form.is_valid():
            for field_name, errors in form.errors.items():
                label = (form.fields[field_name].label if field_name in form.fields
                         else field_name)
                for error in errors:
                    problems.append(ImportProblem(
                        row.where, f"{label}: {error}" if field_name != "__all__"
                        else str(error)))
            continue
        contact = form.save(commit=False)
        contact.owner = owner
        contact.refresh_number_keys()
        contacts.append(contact)
    if problems:
        raise ImportRejected(problems)
    if not contacts:
        raise ImportRejected([ImportProblem(_("file"), _("The file holds no contacts."))])
    return Contact.objects.bulk_create(contacts, batch_size=500)
