"""benchmarks/suite_cpu.py: the suite's CPU seconds by kind of process, here on a one-test suite."""

import json
import sys

import pytest

from benchmarks import suite_cpu

BUSY_CHILD = '''
import subprocess, sys

def test_a_child_works_for_a_second():
    # "streamlit" in its command line makes it an app server to the benchmark
    code = "import time  # streamlit\\nend = time.process_time() + 1.0\\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", code], check=True)
'''


@pytest.mark.parametrize(("cmdline", "kind"), [
    (["/usr/lib/chromium/chromium", "--type=renderer"], "chromium"),
    ([sys.executable, "-m", "streamlit", "run", "app.py"], "app servers"),
    ([sys.executable, "-m", "dask", "worker", "--scheduler-file", "x"], "training engine"),
    ([sys.executable, "-B", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()"], "training engine"),
    (["/site-packages/playwright/driver/node", "cli.js", "run-driver"], "playwright driver"),
    ([sys.executable, "-u", "-c", "import sys;exec(eval(sys.stdin.readline()))"], "pytest"),
    ([sys.executable, "-m", "pytest", "-q"], "pytest"),
    (["postgres: writer"], "other"),
])
def test_kinds(cmdline, kind):
    assert suite_cpu.kind_of(cmdline) == kind


@pytest.mark.slow  # a real pytest run
def test_a_suite_is_measured_by_kind(tmp_path, capfd):
    (tmp_path / "test_busy.py").write_text(BUSY_CHILD)
    code = suite_cpu.main(["--interval", "0.2", "--json", "--", "-q", "-n", "0", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_busy.py")])
    out, err = capfd.readouterr()
    result = json.loads(out)  # only the figures: pytest's own output went to standard error
    assert "1 passed" in err
    assert code == 0 and result["exit_code"] == 0
    # The child's second at least: every process on the machine counts, so another test's servers may add to it.
    assert result["by_kind"]["app servers"] >= 0.8, result
    assert result["cpu_seconds"] == pytest.approx(sum(result["by_kind"].values()))
    assert result["busy"] > 0 and result["wall_seconds"] >= 1.0


@pytest.mark.slow  # a real pytest run
def test_a_failing_suite_fails_the_benchmark(tmp_path, capsys):
    (tmp_path / "test_fails.py").write_text("def test_no():\n    assert False\n")
    code = suite_cpu.main(["--", "-q", "-n", "0", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(tmp_path / "test_fails.py")])
    assert code == 1 and "exit code 1" in capsys.readouterr().out


def test_a_bad_interval_is_refused():
    with pytest.raises(SystemExit):
        suite_cpu.parse_args(["--interval", "0"])
