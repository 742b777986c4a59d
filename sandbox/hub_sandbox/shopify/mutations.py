"""The mutation resolvers: customers, consent, tags, metafields, erasure, bulk operations.

Each validates its input the way Shopify does and answers problems as `userErrors` (HTTP 200,
the payload's object null) with Shopify's field paths and wording; a successful write stamps
`updatedAt` with the request time. The only top-level error is the one Shopify raises itself:
a read-only marketing state given to `customerEmailMarketingConsentUpdate`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from graphql import GraphQLError

from hub_sandbox.shopify.resolvers import Context, Info, ctx, find, invalid_gid
from hub_sandbox.shopify.schema import Resolver
from hub_sandbox.shopify.shop import (
    SHOP_ID,
    Address,
    Customer,
    EmailConsent,
    Metafield,
    Shop,
    ShopOrder,
    gid,
    parse_gid,
    sorted_tags,
    to_second,
)

Payload = dict[str, Any]
UserError = dict[str, Any]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$")
IDENTITY_REQUIRED = "A name, phone number, or email address must be present"
RESERVED_NAMESPACES = ("shopify_standard", "protected", "shopify-l10n-fields")
MAX_METAFIELDS_PER_SET = 25
MAX_EMAIL_LENGTH = 255
CONSENT_INPUT_STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING")


def user_error(field: list[str] | None, message: str, **extra: Any) -> UserError:
    """A payload userError."""
    return {"field": field, "message": message, **extra}


# customers -------------------------------------------------------------------------------------

def _blank_to_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def normalize_phone(raw: str, region: str) -> str | None:
    """E.164, as Shopify stores phone numbers; None if it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


class _CustomerChanges:
    """A `CustomerInput` checked against the shop, ready to apply (or its userErrors)."""

    def __init__(self, context: Context, data: dict[str, Any], current: Customer | None) -> None:
        self.context = context
        self.values: dict[str, Any] = {}
        self.errors: list[UserError] = []
        shop = context.shop
        if "email" in data:
            # Shopify drops every whitespace character and compares case-insensitively.
            email = "".join(str(data["email"] or "").split()) or None
            if email is not None:
                other = shop.customer_by_email(email)
                if len(email) > MAX_EMAIL_LENGTH:
                    self.errors.append(user_error(
                        ["email"], f"Email is too long (maximum is {MAX_EMAIL_LENGTH} characters)"))
                if not _EMAIL.match(email):
                    self.errors.append(user_error(["email"], "Email is invalid"))
                elif other is not None and other is not current:
                    self.errors.append(user_error(["email"], "Email has already been taken"))
            self.values["email"] = email
        if "phone" in data:
            phone = _blank_to_none(data["phone"])
            if phone is not None:
                normalized = normalize_phone(phone, context.limits.shop_country)
                other = shop.customer_by_phone(normalized) if normalized else None
                if normalized is None:
                    self.errors.append(user_error(["phone"], "Phone is invalid"))
                elif other is not None and other is not current:
                    self.errors.append(user_error(["phone"], "Phone has already been taken"))
                phone = normalized
            self.values["phone"] = phone
        for key, attribute in (("firstName", "first_name"), ("lastName", "last_name")):
            if key in data:
                self.values[attribute] = _blank_to_none(data[key])
        if "note" in data:
            self.values["note"] = data["note"]
        if "locale" in data and data["locale"] is not None:
            if _LOCALE.match(data["locale"]):
                self.values["locale"] = data["locale"]
            else:
                self.errors.append(user_error(["locale"], "Locale is invalid"))
        if "taxExempt" in data and data["taxExempt"] is not None:
            self.values["tax_exempt"] = bool(data["taxExempt"])
        if "tags" in data:
            self.values["tags"] = sorted_tags(data["tags"] or [])
        if "addresses" in data:
            self.values["addresses"] = [self._address(a) for a in data["addresses"] or []]
        self.metafields = data.get("metafields") or []
        for index, item in enumerate(self.metafields):
            existing = current.metafields.get((item.get("namespace") or
                                               context.limits.app_namespace,
                                               item.get("key") or "")) if current else None
            self.errors.extend(metafield_problems(context, index, item, existing))
        merged = {"email": current.email if current else None,
                  "phone": current.phone if current else None,
                  "first_name": current.first_name if current else None,
                  "last_name": current.last_name if current else None, **self.values}
        if not any(merged[k] for k in ("email", "phone", "first_name", "last_name")):
            self.errors.append(user_error(None, IDENTITY_REQUIRED))

    def _address(self, data: dict[str, Any]) -> Address:
        return Address(id=self.context.shop.new_address_id(), address1=data.get("address1"),
                       address2=data.get("address2"), city=data.get("city"),
                       company=data.get("company"), country_code=data.get("countryCode"),
                       first_name=data.get("firstName"), last_name=data.get("lastName"),
                       phone=data.get("phone"), province_code=data.get("provinceCode"),
                       zip=data.get("zip"))

    def apply(self, customer: Customer) -> None:
        """Write the checked values and stamp the change."""
        had_email = customer.email is not None
        for attribute, value in self.values.items():
            setattr(customer, attribute, value)
        for item in self.metafields:
            set_metafield(self.context, customer.gid, "CUSTOMER", customer.metafields, item)
        if customer.email is None and had_email:
            customer.consent = EmailConsent("NOT_SUBSCRIBED", "SINGLE_OPT_IN", None)
        customer.updated_at = self.context.now


def customer_create(_root: Any, info: Info, input: dict[str, Any]) -> Payload:
    """`customerCreate(input:)`."""
    context = ctx(info)
    changes = _CustomerChanges(context, input, None)
    consent = input.get("emailMarketingConsent")
    if consent is not None and consent["marketingState"] in ("REDACTED", "INVALID"):
        changes.errors.append(user_error(["emailMarketingConsent", "marketingState"],
                                         "Marketing state is invalid"))
    if changes.errors:
        return {"customer": None, "userErrors": changes.errors}
    customer = context.shop.add_customer(created_at=context.now)
    changes.apply(customer)
    if consent is not None and customer.email is not None:
        customer.consent = EmailConsent(
            consent["marketingState"], consent.get("marketingOptInLevel") or "SINGLE_OPT_IN",
            to_second(consent.get("consentUpdatedAt") or context.now))
    return {"customer": customer, "userErrors": []}


def customer_update(_root: Any, info: Info, input: dict[str, Any]) -> Payload:
    """`customerUpdate(input: {id, ...})`; consent has its own mutation."""
    context = ctx(info)
    customer = find(context, input["id"], kinds=("Customer",)) if input.get("id") else None
    if customer is None:
        return {"customer": None,
                "userErrors": [user_error(["id"], "Customer does not exist")]}
    if input.get("emailMarketingConsent") is not None:
        return {"customer": None, "userErrors": [user_error(
            ["emailMarketingConsent"], "To update emailMarketingConsent, please use the "
            "customerEmailMarketingConsentUpdate Mutation instead")]}
    changes = _CustomerChanges(context, input, customer)
    if changes.errors:
        return {"customer": None, "userErrors": changes.errors}
    changes.apply(customer)
    return {"customer": customer, "userErrors": []}


def customer_delete(_root: Any, info: Info, input: dict[str, Any]) -> Payload:
    """`customerDelete(input: {id})`: refused while the customer has orders."""
    context = ctx(info)
    customer = find(context, input["id"], kinds=("Customer",))
    shop = context.shop
    if customer is None:
        return {"deletedCustomerId": None, "shop": shop,
                "userErrors": [user_error(["id"], "Customer does not exist")]}
    if shop.orders_of(customer):
        return {"deletedCustomerId": None, "shop": shop, "userErrors": [user_error(
            ["id"], "Customer can’t be deleted because they have associated orders")]}
    shop.delete_customer(customer)
    return {"deletedCustomerId": customer.gid, "shop": shop, "userErrors": []}


# consent ---------------------------------------------------------------------------------------

def consent_update(_root: Any, info: Info, input: dict[str, Any]) -> Payload:
    """`customerEmailMarketingConsentUpdate` with Shopify's rules (see the errors below)."""
    context = ctx(info)
    consent = input["emailMarketingConsent"]
    state = consent["marketingState"]
    if state not in CONSENT_INPUT_STATES:
        raise GraphQLError(f"Cannot specify {state} as a marketing state input",
                           extensions={"code": "INVALID"})
    customer = find(context, input["customerId"], kinds=("Customer",))
    if customer is None:
        return {"customer": None, "userErrors": [user_error(
            ["input", "customerId"], "Customer not found", code="INVALID")]}
    level = consent.get("marketingOptInLevel")
    updated_at = consent.get("consentUpdatedAt")
    error = None
    if updated_at is not None and updated_at > context.now:
        error = user_error(["input", "emailMarketingConsent", "consentUpdatedAt"],
                           "Consent updated at must not be in the future", code="INVALID")
    elif level is None and state == "SUBSCRIBED":
        error = user_error(["input", "emailMarketingConsent", "marketingOptInLevel"],
                           "Marketing opt in level can't be blank", code="MISSING_ARGUMENT")
    elif state == "PENDING" and level != "CONFIRMED_OPT_IN":
        error = user_error(["input", "emailMarketingConsent", "marketingOptInLevel"],
                           "Marketing opt in level must be confirmed opt-in for pending "
                           "consent state", code="INVALID")
    elif customer.email is None:
        if not context.limits.consent_requires_email:
            return {"customer": customer, "userErrors": []}
        return {"customer": None, "userErrors": [user_error(
            ["input", "customerId"], "Customer must have an email address", code="INVALID")]}
    if error is not None:
        return {"customer": customer, "userErrors": [error]}
    customer.consent = EmailConsent(state, level or customer.consent.opt_in_level,
                                    to_second(updated_at) if updated_at else context.now)
    customer.updated_at = context.now
    return {"customer": customer, "userErrors": []}


# tags ------------------------------------------------------------------------------------------

def _taggable(context: Context, value: str) -> tuple[Customer | ShopOrder | None, str]:
    parsed = parse_gid(value)
    if parsed is None:
        raise invalid_gid(value)
    target = find(context, value, kinds=("Customer", "Order"), poll=False)
    return target, parsed[0]


def _retag(info: Info, id: str, tags: list[str], *, add: bool) -> Payload:
    context = ctx(info)
    target, kind = _taggable(context, id)
    if target is None:
        return {"node": None, "userErrors": [user_error(["id"], f"{kind} does not exist")]}
    wanted = sorted_tags(tags)
    if add:
        target.tags = sorted_tags([*target.tags, *wanted])
    else:
        dropped = {tag.lower() for tag in wanted}
        target.tags = [tag for tag in target.tags if tag.lower() not in dropped]
    target.updated_at = context.now
    return {"node": target, "userErrors": []}


def tags_add(_root: Any, info: Info, id: str, tags: list[str]) -> Payload:
    """`tagsAdd(id:, tags:)` on a customer or an order."""
    return _retag(info, id, tags, add=True)


def tags_remove(_root: Any, info: Info, id: str, tags: list[str]) -> Payload:
    """`tagsRemove(id:, tags:)` on a customer or an order."""
    return _retag(info, id, tags, add=False)


# metafields ------------------------------------------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _value_problem(type_: str, value: str) -> str | None:
    """Why `value` is not a valid `type_` value (Shopify's wording), or None."""
    if type_ == "number_integer" and not re.fullmatch(r"-?\d+", value):
        return "Value must be an integer."
    if type_ == "number_decimal":
        try:
            Decimal(value)
        except InvalidOperation:
            return "Value must be a decimal."
    if type_ == "boolean" and value not in ("true", "false"):
        return "Value must be true or false."
    if type_ == "date_time" and not _DATE_TIME.match(value):
        return ("Value must be in “YYYY-MM-DDTHH:MM:SS” format. For example: "
                "2022-06-01T15:30:00")
    if type_ == "date" and not _DATE.match(value):
        return "Value must be in “YYYY-MM-DD” format."
    if type_ == "color" and not _COLOR.match(value):
        return "Value must be a hex color code."
    if type_ == "json" or type_.startswith("list."):
        try:
            json.loads(value)
        except ValueError as exc:
            return f"Value is invalid JSON: {exc}."
    return None


def metafield_problems(context: Context, index: int, item: dict[str, Any],
                       existing: Metafield | None) -> list[UserError]:
    """What is wrong with one metafield input (paths `["metafields", "<i>", ...]`)."""
    path = ["metafields", str(index)]
    errors: list[UserError] = []
    namespace = item.get("namespace") or context.limits.app_namespace
    key = item.get("key") or ""
    if len(namespace) < 3:
        errors.append(user_error([*path, "namespace"], "Namespace is too short (minimum is 3 "
                                 "characters)", code="TOO_SHORT", elementIndex=None))
    elif len(namespace) > 255:
        errors.append(user_error([*path, "namespace"], "Namespace is too long (maximum is 255 "
                                 "characters)", code="TOO_LONG", elementIndex=None))
    elif namespace in RESERVED_NAMESPACES:
        errors.append(user_error([*path, "namespace"], f"Namespace {namespace} is a reserved "
                                 "namespace", code=None, elementIndex=None))
    if len(key) < 2:
        errors.append(user_error([*path, "key"], "Key is too short (minimum is 2 characters)",
                                 code="TOO_SHORT", elementIndex=None))
    elif len(key) > 64:
        errors.append(user_error([*path, "key"], "Key is too long (maximum is 64 characters)",
                                 code="TOO_LONG", elementIndex=None))
    type_ = item.get("type") or (existing.type if existing else None)
    if item.get("value") is None:
        errors.append(user_error([*path, "value"], "Value can't be blank", code="BLANK",
                                 elementIndex=None))
    if not type_:
        errors.append(user_error([*path, "type"], "Type can't be blank", code="BLANK",
                                 elementIndex=None))
    elif item.get("value") is not None:
        problem = _value_problem(type_, str(item["value"]))
        if problem:
            errors.append(user_error([*path, "value"], problem, code="INVALID_VALUE",
                                     elementIndex=None))
    return errors


def set_metafield(context: Context, owner: str, owner_type: str,
                  holder: dict[tuple[str, str], Metafield], item: dict[str, Any]) -> Metafield:
    """Create or overwrite one (checked) metafield on its owner."""
    namespace = item.get("namespace") or context.limits.app_namespace
    key = item["key"]
    existing = holder.get((namespace, key))
    if existing is None:
        existing = Metafield(id=context.shop.new_metafield_id(), owner=owner,
                             owner_type=owner_type, namespace=namespace, key=key,
                             value=str(item["value"]), type=item["type"],
                             created_at=context.now, updated_at=context.now)
        holder[(namespace, key)] = existing
    else:
        existing.value = str(item["value"])
        existing.type = item.get("type") or existing.type
        existing.updated_at = context.now
    return existing


def _owner(shop: Shop, value: str) -> tuple[Any, str] | None:
    parsed = parse_gid(value)
    if parsed is None:
        return None
    kind, number = parsed
    if kind == "Customer" and number in shop.customers:
        return shop.customers[number], "CUSTOMER"
    if kind == "Order" and number in shop.orders:
        return shop.orders[number], "ORDER"
    if kind == "Shop":
        return shop, "SHOP"
    return None


def metafields_set(_root: Any, info: Info,
                   metafields: list[dict[str, Any]]) -> Payload:
    """`metafieldsSet`: all inputs are written, or none (with the userErrors)."""
    context = ctx(info)
    shop = context.shop
    if len(metafields) > MAX_METAFIELDS_PER_SET:
        return {"metafields": [], "userErrors": [user_error(
            ["metafields"], f"Exceeded the maximum metafields input limit of "
            f"{MAX_METAFIELDS_PER_SET}.", code="LESS_THAN_OR_EQUAL_TO", elementIndex=None)]}
    errors: list[UserError] = []
    owners = []
    for index, item in enumerate(metafields):
        owner = _owner(shop, item["ownerId"])
        owners.append(owner)
        if owner is None:
            errors.append(user_error(["metafields", str(index), "ownerId"],
                                     "Owner does not exist.", code="INVALID",
                                     elementIndex=None))
            continue
        holder = _holder(owner[0])
        existing = holder.get((item.get("namespace") or context.limits.app_namespace,
                               item["key"]))
        errors.extend(metafield_problems(context, index, item, existing))
    if errors:
        return {"metafields": [], "userErrors": errors}
    written = []
    for item, owner in zip(metafields, owners, strict=True):
        assert owner is not None
        target, owner_type = owner
        written.append(set_metafield(context, _gid_of(target), owner_type, _holder(target),
                                     item))
        if hasattr(target, "updated_at"):
            target.updated_at = context.now
    return {"metafields": written, "userErrors": []}


def _holder(target: Any) -> dict[tuple[str, str], Metafield]:
    return target.shop_metafields if isinstance(target, Shop) else target.metafields


def _gid_of(target: Any) -> str:
    return gid("Shop", SHOP_ID) if isinstance(target, Shop) else str(target.gid)


# erasure ---------------------------------------------------------------------------------------

def request_erasure(_root: Any, info: Info, customerId: str) -> Payload:
    """`customerRequestDataErasure`: erased after `erasure_delay` (see `Shop.erase`)."""
    context = ctx(info)
    customer = find(context, customerId, kinds=("Customer",))
    if customer is None:
        return {"customerId": None, "userErrors": [user_error(
            ["customerId"], "Customer does not exist", code="DOES_NOT_EXIST")]}
    context.shop.request_erasure(customer, context.now + context.limits.erasure_delay)
    context.shop.apply_due_erasures(context.now)
    return {"customerId": customer.gid, "userErrors": []}


def cancel_erasure(_root: Any, info: Info, customerId: str) -> Payload:
    """`customerCancelDataErasure` while the request is still waiting."""
    context = ctx(info)
    customer = find(context, customerId, kinds=("Customer",))
    if customer is None:
        return {"customerId": None, "userErrors": [user_error(
            ["customerId"], "Customer does not exist", code="DOES_NOT_EXIST")]}
    if customer.erasure_due_at is None:
        return {"customerId": None, "userErrors": [user_error(
            ["customerId"], "Customer's data is not scheduled for erasure",
            code="NOT_BEING_ERASED")]}
    context.shop.cancel_erasure(customer)
    return {"customerId": customer.gid, "userErrors": []}


# bulk operations -------------------------------------------------------------------------------

def bulk_run_query(_root: Any, info: Info, query: str,
                   groupObjects: bool = True) -> Payload:
    """`bulkOperationRunQuery(query:, groupObjects:)`; before 2025-07 objects are grouped."""
    context = ctx(info)
    operation, errors = context.bulk.start(query, info.schema, context.version,
                                           grouped=groupObjects)
    return {"bulkOperation": operation, "userErrors": errors}


def bulk_cancel(_root: Any, info: Info, id: str) -> Payload:
    """`bulkOperationCancel(id:)`."""
    parsed = parse_gid(id)
    if parsed is None:
        raise invalid_gid(id)
    operation, errors = ctx(info).bulk.cancel(parsed[1] if parsed[0] == "BulkOperation" else 0)
    return {"bulkOperation": operation, "userErrors": errors}


MUTATION_RESOLVERS: dict[str, dict[str, Resolver]] = {"Mutation": {
    "customerCreate": customer_create,
    "customerUpdate": customer_update,
    "customerDelete": customer_delete,
    "customerEmailMarketingConsentUpdate": consent_update,
    "customerRequestDataErasure": request_erasure,
    "customerCancelDataErasure": cancel_erasure,
    "tagsAdd": tags_add,
    "tagsRemove": tags_remove,
    "metafieldsSet": metafields_set,
    "bulkOperationRunQuery": bulk_run_query,
    "bulkOperationCancel": bulk_cancel,
}}
