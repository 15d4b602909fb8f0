"""Pinned facts the app needs at synth time, so that synth never calls AWS.

Each module states where its facts come from. When AWS changes a fact (a region gains an
Availability Zone, a new Kubernetes version ships), edit the table here and the tests that
check the catalog's invariants tell you what else has to move.
"""
