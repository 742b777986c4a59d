"""hub's CSV connector: read exports of Mailchimp, Shopify, HubSpot or any file; write exports."""

from hub_csv.connector import CsvConnector
from hub_csv.settings import CsvSettings

__all__ = ["CsvConnector", "CsvSettings"]
