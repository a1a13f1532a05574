"""Leaderboard protocol: fixed seeds, greedy actions, the env's score, bootstrap statistics, submissions."""

from qmarl_agents.leaderboard.protocol import (DEFAULT_PROTOCOL, SUBMISSION_SCHEMA, EvalResult, Protocol,
                                               build_submission, evaluate_policy, score_statistics,
                                               validate_submission, write_submission)

__all__ = ["DEFAULT_PROTOCOL", "SUBMISSION_SCHEMA", "EvalResult", "Protocol", "build_submission",
           "evaluate_policy", "score_statistics", "validate_submission", "write_submission"]
