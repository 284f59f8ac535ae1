"""Evaluation: answering a file of questions with known answers and scoring it (``evaluate``,
follow-up chains in ``evaluate_chains``), hit@k and the answer checks (``scoring``), the fixed
tune/report split (``splits``) and the baselines it is compared with (``baselines``)."""
