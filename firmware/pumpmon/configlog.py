# Every configuration change in the event log, setting by setting, with the
# old and the new value, when the board starts using it (after `pumpmon
# config set` or `flash --config`, whose soft reset applies it). The last
# configuration used is kept in flash/config.prev.json for the comparison.
# Record: eventlog.CONFIG_CHANGED, detail = the setting's index in KEYS,
# v0 old and v1 new value x 1000 (UNKNOWN: not set); for the schedule, v0/v1
# the programmed uL/day and v2/v3 the first rate in 0.1 uL/h, old and new.
# The carers' link's text settings (host, user, Wi-Fi name, passwords) are
# logged as 0 unset / 1000 set and v2 = 1 "the text changed": the log holds
# numbers, and a secret must never reach it (nor a hash of one): so a
# password changed alone, with nothing else, is not seen as a change (a wrong
# one shows as the link's refusal, eventlog.CARER_LINK).
import json

from pumpmon import configfile
from pumpmon import eventlog as L
from pumpmon import netconfig

PREV = "config.prev.json"
# the log stores the index: only ever append (tests check every setting is here)
KEYS = (
    "rate_ul_h", "reservoir_capacity_ml", "low_reservoir_ml", "low_reservoir_days",
    "refill_today_ml", "refill_today_days", "reminder_min", "reservoir_empty_ml",
    "no_flow_fraction", "over_delivery_factor", "over_delivery_margin_ul_h",
    "flow_window_s", "flow_fault_s", "flow_stuck_s", "flow_min_ul_h", "flow_max_ul_h",
    "level_fault_s", "level_jump_ml", "mismatch_ml_h", "mismatch_window_min",
    "pause_s", "long_press_ms", "schedule",
    "zero_offset_ul_h", "stroke_max_s", "partial_fraction", "partial_escalate_min",
    "over_hour_factor", "over_hour_margin_ul_h", "refill_timeout_min", "level_stuck_ml",
    "pump_stopped",                  # v0/v1: 0 or 1000 (false or true)
    # the carers' link (issue 16): text as set/unset and changed, numbers x1000
    "wifi_ssid", "wifi_password", "mqtt_host", "mqtt_port", "mqtt_user", "mqtt_password",
    "mqtt_tls", "mqtt_keepalive_s",
    "escalation_min",                # issue 22: the bedside escalation (docs/alarm-policy.md)
    "mqtt_ca", "mqtt_fingerprint",   # issue 28: text, as set/unset and changed
)


def _milli(v):
    return L.UNKNOWN if v is None else int(round(v * 1000))


def changes(old, new):
    """[(key index, v0, v1, v2, v3)] of the settings that differ."""
    out = []
    od = old.as_dict()
    nd = new.as_dict()
    for i in range(len(KEYS)):
        k = KEYS[i]
        if k == "schedule" or k == "rate_ul_h":
            continue
        a = od.get(k)
        b = nd.get(k)
        if k == "pump_stopped":      # absent is false
            a = 1 if a else 0
            b = 1 if b else 0
        if a != b:
            out.append((i, _milli(a), _milli(b), 0, 0))
    on = old.net or {}
    nn = new.net or {}
    for k in netconfig.KEYS:
        a = on.get(k)
        b = nn.get(k)
        if a == b:
            continue
        if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
            out.append((KEYS.index(k), 0 if a is None else 1000, 0 if b is None else 1000,
                        1, 0))
        else:                        # a port, the keep-alive, TLS (False 0, True 1000)
            out.append((KEYS.index(k), _milli(a), _milli(b), 0, 0))
    if old.schedule != new.schedule:
        i = KEYS.index("rate_ul_h" if len(new.schedule) == 1 and new.schedule[0][0] == 0
                       and len(old.schedule) == 1 and old.schedule[0][0] == 0 else "schedule")
        if KEYS[i] == "rate_ul_h":
            out.append((i, _milli(old.schedule[0][1]), _milli(new.schedule[0][1]), 0, 0))
        else:
            out.append((i, old.daily_ul, new.daily_ul, old.sched_rate[0], new.sched_rate[0]))
    return out


def log_changes(store, cfg, pre):
    """Compare cfg with the one used last (pre + PREV), log each change
    (store.write: store.py), keep cfg as the last one. Returns the number of
    changes logged."""
    old, err = configfile.load(pre + PREV)
    n = 0
    if old is not None:
        for i, v0, v1, v2, v3 in changes(old, cfg):
            store.write(L.CONFIG_CHANGED, L.NO_COND, i, v0, v1, v2, v3)
            n += 1
    d = cfg.as_dict()
    for k, v in (cfg.net or {}).items():   # the link's settings, as config.json has them
        if v is not None:
            d[k] = v
    try:
        with open(pre + PREV, "w") as f:
            f.write(json.dumps(d))
    except Exception:  # noqa: BLE001 - the next change is then logged as a CRC only
        pass
    return n
