from django.urls import path

from pbxweb.webclient import views

app_name = "webclient"

urlpatterns = [
    path("", views.home, name="home"),
]
