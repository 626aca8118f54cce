"""Pure builders: a custom resource's defaulted spec in, the manifests the operator applies out.

Handlers call these and nothing else decides what an object looks like, so every manifest is
unit-tested without a cluster.
"""
