from django.contrib.auth import views as auth_views
from django.urls import path

from pbxweb.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/resend-credentials/", views.resend_credentials, name="resend_credentials"),
    path("password/set/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password_set"),
    path("avatar/<str:number>.png", views.avatar, name="avatar"),
]
