"""Reliability and security suite: faults, crashes, bad input, concurrency and secrets."""
