"""Login, logout and the profile menu (SPEC.md W1, W3). Views parse and authorise only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pbxweb.accounts import actions
from pbxweb.accounts.avatars import AvatarError
from pbxweb.accounts.forms import AvatarForm, ExtensionLoginForm, LanguageForm
from pbxweb.accounts.models import Extension


class LoginView(auth_views.LoginView):
    form_class = ExtensionLoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("webclient:home")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The link in the welcome email: choose a web password (token works once)."""

    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:login")
    post_reset_login = False

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        messages.success(self.request, _("Your password has been set. You can log in now."))
        return super().form_valid(form)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    extension: Extension = request.user  # type: ignore[assignment]
    avatar_form = AvatarForm()
    language_form = LanguageForm(instance=extension)
    status = 200
    if request.method == "POST" and "picture" in request.FILES:
        avatar_form = AvatarForm(request.POST, request.FILES)
        if avatar_form.is_valid():
            upload = avatar_form.cleaned_data["picture"]
            try:
                actions.do_set_avatar(extension, upload.read())
            except AvatarError as error:
                avatar_form.add_error("picture", str(error))
            else:
                messages.success(request, _("Your profile picture has been updated."))
                return redirect("accounts:profile")
        status = 400
    elif request.method == "POST" and "language" in request.POST:
        language_form = LanguageForm(request.POST, instance=Extension(language=""))
        if language_form.is_valid():
            actions.do_set_language(extension, language_form.cleaned_data["language"])
            messages.success(request, _("Language saved."))
            return redirect("accounts:profile")
        status = 400
    elif request.method == "POST":
        messages.error(request, _("Nothing to save: choose a picture or a language."))
        status = 400
    return render(request, "accounts/profile.html",
                  {"avatar_form": avatar_form, "language_form": language_form}, status=status)


@login_required
@require_POST
def resend_credentials(request: HttpRequest) -> HttpResponse:
    extension: Extension = request.user  # type: ignore[assignment]
    if actions.do_resend_credentials(extension):
        messages.success(request, _("The welcome email has been sent to %(email)s.")
                         % {"email": extension.email})
    else:
        messages.error(request, _("Your extension has no email address; ask your "
                                  "administrator."))
    return redirect("accounts:profile")


@login_required
@require_GET
def avatar(request: HttpRequest, number: str) -> FileResponse:
    """Colleagues' pictures, for logged-in colleagues only: no public media URL."""
    extension = get_object_or_404(Extension, number=number, is_active=True)
    if not extension.avatar:
        raise Http404
    response = FileResponse(extension.avatar.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
