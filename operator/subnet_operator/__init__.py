"""The subnet's Kubernetes operator: Validator and Miner resources become Deployments and Services.

Handlers (`handlers/`) stay thin: they read the cluster, call the pure builders (`builders/`) and
policies (`scaling`, `health`, `conditions`), and write back what those return.
"""
