"""The doctor's look at the till API ([till] in kiosk.toml): is it reachable only as meant, over
HTTPS with the kiosk's own certificate when the store's LAN can reach it, and does any till
have a token yet."""

from __future__ import annotations

from kiosk.doctor.checks import (
    CheckResult,
    Context,
    _loopback,
    _need_config,
    certificate_age,
    fail,
    ok,
    skip,
    warn,
)
from kiosk.provisioning import tls
from kiosk.till.tokens import TillTokens, TokenFileError


def check_till_api(ctx: Context) -> CheckResult:
    name = "till API"
    config = _need_config(ctx, name)
    if isinstance(config, CheckResult):
        return config
    till = config.till
    if not till.enabled:
        return skip(name, "off ([till] enabled = false): no port is open for a till")
    try:
        tills = sorted(TillTokens.load(ctx.path(till.tokens_path(config.device.data_dir))).entries)
    except TokenFileError as exc:
        return fail(name, str(exc), "kiosk tills add NAME")
    where = f"{till.host}:{till.port}"
    if till.tls_cert is None:
        if _loopback(till.host):
            return ok(name, f"plain HTTP on {where}, this machine only; tills: {', '.join(tills) or 'none yet'}")
        return warn(name, f"{where} is plain HTTP on the store's LAN: till tokens and orders travel unencrypted",
                    "give the kiosk its certificate (`kiosk provision --tls-cert FILE`), then "
                    "`kiosk provision --till-port PORT` serves HTTPS with it")
    try:
        info = tls.check_pair(ctx.path(till.tls_cert), ctx.path(till.tls_key))
    except tls.TlsFileError as exc:
        return fail(name, f"till.tls_cert/tls_key: {exc}", "kiosk provision --tls-cert FILE --till-port PORT")
    aged = certificate_age(name, info, ctx, "its certificate (tills refuse the kiosk once it expires)")
    if aged is not None:
        return aged
    if not tills:
        return warn(name, f"HTTPS on {where}, but no till has a token yet", "kiosk tills add NAME")
    return ok(name, f"HTTPS on {where} with {info.subject}, valid until {info.not_after:%Y-%m-%d}; "
              f"tills: {', '.join(tills)}")
