from django.urls import path

from voicemail import views

app_name = "voicemail"

urlpatterns = [
    path("webclient/voicemail/", views.message_list, name="list"),
    path("webclient/voicemail/<int:message_id>/audio", views.audio, name="audio"),
    path("webclient/voicemail/<int:message_id>/mark", views.mark, name="mark"),
    path("webclient/voicemail/<int:message_id>/delete", views.delete, name="delete"),
    path("webclient/voicemail/options", views.options, name="options"),
    path("webclient/voicemail/greeting", views.greeting, name="greeting"),
    path("webclient/voicemail/greeting/delete", views.greeting_delete, name="greeting-delete"),
    path("api/voicemail/", views.api_list, name="api-list"),
]
