import numpy as np

from gridmap.privacy import mask, mask_array


def test_masks_keep_only_what_identifies_nothing():
    assert mask("35050319800101123X", "id_number") == "350503********123X"
    assert mask("13805951234", "phone") == "138****1234"
    assert mask("陈明华", "name") == "陈**"
    assert mask(None, "phone") is None


def test_vectorised_equals_scalar():
    values = np.array(["13805951234", None, "15900001111"], dtype=object)
    assert list(mask_array(values, "phone")) == [mask(v, "phone") for v in values]
