"""The package's layering: no import cycles between its modules, and one backend interface (every
backend module defines the same public names)."""

import ast
import importlib
import pathlib

import structconv

PACKAGE = pathlib.Path(structconv.__file__).parent


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, modules):
    """structconv modules imported at module level (imports inside functions run later: no cycle).
    `from package import module` depends on that module; `from module import name` on the module."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("structconv"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("structconv"))
    return found


def test_no_import_cycles():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in _imports(path, modules) if m in modules and m != name}
             for name, path in modules.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_every_backend_module_defines_the_same_names():
    """Defined in the module, or taken from one of its own parts (`_backend/<backend>_*.py`)."""
    names = {}
    for backend in ("torch", "jax", "tensorflow"):
        source = (PACKAGE / "_backend" / f"{backend}.py").read_text()
        tree = ast.parse(source)
        public = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        public |= {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
                   if isinstance(target, ast.Name) and target.id.isupper()}
        parts = f"structconv._backend.{backend}_"
        public |= {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith(parts) for alias in node.names}
        names[backend] = {name for name in public if not name.startswith("_")}
    assert names["torch"] == names["jax"] == names["tensorflow"], names


def test_every_module_imports():
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if ".demo" in name or "._backend." in name:
            continue  # the demo needs its extras; one backend module is importable per process
        importlib.import_module(name)
