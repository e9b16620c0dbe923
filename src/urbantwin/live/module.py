"""Live updates' declaration in the module registry (see `urbantwin.module`): the Server-Sent Events
stream, the MQTT extension's conformance classes (claimed only when MQTT is on, and creation only
when created Observations are stored) and the machinery started and stopped with the server."""

from __future__ import annotations

from urbantwin.live.mqtt import CONFORMANCE_CREATE, CONFORMANCE_RECEIVE, stores_creates
from urbantwin.module import Conformance, Context, Module, Mounted
from urbantwin.settings import Settings


def mqtt_on(settings: Settings) -> bool:
    return bool(settings.mqtt_url)


def mount(context: Context) -> Mounted:
    from urbantwin.live import Live
    from urbantwin.live.sse import live_router

    live = Live(context.settings, context.engine, context.sensorthings, context.access, context.authenticator)
    return Mounted(routers=[live_router()], start=live.start, stop=live.stop, state={"live": live})


MODULE = Module(
    name="live",
    summary="Live updates: the SensorThings MQTT extension and Server-Sent Events at /api/live/",
    mount=mount,
    conformance=(
        Conformance(CONFORMANCE_RECEIVE, "sensorthings", mqtt_on),
        Conformance(CONFORMANCE_CREATE, "sensorthings", stores_creates),
    ),
    settings=(
        "mqtt_url",
        "mqtt_public_url",
        "mqtt_write_token",
        "mqtt_broker_acl",
        "mqtt_client_id",
        "mqtt_topic_prefix",
        "mqtt_select_topics",
        "live_keepalive_seconds",
    ),
)
