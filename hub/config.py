"""config.toml: pydantic models plus a loader whose errors name the file, key, line and fix.

Ops edit this file by hand. Every mistake they can make (a typo in a key, a wrong type, a
connector whose plugin is not installed, a survivorship rule naming an unknown connector) is
one `ConfigError` that says where it is and what to do, before anything touches a system.
"""

from __future__ import annotations

import difflib
import glob
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.connector import ConnectorSettings
from hub.contact import GOLDEN_FIELDS, SCALAR_FIELDS, is_golden_field
from hub.errors import ConfigError
from hub.lifecycle.config import LifecycleSection, ScoringSection
from hub.registry import Plugins
from hub.secrets import SecretRef

DEFAULT_PATH = Path("config.toml")

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'15m', '1h', '30s', '7d', '2w' → timedelta; the error lists the accepted forms."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration; write a positive number and a unit: "
                         "30s, 15m, 1h, 1d or 1w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubSection(_Section):
    """``[hub]``: where hub keeps its state and how it reads phone numbers."""

    store: str = "sqlite:///hub.db"
    #: Region for phone numbers written without a country code (ISO 3166-1 alpha-2).
    default_region: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    #: Transient failures (429, 5xx, timeouts) are retried with exponential backoff.
    retry_attempts: int = Field(default=8, ge=1, le=20)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=60.0, gt=0)
    #: A system that refuses connections or never answers is tried this often, then reported.
    unreachable_attempts: int = Field(default=2, ge=1, le=20)
    #: Seconds to wait for a connection, and for an answer (None: each connector's default).
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float | None = Field(default=None, gt=0)
    #: Show e-mail addresses in DEBUG logs (masked otherwise; never shown at INFO and above).
    log_emails: bool = False
    #: Let settings name files outside config.toml's folder (absolute paths, ``..``).
    allow_outside_paths: bool = False


class IdentitySection(_Section):
    """``[identity]``: which e-mail addresses may join records into one contact."""

    #: Extra addresses that identify nobody (added to the built-in list).
    placeholder_emails: list[str] = []
    #: Extra shared local parts (added to info@, office@, kontakt@, …) that never merge people.
    role_addresses: list[str] = []
    #: A merge that would join more source records than this is held for review.
    max_records_per_contact: int = Field(default=25, ge=2)
    #: Match probability at or above which two contacts merge without review.
    auto_merge: float = Field(default=0.99, gt=0, le=1)
    #: Match probability at or above which a pair is suggested in `hub duplicates`.
    review: float = Field(default=0.5, gt=0, le=1)
    #: Fields compared exactly as identifiers (a customer or tax number), e.g. "custom.kdnr".
    identifiers: list[str] = []

    @model_validator(mode="after")
    def _review_below_merge(self) -> IdentitySection:
        if self.review > self.auto_merge:
            raise ValueError("review must not be above auto_merge (pairs between the two are "
                             "suggested for review)")
        return self


class MergeRule(_Section):
    """Survivorship for one golden field."""

    rule: Literal["priority", "most_recent"]
    order: list[str] = []

    @model_validator(mode="after")
    def _order_fits_rule(self) -> MergeRule:
        if self.rule == "priority" and not self.order:
            raise ValueError('rule "priority" needs order = ["connector", ...]')
        if self.rule == "most_recent" and self.order:
            raise ValueError('rule "most_recent" takes no order; remove it or use rule "priority"')
        return self


class ConsentSection(_Section):
    """``[consent]``: where e-mail marketing happens and how consent is kept fresh."""

    newsletter: str | None = None
    expire_after_days: int = Field(default=730, ge=1)
    doi_request_window_days: int = Field(default=30, ge=1)
    suppress_stale: bool = False
    existing_customer_exception: bool = False

    @field_validator("existing_customer_exception")
    @classmethod
    def _not_yet(cls, value: bool) -> bool:
        if value:
            raise ValueError("the UWG §7(3) existing-customer exception is not supported yet: "
                             "hub mails only with a proven double opt-in; remove the key or "
                             "set it to false")
        return value


class ScheduleSection(_Section):
    """``[schedule.NAME]``: one pipeline the scheduler runs."""

    every: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    connectors: list[str] | None = None
    full_every: str | None = None
    jitter: str | None = None

    @field_validator("every", "full_every", "jitter")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone; use an IANA name such as "
                             '"Europe/Berlin" or "UTC"') from None
        return value

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a crontab expression ({exc}); write five "
                                 'fields: minute hour day month weekday, e.g. "*/15 7-19 * * '
                                 'mon-fri"') from None
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSection:
        if (self.every is None) == (self.cron is None):
            raise ValueError('set exactly one of every = "15m" or cron = "*/15 7-19 * * mon-fri"')
        return self


class SchedulerSection(_Section):
    """``[scheduler]``: how `hub run` nodes behave (see docs/deployment.md)."""

    #: A run missed by at most this much (the node was down) still runs, once, on start.
    misfire_grace: str = "1h"
    #: How often each node looks for a pipeline whose node died mid-run, to take it over.
    takeover_check: str = "30s"
    #: `/healthz` answers 503 once a pipeline has failed this many times in a row.
    unhealthy_after: int = Field(default=3, ge=1)
    #: After SIGTERM, how long the current run may take to reach its next checkpoint.
    stop_timeout: str = "60s"

    @field_validator("misfire_grace", "takeover_check", "stop_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class AlertsSection(_Section):
    """``[alerts]``: who hears about failed runs (once per incident, then on recovery)."""

    #: POST a JSON body here (Slack/Teams/Mattermost-style incoming webhooks, or your own).
    webhook: str | None = None
    #: Alert once a pipeline failed this many times in a row (1: on the first failed run).
    after_failures: int = Field(default=1, ge=1)
    #: Alert when runs keep adding dead letters (records a system refused or could not use).
    dead_letters: bool = True
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretRef | None = None
    mail_from: str | None = None
    mail_to: list[str] = []
    #: Seconds to wait for the webhook or mail server before giving up on one alert.
    timeout_seconds: float = Field(default=10.0, gt=0)
    #: Let the webhook point at link-local and cloud metadata addresses too.
    allow_any_webhook: bool = False

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not a web address; write the full URL, e.g. "
                             '"https://hooks.example.com/hub"')
        return value

    @model_validator(mode="after")
    def _webhook_target(self) -> AlertsSection:
        if self.webhook and not self.allow_any_webhook:
            host = urlsplit(self.webhook).hostname or ""
            why = webhook_host_refusal(host)
            if why:
                raise ValueError(f"webhook: {host} is {why}, where an alert could reach the "
                                 "machine's own credentials; point it at your chat or "
                                 "monitoring server, or set allow_any_webhook = true")
        return self

    @model_validator(mode="after")
    def _mail_complete(self) -> AlertsSection:
        if self.smtp_host and not (self.mail_from and self.mail_to):
            raise ValueError('smtp_host needs mail_from = "hub@example.com" and '
                             'mail_to = ["ops@example.com"]')
        return self


#: Cloud metadata services by name and address (AWS, GCP, Azure, Alibaba, Oracle, ECS).
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog",
                            "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "192.0.0.192",
    "fd00:ec2::254"))


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an alert must not be posted to `address` (None: it may)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast:
        return "no address a server answers on"
    return None


def webhook_host_refusal(host: str) -> str | None:
    """Why a webhook host (a name or an address literal) is refused (None: it is not)."""
    host = host.strip("[]").rstrip(".").lower()
    if host in METADATA_HOSTS:
        return "a cloud metadata service"
    try:
        return address_refusal(ipaddress.ip_address(host))
    except ValueError:
        return None  # a name: `hub.ops.alerts` checks what it resolves to when it posts


class WebUser(_Section):
    """One console user under ``[web.users.NAME]``."""

    #: An argon2 hash from `hub web hash-password` (never the password itself). May be left
    #: out in reverse-proxy mode, where the proxy has checked who the person is.
    password_hash: str | None = None
    #: viewer: reads every page, sees e-mail addresses masked, changes nothing.
    #: operator: also retries, reviews duplicates, exports and erases.
    role: Literal["viewer", "operator"] = "viewer"

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$argon2"):
            raise ValueError("not an argon2 hash; run `hub web hash-password` and paste what "
                             "it prints")
        return value


class WebSection(_Section):
    """``[web]``: the console of `hub web` and `hub run --http` (see docs/web.md)."""

    #: Where `hub web` listens; anything but 127.0.0.1 belongs behind a TLS reverse proxy.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    users: dict[str, WebUser] = {}
    #: Reverse-proxy mode: the proxy signs people in and names them in this header
    #: (e.g. "X-Remote-User"); hub trusts it only from `trusted_proxies`.
    proxy_header: str | None = None
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]
    #: The role of a proxy-named person not listed in `users` (unset: such people are refused).
    proxy_default_role: Literal["viewer", "operator"] | None = None
    #: How long a sign-in lasts.
    session_lifetime: str = "8h"
    #: Failed sign-ins allowed per address and per user name within `login_window`.
    login_attempts: int = Field(default=5, ge=1)
    login_window: str = "15m"

    @field_validator("session_lifetime", "login_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _can_sign_in(self) -> WebSection:
        if self.proxy_header is None:
            missing = sorted(name for name, user in self.users.items()
                             if user.password_hash is None)
            if missing:
                raise ValueError(f"user(s) {', '.join(missing)} have no password_hash; run "
                                 "`hub web hash-password`, or set proxy_header for a "
                                 "reverse proxy that signs people in")
        return self


class Config(_Section):
    """The whole file, before connector tables are checked against their plugins."""

    hub: HubSection = HubSection()
    identity: IdentitySection = IdentitySection()
    connectors: dict[str, dict[str, Any]] = {}
    merge: dict[str, MergeRule] = {}
    consent: ConsentSection = ConsentSection()
    scoring: ScoringSection = ScoringSection()
    lifecycle: LifecycleSection = LifecycleSection()
    schedule: dict[str, ScheduleSection] = {}
    scheduler: SchedulerSection = SchedulerSection()
    alerts: AlertsSection = AlertsSection()
    web: WebSection = WebSection()


@dataclass
class LoadedConfig:
    """A validated config: the models plus each connector's validated settings and class."""

    path: Path
    config: Config
    connectors: dict[str, ConnectorSettings]

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the file's own folder."""
        return self.path.resolve().parent


def load_config(path: Path | str, plugins: Plugins) -> LoadedConfig:
    """Read, parse and validate `path`; raise one `ConfigError` for the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", path=str(path),
                          hint="run `hub init` to write one, or pass --config PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc})", path=str(path)) from None
    return parse_config(text, plugins, path=path)


def parse_config(text: str, plugins: Plugins, *, path: Path) -> LoadedConfig:
    """Validate TOML text; `path` is where it came from (for messages and relative paths)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"not valid TOML: {exc}", path=str(path),
                          line=int(match.group(1)) if match else None,
                          hint="fix the syntax at that line") from None
    locate = _Locator(text)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, (), Config, raw, path, locate) from None

    connectors: dict[str, ConnectorSettings] = {}
    for name, table in config.connectors.items():
        where = ("connectors", name)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name):
            raise ConfigError("connector names use letters, digits, - and _", path=str(path),
                              key=_dotted(where), line=locate(where))
        type_name = table.get("plugin")
        if not isinstance(type_name, str):
            raise ConfigError('missing plugin = "..." (the connector type, e.g. "csv")',
                              path=str(path), key=_dotted(where), line=locate(where))
        if type_name not in plugins.connector_types:
            raise ConfigError(plugins.missing_plugin_message(type_name), path=str(path),
                              key=_dotted((*where, "plugin")), line=locate((*where, "plugin")),
                              hint=plugins.missing_plugin_hint(type_name))
        cls = plugins.connector_types[type_name]
        try:
            connectors[name] = cls.Settings.model_validate(table)
        except ValidationError as exc:
            raise _config_error(exc, where, cls.Settings, table, path, locate) from None

    _check_references(config, path, locate)
    if not config.hub.allow_outside_paths:
        _check_confined(connectors, path, locate)
    return LoadedConfig(path=path, config=config, connectors=connectors)


#: Settings that name files: `path`, and any ending in _path, _dir, _file or _folder.
_PATH_SETTING = re.compile(r"^(path|.*_(path|dir|file|folder))$")


def _check_confined(connectors: Mapping[str, ConnectorSettings], path: Path,
                    locate: _Locator) -> None:
    """Every file a setting names lies in config.toml's folder (or below it).

    A config file is often edited by people who may not read every file on the server (or
    is templated from elsewhere): `path = "/etc/shadow"` or `"../../home/x/.ssh/id_rsa"` in a
    CSV connector would read it into the store, a write-mode one could overwrite it. The
    store is not a setting's file but hub's own database, named by URL like a PostgreSQL one
    (a server keeps it on a volume of its own), so ``[hub] store`` may point anywhere.
    """
    base = path.resolve().parent
    for name, settings in connectors.items():
        for key, value in settings.model_dump().items():
            if _PATH_SETTING.match(key) and isinstance(value, str | Path) and str(value):
                _confined(str(value), base, path, f"connectors.{name}.{key}",
                          locate(("connectors", name, key)))


def _confined(value: str, base: Path, path: Path, key: str, line: int | None) -> None:
    given = Path(value).expanduser()
    target = Path(os.path.normpath(given if given.is_absolute() else base / given))
    if not glob.has_magic(str(target)) and target.exists():
        target = target.resolve()  # a symlink out of the folder leaves it too
    if target != base and base not in target.parents:
        raise ConfigError(f"{value!r} is outside the config folder {base}",
                          path=str(path), key=key, line=line,
                          hint="move the file into that folder (or below it) and name it "
                               "relative to config.toml, or set [hub] allow_outside_paths = "
                               "true")


def _check_references(config: Config, path: Path, locate: _Locator) -> None:
    """Names that point at other parts of the file must exist."""
    names = set(config.connectors)
    for field, rule in config.merge.items():
        if field not in SCALAR_FIELDS and not is_golden_field(field):
            raise ConfigError(
                "unknown golden field" + _suggest(field, GOLDEN_FIELDS),
                path=str(path), key=f"merge.{field}", line=locate(("merge", field)),
                hint="use a golden field name or custom.<name>",
            )
        for i, name in enumerate(rule.order):
            if name not in names:
                raise ConfigError(
                    f"no connector named {name!r}" + _suggest(name, names),
                    path=str(path), key=f"merge.{field}.order[{i}]",
                    line=locate(("merge", field)),
                    hint="name a [connectors.NAME] table of this file",
                )
    if config.consent.newsletter and config.consent.newsletter not in names:
        raise ConfigError(
            f"no connector named {config.consent.newsletter!r}"
            + _suggest(config.consent.newsletter, names),
            path=str(path), key="consent.newsletter", line=locate(("consent", "newsletter")),
        )
    for name in config.lifecycle.push:
        if name not in names:
            raise ConfigError(
                f"no connector named {name!r}" + _suggest(name, names),
                path=str(path), key=f"lifecycle.push.{name}",
                line=locate(("lifecycle", "push", name)),
                hint="name a [connectors.NAME] table of this file",
            )
    for pipeline, schedule in config.schedule.items():
        for name in schedule.connectors or ():
            if name not in names:
                raise ConfigError(
                    f"no connector named {name!r}" + _suggest(name, names),
                    path=str(path), key=f"schedule.{pipeline}.connectors",
                    line=locate(("schedule", pipeline, "connectors")),
                )


def _config_error(exc: ValidationError, prefix: tuple[str, ...], model: type[BaseModel],
                  raw: Mapping[str, Any], path: Path, locate: _Locator) -> ConfigError:
    error = exc.errors()[0]
    loc = tuple(str(part) for part in error["loc"])
    full = prefix + loc
    hint: str | None = None
    if error["type"] == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        message = f"unknown key {loc[-1]!r}" + _suggest(loc[-1], known)
        hint = ("remove it or fix its spelling; valid keys here: " + ", ".join(sorted(known))
                if known else "remove it")
    elif error["type"] == "missing":
        message = "required key is missing"
        hint = f"add {loc[-1]} = ..." if loc else None
    else:
        message = error["msg"].removeprefix("Value error, ")
        given = error.get("input")
        if isinstance(given, str | int | float | bool) and error["type"] != "value_error":
            message = f"{message} (got {given!r})"
    return ConfigError(message, path=str(path), key=_dotted(full), line=locate(full), hint=hint)


def _known_keys(model: type[BaseModel], loc: Sequence[str]) -> list[str]:
    """The keys a model accepts at `loc` (following nested models), for 'did you mean'."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            # dict[str, Model]: the part is a free name; stay on the value model
            args = getattr(current, "__args__", None)
            current = args[-1] if args else None
            continue
        annotation = fields[part].annotation
        args = getattr(annotation, "__args__", None)
        current = args[-1] if args and not hasattr(annotation, "model_fields") else annotation
    fields = getattr(current, "model_fields", None)
    if not fields:
        return []
    return [info.alias or name for name, info in fields.items()]


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(parts: Sequence[str]) -> str:
    return ".".join(parts)


class _Locator:
    """Finds the line of a key path in TOML text; tomllib keeps no positions."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r'^\s*("?)([A-Za-z0-9_.-]+)\1\s*=')

    def __init__(self, text: str) -> None:
        self._entries: list[tuple[tuple[str, ...], int]] = []
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = tuple(p.strip().strip('"') for p in header.group(1).split("."))
                self._entries.append((table, number))
                continue
            key = self._KEY.match(line)
            if key:
                self._entries.append((table + tuple(key.group(2).split(".")), number))

    def __call__(self, path: Sequence[str]) -> int | None:
        path = tuple(path)
        for length in range(len(path), 0, -1):
            for entry, number in self._entries:
                if entry == path[:length]:
                    return number
        return None
