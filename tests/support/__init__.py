"""Helpers the tests share: real tools and processes, never mocks."""
