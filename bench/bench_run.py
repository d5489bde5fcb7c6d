"""bench/run as a module, for the benchmarks that reuse its servers, seeding and load tools
instead of growing it: `from bench_run import run`. (bench/run has no .py suffix, so a plain
import does not find it.)"""
import importlib.machinery
import importlib.util
from pathlib import Path


def load_run():
    loader = importlib.machinery.SourceFileLoader("bench_run_script", str(Path(__file__).resolve().parent / "run"))
    spec = importlib.util.spec_from_loader("bench_run_script", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


run = load_run()
