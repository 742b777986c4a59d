"""The HubSpot CRM v3 API: `simulator` serves contacts, batches and subscriptions, `search`
answers the CRM search endpoint's filters."""
