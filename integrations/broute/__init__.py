"""Smart meters over the Wi-SUN B-route: SKSTACK IP dongles on a serial port, carrying the
ECHONET Lite controller of integrations.echonet; with a dongle + meter emulator on a pty."""
