"""Call history: the page under /webclient/history/, the read-only API under /api/history/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from pbxweb.history import api, views

app_name = "history"

router = SimpleRouter()
router.register("history", api.CallHistoryViewSet, basename="api-history")

urlpatterns = [
    path("webclient/history/", views.call_list, name="list"),
    path("api/", include(router.urls)),
]
