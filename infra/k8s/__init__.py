"""Pure builders of Kubernetes manifests (plain dicts, no CDK) and their schema validation."""
