"""Reinforcement-learning problems: a gymnasium environment and a policy whose weights are searched.

Importing this package needs no gymnasium; the environments are imported when a problem is
validated or built, and a missing one is reported with the ``pip install`` that fixes it.
"""
