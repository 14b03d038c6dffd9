"""Handing one email to the mail server, and what its failure means for a second try.

Every sender (reminder digests, NPS questions, comment notifications, invitations, sign-in codes)
promises at most one copy, so what matters about a failure is whether the message may have been
delivered:

- NOT_SENT: the server was unreachable or refused before taking the message. Certainly not
  delivered; trying again later is safe.
- REJECTED: the message cannot be sent as it is (an address SMTP cannot carry, such as a
  non-ASCII local part), or the server refused it for good (a 5xx answer to the recipients or
  to the message: no such mailbox, rejected as spam). Certainly not delivered, and a retry would
  fail the same way. A 5xx about the sender or the login is the operator's to fix, so those
  stay NOT_SENT and are retried.
- UNCERTAIN: the conversation broke after the message may have been taken. It is never resent.
"""

from __future__ import annotations

import enum
import logging
import smtplib

from django.core.mail import EmailMessage, mailers

log = logging.getLogger(__name__)

# The server refused before taking the message.
REFUSED_BEFORE_DATA = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)


def _refused_for_good(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


class Outcome(enum.StrEnum):
    SENT = "sent"
    NOT_SENT = "not_sent"
    REJECTED = "rejected"
    UNCERTAIN = "uncertain"


class MailNotSent(Exception):
    """Raised by tasks for a NOT_SENT outcome so that Celery retries them with backoff."""


def deliver(message: EmailMessage) -> tuple[Outcome, Exception | None]:
    """Send `message` over its own connection; the outcome and the error behind it, if any."""
    mailer = mailers.default
    try:
        mailer.open()
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome.NOT_SENT, exc
    try:
        mailer.send_messages([message])
    except REFUSED_BEFORE_DATA as exc:
        return (Outcome.REJECTED if _refused_for_good(exc) else Outcome.NOT_SENT), exc
    except (OSError, smtplib.SMTPException) as exc:
        return Outcome.UNCERTAIN, exc
    except (ValueError, UnicodeError) as exc:
        # Raised while the addresses or headers are encoded, before anything is transmitted.
        return Outcome.REJECTED, exc
    except Exception as exc:  # noqa: BLE001 - unknown: it may have gone out, so never resend
        log.exception("unexpected error while sending to %s", message.to)
        return Outcome.UNCERTAIN, exc
    finally:
        try:
            mailer.close()
        except Exception:  # noqa: S110 - closing a broken connection may fail again
            pass
    return Outcome.SENT, None
