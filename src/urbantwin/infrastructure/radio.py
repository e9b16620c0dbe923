"""Radio bands and the path-loss model of the coverage analysis, each parameter with its source.

The model is the log-distance path loss with an obstruction term from the city model's buildings:

    PL(d) = FSPL(1 m, f) + 10 · n · log10(d / 1 m) + walls · L_wall(f) + inside_m · L_in

- `FSPL(1 m, f) = 20 · log10(f / MHz) − 27.55 dB`, the free-space loss at the reference distance of
  1 m (Friis; ITU-R P.525-4, eq. 6 with d in m).
- `n`, the path-loss exponent: 2.1 for WLAN and 5G, the line-of-sight urban micro-cell (street
  canyon) model of 3GPP TR 38.901 V17.0.0, Table 7.4.1-1 (`32.4 + 21 log10(d) + 20 log10(f/GHz)`,
  valid 0.5–100 GHz; its intercept is the free-space loss at 1 m to 0.1 dB). The LOS model is
  the right base because what makes a link non-line-of-sight — the buildings — is modelled
  explicitly by the obstruction term rather than averaged into a larger exponent. LoRa at 868 MHz
  is the exception: a model measured in a city (n = 2.32 and its own loss at 1 km, `_LORA_MODEL`).
- `L_wall(f)`: the loss of one outer wall crossed (entering or leaving a building): the low-loss
  building penetration model of 3GPP TR 38.901, Table 7.4.3-2 (30 % standard multi-pane glass,
  `L_glass = 2 + 0.2 f`, 70 % concrete, `L_concrete = 5 + 4 f`, f in GHz):
  `5 − 10 log10(0.3 · 10^(−L_glass/10) + 0.7 · 10^(−L_concrete/10))`.
- `L_in = 0.5 dB/m`, the loss per metre inside a building (3GPP TR 38.901, Table 7.4.3-2, `PL_in`).
- Heights: a building obstructs the ray where it is taller than the ray (the straight line from the
  antenna to the receiver); receivers at 1.5 m (3GPP TR 38.901, Table 7.4.1-1: UT height 1.5 m).

What the model leaves out, knowingly: diffraction over roofs and round corners (a ray over a roof is
free, a ray through a building pays its walls), reflections, trees and terrain (flat ground), and the
uplink of a client (the downlink budget decides; for LoRa the budget is that of the device's uplink
to the gateway, which is what matters there). A site's received power is the best server's.

Where measurements exist (the RSSI of real LoRaWAN uplinks at gateways with known places), the
model is calibrated by least squares (`calibrate`), and its error before and after is stated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

#: Receiver height above ground (3GPP TR 38.901, Table 7.4.1-1, UT height 1.5 m).
RECEIVER_M = 1.5
#: Loss inside a building, dB per metre (3GPP TR 38.901, Table 7.4.3-2, O2I low-loss `PL_in`).
INDOOR_DB_PER_M = 0.5
#: Path-loss exponent of the LOS urban micro-cell model (3GPP TR 38.901, Table 7.4.1-1, UMi-Street
#: Canyon LOS: `21 log10(d)`).
LOS_EXPONENT = 2.1


def free_space_loss_1m(frequency_mhz: float) -> float:
    """Free-space path loss at 1 m in dB (ITU-R P.525-4: 32.45 + 20 log10(f/MHz) + 20 log10(d/km))."""
    return 20.0 * math.log10(frequency_mhz) - 27.55


def wall_loss(frequency_mhz: float) -> float:
    """Loss of one outer wall in dB: 3GPP TR 38.901 Table 7.4.3-2, the low-loss model (30 % glass,
    70 % concrete) without its indoor part."""
    f = frequency_mhz / 1000.0
    glass = 2.0 + 0.2 * f
    concrete = 5.0 + 4.0 * f
    return 5.0 - 10.0 * math.log10(0.3 * 10 ** (-glass / 10) + 0.7 * 10 ** (-concrete / 10))


@dataclass(frozen=True)
class Band:
    """One technology's radio parameters; `sources` names where each comes from."""

    id: str
    #: The site technology (`vocabulary.TECHNOLOGIES`) whose sites transmit in this band.
    technology: str
    label: dict[str, str]
    frequency_mhz: float
    #: Transmit power as e.i.r.p., dBm.
    eirp_dbm: float
    #: The least received power that counts as covered, dBm.
    threshold_dbm: float
    #: The antenna's height above ground where the site gives none, m.
    antenna_m: float
    exponent: float = LOS_EXPONENT
    receiver_m: float = RECEIVER_M
    indoor_db_per_m: float = INDOOR_DB_PER_M
    #: The loss at 1 m where a measured model gives it, dB (None: the free-space loss).
    reference_loss_db: float | None = None
    #: An offset of the path loss found by calibration, dB (0: uncalibrated).
    offset_db: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def reference_db(self) -> float:
        base = (
            free_space_loss_1m(self.frequency_mhz)
            if self.reference_loss_db is None
            else self.reference_loss_db
        )
        return base + self.offset_db

    @property
    def wall_db(self) -> float:
        return wall_loss(self.frequency_mhz)

    def loss(self, distance_m: Any, walls: Any = 0, inside_m: Any = 0.0) -> Any:
        """Path loss in dB at `distance_m` (floored at the 1 m reference) through `walls` outer walls
        and `inside_m` metres inside buildings; numbers or numpy arrays."""
        d = np.maximum(np.asarray(distance_m, dtype=float), 1.0)
        return (
            self.reference_db
            + 10.0 * self.exponent * np.log10(d)
            + np.asarray(walls) * self.wall_db
            + np.asarray(inside_m) * self.indoor_db_per_m
        )

    def received(self, distance_m: Any, walls: Any = 0, inside_m: Any = 0.0) -> Any:
        """Received power in dBm."""
        return self.eirp_dbm - self.loss(distance_m, walls, inside_m)

    def reach_m(self) -> float:
        """The distance at which an unobstructed link falls to the threshold: no cell beyond it is
        covered, whatever lies between."""
        budget = self.eirp_dbm - self.threshold_dbm - self.reference_db
        return float(10 ** (budget / (10.0 * self.exponent)))

    def document(self) -> dict[str, Any]:
        out = asdict(self)
        out["reference_loss_db"] = round(self.reference_db, 2)
        out["wall_db"] = round(self.wall_db, 2)
        out["reach_m"] = round(self.reach_m(), 1)
        return out

    def with_changes(self, **changes: Any) -> Band:
        return replace(self, **changes)


_COMMON = {
    "exponent": "3GPP TR 38.901 V17.0.0, Table 7.4.1-1, UMi-Street Canyon LOS (21 log10 d)",
    "reference_db": "free-space loss at 1 m, ITU-R P.525-4",
    "wall_db": "3GPP TR 38.901, Table 7.4.3-2, low-loss building penetration (30 % glass, 70 % concrete)",
    "indoor_db_per_m": "3GPP TR 38.901, Table 7.4.3-2, PL_in = 0.5 dB/m",
    "receiver_m": "3GPP TR 38.901, Table 7.4.1-1, UT height 1.5 m",
}
#: The measured 868 MHz model: at 868 MHz the LOS model with walls would put gateways' reach at
#: hundreds of km and ignore the diffraction over roofs that carries LoRa in a city, so the band
#: uses a model measured in a city, its buildings' average obstruction included; the building term
#: then counts the walls of this city on top (conservative, for indoor sensors above all), which
#: calibration against the city's own uplinks corrects.
_LORA_MODEL = (
    "Petäjäjärvi, Mikhaylov, Roivainen, Hänninen, Pettissalo: On the coverage of LPWANs: range "
    "evaluation and channel attenuation model for LoRa technology, ITST 2015 "
    "(n = 2.32, B = 128.95 dB at 1 km)"
)
_WLAN_THRESHOLD = (
    "IEEE 802.11-2020, 17.3.10.2, Table 17-18: minimum receiver sensitivity for 6 Mb/s OFDM in 20 MHz"
)

BANDS: dict[str, Band] = {
    band.id: band
    for band in (
        Band(
            "wlan-2.4",
            "wlan",
            {"de": "WLAN 2,4 GHz", "en": "Wi-Fi 2.4 GHz"},
            2437.0,
            eirp_dbm=20.0,
            threshold_dbm=-82.0,
            antenna_m=4.0,
            sources={
                **_COMMON,
                "frequency_mhz": "IEEE 802.11 channel 6",
                "eirp_dbm": "ETSI EN 300 328 V2.2.2, 4.3.2.2: 100 mW e.i.r.p.",
                "threshold_dbm": _WLAN_THRESHOLD,
                "antenna_m": "assumed: a node at a first-floor window or on a lamp post",
            },
        ),
        Band(
            "wlan-5",
            "wlan",
            {"de": "WLAN 5 GHz", "en": "Wi-Fi 5 GHz"},
            5250.0,
            eirp_dbm=23.0,
            threshold_dbm=-82.0,
            antenna_m=4.0,
            sources={
                **_COMMON,
                "frequency_mhz": "5150–5350 MHz sub-band",
                "eirp_dbm": "ETSI EN 301 893 V2.1.1, 4.2.3.2: 200 mW e.i.r.p. in 5150–5350 MHz",
                "threshold_dbm": _WLAN_THRESHOLD,
                "antenna_m": "assumed: a node at a first-floor window or on a lamp post",
            },
        ),
        Band(
            "lora-868",
            "lorawan_gateway",
            {"de": "LoRaWAN 868 MHz", "en": "LoRaWAN 868 MHz"},
            868.1,
            eirp_dbm=16.0,
            threshold_dbm=-137.0,
            antenna_m=20.0,
            # Petäjäjärvi et al.: PL(d) = 128.95 dB + 10 · 2.32 · log10(d / 1 km), written at 1 m
            exponent=2.32,
            reference_loss_db=128.95 - 10 * 2.32 * 3,
            sources={
                **_COMMON,
                "exponent": _LORA_MODEL,
                "reference_db": _LORA_MODEL,
                "frequency_mhz": "LoRaWAN Regional Parameters RP002-1.0.4, EU863-870: default channel",
                "eirp_dbm": "LoRaWAN Regional Parameters RP002-1.0.4, EU863-870: default max. EIRP +16 dBm",
                "threshold_dbm": "Semtech SX1276 datasheet rev. 7, Table 13: sensitivity at SF12, 125 kHz",
                "antenna_m": "assumed: a gateway on a roof",
            },
        ),
        Band(
            "5g-3.6",
            "5g_small_cell",
            {"de": "5G 3,6 GHz (n78)", "en": "5G 3.6 GHz (n78)"},
            3600.0,
            eirp_dbm=24.0,
            threshold_dbm=-90.0,
            antenna_m=10.0,
            sources={
                **_COMMON,
                "frequency_mhz": "3GPP TS 38.104, band n78 (3300–3800 MHz)",
                "eirp_dbm": "3GPP TS 38.104, 6.2.1: Local Area base station, rated output ≤ 24 dBm",
                "threshold_dbm": "3GPP TS 38.101-1, 7.3.2: reference sensitivity of band n78, about −90 dBm",
                "antenna_m": "3GPP TR 38.901, Table 7.4.1-1: UMi base station height 10 m",
            },
        ),
    )
}

#: The band a technology's sites are modelled in where the request names none.
DEFAULT_BAND = {
    "wlan": "wlan-2.4",
    "lorawan_gateway": "lora-868",
    "sensor_gateway": "lora-868",
    "5g_small_cell": "5g-3.6",
}


@dataclass(frozen=True)
class Calibration:
    """A least-squares fit of the model to measured received powers."""

    pairs: int
    offset_db: float
    exponent: float
    rmse_before_db: float
    rmse_after_db: float
    mean_error_before_db: float
    fitted: str

    def document(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def calibrate(
    band: Band, distance_m: Any, walls: Any, inside_m: Any, measured_dbm: Any, *, fit_exponent: bool = True
) -> Calibration:
    """Fit the band's path loss to measurements: with 3 or more pairs at distinct distances, the
    exponent and an offset (ordinary least squares of `loss − walls·L_wall − inside·L_in` on
    `10 log10 d`); with fewer, the offset alone (the mean error). The error is the root mean
    square of measured minus predicted received power, before and after."""
    d = np.maximum(np.asarray(distance_m, dtype=float), 1.0)
    walls_a = np.asarray(walls, dtype=float)
    inside_a = np.asarray(inside_m, dtype=float)
    measured = np.asarray(measured_dbm, dtype=float)
    if not (d.shape == walls_a.shape == inside_a.shape == measured.shape) or d.size == 0:
        raise ValueError("calibration needs one distance, wall count, inside length and measurement per pair")
    before = measured - band.received(d, walls_a, inside_a)
    # The loss measured, less the obstruction term the model adds: what the distance term explains.
    loss = band.eirp_dbm - measured - walls_a * band.wall_db - inside_a * band.indoor_db_per_m
    x = 10.0 * np.log10(d)
    if fit_exponent and d.size >= 3 and np.ptp(x) > 1.0:
        slope, intercept = np.polyfit(x, loss, 1)
        exponent = float(slope)
        offset = float(intercept - band.with_changes(offset_db=0.0).reference_db)
        fitted = "exponent and offset"
    else:
        exponent = band.exponent
        offset = float(np.mean(loss - band.with_changes(offset_db=0.0).loss(d)))
        fitted = "offset"
    tuned = band.with_changes(exponent=exponent, offset_db=offset)
    after = measured - tuned.received(d, walls_a, inside_a)
    return Calibration(
        pairs=int(d.size),
        offset_db=offset,
        exponent=exponent,
        rmse_before_db=float(np.sqrt(np.mean(before**2))),
        rmse_after_db=float(np.sqrt(np.mean(after**2))),
        mean_error_before_db=float(np.mean(before)),
        fitted=fitted,
    )
