"""The cache directory and crash-safe JSON files for profiles and plans.

A file here is only ever replaced whole (`os.replace` of a temporary file in the same directory), so a
reader sees the old or the new content, never half of one; writers that add entries merge under an
exclusive lock, so concurrent processes lose nothing. A file that cannot be read or written gives one
warning per path and is treated as absent: tuning data can make a choice slower, never a result wrong.
"""

import contextlib
import json
import os
import tempfile
import warnings

CACHE_ENVIRONMENT_VARIABLE = "STRUCTCONV_CACHE_DIR"
_warned = set()


def cache_dir():
    """Where calibrated profiles and plan files live: `$STRUCTCONV_CACHE_DIR`, else
    `$XDG_CACHE_HOME/structconv`, else `~/.cache/structconv`."""
    explicit = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "structconv")


def warn_once(path, message):
    if path in _warned:
        return
    _warned.add(path)
    warnings.warn(f"structconv: {message} ({path}); falling back to the cost model.", RuntimeWarning,
                  stacklevel=3)


def read_json(path):
    """The JSON object in `path`, `None` when there is none; a corrupt or unreadable file warns once."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        warn_once(path, f"cannot read {type(error).__name__}: {error}")
        return None
    if not isinstance(value, dict):
        warn_once(path, "not a JSON object")
        return None
    return value


def write_json(path, value):
    """Replaces `path` with `value` atomically; returns False (after one warning) where it cannot."""
    try:
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(value, out, indent=1, sort_keys=True)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as error:
        warn_once(path, f"cannot write ({error})")
        return False
    return True


@contextlib.contextmanager
def locked(path):
    """An exclusive lock on `path + ".lock"` for a read-merge-write (a no-op where locks are unavailable)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: atomic replacement still keeps every file whole
        yield
        return
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        handle = open(path + ".lock", "a")  # noqa: SIM115 (held for the duration of the block)
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def merge_json(path, entries, section="entries"):
    """Adds `entries` to the dict `section` of the JSON file at `path` under a lock, atomically."""
    with locked(path):
        current = read_json(path) or {}
        merged = dict(current.get(section) or {})
        merged.update(entries)
        current[section] = merged
        return write_json(path, current)
