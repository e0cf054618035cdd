"""An in-memory integration for tests and the first demo, behind the same interface as real ones."""

from integrations.virtual.integration import VirtualDevice, VirtualIntegration

__all__ = ["VirtualDevice", "VirtualIntegration"]
