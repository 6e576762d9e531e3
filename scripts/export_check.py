#!/usr/bin/env python3
"""Check vaxdesk's exports with independent readers: the XLSX read back with
openpyxl must equal the CSV export row for row, and every line of the FHIR
NDJSON must validate as an R4B Patient or Immunization with fhir.resources,
each Immunization pointing at a Patient that was exported, and the Bundle
must validate as an R4B Bundle with the same resources.
Usage: export_check.py EXPORT.csv EXPORT.xlsx FHIR_DIR BUNDLE.json. Exit 0 when all hold."""

import csv
import json
import sys
from pathlib import Path

import openpyxl
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient


def main(csv_path, xlsx_path, fhir_dir, bundle_path):
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        csv_rows = [row for row in csv.reader(f)]
    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).active
    xlsx_rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    if csv_rows != xlsx_rows:
        for i, (a, b) in enumerate(zip(csv_rows, xlsx_rows)):
            if a != b:
                print(f"row {i} differs:\n csv  {a}\n xlsx {b}")
                break
        print(f"csv {len(csv_rows)} rows, xlsx {len(xlsx_rows)} rows")
        return 1
    print(f"xlsx: {len(xlsx_rows) - 1} rows equal to the csv export")

    patients = set()
    for line in Path(fhir_dir, "Patient.ndjson").read_text(encoding="utf-8").splitlines():
        p = Patient.model_validate_json(line)
        patients.add(p.id)
    immunizations = 0
    for line in Path(fhir_dir, "Immunization.ndjson").read_text(encoding="utf-8").splitlines():
        im = Immunization.model_validate_json(line)
        ref = im.patient.reference.split("/", 1)[1]
        if ref not in patients:
            print("immunization", im.id, "points at an unexported patient", ref)
            return 1
        immunizations += 1
    if immunizations != len(csv_rows) - 1:
        print(f"{immunizations} immunizations for {len(csv_rows) - 1} csv rows")
        return 1
    print(f"fhir: {len(patients)} patients, {immunizations} immunizations valid (R4B)")

    bundle = Bundle.model_validate_json(Path(bundle_path).read_text(encoding="utf-8"))
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    if kinds.count("Immunization") != immunizations or kinds.count("Patient") != len(patients):
        print("bundle holds", kinds.count("Patient"), "patients and", kinds.count("Immunization"), "immunizations")
        return 1
    print(f"bundle: valid R4B {bundle.type} of {len(kinds)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
