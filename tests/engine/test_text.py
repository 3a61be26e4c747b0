from mlpipeline.engine.text import cartesian, ngrams, no_punct, osb, tokenize


def test_ngram_of_a_sentence():
    tokens = tokenize("I really enjoyed reading this book")
    grams = ngrams(tokens, 2)
    assert grams[:6] == tokens
    assert set(grams[6:]) == {
        "I really",
        "really enjoyed",
        "enjoyed reading",
        "reading this",
        "this book",
    }
    assert len(grams) == 11


def test_ngram_splits_on_whitespace_only():
    assert set(ngrams(tokenize("red, green, blue"), 2)) == {
        "red,",
        "green,",
        "blue",
        "red, green,",
        "green, blue",
    }


def test_ngram_sizes_up_to_n():
    assert ngrams(["a", "b", "c"], 3) == ["a", "b", "c", "a b", "b c", "a b c"]


def test_osb_window_four():
    assert set(osb(tokenize("The quick brown fox"), 4)) == {
        "The_quick",
        "The__brown",
        "The___fox",
        "quick_brown",
        "quick__fox",
        "brown_fox",
    }


def test_osb_window_three():
    assert osb(["I", "really", "enjoined"], 3) == [
        "I_really",
        "I__enjoined",
        "really_enjoined",
    ]


def test_no_punct_strips_token_edges_only():
    tokens = tokenize("Welcome to AML - please fasten your seat-belts!")
    assert no_punct(tokens) == [
        "Welcome",
        "to",
        "AML",
        "please",
        "fasten",
        "your",
        "seat-belts",
    ]


def test_cartesian_pairs_every_token():
    assert set(cartesian(["A", "B", "C"], ["Z"])) == {"A_Z", "B_Z", "C_Z"}
    assert cartesian(["university.degree"], ["technician"]) == [
        "university.degree_technician"
    ]


def test_tokens_keep_case_and_punctuation():
    assert tokenize("  Email-Subject\there\n") == ["Email-Subject", "here"]
