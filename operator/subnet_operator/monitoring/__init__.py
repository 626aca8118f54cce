"""Alert rules and the Grafana dashboard, built from `metric_names` so they cannot drift from the code.

`ocr-subnet monitoring render --out charts/subnet/files/` writes what the Helm chart ships; a test
fails when the chart's copies differ from what this package renders.
"""
