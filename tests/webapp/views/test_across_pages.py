"""What holds across the pages (AppTest): the session's selected model, the app without the dataset and
its Download button, and no page pointing visitors to README."""

from dataclasses import replace

import pytest

from harness import ROOT, canvas_data_url, canvas_value
from harness.apptest import metrics, open_app
from mirrors import Mirror, no_proxies
from mlp import MLP
from webapp.session.registry import ModelEntry

# -- the selection ---------------------------------------------------------------------------------


def test_a_new_run_is_selected_once_it_has_a_model_unless_the_visitor_chose_meanwhile():
    at = open_app()
    waiting = ModelEntry("My model 1", "trained")  # no epoch finished yet: nothing to show
    at.session_state["models"]["My model 1"] = waiting
    at.session_state["select_when_ready"] = "My model 1"
    at.run()
    assert at.selectbox(key="draw_model").value == "Pretrained"
    waiting.model = MLP([784, 16, 10], seed=1)  # its first epoch
    at.switch_page("app_pages/inspect.py").run()
    assert at.selectbox(key="inspect_model").value == "My model 1"
    assert at.session_state["select_when_ready"] is None

    at.session_state["models"]["My model 2"] = later = ModelEntry("My model 2", "trained")
    at.session_state["select_when_ready"] = "My model 2"
    at.run()
    at.selectbox(key="inspect_model").set_value("Pretrained").run()  # the visitor's own choice, meanwhile
    later.model = MLP([784, 16, 10], seed=2)
    at.run()
    assert at.selectbox(key="inspect_model").value == "Pretrained"


# -- without the dataset ---------------------------------------------------------------------------


@pytest.fixture
def no_dataset(monkeypatch, tmp_path):
    import data.catalog as catalog

    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path / "project")
    monkeypatch.setattr(catalog, "SYSTEM_DATA_DIR", tmp_path / "system")
    return tmp_path


def test_app_works_without_the_dataset(no_dataset, mnist):
    at = open_app()
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[0]))
    at.run()
    assert metrics(at)["Prediction"] == "7"  # Draw needs only the shipped model
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert any("MNIST digits is not available on this server" in w.value for w in at.warning)
    assert at.button(key="start").disabled
    assert at.button(key="download-mnist")
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception
    assert any("not available" in w.value for w in at.warning)
    assert metrics(at)["Parameters"].replace(",", "").isdigit()  # the summary still works


def test_download_button_fetches_the_dataset(no_dataset, monkeypatch, mnist_dir):
    import data.catalog as catalog
    from webapp.session import resources

    no_proxies(monkeypatch)
    files = catalog.DATASETS["mnist"].filenames()
    mirror = Mirror(lambda name: (mnist_dir / name).read_bytes() if name in files else None)
    try:
        monkeypatch.setitem(catalog.DATASETS, "mnist", replace(catalog.DATASETS["mnist"], mirrors=(mirror.url,)))
        at = open_app("train")
        at.button(key="download-mnist").click().run()
        assert not at.exception, at.exception
        assert resources.downloads().wait("mnist", timeout=60).state == "done"  # in the background
        at.run()
        assert not at.button(key="start").disabled
        assert sorted(p.name for p in (no_dataset / "project" / "mnist").iterdir()) == sorted(files)
        assert sorted(mirror.requests) == sorted(files)
    finally:
        mirror.close()


# -- no page points to README ----------------------------------------------------------------------


def test_no_page_text_points_to_the_readme():
    sources = [*ROOT.glob("app_pages/*.py"), *ROOT.glob("webapp/**/*.py"), ROOT / "app.py"]
    pointing = [str(p.relative_to(ROOT)) for p in sources if "README" in p.read_text()]
    assert not pointing, f"these point visitors to README (point to docs/ instead): {pointing}"
