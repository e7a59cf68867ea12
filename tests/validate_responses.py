"""Validates sampled responses against the OpenAPI document's response schemas.

Input (argv[1]): {"doc": <OpenAPI 3.1 document>, "samples": [{"method", "path", "status", "body"}],
"headers": [{"method", "path", "name", "value", "status"}]} where `path` is the document's path
template. Prints one line per problem; exit 1 if any.
Used by tests/tests/suite/openapi.rs (`the_documented_answers_are_the_served_ones`).
"""

import json
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def escape(token):
    return token.replace("~", "~0").replace("/", "~1")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    doc = data["doc"]
    registry = Registry().with_resource(
        "urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    problems = []
    for sample in data.get("headers", []):
        # A request header: the document's schema for it admits the value exactly when the
        # server did not refuse it with a 400.
        method, path, name = sample["method"].lower(), sample["path"], sample["name"]
        where = f"{method.upper()} {path} with {name}: {sample['value']!r} -> {sample['status']}"
        parameters = doc["paths"][path][method].get("parameters", [])
        found = [p for p in parameters if p["in"] == "header" and p["name"] == name]
        if not found:
            problems.append(f"{where}: header not documented")
            continue
        valid = Draft202012Validator(found[0]["schema"]).is_valid(sample["value"])
        if valid == (sample["status"] == 400):
            problems.append(f"{where}: the document calls it {'valid' if valid else 'invalid'}")
    for sample in data["samples"]:
        method, path, status = sample["method"].lower(), sample["path"], str(sample["status"])
        where = f"{method.upper()} {path} -> {status}"
        operation = doc["paths"].get(path, {}).get(method)
        if operation is None:
            problems.append(f"{where}: no such operation in the document")
            continue
        response = operation["responses"].get(status)
        if response is None:
            problems.append(f"{where}: status not documented ({sorted(operation['responses'])})")
            continue
        pointer = f"/paths/{escape(path)}/{method}/responses/{status}"
        if "$ref" in response:
            pointer = response["$ref"].lstrip("#")
            response = doc["components"]["responses"][pointer.rsplit("/", 1)[1]]
        if "application/json" not in response.get("content", {}):
            problems.append(f"{where}: no application/json answer documented")
            continue
        pointer += "/content/application~1json/schema"
        validator = Draft202012Validator({"$ref": f"urn:doc#{pointer}"}, registry=registry)
        for error in validator.iter_errors(sample["body"]):
            at = "/".join(map(str, error.absolute_path))
            message = error.message if len(error.message) < 300 else "..." + error.message[-200:]
            problems.append(f"{where}: `{error.validator}` fails at /{at}: {message}")
    for problem in problems:
        print(problem)
    checked = len(data["samples"]) + len(data.get("headers", []))
    print(f"{checked} answers checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
