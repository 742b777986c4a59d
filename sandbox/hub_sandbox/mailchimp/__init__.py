"""The Mailchimp Marketing API 3.0 simulator: an audience (`simulator`) and batch operations
(`batches`)."""

from hub_sandbox.mailchimp.batches import BatchLimits
from hub_sandbox.mailchimp.errors import MailchimpError
from hub_sandbox.mailchimp.simulator import (
    CONTACT_EXISTS,
    DISPOSABLE_DOMAINS,
    GENERIC,
    RESERVED_DOMAINS,
    STATUSES,
    MailchimpLimits,
    MailchimpSimulator,
    looks_fake,
    subscriber_hash,
)

__all__ = ["CONTACT_EXISTS", "DISPOSABLE_DOMAINS", "GENERIC", "RESERVED_DOMAINS", "STATUSES",
           "BatchLimits", "MailchimpError", "MailchimpLimits", "MailchimpSimulator",
           "looks_fake", "subscriber_hash"]
