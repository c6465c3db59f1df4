from django.contrib import admin

from pbxweb.directory.models import Contact


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "owner", "work_number", "mobile_number", "email"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "company", "email", "work_number", "mobile_number", "home_number",
                     "other_number"]
    raw_id_fields = ["owner"]
    list_per_page = 50
