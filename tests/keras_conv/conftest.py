"""The Keras tests left out of test_keras_conv_suite.py, with the reason, reported as deselected."""

import pathlib

# Keras test (class::method, every parametrization) -> why it does not run on structconv's classes.
DESELECTED = {
    "ConvBasicTest::test_bad_init_args": "matches Keras's exact error texts (structconv words its own)",
    "ConvTransposeBasicTest::test_bad_init_args": "matches Keras's exact error texts",
}
HERE = pathlib.Path(__file__).parent


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_trainable_backend: a Keras test mark (any backend here)")


def _left_out(item):
    if pathlib.Path(item.path).parent != HERE:
        return False
    name = item.nodeid.split("::", 1)[-1].split("[")[0]
    return any(name == key or name.startswith(key + "_") for key in DESELECTED)


def pytest_collection_modifyitems(config, items):
    deselected = [item for item in items if _left_out(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _left_out(item)]
