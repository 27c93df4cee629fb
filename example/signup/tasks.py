"""The demo's one task: the welcome email, sent by a worker through a real SMTP conversation."""

from django.core.mail import send_mail

from backroom import RetryPolicy, task
from backroom.exceptions import JobTimeout

# A down or failing mail server raises OSError (smtplib's errors included): try again
# after about 2, 4, 8 and 16 seconds, then give up.
MAIL_SERVER_TROUBLE = RetryPolicy(backoff_seconds=2, factor=2, retry_on=(OSError, JobTimeout))


@task(queue_name="emails", max_attempts=5, retry=MAIL_SERVER_TROUBLE, timeout=30)
def send_welcome_email(user_email: str) -> None:
    send_mail(
        "Welcome!",
        f"Hello {user_email},\n\nthanks for signing up. This email was sent in the background.\n",
        None,
        [user_email],
    )
