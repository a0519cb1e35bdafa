"""Signed offline release capsules: the workstation's key, the trust store's rules, the
capsule file format (a signed manifest and the files, in one tar stream) and evidence packs."""
