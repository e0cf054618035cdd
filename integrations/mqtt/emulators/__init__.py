"""Emulated MQTT devices for tests and the demo: a Zigbee2MQTT bridge, Tasmota devices and
Shelly Gen2 devices, each publishing the real topic layout and payloads."""
