from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebclientConfig(AppConfig):
    name = "pbxweb.webclient"
    label = "webclient"
    verbose_name = _("Web client")
