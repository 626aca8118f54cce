"""The organic gateway: real users' documents read by the subnet's miners, every page verified."""
