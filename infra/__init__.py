"""inference-blueprint: the library behind the CDK app (config, catalogs, constructs, builders)."""
