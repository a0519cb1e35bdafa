from ota_protocol import __version__ as __version__  # the product's one version
