"""Doctor checks for what provisioning sets up besides the files: the service user and the
local rules file ([rules] file), which the kiosk parses at start."""

from __future__ import annotations

from kiosk.doctor.checks import CheckResult, Context, _need_config, fail, ok, skip
from kiosk.provisioning import fsops
from kiosk.provisioning.system import SERVICE_USER


def check_service_user(ctx: Context) -> CheckResult:
    """The user the kiosk service runs as (provision creates it)."""
    name = "service user"
    user = fsops.lookup_user(ctx.root, SERVICE_USER)
    if user is None:
        return fail(name, f"the service user {SERVICE_USER} does not exist, so the kiosk cannot run",
                    "run `kiosk provision` (it creates the user)")
    return ok(name, f"{SERVICE_USER} (uid {user.uid})")


def check_rules_file(ctx: Context) -> CheckResult:
    """The local rules file ([rules] file) parses: a bad one would stop the kiosk at start."""
    name = "rules file"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    if config.rules_file is None:
        return skip(name, "none configured: the rules HQ publishes (or the built-in sample) apply")
    from kiosk.ledger.rules import RulesError, parse_rules_json

    device_path = config.rules_file
    try:
        text = ctx.path(device_path).read_bytes()
    except FileNotFoundError:
        return fail(name, f"{device_path} does not exist (rules.file in {ctx.config_path})",
                    f"put the rules document there, or remove [rules] file from {ctx.config_path}")
    except OSError as exc:
        return fail(name, f"{device_path} cannot be read: {exc.strerror}",
                    f"chmod 644 {device_path}")
    try:
        rules = parse_rules_json(text, str(device_path))
    except RulesError as exc:
        where = f"{exc.field} in {device_path}" if exc.field else str(device_path)
        return fail(name, str(exc), f"correct {where} (kiosk/data/rules.default.json is a valid example)")
    return ok(name, f"{device_path}: version {rules.version}, {len(rules.rewards)} reward(s)")
