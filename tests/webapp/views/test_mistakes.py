"""webapp.views.mistakes: the misclassified test images Inspect lists, filtered, ordered and paged."""

import numpy as np

from webapp.views.mistakes import ANY, mistakes, page_of


def test_mistakes_filter_with_any_and_classes():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([
        [0.9, 0.05, 0.05],  # right
        [0.2, 0.7, 0.1],  # 0 read as 1, 0.7
        [0.6, 0.3, 0.1],  # 1 read as 0, 0.6
        [0.1, 0.1, 0.8],  # 1 read as 2, 0.8
        [0.05, 0.9, 0.05],  # 2 read as 1, 0.9
        [0.1, 0.1, 0.8],  # right
    ])
    assert mistakes(probs, labels).tolist() == [4, 3, 1, 2]
    assert mistakes(probs, labels, ANY, ANY).tolist() == mistakes(probs, labels, None, None).tolist()
    assert mistakes(probs, labels, order="unsure").tolist() == [2, 1, 3, 4]
    assert mistakes(probs, labels, true=0).tolist() == [1]  # class 0 is a filter, not "any"
    assert mistakes(probs, labels, predicted=0).tolist() == [2]
    assert mistakes(probs, labels, true=1, predicted=ANY).tolist() == [3, 2]
    assert mistakes(probs, labels, true=1, predicted=2).tolist() == [3]
    assert mistakes(probs, labels, true=2, predicted=2).tolist() == []


def test_page_of_clamps_the_page():
    items = list(range(50))
    assert page_of(items, 1, 24) == (items[:24], 1, 3)
    assert page_of(items, 3, 24) == (items[48:], 3, 3)
    assert page_of(items, 9, 24) == (items[48:], 3, 3)
    assert page_of(items, 0, 24) == (items[:24], 1, 3)
    assert page_of([], 1, 24) == ([], 1, 1)
