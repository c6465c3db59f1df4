from django.urls import path

from pbxweb.chat import api, views

app_name = "chat"

urlpatterns = [
    path("webclient/chat/", views.home, name="home"),
    path("webclient/chat/files/<uuid:key>/", views.attachment_download, name="attachment"),
    path("webclient/chat/files/<uuid:key>/preview.png", views.attachment_preview,
         name="attachment-preview"),
    path("api/chat/conversations/", api.ConversationList.as_view(), name="api-conversations"),
    path("api/chat/conversations/<int:conversation_id>/", api.ConversationDetail.as_view(),
         name="api-conversation"),
    path("api/chat/conversations/<int:conversation_id>/messages/", api.MessageList.as_view(),
         name="api-messages"),
    path("api/chat/conversations/<int:conversation_id>/read/", api.MarkRead.as_view(),
         name="api-read"),
    path("api/chat/conversations/<int:conversation_id>/attachments/",
         api.AttachmentUpload.as_view(), name="api-attachments"),
    path("api/chat/conversations/<int:conversation_id>/archive/", api.Archive.as_view(),
         name="api-archive"),
    path("api/chat/conversations/<int:conversation_id>/restore/", api.Restore.as_view(),
         name="api-restore"),
    path("api/chat/attachments/<uuid:key>/", views.attachment_download,
         name="api-attachment"),
    path("api/chat/unread/", api.Unread.as_view(), name="api-unread"),
    path("api/chat/search/", api.Search.as_view(), name="api-search"),
    path("api/chat/colleagues/", api.Colleagues.as_view(), name="api-colleagues"),
]
