"""The Airbyte source half: an Airbyte source as a Flow capture (`CaptureShim`), its state
layout, discover mapping, read loop, and the in-process and subprocess ways to run it."""
