from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoicemailConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voicemail"
    verbose_name = _("Voicemail")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from voicemail.events import message_changed
        from voicemail.models import Message

        post_save.connect(message_changed, sender=Message, dispatch_uid="voicemail-count")
        post_delete.connect(message_changed, sender=Message, dispatch_uid="voicemail-count-d")
