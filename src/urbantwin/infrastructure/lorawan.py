"""LoRaWAN uplinks from network servers: The Things Stack (v3) webhooks and ChirpStack (v4) HTTP
integrations, read into one `Uplink`.

Both send JSON (ChirpStack with its JSON marshaler; a Protobuf body is refused with 400). What is
read:

| | The Things Stack (`uplink_message` webhook) | ChirpStack v4 (`?event=up`) |
|---|---|---|
| device | `end_device_ids.dev_eui` | `deviceInfo.devEui` |
| decoded fields | `uplink_message.decoded_payload` | `object` |
| time | `uplink_message.received_at`, else `received_at` | `time` |
| frame counter | `uplink_message.f_cnt` (absent when 0: empty fields are omitted) | `fCnt` (likewise) |
| gateways | `uplink_message.rx_metadata[]` (`gateway_ids.eui`, `rssi`, `snr`) | `rxInfo[]` (`gatewayId`, …) |
| retry key | DevEUI, frame counter and time | `deduplicationId` |

A network server delivers an uplink again when it did not get an answer in time: the retry key
makes the second delivery change nothing. A gateway's antennas are one gateway: the strongest
reception of a gateway counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from urbantwin.errors import BadRequest
from urbantwin.times import format_instant, parse_instant

__all__ = ["NETWORKS", "Reception", "Uplink", "normal_eui", "parse_chirpstack", "parse_tts"]

#: The network servers whose uplinks are understood, by the name in the endpoint's path.
NETWORKS = ("tts", "chirpstack")
_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")


@dataclass(frozen=True)
class Reception:
    """One gateway that heard an uplink."""

    gateway_id: str
    rssi: float | None
    snr: float | None


@dataclass
class Uplink:
    """An uplink as every network server's is read: device, time, decoded fields, gateways."""

    network: str
    dev_eui: str
    received: datetime
    f_cnt: int | None
    fields: dict[str, Any]
    receptions: list[Reception] = field(default_factory=list)
    #: What a retry repeats: the network server's id of the uplink, or DevEUI, frame counter, time.
    dedupe_key: str = ""

    def parameters(self) -> dict[str, Any]:
        """What an Observation of this uplink keeps beside its result (SensorThings `parameters`)."""
        return {
            "lorawan": {
                "network": self.network,
                "dev_eui": self.dev_eui,
                "f_cnt": self.f_cnt,
                "gateways": [
                    {"gateway_id": r.gateway_id, "rssi": r.rssi, "snr": r.snr} for r in self.receptions
                ],
            }
        }


def normal_eui(value: Any, what: str = "DevEUI") -> str:
    """An EUI-64 as 16 upper-case hex digits (dashes and colons dropped); 400 otherwise."""
    text = re.sub(r"[-:\s]", "", value) if isinstance(value, str) else ""
    if not _EUI.match(text):
        raise BadRequest(f"{what} {value!r} is not an EUI-64 (16 hex digits)")
    return text.upper()


def _object(document: Any, key: str, where: str) -> dict[str, Any]:
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, dict):
        raise BadRequest(f"malformed uplink: {where}{key} is missing or not an object")
    return value


def _signal(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"malformed uplink: {where} must be a number, not {value!r}")
    return float(value)


def _f_cnt(value: Any, where: str) -> int:
    if value is None:
        return 0  # both servers omit a field that is 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"malformed uplink: {where} must be a non-negative integer, not {value!r}")
    return value


def _gateway(ident: str) -> str:
    # A gateway EUI in either server's spelling (TTS upper case, ChirpStack lower case) is one id.
    return ident.upper() if _EUI.match(ident) else ident


def _strongest(receptions: list[Reception]) -> list[Reception]:
    best: dict[str, Reception] = {}
    for reception in receptions:
        known = best.get(reception.gateway_id)
        if known is None or (reception.rssi or -1e9) > (known.rssi or -1e9):
            best[reception.gateway_id] = reception
    return list(best.values())


def _fields(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        raise BadRequest(
            f"malformed uplink: no decoded payload ({where}); configure a payload formatter (codec) "
            "for the device"
        )
    if not isinstance(value, dict):
        raise BadRequest(f"malformed uplink: {where} must be an object")
    return value


def parse_tts(document: Any) -> Uplink | None:
    """An uplink of a The Things Stack webhook; None for another message type (join, downlink …)."""
    if not isinstance(document, dict):
        raise BadRequest("malformed uplink: the body must be a JSON object")
    if "uplink_message" not in document:
        return None
    ids = _object(document, "end_device_ids", "")
    dev_eui = normal_eui(ids.get("dev_eui"), "end_device_ids.dev_eui")
    message = _object(document, "uplink_message", "")
    stamp = message.get("received_at") or document.get("received_at")
    received = parse_instant(stamp, "uplink_message.received_at", dates=False)
    f_cnt = _f_cnt(message.get("f_cnt"), "uplink_message.f_cnt")
    receptions = []
    metadata = message.get("rx_metadata") or []
    if not isinstance(metadata, list):
        raise BadRequest("malformed uplink: uplink_message.rx_metadata must be a list")
    for number, item in enumerate(metadata):
        where = f"uplink_message.rx_metadata[{number}]"
        gateway = _object(item, "gateway_ids", f"{where}.")
        ident = gateway.get("eui") or gateway.get("gateway_id")
        if not isinstance(ident, str) or not ident:
            raise BadRequest(f"malformed uplink: {where}.gateway_ids has neither eui nor gateway_id")
        receptions.append(
            Reception(
                _gateway(ident),
                _signal(item.get("rssi"), f"{where}.rssi"),
                _signal(item.get("snr"), f"{where}.snr"),
            )
        )
    return Uplink(
        network="tts",
        dev_eui=dev_eui,
        received=received,
        f_cnt=f_cnt,
        fields=_fields(message.get("decoded_payload"), "uplink_message.decoded_payload"),
        receptions=_strongest(receptions),
        dedupe_key=f"tts:{dev_eui}:{f_cnt}:{format_instant(received)}",
    )


def parse_chirpstack(document: Any, event: str | None) -> Uplink | None:
    """An uplink of a ChirpStack v4 HTTP integration; None for another event (join, status …)."""
    if event is None:
        raise BadRequest("ChirpStack events name their type in the query: ?event=up")
    if event != "up":
        return None
    if not isinstance(document, dict):
        raise BadRequest("malformed uplink: the body must be a JSON object")
    info = _object(document, "deviceInfo", "")
    dev_eui = normal_eui(info.get("devEui"), "deviceInfo.devEui")
    received = parse_instant(document.get("time"), "time", dates=False)
    f_cnt = _f_cnt(document.get("fCnt"), "fCnt")
    receptions = []
    rx_info = document.get("rxInfo") or []
    if not isinstance(rx_info, list):
        raise BadRequest("malformed uplink: rxInfo must be a list")
    for number, item in enumerate(rx_info):
        where = f"rxInfo[{number}]"
        ident = item.get("gatewayId") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident:
            raise BadRequest(f"malformed uplink: {where}.gatewayId is missing")
        receptions.append(
            Reception(
                _gateway(ident),
                _signal(item.get("rssi"), f"{where}.rssi"),
                _signal(item.get("snr"), f"{where}.snr"),
            )
        )
    dedupe = document.get("deduplicationId")
    key = (
        f"chirpstack:{dedupe}"
        if isinstance(dedupe, str) and dedupe
        else f"chirpstack:{dev_eui}:{f_cnt}:{format_instant(received)}"
    )
    return Uplink(
        network="chirpstack",
        dev_eui=dev_eui,
        received=received,
        f_cnt=f_cnt,
        fields=_fields(document.get("object"), "object"),
        receptions=_strongest(receptions),
        dedupe_key=key,
    )
