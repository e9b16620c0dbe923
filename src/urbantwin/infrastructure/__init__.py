"""Digital infrastructure: the registry of sites (public WLAN, 5G small cells, LoRaWAN and sensor
gateways on roofs, lamp posts, stop shelters and buildings), feeds of Freifunk communities and
LoRaWAN network servers, and which sensors reach which gateways."""
