"""Contacts: pages under /webclient/contacts/, the REST API under /api/contacts/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from pbxweb.directory import api, views

app_name = "directory"

router = SimpleRouter()
router.register("contacts", api.ContactViewSet, basename="api-contacts")

urlpatterns = [
    path("webclient/contacts/", views.contact_list, name="contacts"),
    path("webclient/contacts/new/", views.contact_create, name="contact_create"),
    path("webclient/contacts/<int:pk>/", views.contact_edit, name="contact_edit"),
    path("webclient/contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("webclient/contacts/export/", views.contacts_export, name="contacts_export"),
    path("webclient/contacts/import/", views.contacts_import, name="contacts_import"),
    path("api/", include(router.urls)),
]
