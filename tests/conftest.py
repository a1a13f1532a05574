"""Test-wide settings: headless pygame and quiet PettingZoo deprecation chatter."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
