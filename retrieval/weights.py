"""Weights of the learned rankers and of the "not found" decision (``retrieval.rank``).

Written by ``benchmarks/tune_ranking.py --write`` from the tune side of the split only; the
report side never sees them fitted. Each applies to the raw feature of the same name.
"""

PASSAGE_WEIGHTS: dict[str, float] = {
    'dense': 1.1713,
    'lexical': 2.0185,
    'short': 0.2865,
    'recency': 3.9578,
    'type_match': 1.1442,
    'speaker': 0.4811,
    'coverage': 1.9481,
    'coverage_bg': -1.0616,
    'best_sentence_bg': 0.4298,
    'title_bg': 0.8839,
    'article_best': 4.5262,
    'article_share': -0.7249,
    'log_number': -0.2629,
    'log_words': 0.4998,
}
SENTENCE_WEIGHTS: dict[str, float] = {
    'passage_score': 0.4262,
    'passage_first': 0.2303,
    'passage_dense': -0.0505,
    'passage_lexical': 0.8301,
    'coverage': 1.1756,
    'coverage_bg': 0.0321,
    'neighbour_coverage': -0.0753,
    'type_match': 1.0458,
    'speaker_match': -1.1149,
    'speaker_other': -0.4057,
    'first_sentence': 0.4733,
    'log_words': 0.4603,
    'novel': -0.1352,
    'quoted': -0.1118,
}
FOUND_WEIGHTS: dict[str, float] = {
    'dense_best': 6.0571,
    'dense_top': 3.8415,
    'sentence_bg': 2.6523,
    'window_bg': 1.3197,
    'passage_bg': 1.6717,
    'speaker': -0.2476,
    'type_match': 0.4279,
}
FOUND_BIAS = -7.0466
