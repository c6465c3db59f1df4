from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="webclient:home", permanent=False)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("webclient/", include("pbxweb.webclient.urls")),
    path("webclient/", include("pbxweb.accounts.urls")),
    path("", include("pbxweb.directory.urls")),
    path("", include("pbxweb.history.urls")),
    path("", include("pbxweb.chat.urls")),
    path("", include("voicemail.urls")),
]
