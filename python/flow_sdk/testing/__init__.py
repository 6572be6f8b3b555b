"""Helpers for connector authors' tests: drive a connector process with protocol requests."""

from flow_sdk.testing.connector_process import Completed, run_connector

__all__ = ["Completed", "run_connector"]
