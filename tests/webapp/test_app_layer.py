"""The session registry's model names (webapp.session.registry): "(continued)", "+ yours" and "(shared)" names
that fit the store's limit.

What else this file held went next to the modules it tests (tests/webapp/views/test_train_settings.py,
test_charts.py, ...); these stay here while webapp/session/ is being reworked.
"""


def test_continued_names_keep_one_continued_and_fit_the_stores_limit():
    from webapp import text
    from webapp.session import registry

    assert registry.continued_name("My model 1") == "My model 1 (continued)"
    assert registry.continued_name("My model 1 (continued)") == "My model 1 (continued)"
    assert registry.continued_name("My model 1 (continued) 2") == "My model 1 (continued)"
    assert len(registry.continued_name("x" * text.NAME_MAX)) + len(" 99") <= text.NAME_MAX


def test_taught_and_shared_names_fit_the_stores_limit_too():
    from webapp import text
    from webapp.session import registry

    assert registry.taught_name("Pretrained + yours 2") == "Pretrained + yours"
    longest = "x" * text.NAME_MAX
    for name in (registry.taught_name(longest), registry.with_suffix(longest, " (shared)")):
        assert len(name) + len(" 99") <= text.NAME_MAX and name.startswith("xxx")
        text.clean_name(name + " 99")  # a name the store takes, so it can be shared on
