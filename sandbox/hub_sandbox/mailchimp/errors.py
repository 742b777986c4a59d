"""Mailchimp's answer to a refused request: Problem JSON with Mailchimp's titles and texts."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse, Response

_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"


class MailchimpError(Exception):
    """A Problem-JSON answer."""

    def __init__(self, status: int, title: str, detail: str,
                 errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors

    def response(self) -> Response:
        instance = str(uuid.uuid4())
        body: dict[str, Any] = {"type": _DOC, "title": self.title, "status": self.status,
                                "detail": self.detail, "instance": instance}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, media_type="application/problem+json",
                            headers={"X-Request-Id": instance, "Link": '<https://us1.api.'
                                     'mailchimp.com/schema/3.0/ProblemDetailDocument.json>; '
                                     'rel="describedBy"'})


def not_found() -> MailchimpError:
    """Mailchimp's 404, worded as it words every missing resource."""
    return MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")
