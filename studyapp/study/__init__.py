"""Scheduling, pure: the clock is passed in, nothing here touches files or the database.

- `day`: the learner's day (starts at a configurable hour in the learner's time zone);
- `plan`: a lesson's spaced review plan ladder;
- `identity`: stable card ids and matching of edited cards;
- `srs`: the FSRS wrapper (py-fsrs);
- `queue`: today's queue with its limits.
"""
