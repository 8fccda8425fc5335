"""Reading and writing networks: config files (YAML/JSON), PyTorch and ONNX importers, the config exporter."""
