"""Weights of the learned rankers and of the "not found" decision (``retrieval.rank``).

Written by ``benchmarks/tune_ranking.py --write`` from the tune side of the split only; the
report side never sees them fitted. Each applies to the raw feature of the same name.
"""

PASSAGE_WEIGHTS: dict[str, float] = {
    'dense': 4.3921,
    'lexical': 1.9406,
    'short': -0.0183,
    'recency': 3.1880,
    'type_match': 0.9937,
    'speaker': 0.5990,
    'coverage': 2.1460,
    'coverage_bg': -0.7828,
    'best_sentence_bg': 0.2785,
    'title_bg': 1.5652,
    'article_best': 6.1902,
    'article_share': -1.1341,
    'log_number': -0.2053,
    'log_words': 0.3146,
}
SENTENCE_WEIGHTS: dict[str, float] = {
    'passage_score': 0.3279,
    'passage_first': 0.1753,
    'passage_dense': 3.2613,
    'passage_lexical': 0.3378,
    'coverage': 3.3948,
    'coverage_bg': 0.1094,
    'neighbour_coverage': -0.0500,
    'type_match': 1.1024,
    'speaker_match': 0.2991,
    'speaker_other': -0.5141,
    'first_sentence': 0.1687,
    'log_words': 0.1757,
    'novel': 0.0222,
    'quoted': 0.1330,
}
FOUND_WEIGHTS: dict[str, float] = {
    'dense_best': 4.1704,
    'dense_top': 3.9621,
    'sentence_bg': 1.2943,
    'window_bg': 0.8577,
    'passage_bg': 1.5924,
    'speaker': -0.5245,
    'type_match': -0.4658,
    'titled_bg': 2.2366,
}
FOUND_BIAS = -5.5093
