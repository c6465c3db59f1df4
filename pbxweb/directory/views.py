"""Contacts pages (SPEC.md W5): list and search as you type, create, edit, delete, import,
export. Views parse and authorise only; changes go through ``actions``.

Another extension's personal contact answers 404 everywhere (its existence is not revealed);
a company contact that a non-administrator tries to change answers 403 (they can see it).
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pbxweb.directory import actions
from pbxweb.directory.exchange import (
    ImportRejected,
    check_size,
    export_csv,
    export_vcards,
    read_rows,
)
from pbxweb.directory.forms import ContactForm, ImportForm
from pbxweb.directory.models import Contact, ContactQuerySet
from pbxweb.directory.numbers import number_key

PAGE_SIZE = 50
SCOPES = ("all", "personal", "company")


def contacts_for(viewer: Any, *, scope: str, query: str) -> ContactQuerySet:
    """The contacts ``viewer`` may see, narrowed to a scope and a search."""
    contacts = Contact.objects.visible_to(viewer)
    if scope == "personal":
        contacts = contacts.personal(viewer)
    elif scope == "company":
        contacts = contacts.company()
    if query:
        contacts = contacts.search(query)
    return contacts.order_by("name", "id")


def _scope(request: HttpRequest) -> str:
    scope = request.GET.get("scope", "all")
    return scope if scope in SCOPES else "all"


def _editable(request: HttpRequest, contact: Contact) -> Contact:
    if not actions.may_edit(request.user, contact):
        raise PermissionDenied(_("Only administrators change the company phonebook."))
    return contact


def _visible_contact(request: HttpRequest, pk: int) -> Contact:
    return get_object_or_404(Contact.objects.visible_to(request.user), pk=pk)


@login_required
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    query = request.GET.get("q", "").strip()[:100]
    page = Paginator(contacts_for(request.user, scope=scope, query=query), PAGE_SIZE)\
        .get_page(request.GET.get("page"))
    context = {"active_section": "contacts", "page": page, "query": query, "scope": scope,
               "scopes": [("all", _("All")), ("personal", _("Personal")),
                          ("company", _("Company phonebook"))]}
    # Search as you type asks for the results only.
    template = "directory/_contact_results.html" if request.GET.get("partial") \
        else "directory/contact_list.html"
    return render(request, template, context)


def _prefill(request: HttpRequest) -> dict[str, str]:
    """From "add to contacts" in the call history: ?number=…&name=…"""
    initial = {"name": request.GET.get("name", "")[:160]}
    number = request.GET.get("number", "")[:40]
    key = number_key(number)
    if key:
        is_mobile = False
        if key.startswith("+"):
            kind = phonenumbers.number_type(phonenumbers.parse(key))
            is_mobile = kind == phonenumbers.PhoneNumberType.MOBILE
        initial["mobile_number" if is_mobile else "work_number"] = number
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    may_use_company = bool(request.user.is_staff)
    if request.method == "POST":
        form = ContactForm(request.POST, may_use_company=may_use_company)
        if form.is_valid():
            company = may_use_company and form.cleaned_data.get("company_phonebook")
            contact = actions.do_save_contact(form.save(commit=False),
                                              owner=None if company else request.user)
            messages.success(request, _("%(name)s has been added.") % {"name": contact.name})
            return redirect("directory:contacts")
        status = 400
    else:
        form = ContactForm(initial=_prefill(request), may_use_company=may_use_company)
        status = 200
    return render(request, "directory/contact_form.html",
                  {"active_section": "contacts", "form": form, "contact": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _editable(request, _visible_contact(request, pk))
    may_use_company = bool(request.user.is_staff)
    if request.method == "POST":
        form = ContactForm(request.POST, instance=contact, may_use_company=may_use_company)
        if form.is_valid():
            company = (form.cleaned_data.get("company_phonebook") if may_use_company
                       else contact.is_company)
            actions.do_save_contact(form.save(commit=False),
                                    owner=None if company else request.user)
            messages.success(request, _("%(name)s has been saved.") % {"name": contact.name})
            return redirect("directory:contacts")
        status = 400
    else:
        form = ContactForm(instance=contact, may_use_company=may_use_company,
                           initial={"company_phonebook": contact.is_company})
        status = 200
    return render(request, "directory/contact_form.html",
                  {"active_section": "contacts", "form": form, "contact": contact},
                  status=status)


@login_required
@require_POST
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _editable(request, _visible_contact(request, pk))
    actions.do_delete_contact(contact)
    messages.success(request, _("%(name)s has been deleted.") % {"name": contact.name})
    return redirect("directory:contacts")


@login_required
@require_GET
def contacts_export(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    contacts = contacts_for(request.user, scope=scope, query="")
    if request.GET.get("format") == "csv":
        response = HttpResponse(export_csv(contacts), content_type="text/csv; charset=utf-8")
        filename = f"contacts-{scope}.csv"
    else:
        response = HttpResponse(export_vcards(contacts), content_type="text/vcard; charset=utf-8")
        filename = f"contacts-{scope}.vcf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def contacts_import(request: HttpRequest) -> HttpResponse:
    may_use_company = bool(request.user.is_staff)
    problems = []
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, may_use_company=may_use_company)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            company = may_use_company and form.cleaned_data.get("company_phonebook")
            try:
                check_size(upload.size or 0)  # before reading a huge upload into memory
                created = actions.do_import_contacts(read_rows(upload.read()),
                                                     owner=None if company else request.user)
            except ImportRejected as rejected:
                problems = rejected.problems
                status = rejected.status
            else:
                messages.success(request, _("%(count)s contacts have been imported.")
                                 % {"count": len(created)})
                return redirect("directory:contacts")
        else:
            status = 400
    else:
        form = ImportForm(may_use_company=may_use_company)
    return render(request, "directory/contact_import.html",
                  {"active_section": "contacts", "form": form, "problems": problems[:200],
                   "more_problems": max(0, len(problems) - 200)}, status=status)
