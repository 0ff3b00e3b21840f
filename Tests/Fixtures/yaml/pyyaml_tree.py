"""Prints, as one JSON object, what PyYAML's BaseLoader (every scalar a string) makes of each file given."""
import json
import sys

import yaml

result = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    try:
        result[path] = {"tree": yaml.load(text, Loader=yaml.BaseLoader)}
    except yaml.YAMLError as error:
        result[path] = {"error": str(error).splitlines()[0]}
print(json.dumps(result, ensure_ascii=False))
