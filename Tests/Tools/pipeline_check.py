#!/usr/bin/env python3
"""Checks tokenkeeper's pipeline files for its tests.

For each file: loads the YAML (PyYAML), validates it against a JSON schema when one is given
(jsonschema), and extracts every tokenkeeper command line from its scripts (`tokenkeeper ...`, or
the image run as `$(image) ...` / `"$IMAGE" ...`), with shell continuations joined and the dry-run
variables expanded to --dry-run. Prints one JSON object per file.

  pipeline_check.py FILE[=SCHEMA[@strings]] ...

@strings loads every scalar as a string (PyYAML's BaseLoader), as Azure Pipelines does and as its
schema expects (booleans and numbers are patterns over strings there).
"""
import json
import re
import shlex
import sys

import jsonschema
import yaml

COMMAND = re.compile(r'(?:(?<![\w/.-])tokenkeeper|\$\(image\)|"\$IMAGE")\s+((?:validate|plan|run|report|status|token|vault)\b[^\n;|&]*)')
DRY_RUN = re.compile(r'"?\$(?:dry|DRY_RUN|\{DRY_RUN\})"?')


SCRIPT_KEYS = {"script", "run", "bash", "sh", "pwsh", "before_script", "after_script"}


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML with YAML 1.2 booleans: only true and false (so GitHub's `on:` stays a string key)."""


Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def strings(node, in_script=False):
    """Every string that is a shell script: the value of a script-like key, or an item of its list."""
    if isinstance(node, str):
        if in_script:
            yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, in_script=key in SCRIPT_KEYS)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, in_script=in_script)


def commands(document):
    found = []
    for text in strings(document):
        joined = re.sub(r"\\\n\s*", " ", text)
        for match in COMMAND.finditer(joined):
            line = DRY_RUN.sub("--dry-run", match.group(1)).strip()
            found.append(shlex.split(line))
    return found


def main() -> int:
    ok = True
    for argument in sys.argv[1:]:
        path, _, schema_path = argument.partition("=")
        schema_path, _, mode = schema_path.partition("@")
        with open(path, encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=yaml.BaseLoader if mode == "strings" else Yaml12Loader)
        errors = []
        if schema_path:
            with open(schema_path, encoding="utf-8") as handle:
                schema = json.load(handle)
            validator = jsonschema.Draft7Validator(schema)
            errors = []
            for error in validator.iter_errors(document):
                best = jsonschema.exceptions.best_match([error])
                deepest = min(error.context, key=lambda e: len(list(e.schema_path)), default=best) if error.context else best
                errors.append(f"{'/'.join(map(str, best.absolute_path))}: {best.message[:200]} | {'/'.join(map(str, deepest.absolute_path))}: {deepest.message[:200]}")
        print(json.dumps({"file": path, "schema_errors": errors, "commands": commands(document)}))
        ok = ok and not errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
