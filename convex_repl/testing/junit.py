"""`convex test --junit FILE`: the run as JUnit XML, the format CI systems read (one
<testsuite> per file, one <testcase> per test with its juice as a property; a failure carries
the error code, file:line:col and the message; a file that fails to load is an <error>)."""
from __future__ import annotations

from collections import OrderedDict
from xml.etree import ElementTree as ET


def junit_xml(report) -> str:
    suites: "OrderedDict[str, list]" = OrderedDict()
    for t in report.tests:
        suites.setdefault(t.file, []).append(t)
    errors: dict = {}
    for fe in report.file_errors:
        suites.setdefault(fe["file"], [])
        errors.setdefault(fe["file"], []).append(fe)
    root = ET.Element("testsuites", tests=str(len(report.tests)),
                      failures=str(sum(1 for t in report.tests if not t.ok)),
                      errors=str(len(report.file_errors)),
                      time=f"{sum(t.elapsed for t in report.tests):.3f}")
    for file, tests in suites.items():
        errs = errors.get(file, [])
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(tests) + len(errs)),
                              failures=str(sum(1 for t in tests if not t.ok)),
                              errors=str(len(errs)),
                              time=f"{sum(t.elapsed for t in tests):.3f}")
        for t in tests:
            case = ET.SubElement(suite, "testcase", name=t.name, classname=file,
                                 file=file, time=f"{t.elapsed:.3f}")
            if t.line is not None:
                case.set("line", str(t.line))
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="juice", value=str(t.juice))
            if t.kind != "test":
                ET.SubElement(props, "property", name="kind", value=t.kind)
                ET.SubElement(props, "property", name="gen_juice", value=str(t.gen_juice))
                ET.SubElement(props, "property", name="seed", value=str(t.seed))
            if not t.ok:
                fail = ET.SubElement(case, "failure", type=str(t.error),
                                     message=f"{t.where}: :{t.error} {t.message or ''}")
                fail.text = "\n".join(failure_details(t))
        for fe in errs:
            at = fe["file"] + (f":{fe['line']}:{fe['column']}" if fe.get("line") else "")
            case = ET.SubElement(suite, "testcase", name="(loading)", classname=file,
                                 file=file)
            err = ET.SubElement(case, "error", type=str(fe["error"]),
                                message=f"{at}: :{fe['error']} {fe['message']}")
            err.text = fe.get("excerpt") or ""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def failure_details(t) -> list:
    """The lines under a failure: where, the shrunk counterexample or calls."""
    lines = [f"{t.where}: :{t.error} {t.message or ''}"]
    if t.excerpt:
        lines += t.excerpt.splitlines()
    if t.counterexample:
        lines.append("counterexample: " + ", ".join(t.counterexample))
    if t.calls:
        lines.append("calls:")
        lines += [f"  {i}. {c}" for i, c in enumerate(t.calls, 1)]
    return lines


__all__ = ["junit_xml", "failure_details"]
