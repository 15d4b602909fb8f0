"""Thin stacks: each composes the constructs of one part of one environment."""
