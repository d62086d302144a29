"""bazaar-inventory: process shell (settings, CLI, local broker, supervision)."""
