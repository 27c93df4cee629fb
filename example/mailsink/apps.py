from django.apps import AppConfig


class MailsinkConfig(AppConfig):
    name = "mailsink"
