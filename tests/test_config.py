"""config.toml errors name the file, the key, the line and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from hub.config import load_config, parse_duration
from hub.connector import Capability, Connector, ConnectorSettings
from hub.errors import ConfigError
from hub.hookspecs import hookimpl
from hub.registry import Plugins, load_plugins
from hub.secrets import SecretRef


class FakeSettings(ConnectorSettings):
    token: SecretRef
    base_url: str = "https://api.example.com"


class FakeConnector(Connector):
    plugin = "fake"
    Settings = FakeSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ_CONTACTS})


class FakePlugin:
    @staticmethod
    @hookimpl
    def register_connectors(register):  # type: ignore[no-untyped-def]
        register(FakeConnector)


@pytest.fixture
def plugins() -> Plugins:
    return load_plugins([], extra=(FakePlugin(),))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
[hub]
store = "sqlite:///hub.db"

[connectors.crm]
plugin = "fake"
token = { secret = "crm-token" }

[merge]
first_name = { rule = "priority", order = ["crm"] }

[schedule.main]
every = "15m"
"""


def test_a_valid_file_loads_with_typed_connector_settings(tmp_path: Path, plugins: Plugins) -> None:
    loaded = load_config(write(tmp_path, GOOD), plugins)
    settings = loaded.connectors["crm"]
    assert isinstance(settings, FakeSettings)
    assert settings.token == SecretRef(secret="crm-token")
    assert loaded.base_dir == tmp_path.resolve()


def test_unknown_key_suggests_the_right_one_with_line(tmp_path: Path, plugins: Plugins) -> None:
    path = write(tmp_path, GOOD.replace('base_url', 'x').replace(
        'token = { secret = "crm-token" }', 'token = { secret = "crm-token" }\nbase_ulr = "x"'))
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins)
    text = str(info.value)
    assert str(path) in text and ":7:" in text
    assert "connectors.crm.base_ulr" in text and "did you mean 'base_url'" in text


def test_unknown_section_key(tmp_path: Path, plugins: Plugins) -> None:
    with pytest.raises(ConfigError, match=r"hub.stroe: unknown key 'stroe' \(did you mean 'store'"):
        load_config(write(tmp_path, GOOD.replace("store =", "stroe =")), plugins)


def test_wrong_type_names_key_and_line(tmp_path: Path, plugins: Plugins) -> None:
    path = write(tmp_path, GOOD + "\n[consent]\nexpire_after_days = \"two years\"\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins)
    assert "consent.expire_after_days" in str(info.value) and ":15:" in str(info.value)
    assert "got 'two years'" in str(info.value)


def test_plugin_not_installed_names_the_distribution(tmp_path: Path, plugins: Plugins) -> None:
    path = write(tmp_path, GOOD.replace('plugin = "fake"', 'plugin = "hubspot"'))
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins)
    assert "plugin 'hubspot' is not installed" in str(info.value)
    assert "hub-hubspot" in str(info.value) and "connectors.crm.plugin" in str(info.value)


def test_merge_order_must_name_a_connector(tmp_path: Path, plugins: Plugins) -> None:
    path = write(tmp_path, GOOD.replace('order = ["crm"]', 'order = ["cmr"]'))
    with pytest.raises(ConfigError, match=r"no connector named 'cmr' \(did you mean 'crm'\?\)"):
        load_config(path, plugins)


def test_merge_field_must_exist(tmp_path: Path, plugins: Plugins) -> None:
    path = write(tmp_path, GOOD.replace("first_name = {", "fist_name = {"))
    with pytest.raises(ConfigError, match="did you mean 'first_name'"):
        load_config(path, plugins)


def test_toml_syntax_error_has_a_line(tmp_path: Path, plugins: Plugins) -> None:
    with pytest.raises(ConfigError, match=r"config.toml:5: not valid TOML"):
        load_config(write(tmp_path, GOOD.replace('plugin = "fake"', 'plugin = fake')), plugins)


def test_missing_file_says_how_to_create_one(tmp_path: Path, plugins: Plugins) -> None:
    with pytest.raises(ConfigError, match="hub init"):
        load_config(tmp_path / "nope.toml", plugins)


def test_schedule_needs_exactly_one_trigger(tmp_path: Path, plugins: Plugins) -> None:
    with pytest.raises(ConfigError, match="exactly one of every"):
        load_config(write(tmp_path, GOOD.replace('every = "15m"', 'every = "15m"\ncron = "* * * * *"')),
                    plugins)


def test_durations() -> None:
    assert parse_duration("15m").total_seconds() == 900
    with pytest.raises(ValueError, match="30s, 15m"):
        parse_duration("15 minutes")


@pytest.mark.parametrize(("extra", "key", "line", "fix"), [
    ('cron = "*/15 25 * * *"', "schedule.nightly.cron", 15, "minute hour day month weekday"),
    ('every = "1h"\ntimezone = "Europe/Berlinn"', "schedule.nightly.timezone", 16,
     "IANA name"),
    ('every = "1h"\n\n[scheduler]\ntakeover_check = "soon"', "scheduler.takeover_check", 18,
     "30s, 15m"),
    ('every = "1h"\n\n[alerts]\nsmtp_host = "mail.example.com"', "alerts", 17, "mail_from"),
    ('every = "1h"\n\n[alerts]\nwebhook = "hooks.example.com"', "alerts.webhook", 18,
     "write the full URL"),
])
def test_schedule_scheduler_and_alert_mistakes_name_key_line_and_fix(
        tmp_path: Path, plugins: Plugins, extra: str, key: str, line: int, fix: str) -> None:
    path = write(tmp_path, GOOD + "\n[schedule.nightly]\n" + extra + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins)
    text = str(info.value)
    assert f"{path}:{line}: {key}" in text and fix in text


def test_the_starter_template_loads(tmp_path: Path) -> None:
    from importlib import resources

    template = resources.files("hub").joinpath("templates/config.toml").read_text("utf-8")
    loaded = load_config(write(tmp_path, template), load_plugins(["csv"]))
    assert loaded.config.scheduler.unhealthy_after == 3 and loaded.config.alerts.webhook is None
@pytest.mark.parametrize(("text", "key", "message"), [
    ('[lifecycle.push.crn]\nstage = true\n', "lifecycle.push.crn",
     "no connector named 'crn' (did you mean 'crm'?)"),
    ('[lifecycle.push.crm]\nlead_status = { hot = "NEW" }\n', "lifecycle.push.crm.lead_status",
     "'hot' is not a lifecycle stage"),
    ('[lifecycle.push.crm]\nproperties = { scor = "hub_score" }\n',
     "lifecycle.push.crm.properties", "'scor' is not a lifecycle value"),
    ('[[scoring.rules]]\nfield = "job_title"\npoints = 5\n', "scoring.rules.0",
     "exactly one condition"),
    ('[scoring]\nhalf_life_days = 30\ndecay_period_days = 7\ndecay_percent = 10\n', "scoring",
     "choose one decay"),
    ('[lifecycle.handover]\nroutes = [{ field = "zip", owner = "1" }]\n',
     "lifecycle.handover.routes.0", "a route needs equals, in, or min/max"),
])
def test_lifecycle_and_scoring_mistakes_name_the_key(tmp_path: Path, plugins: Plugins,
                                                     text: str, key: str,
                                                     message: str) -> None:
    path = write(tmp_path, '[connectors.crm]\nplugin = "fake"\ntoken = { secret = "t" }\n'
                 + text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins)
    assert message in str(caught.value)
    assert key in str(caught.value)


def test_the_existing_customer_exception_is_refused_until_it_is_supported(
        tmp_path: Path, plugins: Plugins) -> None:
    path = write(tmp_path, GOOD + "\n[consent]\nexisting_customer_exception = true\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, plugins)
    assert "consent.existing_customer_exception" in str(info.value)
    assert "not supported yet" in str(info.value)


class FilesSettings(ConnectorSettings):
    path: str
    archive_dir: str | None = None


class FilesConnector(Connector):
    plugin = "files"
    Settings = FilesSettings


class FilesPlugin:
    @staticmethod
    @hookimpl
    def register_connectors(register):  # type: ignore[no-untyped-def]
        register(FilesConnector)


@pytest.mark.parametrize("value, key", [
    ("../elsewhere.csv", "connectors.files.path"),
    ("/etc/passwd", "connectors.files.path"),
    ("data/../../x.csv", "connectors.files.path"),
    ("../*.csv", "connectors.files.path"),
])
def test_a_path_outside_the_config_folder_is_refused_naming_key_and_fix(
        tmp_path: Path, value: str, key: str) -> None:
    plugins = load_plugins([], extra=(FilesPlugin(),))
    path = write(tmp_path, f'[connectors.files]\nplugin = "files"\npath = "{value}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins)
    assert caught.value.key == key and caught.value.line == 3
    assert "allow_outside_paths = true" in str(caught.value)
    allowed = write(tmp_path, f'[hub]\nallow_outside_paths = true\n[connectors.files]\n'
                              f'plugin = "files"\npath = "{value}"\n')
    assert load_config(allowed, plugins).connectors["files"].path == value  # type: ignore


def test_paths_inside_the_folder_and_a_symlink_leaving_it(tmp_path: Path) -> None:
    plugins = load_plugins([], extra=(FilesPlugin(),))
    inside = write(tmp_path, f'[connectors.files]\nplugin = "files"\npath = "{tmp_path}/a.csv"'
                             '\narchive_dir = "data/old"\n')
    assert load_config(inside, plugins).connectors["files"]
    (tmp_path / "link.csv").symlink_to("/etc/hostname")
    linked = write(tmp_path, '[connectors.files]\nplugin = "files"\npath = "link.csv"\n')
    with pytest.raises(ConfigError, match="outside the config folder"):
        load_config(linked, plugins)
    store = write(tmp_path, '[hub]\nstore = "sqlite:////var/tmp/hub.db"\n')
    assert load_config(store, plugins).config.hub.store  # hub's own database: anywhere


@pytest.mark.parametrize("url, refused", [
    ("http://169.254.169.254/latest/meta-data/", True),
    ("http://[fd00:ec2::254]/", True),
    ("http://metadata.google.internal/computeMetadata/v1/", True),
    ("http://169.254.10.1:8080/hook", True),
    ("http://[fe80::1]/hook", True),
    ("http://[::ffff:169.254.169.254]/", True),
    ("https://hooks.slack.com/services/T/B/X", False),
    ("http://10.0.0.5:8065/hooks/abc", False),  # a Mattermost on the LAN
    ("http://127.0.0.1:9000/hub", False),
])
def test_the_alert_webhook_never_targets_metadata_or_link_local_addresses(
        tmp_path: Path, plugins: Plugins, url: str, refused: bool) -> None:
    path = write(tmp_path, f'[alerts]\nwebhook = "{url}"\n')
    if not refused:
        assert load_config(path, plugins).config.alerts.webhook == url
        return
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins)
    assert caught.value.key == "alerts" and "allow_any_webhook = true" in str(caught.value)
    allowed = write(tmp_path, f'[alerts]\nwebhook = "{url}"\nallow_any_webhook = true\n')
    assert load_config(allowed, plugins).config.alerts.webhook == url


def test_a_webhook_name_resolving_to_a_metadata_address_is_not_posted_to() -> None:
    from hub.ops.alerts import resolved_refusal

    assert resolved_refusal("169.254.169.254") == "169.254.169.254, a cloud metadata address"
    assert resolved_refusal("localhost") is None
