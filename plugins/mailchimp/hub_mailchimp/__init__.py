"""hub's Mailchimp connector: one audience, read incrementally, written by batch subscribe."""

from hub_mailchimp.connector import MailchimpConnector, MailchimpSettings

__all__ = ["MailchimpConnector", "MailchimpSettings"]
