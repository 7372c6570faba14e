"""A wire-faithful emulator of the Orq v2 and Mistral v1 conversation APIs, for demos and tests."""
