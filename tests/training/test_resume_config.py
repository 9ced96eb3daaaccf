"""What counts as a changed config when a run resumes."""

from gantrain.training.resume import config_changes


def test_keys_a_run_predates_at_their_defaults_are_no_change():
    saved = {"model": {"width": 8}, "trainer": {"rounds": 10}}
    now = {
        "model": {"width": 8, "encode_label": True},
        "trainer": {"rounds": 10},
        "conditional": False,
    }
    defaults = {"model.encode_label": True, "conditional": False}
    assert config_changes(saved, now, defaults) == []
    # a new key set to something else, or a key changed, still is
    now["conditional"] = True
    assert config_changes(saved, now, defaults) == ["conditional: (absent) -> True"]
    now["conditional"], now["model"]["width"] = False, 16
    assert config_changes(saved, now, defaults) == ["model.width: 8 -> 16"]
    # without defaults every new key is a change, as before
    assert len(config_changes(saved, {**now, "model": {"width": 8, "encode_label": True}})) == 2
