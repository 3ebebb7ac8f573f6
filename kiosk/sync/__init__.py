"""MQTT: the topics and message schemas both ends share, and the kiosk's sync client."""
