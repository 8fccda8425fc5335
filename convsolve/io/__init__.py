"""Reading and writing networks: config files (YAML/JSON), and later importers and exporters."""
