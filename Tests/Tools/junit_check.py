#!/usr/bin/env python3
"""Checks JUnit XML reports the way CI systems read them, for tokenkeeper's tests.

For each report: validates it against the given XSD files with xmlschema, then reads it with
junitparser and prints one JSON object per report with the counts and the cases junitparser saw.

  junit_check.py --xsd ../shared/schemas/junit.xsd [--xsd ...] report.xml [...]
"""
import argparse
import json
import sys

import junitparser
import xmlschema


def cases_of(suite):
    result = []
    for case in suite:
        outcome = "passed"
        failure_type = None
        for item in case.result:
            if isinstance(item, junitparser.Failure):
                outcome, failure_type = "failed", item.type
            elif isinstance(item, junitparser.Error):
                outcome, failure_type = "errored", item.type
            elif isinstance(item, junitparser.Skipped):
                outcome = "skipped"
        result.append({"name": case.name, "classname": case.classname, "outcome": outcome, "type": failure_type})
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xsd", action="append", default=[])
    parser.add_argument("reports", nargs="+")
    args = parser.parse_args()
    schemas = [xmlschema.XMLSchema(path) for path in args.xsd]
    ok = True
    for path in args.reports:
        errors = []
        for schema, schema_path in zip(schemas, args.xsd):
            errors += [f"{schema_path}: {e.reason} at {e.path}" for e in schema.iter_errors(path)]
        xml = junitparser.JUnitXml.fromfile(path)
        suites = []
        for suite in xml:
            properties = {p.name: p.value for p in suite.properties()}
            suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures, "errors": suite.errors,
                           "skipped": suite.skipped, "properties": properties, "cases": cases_of(suite)})
        print(json.dumps({"report": path, "schema_errors": errors, "suites": suites}))
        ok = ok and not errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
